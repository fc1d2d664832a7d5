// 05-epoll-pool/event_loop.cpp — setting a loop up, its accept side (admission, EMFILE pauses), and
// closing idle connections.
#include "05-epoll-pool/event_loop.hpp"

#include "common/net.hpp"

#include <algorithm>
#include <cerrno>
#include <optional>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <system_error>

namespace lesson05 {

EventLoop::EventLoop(cs::Fd listener, int stop_fd, const LoopOptions& options, std::atomic<int>& open_total,
                     const cs::Log& log)
    : epoll_(::epoll_create1(EPOLL_CLOEXEC)), listener_(std::move(listener)), stop_fd_(stop_fd),
      options_(options), pool_(options.max_conns, open_total, log), log_(log) {
    if (!epoll_) throw std::system_error(errno, std::generic_category(), "epoll_create1()");
    // The stop eventfd stays level-triggered: once rung it stays readable, for every loop.
    if (!ctl(EPOLL_CTL_ADD, stop_fd_, EPOLLIN) || !ctl(EPOLL_CTL_ADD, listener_.get(), EPOLLIN | edge_flag())) {
        throw std::system_error(errno, std::generic_category(), "epoll_ctl(ADD)");
    }
}

// [slide:accept]
void EventLoop::accept_clients() {
    for (;;) {  // until EAGAIN; edge-triggered, clients left in the backlog would get no new edge
        sockaddr_storage address{};
        socklen_t length = sizeof address;
        // accept4: on Linux the new socket does NOT inherit O_NONBLOCK from the listener.
        int fd = ::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&address), &length,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;  // that client left already
            if (errno != EAGAIN && errno != EWOULDBLOCK) pause_accepting();
            return;
        }
        if (saturated_) log_.info("accepting again ({} connections open)", pool_.open_total());
        saturated_ = false;
        accepted_.fetch_add(1, std::memory_order_relaxed);
        admit(cs::Fd{fd}, cs::endpoint_text(reinterpret_cast<sockaddr*>(&address), length));
    }
}

void EventLoop::admit(cs::Fd socket, std::string peer) {
    int fd = socket.get();
    if (!pool_.reserve()) {
        log_.conn("{} refused (fd {}): --max-conns {} reached", peer, fd, options_.max_conns);
        return;  // socket's destructor closes it
    }
    if (!ctl(EPOLL_CTL_ADD, fd, EPOLLIN | edge_flag())) {  // ADD also reports bytes already waiting
        log_.conn("epoll_ctl(ADD) failed: {}; closing fd {} ({})", cs::errno_text(), fd, peer);
        pool_.unreserve();
        return;
    }
    log_.conn("{} connected (fd {})", peer, fd);
    pool_.add(std::move(socket), options_.out_cap, std::move(peer)).interest = EPOLLIN;
}
// [/slide]

// [slide:emfile]
// EMFILE/ENFILE: accept() fails while the listener stays readable, so a level-triggered loop
// would spin at 100 % CPU. We stop watching the listener for 100 ms; the clients wait in the
// backlog. (The reserved-fd trick would race here: a spare descriptor's number is process-wide,
// and another loop's accept() can take it between our close() and our accept().)
void EventLoop::pause_accepting() {
    if (!saturated_) {
        log_.info("accept() failed: {}; not accepting for {} ms ({} connections open)", cs::errno_text(),
                  kAcceptPause.count(), pool_.open_total());
    }
    saturated_ = true;  // logged once per episode, not ten times a second
    ctl(EPOLL_CTL_MOD, listener_.get(), 0);  // no events: still registered, never reported
    accept_paused_ = true;
    accept_resume_at_ = Clock::now() + kAcceptPause;
}

void EventLoop::resume_accepting() {
    accept_paused_ = false;
    // Re-arming re-checks readiness: clients queued meanwhile are reported, even edge-triggered.
    ctl(EPOLL_CTL_MOD, listener_.get(), EPOLLIN | edge_flag());
}
// [/slide]

// [slide:idle-timeout]
// --idle-timeout, at O(1) per event: each event moves its connection to the newest end of the
// pool's activity list, so the oldest end holds the one silent longest. Only that end is looked
// at, and the walk stops at the first connection still within its time: no scan of 10,000 idle
// clients, no timer per connection. (nginx keeps one timer per connection in a red-black tree
// ordered by expiry, O(log n) per reset, because its timeouts differ per connection and per
// phase; with one timeout for all, the order of last activity IS the order of expiry.)
void EventLoop::close_idle(Clock::time_point now) {
    if (options_.idle_timeout.count() == 0) return;
    for (int fd = pool_.oldest(); fd >= 0; fd = pool_.oldest()) {
        if (now - pool_.find(fd)->last_active < options_.idle_timeout) return;
        pool_.remove_idle(fd, options_.idle_timeout);
    }
}
// [/slide]

// Sleep until an event (-1), unless work is due without one: the read-again list (0: only collect
// new events first), the end of an accept pause, or the oldest connection's idle deadline.
int EventLoop::wait_timeout_ms() const {
    if (!again_.empty()) return 0;
    std::optional<Clock::time_point> wake;
    if (accept_paused_) wake = accept_resume_at_;
    if (int fd = pool_.oldest(); fd >= 0 && options_.idle_timeout.count() > 0) {
        Clock::time_point idle_at = pool_.find(fd)->last_active + options_.idle_timeout;
        wake = wake ? std::min(*wake, idle_at) : idle_at;
    }
    if (!wake) return -1;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(*wake - Clock::now()).count();
    return static_cast<int>(std::max<decltype(left)>(left, 0));
}

bool EventLoop::ctl(int op, int fd, std::uint32_t events) {
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;  // what epoll_wait() hands back: our key into the pool
    return ::epoll_ctl(epoll_.get(), op, fd, &event) == 0;
}

std::uint32_t EventLoop::edge_flag() const noexcept { return options_.edge ? EPOLLET : 0u; }

}  // namespace lesson05
