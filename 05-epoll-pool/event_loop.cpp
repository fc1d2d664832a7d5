// 05-epoll-pool/event_loop.cpp — the epoll loop: wait, serve only the ready descriptors, change
// the kernel's interest list when a connection's state changes, accept, close the idle.
// 04-select/event_loop.cpp is this file for select(): `diff -u` the two is the select -> epoll lesson.
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
    : epoll_(::epoll_create1(EPOLL_CLOEXEC)), listener_(std::move(listener)), stop_fd_(stop_fd), options_(options),
      connections_(options.max_conns, open_total, log), log_(log) {
    if (!epoll_) throw std::system_error(errno, std::generic_category(), "epoll_create1()");
    // The kernel keeps the interest list: the stop fd and the listener go in once, here. The stop
    // fd stays level-triggered: once rung it stays readable, for every loop.
    if (!ctl(EPOLL_CTL_ADD, stop_fd_, EPOLLIN) || !ctl(EPOLL_CTL_ADD, listener_.get(), listener_events())) {
        throw std::system_error(errno, std::generic_category(), "epoll_ctl(ADD)");
    }
}

// [slide:epoll-loop]
bool EventLoop::run() {
    std::vector<epoll_event> ready(kMaxEvents);  // filled with the ready descriptors only
    for (;;) {
        int count = ::epoll_wait(epoll_.get(), ready.data(), kMaxEvents, next_timeout());
        if (count < 0) {
            if (errno == EINTR) continue;  // a signal: go round (the stop fd says whether it was ours)
            log_.info("epoll_wait() failed: {}", cs::errno_text());
            return false;
        }
        Clock::time_point now = Clock::now();
        for (int i = 0; i < count; ++i) {  // only the ready ones, however many are idle
            int fd = ready[i].data.fd;
            if (fd == stop_fd_) return true;
            if (fd == listener_.get()) accept_clients();
            // [todo:1 serve only what epoll says is ready | tests: EchoesOneLine, FiftyClientsHeldOpenAreAllEchoed, FiveHundredClientsHeldOpenAreAllEchoed]
            //? ready[i].events says what fd is ready for: EPOLLIN, EPOLLOUT, and EPOLLERR/EPOLLHUP,
            //? which come unasked (let read()/write() name the error). Find its Connection, serve() it.
            // EPOLLERR/EPOLLHUP come whether we asked or not: read()/write() will name the error.
            bool readable = ready[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP);
            bool writable = ready[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP);
            Connection* conn = connections_.find(fd);
            if (conn && (readable || writable)) serve(fd, *conn, readable, writable, now);
            //| if (connections_.find(fd)) connections_.remove(fd);  // not served yet: hung up on
            // [/todo]
        }
        if (accept_paused_ && now >= accept_paused_until_) resume_accepting();
        read_again(now);  // edge.cpp
        close_idle(now);
    }
}
// [/slide]

void EventLoop::serve(int fd, Connection& conn, bool readable, bool writable, Clock::time_point now) {
    connections_.touch(fd, now);  // readiness is the peer's doing: it sent bytes, or read some echo
    Status status = Status::kOpen;
    if (readable) status = read(conn);
    if (writable && status == Status::kOpen) status = conn.echo.on_writable();
    if (status != Status::kOpen) {  // finished (EOF, all echoed) or failed
        // close() also takes it off the interest list
        return connections_.remove(fd);
    }
    set_interest(fd, conn);
    if (options_.edge) read_later(fd, conn);  // edge.cpp
}

// [slide:interest]
// Interest follows the state: read while the client may send and is under its cap, write only
// while an echo is pending. Level-triggered, an EPOLLOUT on a socket with room to write, or an
// EPOLLIN we refuse to read (the cap), would make epoll_wait() return at once, forever.
void EventLoop::set_interest(int fd, Connection& conn) {
    // [todo:2 tell the kernel when the interest changes | tests: ClientThatSendsWithoutReadingCostsAboutTheCapAndGetsEveryByteBack, EchoesEightMiBLine]
    //? The interest the state wants: EPOLLIN while conn.echo.wants_read(), EPOLLOUT while
    //? conn.echo.wants_write(). Only when it differs from conn.interest: epoll_ctl(MOD) (ctl(), with
    //? edge_flag()), then remember it. Most turns change nothing and make no system call.
    std::uint32_t wanted = (conn.echo.wants_read() ? EPOLLIN : 0u) | (conn.echo.wants_write() ? EPOLLOUT : 0u);
    if (wanted == conn.interest) return;  // the common case: no system call at all
    if (!ctl(EPOLL_CTL_MOD, fd, wanted | edge_flag())) {
        return log_.info("epoll_ctl(MOD, fd {}) failed: {}", fd, cs::errno_text());
    }
    conn.interest = wanted;
    //| (void)fd, (void)conn;  // the interest stays what epoll_ctl(ADD) said: EPOLLIN, forever
    // [/todo]
}
// [/slide]

void EventLoop::accept_clients() {
    for (;;) {  // until EAGAIN: one readiness report may stand for many queued clients
        sockaddr_storage address{};
        socklen_t length = sizeof address;
        // accept4: on Linux the new socket does NOT inherit O_NONBLOCK from the listener.
        auto* peer = reinterpret_cast<sockaddr*>(&address);
        int fd = ::accept4(listener_.get(), peer, &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;  // that client left already
            if (errno != EAGAIN && errno != EWOULDBLOCK) pause_accepting();
            return;
        }
        if (saturated_) log_.info("accepting again ({} connections open)", connections_.open_total());
        saturated_ = false;
        accepted_.fetch_add(1, std::memory_order_relaxed);
        admit(cs::Fd{fd}, cs::endpoint_text(peer, length));
    }
}

void EventLoop::admit(cs::Fd socket, std::string peer) {
    int fd = socket.get();
    if (!connections_.reserve()) {  // --max-conns counts the connections of all loops
        log_.conn("{} refused (fd {}): --max-conns {} reached", peer, fd, options_.max_conns);
        return;  // socket's destructor closes it
    }
    if (!ctl(EPOLL_CTL_ADD, fd, EPOLLIN | edge_flag())) {  // ADD also reports bytes already waiting
        log_.conn("epoll_ctl(ADD) failed: {}; closing fd {} ({})", cs::errno_text(), fd, peer);
        return connections_.unreserve();
    }
    log_.conn("{} connected (fd {})", peer, fd);
    connections_.add(std::move(socket), options_.out_cap, std::move(peer)).interest = EPOLLIN;
}

// [slide:emfile]
// EMFILE/ENFILE (out of descriptors), ENOMEM, ENOBUFS: accept() fails while the listener stays
// readable, so the loop would wake at once, again and again: a 100 % CPU spin. We stop watching
// the listener for a moment; the clients wait in the backlog until descriptors are free.
// (The reserved-fd trick would race here: a spare descriptor's number is process-wide, and
// another loop's accept() can take it between our close() and our accept().)
void EventLoop::pause_accepting() {
    if (!saturated_) {
        log_.info("accept() failed: {}; not accepting for {} ms ({} connections open)", cs::errno_text(),
                  kAcceptPause.count(), connections_.open_total());
    }
    saturated_ = true;  // logged once per episode, not ten times a second
    // no events: still registered, never reported (EPOLLEXCLUSIVE forbids MOD: off the list instead)
    ctl(options_.exclusive ? EPOLL_CTL_DEL : EPOLL_CTL_MOD, listener_.get(), 0);
    accept_paused_ = true;
    accept_paused_until_ = Clock::now() + kAcceptPause;
}

void EventLoop::resume_accepting() {
    accept_paused_ = false;
    // Re-arming re-checks readiness: clients queued meanwhile are reported, even edge-triggered.
    ctl(options_.exclusive ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, listener_.get(), listener_events());
}
// [/slide]

// --idle-timeout: close from the oldest end while it is past its time. Finding the oldest is the
// container's business, and the difference between the lessons: 04's table scans every slot,
// O(n) per wake-up like the scan in run(); 05's pool keeps them in order of activity, O(1).
void EventLoop::close_idle(Clock::time_point now) {
    if (options_.idle_timeout.count() == 0) return;
    for (int fd = connections_.oldest(); fd >= 0; fd = connections_.oldest()) {
        const Connection* conn = connections_.find(fd);
        if (now - conn->last_active < options_.idle_timeout) return;
        connections_.remove_idle(fd, options_.idle_timeout);
    }
}

// The wait's timeout in ms: the end of an accept pause, or the moment the oldest connection
// reaches --idle-timeout; -1 (sleep until a descriptor is ready) when neither.
int EventLoop::next_timeout() const {
    if (!again_.empty()) return 0;  // edge.cpp: reads are waiting; only collect new events first
    std::optional<Clock::time_point> wake;
    if (accept_paused_) wake = accept_paused_until_;
    if (int fd = connections_.oldest(); options_.idle_timeout.count() > 0 && fd >= 0) {
        Clock::time_point idle_at = connections_.find(fd)->last_active + options_.idle_timeout;
        wake = wake ? std::min(*wake, idle_at) : idle_at;
    }
    if (!wake) return -1;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(*wake - Clock::now()).count();
    left = std::max<decltype(left)>(left, 0);
    return static_cast<int>(left);
}

bool EventLoop::ctl(int op, int fd, std::uint32_t events) {
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;  // what epoll_wait() hands back: our key into the pool
    return ::epoll_ctl(epoll_.get(), op, fd, &event) == 0;
}

}  // namespace lesson05
