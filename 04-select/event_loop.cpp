// 04-select/event_loop.cpp — the select() loop: rebuild the interest sets, wait, serve the ready
// descriptors, accept, and close the idle. 05-epoll-pool/event_loop.cpp is this file for epoll:
// `diff -u 04-select/event_loop.cpp 05-epoll-pool/event_loop.cpp` is the select -> epoll lesson.
#include "04-select/event_loop.hpp"

#include "common/net.hpp"

#include <algorithm>
#include <cerrno>
#include <optional>
#include <sys/select.h>
#include <sys/socket.h>

namespace lesson04 {

EventLoop::EventLoop(cs::Fd listener, Signals& signals, const LoopOptions& options, const cs::Log& log)
    : listener_(std::move(listener)), signals_(signals), stop_fd_(signals.read_fd()), options_(options),
      clients_(options.out_cap, options.max_conns, log), log_(log) {}

// [slide:select-loop]
bool EventLoop::run() {
    for (;;) {
        fd_set readable, writable;  // select() overwrites them with the ready subset: rebuilt each time
        int max_fd = watch(readable, writable);
        timeval timeout{};
        int ready = ::select(max_fd + 1, &readable, &writable, nullptr, next_timeout(timeout));
        if (ready < 0) {
            if (errno == EINTR) continue;  // a signal: the stop pipe is readable now, next turn
            log_.info("select() failed: {}", cs::errno_text());
            return false;
        }
        if (FD_ISSET(stop_fd_, &readable) && on_signals()) return true;
        if (FD_ISSET(listener_.get(), &readable)) accept_clients();
        Clock::time_point now = Clock::now();
        for (int fd = 0; fd <= max_fd; ++fd) {  // the O(n) scan: every fd, ready or not
            Connection* conn = clients_.find(fd);
            if (conn) serve(fd, *conn, FD_ISSET(fd, &readable), FD_ISSET(fd, &writable), now);
        }
    }
}
// [/slide]

// [slide:serve]
void EventLoop::serve(int fd, Connection& conn, bool readable, bool writable, Clock::time_point now) {
    if (!readable && !writable) {
        if (options_.idle_timeout.count() > 0 && now - conn.last_active >= options_.idle_timeout) {
            clients_.close_idle(fd, options_.idle_timeout);
        }
        return;
    }
    conn.last_active = now;  // readiness is the peer's doing: it sent bytes, or read some echo
    Status status = Status::kOpen;
    if (readable) status = conn.echo.on_readable(scratch_, kReadBudget).status;
    if (writable && status == Status::kOpen) status = conn.echo.on_writable();
    if (status != Status::kOpen) clients_.close(fd);  // finished (EOF, all echoed) or failed
}
// [/slide]

// [slide:interest]
// The interest sets, from each client's state. Write interest only while an echo is pending:
// a socket is almost always writable, so a permanent entry would wake us at once, forever.
int EventLoop::watch(fd_set& readable, fd_set& writable) const {
    FD_ZERO(&readable);
    FD_ZERO(&writable);
    FD_SET(stop_fd_, &readable);
    int max_fd = stop_fd_;
    if (Clock::now() >= accept_paused_until_) {
        FD_SET(listener_.get(), &readable);
        max_fd = std::max(max_fd, listener_.get());
    }
    for (int fd = 0; fd < FD_SETSIZE; ++fd) {
        const Connection* conn = clients_.find(fd);
        if (!conn) continue;
        if (conn->echo.wants_read()) FD_SET(fd, &readable);  // false at the out cap: backpressure
        if (conn->echo.wants_write()) FD_SET(fd, &writable);
        max_fd = std::max(max_fd, fd);
    }
    return max_fd;
}
// [/slide]

// [slide:accept]
void EventLoop::accept_clients() {
    for (;;) {  // until EAGAIN: one readiness report may stand for many queued clients
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
        if (saturated_) log_.info("accepting again ({} clients open)", clients_.open());
        saturated_ = false;
        clients_.admit(cs::Fd{fd}, cs::endpoint_text(reinterpret_cast<sockaddr*>(&address), length));
    }
}
// [/slide]

// EMFILE/ENFILE (out of descriptors), ENOMEM, ENOBUFS: accept() would fail again at once while
// the listener stays readable, so select() would return at once: a 100 % CPU spin. Instead the
// listener leaves the read set for a moment; new clients wait in the backlog and are served
// once descriptors are free. (The reserved-fd trick answers them with a close: see Exercises.)
void EventLoop::pause_accepting() {
    if (!saturated_) {
        log_.info("accept() failed: {}; not accepting for {} ms ({} clients open)", cs::errno_text(),
                  kAcceptPause.count(), clients_.open());
    }
    saturated_ = true;  // logged once per episode, not ten times a second
    accept_paused_until_ = Clock::now() + kAcceptPause;
}

// Reads the stop pipe; true means stop. SIGUSR1 prints one line and changes nothing else.
bool EventLoop::on_signals() {
    Signals::Received got = signals_.take();
    if (got.stats) log_.stats("stats: {} open, {} accepted", clients_.open(), clients_.accepted());
    return got.stop;
}

// [slide:idle-timeout]
// select()'s timeout: the end of an accept pause, or the moment the client that has been silent
// longest reaches --idle-timeout; nullptr (sleep until a descriptor is ready) when neither.
// Finding that client is one more pass over the table: O(n) per wake-up, like watch() and the
// scan in run(), so it changes nothing in 04's cost. 05 has no scan and cannot afford one: it
// keeps its connections ordered by last activity and looks only at the oldest.
timeval* EventLoop::next_timeout(timeval& timeout) const {
    std::optional<Clock::time_point> wake;
    if (Clock::now() < accept_paused_until_) wake = accept_paused_until_;
    for (int fd = 0; options_.idle_timeout.count() > 0 && fd < FD_SETSIZE; ++fd) {
        const Connection* conn = clients_.find(fd);
        if (conn && (!wake || conn->last_active + options_.idle_timeout < *wake)) wake = conn->last_active + options_.idle_timeout;
    }
    if (!wake) return nullptr;
    auto left = std::max<long>(std::chrono::ceil<std::chrono::microseconds>(*wake - Clock::now()).count(), 0);
    timeout.tv_sec = left / 1'000'000;
    timeout.tv_usec = left % 1'000'000;
    return &timeout;
}
// [/slide]

}  // namespace lesson04
