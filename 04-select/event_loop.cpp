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
        fd_set ready_to_read = read_interest_, ready_to_write = write_interest_;  // select() overwrites its copy
        int max_fd = std::max({stop_fd_, listener_.get(), connections_.highest_fd()});
        int timeout_ms = next_timeout();
        timeval timeout{.tv_sec = timeout_ms / 1000, .tv_usec = suseconds_t{timeout_ms % 1000} * 1000};
        int count = ::select(max_fd + 1, &ready_to_read, &ready_to_write, nullptr, timeout_ms < 0 ? nullptr : &timeout);
        if (count < 0) {
            if (errno == EINTR) continue;  // a signal: go round (the stop fd says whether it was ours)
            log_.info("select() failed: {}", cs::errno_text());
            return false;
        }
        Clock::time_point now = Clock::now();
        if (FD_ISSET(stop_fd_, &ready_to_read) && on_signals()) return true;
        if (FD_ISSET(listener_.get(), &ready_to_read)) accept_clients();
        // [todo:1 serve what select() says is ready | tests: EchoesOneLine, FiftyClientsHeldOpenAreAllEchoed, FiveHundredClientsHeldOpenAreAllEchoed]
        //? select() left in ready_to_read / ready_to_write only the descriptors that are ready. Look
        //? at every fd up to max_fd (FD_ISSET), find its Connection, and serve() it once this turn.
        for (int fd = 0; fd <= max_fd; ++fd) {  // the O(n) scan: every fd, ready or not
            bool readable = FD_ISSET(fd, &ready_to_read);
            bool writable = FD_ISSET(fd, &ready_to_write);
            Connection* conn = connections_.find(fd);
            if (conn && (readable || writable)) serve(fd, *conn, readable, writable, now);
        }
        //| for (int fd = 0; fd <= max_fd; ++fd) {  // not served yet: a client that sends is hung up on
        //|     if (connections_.find(fd) && FD_ISSET(fd, &ready_to_read)) {
        //|         unwatch(fd);
        //|         connections_.remove(fd);
        //|     }
        //| }
        // [/todo]
        if (accept_paused_ && now >= accept_paused_until_) resume_accepting();
        close_idle(now);
    }
}
// [/slide]

// [slide:serve]
void EventLoop::serve(int fd, Connection& conn, bool readable, bool writable, Clock::time_point now) {
    connections_.touch(fd, now);  // readiness is the peer's doing: it sent bytes, or read some echo
    Status status = Status::kOpen;
    if (readable) status = read(conn);
    if (writable && status == Status::kOpen) status = conn.echo.on_writable();
    if (status != Status::kOpen) {  // finished (EOF, all echoed) or failed
        // select() must never be handed a closed descriptor: EBADF
        unwatch(fd);
        return connections_.remove(fd);
    }
    set_interest(fd, conn);
}
// [/slide]

// Level-triggered: a short read emptied the socket; select() says when more comes (ReadUntil).
EventLoop::Status EventLoop::read(Connection& conn) {
    return conn.echo.on_readable(scratch_, kReadBudget, EchoConnection::ReadUntil::kShortRead).status;
}

// [slide:interest]
// Interest follows the state: read while the client may send and is under its cap, write only
// while an echo is pending. A socket is almost always writable, so a permanent write interest
// would make select() return at once, forever.
void EventLoop::set_interest(int fd, const Connection& conn) {
    // [todo:2 interest follows the state | tests: ClientThatSendsWithoutReadingCostsAboutTheCapAndGetsEveryByteBack, EchoesEightMiBLine]
    //? Put fd in read_interest_ while conn.echo.wants_read(), in write_interest_ while
    //? conn.echo.wants_write(); take it out (FD_CLR) otherwise.
    if (conn.echo.wants_read()) FD_SET(fd, &read_interest_);  // false at the out cap: backpressure
    else FD_CLR(fd, &read_interest_);
    if (conn.echo.wants_write()) FD_SET(fd, &write_interest_);
    else FD_CLR(fd, &write_interest_);
    //| (void)conn;
    //| FD_SET(fd, &read_interest_);  // always read, never write: no backpressure, no queued echo
    // [/todo]
}
// [/slide]

// [slide:accept]
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
        if (saturated_) log_.info("accepting again ({} connections open)", connections_.open());
        saturated_ = false;
        ++accepted_;
        admit(cs::Fd{fd}, cs::endpoint_text(peer, length));
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

// EMFILE/ENFILE (out of descriptors), ENOMEM, ENOBUFS: accept() fails while the listener stays
// readable, so the loop would wake at once, again and again: a 100 % CPU spin. We stop watching
// the listener for a moment; the clients wait in the backlog until descriptors are free.
// (The reserved-fd trick answers them with a close instead: see Exercises.)
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

// --idle-timeout: close from the oldest end while it is past its time. Finding the oldest is the
// container's business, and the difference between the lessons: 04's table scans every slot,
// O(n) per wake-up like the scan in run(); 05's pool keeps them in order of activity, O(1).
void EventLoop::close_idle(Clock::time_point now) {
    if (options_.idle_timeout.count() == 0) return;
    for (int fd = connections_.oldest(); fd >= 0; fd = connections_.oldest()) {
        const Connection* conn = connections_.find(fd);
        if (now - conn->last_active < options_.idle_timeout) return;
        unwatch(fd);
        connections_.remove_idle(fd, options_.idle_timeout);
    }
}

// The wait's timeout in ms: the end of an accept pause, or the moment the oldest connection
// reaches --idle-timeout; -1 (sleep until a descriptor is ready) when neither.
int EventLoop::next_timeout() const {
    if (options_.busy_poll) return 0;  // look and return at once: a loop that never sleeps
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

void EventLoop::unwatch(int fd) {
    FD_CLR(fd, &read_interest_);
    FD_CLR(fd, &write_interest_);
}

// Reads the stop pipe; true means stop. SIGUSR1 prints one line and changes nothing else.
bool EventLoop::on_signals() {
    Signals::Received got = signals_.take();
    if (got.stats) log_.stats("stats: {} open, {} accepted", connections_.open(), accepted_);
    return got.stop;
}

}  // namespace lesson04
