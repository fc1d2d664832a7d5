// 05-epoll-pool/event_loop.cpp — the epoll loop: wait for the ready descriptors only, serve them,
// change the kernel's interest list when a connection's state changes, accept, close the idle.
// 04-select/event_loop.cpp is this file for select(): diff the two to see select -> epoll. What
// select() had no use for (edge-triggered fairness: read, after_io, read_again) comes last.
#include "05-epoll-pool/event_loop.hpp"

#include "common/net.hpp"

#include <algorithm>
#include <cerrno>
#include <optional>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <system_error>
#include <utility>

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

// [slide:epoll-loop]
bool EventLoop::run() {
    std::vector<epoll_event> ready(kMaxEvents);
    for (;;) {
        int count = ::epoll_wait(epoll_.get(), ready.data(), kMaxEvents, wait_timeout_ms());
        if (count < 0) {
            if (errno == EINTR) continue;
            log_.info("epoll_wait() failed: {}", cs::errno_text());
            return false;
        }
        Clock::time_point now = Clock::now();  // one clock read per turn, not one per event
        for (int i = 0; i < count; ++i) {  // only the ready ones, however many are idle
            int fd = ready[i].data.fd;
            if (fd == stop_fd_) return true;
            if (fd == listener_.get()) {
                accept_clients();
            } else if (Connection* conn = pool_.find(fd)) {
                serve(fd, *conn, ready[i].events, now);
            }
        }
        if (accept_paused_ && now >= accept_resume_at_) resume_accepting();
        read_again(now);
        close_idle(now);
    }
}
// [/slide]

// [slide:serve]
void EventLoop::serve(int fd, Connection& conn, std::uint32_t events, Clock::time_point now) {
    pool_.touch(fd, now);  // an event is the peer's doing (bytes, EOF, room for its echo): not idle
    Status status = Status::kOpen;
    // EPOLLERR/EPOLLHUP come whether we asked or not: read()/write() will name the error.
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) status = read(conn);
    if (status == Status::kOpen && conn.echo.wants_write() && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        status = conn.echo.on_writable();
    }
    after_io(fd, conn, status);
}
// [/slide]

// [slide:interest]
// Interest follows the state: EPOLLIN while the client may send and is under its cap, EPOLLOUT
// only while an echo is pending. Level-triggered, an EPOLLOUT on a socket with room to write,
// or an EPOLLIN we refuse to read (the cap), would make epoll_wait() return at once, forever.
void EventLoop::set_interest(int fd, Connection& conn) {
    std::uint32_t wanted = (conn.echo.wants_read() ? EPOLLIN : 0u) | (conn.echo.wants_write() ? EPOLLOUT : 0u);
    if (wanted == conn.interest) return;  // the common case: no system call at all
    if (!ctl(EPOLL_CTL_MOD, fd, wanted | edge_flag())) {
        log_.info("epoll_ctl(MOD, fd {}) failed: {}", fd, cs::errno_text());
        return;
    }
    conn.interest = wanted;
}
// [/slide]

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

// ---- beyond 04: edge-triggered readiness (--edge) and the fairness budget ----------------------

EventLoop::Status EventLoop::read(Connection& conn) {
    auto outcome = conn.echo.on_readable(scratch_, kReadBudget);
    conn.unread = !outcome.drained;  // stopped by the budget or the cap, not by EAGAIN
    return outcome.status;
}

// [slide:after-io]
void EventLoop::after_io(int fd, Connection& conn, Status status) {
    if (status != Status::kOpen) {
        pool_.remove(fd);
        return;
    }
    set_interest(fd, conn);
    // Edge-triggered, no new edge announces bytes that are already waiting. A connection that
    // stopped before EAGAIN is read again next turn, after every other ready one: draining it
    // now, until EAGAIN, would let one fast sender starve the whole loop.
    if (options_.edge && conn.unread && conn.echo.wants_read() && !conn.queued) {
        conn.queued = true;
        again_.push_back(fd);
    }
}
// [/slide]

void EventLoop::read_again(Clock::time_point now) {
    for (int fd : std::exchange(again_, {})) {
        Connection* conn = pool_.find(fd);
        if (!conn || !conn->queued) continue;  // closed since (and the number perhaps reused)
        conn->queued = false;
        pool_.touch(fd, now);  // bytes are waiting: the peer is anything but idle, even without a new edge
        after_io(fd, *conn, read(*conn));
    }
}

}  // namespace lesson05
