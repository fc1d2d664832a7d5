// 05-epoll-pool/finish.cpp — EventLoop::finish(): the graceful end of one loop, after run() saw the stop fd. One
// definition for 05's main() (deadline: now, so everything closes at once) and the workers of 06 and 07 (deadline:
// the end of the grace period). The rules, as nginx closes idle keep-alive connections at once and lets requests in
// flight end: no new clients, but those the kernel already queued for us are accepted (a reuseport listener resets
// its queue when closed); quiet connections close now; the busy ones are served, reading AND echoing, until they
// finish or the deadline comes.
#include "05-epoll-pool/event_loop.hpp"

#include "common/net.hpp"

#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>

namespace lesson05 {
namespace {

// Bytes the kernel still holds for this client: written by us, not yet acknowledged by its TCP.
// A client that stopped reading leaves our echo here even when our own buffer is empty.
int unacknowledged_bytes(int fd) {
    int queued = 0;
    return ::ioctl(fd, SIOCOUTQ, &queued) == 0 ? queued : 0;
}

}  // namespace

void EventLoop::finish(Clock::time_point deadline) {
    ctl(EPOLL_CTL_DEL, stop_fd_, 0);  // rung for good: level-triggered, it would wake us at once, forever
    if (listener_) {
        accept_clients();   // a client the kernel queued for us must not be reset by the close below
        listener_.reset();  // close() also takes it off the interest list
    }
    if (connections_.open() > 0) log_.info("stopping; {} connection(s) open", connections_.open());
    std::vector<epoll_event> ready(kMaxEvents);
    for (;;) {
        Clock::time_point now = Clock::now();
        close_quiet(now, deadline);
        if (connections_.open() == 0) return;
        auto wait = std::chrono::ceil<std::chrono::milliseconds>(std::min(deadline, now + kStopTick) - now);
        int timeout_ms = again_.empty() ? static_cast<int>(wait.count()) : 0;  // edge.cpp: reads are waiting
        int count = ::epoll_wait(epoll_.get(), ready.data(), kMaxEvents, timeout_ms);
        if (count < 0 && errno != EINTR) {
            log_.info("epoll_wait() failed: {}; closing {} connection(s)", cs::errno_text(), connections_.open());
            deadline = now;  // nothing can be served any more: the next turn closes everything
            continue;
        }
        now = Clock::now();
        for (int i = 0; i < count; ++i) {
            int fd = ready[i].data.fd;
            bool readable = ready[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP);
            bool writable = ready[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP);
            if (Connection* conn = connections_.find(fd)) serve(fd, *conn, readable, writable, now);
        }
        read_again(now);
    }
}

// Quiet: nothing left to echo, none of our echo unacknowledged, and silent for kQuietBeforeStop
// (a client between two requests, not one whose next bytes are on the wire). At the deadline,
// every connection goes.
void EventLoop::close_quiet(Clock::time_point now, Clock::time_point deadline) {
    bool over = now >= deadline;
    if (over) log_.info("grace period over; closing {} connection(s)", connections_.open());
    for (int fd = connections_.oldest(); fd >= 0;) {
        const Connection& conn = *connections_.find(fd);
        int next = conn.newer;  // read before remove() destroys conn
        bool in_flight = conn.echo.pending_bytes() > 0 || unacknowledged_bytes(fd) > 0;
        if (over || (!in_flight && now - conn.last_active >= kQuietBeforeStop)) connections_.remove(fd);
        fd = next;
    }
}

}  // namespace lesson05
