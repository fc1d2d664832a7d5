// 04-select/event_loop.cpp — the select() loop: copy the interest sets, wait, serve the ready
// descriptors, change the interest sets when a connection's state changes, accept, close the idle.
// 05-epoll-pool/event_loop.cpp is this file for epoll: `diff -u` the two is the select -> epoll lesson.
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
      connections_(log), log_(log) {
    // We keep the interest sets ourselves: the stop pipe and the listener go in once, here.
    FD_ZERO(&read_interest_);
    FD_ZERO(&write_interest_);
    FD_SET(stop_fd_, &read_interest_);
    FD_SET(listener_.get(), &read_interest_);
}

// [slide:select-loop]
bool EventLoop::run() {
    for (;;) {
        fd_set readable = read_interest_, writable = write_interest_;  // select() overwrites its copy
        int max_fd = std::max({stop_fd_, listener_.get(), connections_.highest_fd()});
        timeval timeout{};
        int count = ::select(max_fd + 1, &readable, &writable, nullptr, next_timeout(timeout));
        if (count < 0) {
            if (errno == EINTR) continue;  // a signal: the stop pipe is readable now, next turn
            log_.info("select() failed: {}", cs::errno_text());
            return false;
        }
        Clock::time_point now = Clock::now();
        if (FD_ISSET(stop_fd_, &readable) && on_signals()) return true;
        if (FD_ISSET(listener_.get(), &readable)) accept_clients();
        for (int fd = 0; fd <= max_fd; ++fd) {  // the O(n) scan: every fd, ready or not
            bool ready_to_read = FD_ISSET(fd, &readable), ready_to_write = FD_ISSET(fd, &writable);
            Connection* conn = connections_.find(fd);
            if (conn && (ready_to_read || ready_to_write)) serve(fd, *conn, ready_to_read, ready_to_write, now);
        }
        if (accept_paused_ && now >= accept_paused_until_) resume_accepting();
        close_idle(now);
    }
}
// [/slide]

// [slide:serve]
void EventLoop::serve(int fd, Connection& conn, bool readable, bool writable, Clock::time_point now) {
    connections_.touch(fd, now);  // readiness is the peer's doing: it sent bytes, or read some echo
    Status status = Status::kOpen;
    if (readable) status = conn.echo.on_readable(scratch_, kReadBudget).status;
    if (writable && status == Status::kOpen) status = conn.echo.on_writable();
    if (status != Status::kOpen) return remove(fd);  // finished (EOF, all echoed) or failed
    set_interest(fd, conn);
}
// [/slide]

// [slide:interest]
// Interest follows the state: read while the client may send and is under its cap, write only
// while an echo is pending. A socket is almost always writable, so a permanent write interest
// would make select() return at once, forever.
void EventLoop::set_interest(int fd, const Connection& conn) {
    if (conn.echo.wants_read()) FD_SET(fd, &read_interest_);  // false at the out cap: backpressure
    else FD_CLR(fd, &read_interest_);
    if (conn.echo.wants_write()) FD_SET(fd, &write_interest_);
    else FD_CLR(fd, &write_interest_);
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
        if (saturated_) log_.info("accepting again ({} connections open)", connections_.open());
        saturated_ = false;
        ++accepted_;
        admit(cs::Fd{fd}, cs::endpoint_text(reinterpret_cast<sockaddr*>(&address), length));
    }
}
// [/slide]

// [slide:fd-setsize]
void EventLoop::admit(cs::Fd socket, std::string peer) {
    int fd = socket.get();
    if (fd >= FD_SETSIZE) {  // never FD_SET() it: it would write past the end of the fd_set
        log_.conn("{} refused: fd {} >= FD_SETSIZE ({}), select() cannot watch it", peer, fd, FD_SETSIZE);
        return;  // socket's destructor closes it
    }
    if (connections_.open() >= options_.max_conns) {
        log_.conn("{} refused (fd {}): --max-conns {} reached", peer, fd, options_.max_conns);
        return;
    }
    log_.conn("{} connected (fd {})", peer, fd);
    set_interest(fd, connections_.add(std::move(socket), options_.out_cap, std::move(peer)));
}
// [/slide]

// EMFILE/ENFILE (out of descriptors), ENOMEM, ENOBUFS: accept() would fail again at once while
// the listener stays readable, so select() would return at once: a 100 % CPU spin. Instead the
// listener leaves the read set for a moment; new clients wait in the backlog and are served
// once descriptors are free. (The reserved-fd trick answers them with a close: see Exercises.)
void EventLoop::pause_accepting() {
    if (!saturated_) {
        log_.info("accept() failed: {}; not accepting for {} ms ({} connections open)", cs::errno_text(),
                  kAcceptPause.count(), connections_.open());
    }
    saturated_ = true;  // logged once per episode, not ten times a second
    FD_CLR(listener_.get(), &read_interest_);
    accept_paused_ = true;
    accept_paused_until_ = Clock::now() + kAcceptPause;
}

void EventLoop::resume_accepting() {
    accept_paused_ = false;
    FD_SET(listener_.get(), &read_interest_);
}

// [slide:idle-timeout]
// --idle-timeout: one more pass over the table, O(n) per wake-up like the scan in run(), so it
// changes nothing in 04's cost. 05 has no scan and cannot afford one: it keeps its connections
// ordered by last activity and looks only at the oldest.
void EventLoop::close_idle(Clock::time_point now) {
    if (options_.idle_timeout.count() == 0) return;
    for (int fd = 0; fd <= connections_.highest_fd(); ++fd) {
        const Connection* conn = connections_.find(fd);
        if (!conn || now - conn->last_active < options_.idle_timeout) continue;
        FD_CLR(fd, &read_interest_);
        FD_CLR(fd, &write_interest_);
        connections_.remove_idle(fd, options_.idle_timeout);
    }
}
// [/slide]

// select()'s timeout: the end of an accept pause, or the moment the client that has been silent
// longest reaches --idle-timeout; nullptr (sleep until a descriptor is ready) when neither.
timeval* EventLoop::next_timeout(timeval& timeout) const {
    std::optional<Clock::time_point> wake;
    if (accept_paused_) wake = accept_paused_until_;
    for (int fd = 0; options_.idle_timeout.count() > 0 && fd <= connections_.highest_fd(); ++fd) {
        const Connection* conn = connections_.find(fd);
        if (!conn) continue;
        Clock::time_point idle_at = conn->last_active + options_.idle_timeout;
        wake = wake ? std::min(*wake, idle_at) : idle_at;
    }
    if (!wake) return nullptr;
    auto left = std::chrono::ceil<std::chrono::microseconds>(*wake - Clock::now()).count();
    left = std::max<decltype(left)>(left, 0);
    timeout.tv_sec = left / 1'000'000;
    timeout.tv_usec = left % 1'000'000;
    return &timeout;
}

void EventLoop::remove(int fd) {
    FD_CLR(fd, &read_interest_);
    FD_CLR(fd, &write_interest_);
    connections_.remove(fd);
}

// Reads the stop pipe; true means stop. SIGUSR1 prints one line and changes nothing else.
bool EventLoop::on_signals() {
    Signals::Received got = signals_.take();
    if (got.stats) log_.stats("stats: {} open, {} accepted", connections_.open(), accepted_);
    return got.stop;
}

}  // namespace lesson04
