// 07-master-worker/worker.cpp — the worker's event loop: accept (with or without a lock), echo, stop.
#include "worker.hpp"

#include "channel.hpp"
#include "04-select/echo_connection.hpp"
#include "common/net.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <list>
#include <memory>
#include <optional>
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unordered_map>

namespace lesson07 {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int kMaxEvents = 64;
constexpr int kAcceptBatch = 16;           // accepts per wake-up: a burst in one go, but no hoarding
using cs::kReadBudget;                     // per connection per wake-up: no client starves the rest
constexpr auto kLockRetry = 100ms;         // mutex mode, lock not held: try again this often (nginx: 500 ms)
constexpr auto kIdleAfter = 500ms;         // graceful stop: nothing in flight and silent this long = idle
constexpr auto kOrphanGrace = 1s;          // the master died: this long for connections in flight
constexpr auto kStopTick = 50ms;           // while stopping, look for newly idle connections this often
using cs::kAcceptPause;                    // accept() failed with EMFILE and friends: rest this long
constexpr std::uint64_t kRearmEvery = 16;  // rearm mode: go to the back of the wait queue this often

// SIGTERM to a worker (alone, or to the whole group as systemd and `kill -TERM -<pgid>` do):
// stop gracefully like on the master's kStop. SIGUSR1 (usually passed on by the master): print
// this worker's stats line. The handler only sets the flags.
volatile std::sig_atomic_t got_term = 0, got_stats = 0;

void on_signal(int sig) {
    if (sig == SIGUSR1) got_stats = 1;
    else got_term = 1;
}

struct Connection {
    Connection(cs::Fd socket, std::string peer_text) : echo(std::move(socket)), peer(std::move(peer_text)) {}
    lesson04::EchoConnection echo;
    std::string peer;
    Clock::time_point last_active = Clock::now();  // when bytes last moved, either way
    std::list<int>::iterator by_activity;          // its place in Worker::activity_
    std::uint32_t interest = EPOLLIN;              // what epoll watches for this fd right now
};

class Worker {
public:
    Worker(WorkerSetup setup, cs::Fd listener, const cs::Log& log)
        : setup_(std::move(setup)), listener_(std::move(listener)), log_(log) {}
    int run();

private:
    void ctl(int op, int fd, std::uint32_t events);
    void watch_listener(bool on);
    void take_accept_lock();
    void release_accept_lock();
    void accept_if_room();
    void accept_some(bool drain);
    void rearm_now_and_then();
    void pause_accepting();
    void on_connection(int fd, std::uint32_t events);
    void close_connection(int fd, const char* reason = nullptr);
    void forget(int fd);
    void enforce_idle_timeout(Clock::time_point now);
    void print_stats();
    void on_channel();
    void dispatch(const epoll_event& event);
    void report(Command command);
    void begin_stop(Clock::duration grace);
    void close_idle_connections(Clock::time_point now);
    int wait_ms(Clock::time_point now) const;

    WorkerSetup setup_;
    cs::Fd listener_;
    const cs::Log& log_;
    cs::Fd epoll_;
    std::unordered_map<int, std::unique_ptr<Connection>> connections_;
    std::list<int> activity_;  // the connections' fds, the one silent longest first (--idle-timeout)
    Counters counters_;
    bool watching_listener_ = false;
    bool holds_lock_ = false;
    bool at_cap_ = false;                            // --max-conns reached: not accepting until a connection closes
    bool saturated_ = false;                         // accept() ran out of descriptors and has not worked since
    std::optional<Clock::time_point> paused_until_;  // accept() is resting after EMFILE
    bool stopping_ = false;
    Clock::time_point deadline_;
    std::array<std::byte, 64UL * 1024> scratch_{};  // one read buffer for all connections
};

void Worker::ctl(int op, int fd, std::uint32_t events) {
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;
    if (::epoll_ctl(epoll_.get(), op, fd, &event) < 0) {
        log_.info("worker {}: epoll_ctl() failed for fd {}: {}", setup_.slot, fd, cs::errno_text());
    }
}

// [slide:watch-listener]
void Worker::watch_listener(bool on) {
    if (on == watching_listener_ || !listener_) return;
    std::uint32_t events = EPOLLIN;
    // EPOLLEXCLUSIVE (Linux 4.5): of all the epoll instances that watch this socket with the flag,
    // the kernel wakes one that is waiting, not all of them. It is only allowed with EPOLL_CTL_ADD.
    bool exclusive = setup_.lock_mode == LockMode::kExclusive || setup_.lock_mode == LockMode::kRearm;
    if (exclusive) events |= EPOLLEXCLUSIVE;
    ctl(on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, listener_.get(), events);
    watching_listener_ = on;
}
// [/slide]

// [slide:accept-mutex]
void Worker::take_accept_lock() {
    if (holds_lock_) return;
    switch (setup_.lock->try_lock()) {
        case AcceptLock::Try::kRecovered:
            log_.info("worker {}: took over the accept lock from a worker that died holding it", setup_.slot);
            [[fallthrough]];
        case AcceptLock::Try::kAcquired: holds_lock_ = true; break;
        case AcceptLock::Try::kBusy: ++counters_.lock_busy; break;
    }
    // Only the holder watches the listener, so only the holder wakes for a new connection. It
    // keeps the lock while it sleeps and gives it back after each round of events.
    watch_listener(holds_lock_);
}
// [/slide]

void Worker::release_accept_lock() {
    if (!holds_lock_) return;
    setup_.lock->unlock();
    holds_lock_ = false;  // the listener stays watched until the next take_accept_lock() decides
}

// --max-conns is per worker. At its cap a worker stops watching the listener (and leaves the
// accept lock to the others) where 04 and 05 accept and close: with one shared queue (inherit,
// pass), the next connection then goes to a worker with room, while a close would refuse a
// client that the server as a whole could still serve. When every worker is full, new clients
// wait in the listen backlog, as at EMFILE. The price is in reuseport mode: the hash still sends
// clients to this worker's own queue, where they wait until one of its connections closes.
void Worker::accept_if_room() {
    if (connections_.size() >= setup_.max_conns) {
        if (!at_cap_) {
            log_.conn("worker {}: --max-conns {} reached; not accepting until a connection closes", setup_.slot,
                      setup_.max_conns);
        }
        at_cap_ = true;
        watch_listener(false);
        return;
    }
    at_cap_ = false;
    if (setup_.lock) take_accept_lock();  // mutex mode watches the listener only while holding the lock
    else watch_listener(true);
}

void Worker::accept_some(bool drain) {
    for (int i = 0; i < kAcceptBatch && connections_.size() < setup_.max_conns; ++i) {
        sockaddr_storage peer{};
        socklen_t length = sizeof peer;
        int fd = ::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&peer), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (i == 0 && !drain) ++counters_.empty_wakeups;  // woken, but another worker was faster
                return;
            }
            if (errno == EINTR || errno == ECONNABORTED) continue;  // a client that left before we got to it
            pause_accepting();
            return;
        }
        if (saturated_) log_.info("worker {}: accepting again ({} connections open)", setup_.slot, connections_.size());
        saturated_ = false;
        ++counters_.accepted;
        auto connection =
            std::make_unique<Connection>(cs::Fd{fd}, cs::endpoint_text(reinterpret_cast<sockaddr*>(&peer), length));
        log_.conn("worker {}: {} connected (fd {})", setup_.slot, connection->peer, fd);
        ctl(EPOLL_CTL_ADD, fd, EPOLLIN);
        connection->by_activity = activity_.insert(activity_.end(), fd);  // the most recently active
        connections_.emplace(fd, std::move(connection));
        rearm_now_and_then();
    }
}

// EPOLLEXCLUSIVE wakes the first idle worker in the listener's wait queue, and a worker's place
// in it is where its epoll_ctl(ADD) put it: the first worker to start is woken whenever it is
// idle, and with light load it takes nearly every connection. Every kRearmEvery accepts, leave
// the queue and join it again at the back, so the next connection wakes somebody else.
// (nginx does the same on Linux: it deletes and re-adds its listening sockets every 16 accepts.)
void Worker::rearm_now_and_then() {
    if (setup_.lock_mode != LockMode::kRearm || counters_.accepted % kRearmEvery != 0) return;
    watch_listener(false);
    watch_listener(true);
}

// EMFILE/ENFILE (out of descriptors), ENOMEM, ENOBUFS: the connection stays queued, so the
// level-triggered listener would wake us again at once, a 100 % CPU spin. Stop watching it for a
// moment instead; the clients wait in the backlog (or go to another worker with descriptors left).
// Logged once per episode, not ten times a second, as in 05.
void Worker::pause_accepting() {
    if (!saturated_) {
        log_.info("worker {}: accept() failed: {}; not accepting for {} ms ({} connections open)", setup_.slot,
                  cs::errno_text(), std::chrono::milliseconds(kAcceptPause).count(), connections_.size());
    }
    saturated_ = true;
    watch_listener(false);
    paused_until_ = Clock::now() + kAcceptPause;
}

void Worker::on_connection(int fd, std::uint32_t events) {
    auto found = connections_.find(fd);
    if (found == connections_.end()) return;
    Connection& c = *found->second;
    using Status = lesson04::EchoConnection::Status;
    std::uint64_t moved_before = c.echo.bytes_echoed() + c.echo.pending_bytes();
    std::uint64_t sent_before = c.echo.bytes_echoed();
    Status status = Status::kOpen;
    // Errors and hang-ups come without being asked for; letting the write or read side meet them
    // turns them into a normal kFailed/kFinished instead of an event that repeats forever.
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) status = c.echo.on_writable();
    if (status == Status::kOpen && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && c.echo.wants_read()) {
        status = c.echo.on_readable(scratch_, kReadBudget).status;
    }
    if (c.echo.bytes_echoed() + c.echo.pending_bytes() != moved_before || c.echo.bytes_echoed() != sent_before) {
        c.last_active = Clock::now();
        activity_.splice(activity_.end(), activity_, c.by_activity);  // O(1): now the most recently active
    }
    if (status != Status::kOpen) {
        close_connection(fd);
        return;
    }
    // Level-triggered: read interest off while the echo is over its cap, write interest only
    // while output is pending. When interest returns, bytes already waiting raise EPOLLIN again.
    std::uint32_t interest = (c.echo.wants_read() ? EPOLLIN : 0u) | (c.echo.wants_write() ? EPOLLOUT : 0u);
    if (interest != c.interest) {
        ctl(EPOLL_CTL_MOD, fd, interest);
        c.interest = interest;
    }
}

void Worker::close_connection(int fd, const char* reason) {
    auto found = connections_.find(fd);
    if (found == connections_.end()) return;
    const Connection& c = *found->second;
    if (c.echo.error() != 0) {
        log_.conn("worker {}: {}() failed: {}; closing fd {} ({}, {} bytes echoed)", setup_.slot, c.echo.failed_call(),
                  cs::errno_text(c.echo.error()), fd, c.peer, c.echo.bytes_echoed());
    } else {
        log_.conn("worker {}: {} closed{}{} (fd {}, {} bytes echoed)", setup_.slot, c.peer, reason ? " " : "",
                  reason ? reason : "", fd, c.echo.bytes_echoed());
    }
    forget(fd);
}

void Worker::forget(int fd) {
    auto found = connections_.find(fd);
    activity_.erase(found->second->by_activity);
    connections_.erase(found);  // ~EchoConnection closes the socket, which also leaves the epoll set
}

// --idle-timeout: activity_ lists the connections silent longest first (on_connection() moves one
// to the back whenever bytes move, an O(1) splice), so only the front is ever looked at. 05 keeps
// the same order with the links inside its Connection (no list node to allocate, at 10,000
// clients); a worker reads better with std::list. This is not the graceful-stop rule below
// (kIdleAfter): that one applies only while stopping, to connections with nothing in flight.
void Worker::enforce_idle_timeout(Clock::time_point now) {
    if (setup_.idle_timeout.count() == 0) return;
    while (!activity_.empty()) {
        int fd = activity_.front();
        const Connection& c = *connections_.at(fd);
        if (now - c.last_active < setup_.idle_timeout) return;
        log_.conn("worker {}: {} idle for {} s, closing (fd {}, {} bytes echoed)", setup_.slot, c.peer,
                  setup_.idle_timeout.count(), fd, c.echo.bytes_echoed());
        forget(fd);
    }
}

void Worker::print_stats() {
    got_stats = 0;  // safe to clear: SIGUSR1 is blocked outside epoll_pwait()
    log_.stats("stats: worker {}: {} open, {} accepted, {} empty wake-ups, {} lock-busy", setup_.slot,
               connections_.size(), counters_.accepted, counters_.empty_wakeups, counters_.lock_busy);
}

void Worker::report(Command command) {
    Message message{.command = command, .slot = setup_.slot};
    message.counters = counters_;
    message.counters.open = connections_.size();
    if (setup_.channel) send_message(setup_.channel.get(), message);  // a dead master reads nothing anyway
}

void Worker::on_channel() {
    Message message;
    for (;;) {
        int got = receive_message(setup_.channel.get(), message);
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (got <= 0) {
            // EOF: the master is gone (killed, crashed). Nobody would restart us or collect our
            // counters; finish briefly and exit rather than serve on unsupervised (nginx's workers do).
            log_.info("worker {}: lost the master (channel {}); stopping", setup_.slot,
                      got == 0 ? "EOF" : cs::errno_text().c_str());
            setup_.channel.reset();  // closing it also removes it from the epoll set
            begin_stop(kOrphanGrace);
            return;
        }
        if (message.command == Command::kStop) begin_stop(std::chrono::milliseconds(message.grace_ms));
    }
}

// [slide:graceful-stop]
void Worker::begin_stop(Clock::duration grace) {
    Clock::time_point now = Clock::now();
    deadline_ = stopping_ ? std::min(deadline_, now + grace) : now + grace;  // a second stop may shorten it
    if (stopping_) return;
    stopping_ = true;
    watch_listener(false);  // first stop watching: from now on, new connections wake other workers
    release_accept_lock();
    if (listener_) {
        accept_some(/*drain=*/true);  // a connection the kernel woke us for must not sit unnoticed
        listener_.reset();            // reuseport: this resets what was still queued on our own socket
    }
    log_.info("worker {}: stopping; {} connection(s) open", setup_.slot, connections_.size());
    close_idle_connections(now);
}
// [/slide]

// Bytes the kernel still holds for this client: written by us, not yet acknowledged by its TCP.
// A client that stopped reading leaves our echo here even when our own buffer is empty.
int unacknowledged_bytes(int fd) {
    int queued = 0;
    return ::ioctl(fd, SIOCOUTQ, &queued) == 0 ? queued : 0;
}

void Worker::close_idle_connections(Clock::time_point now) {
    if (now >= deadline_ && !connections_.empty()) {
        log_.info("worker {}: grace period over; closing {} connection(s)", setup_.slot, connections_.size());
    }
    std::vector<int> closing;
    for (const auto& [fd, c] : connections_) {
        bool in_flight = c->echo.pending_bytes() > 0 || unacknowledged_bytes(fd) > 0;
        bool idle = !in_flight && now - c->last_active >= kIdleAfter;
        if (idle || now >= deadline_) closing.push_back(fd);
    }
    for (int fd : closing)
        close_connection(fd, now >= deadline_ ? "at the end of the grace period" : "while idle, to stop");
}

int Worker::wait_ms(Clock::time_point now) const {
    std::optional<Clock::time_point> wake;
    auto earliest = [&](Clock::time_point t) { wake = wake ? std::min(*wake, t) : t; };
    if (stopping_) earliest(std::min(deadline_, now + kStopTick));
    if (!stopping_ && setup_.lock && !holds_lock_) earliest(now + kLockRetry);
    if (paused_until_) earliest(*paused_until_);
    if (setup_.idle_timeout.count() > 0 && !activity_.empty()) {
        earliest(connections_.at(activity_.front())->last_active + setup_.idle_timeout);
    }
    if (!wake) return -1;
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(*wake - now).count();
    return static_cast<int>(std::clamp<long>(ms, 0, 60'000));
}

void Worker::dispatch(const epoll_event& event) {
    int fd = event.data.fd;
    if (listener_ && fd == listener_.get()) {
        if (watching_listener_) accept_some(/*drain=*/false);  // not if a stop came earlier in this batch
    } else if (setup_.channel && fd == setup_.channel.get()) {
        on_channel();
    } else {
        on_connection(fd, event.events);
    }
}

int Worker::run() {
    epoll_ = cs::Fd{::epoll_create1(EPOLL_CLOEXEC)};
    if (!epoll_ || !cs::set_nonblocking(setup_.channel.get())) {
        log_.info("worker {}: epoll_create1() failed: {}", setup_.slot, cs::errno_text());
        return 1;
    }
    ctl(EPOLL_CTL_ADD, setup_.channel.get(), EPOLLIN);
    report(Command::kReady);  // the listener exists: connections queue from now on, so count us in
    sigset_t while_waiting;   // our mask minus SIGTERM and SIGUSR1: the only place they are delivered
    ::sigprocmask(SIG_SETMASK, nullptr, &while_waiting);
    sigdelset(&while_waiting, SIGTERM);
    sigdelset(&while_waiting, SIGUSR1);
    std::array<epoll_event, kMaxEvents> events;
    while (!stopping_ || !connections_.empty()) {
        if (got_term) {  // safe to read and clear: SIGTERM is blocked outside epoll_pwait()
            got_term = 0;
            log_.info("worker {}: SIGTERM", setup_.slot);
            begin_stop(setup_.grace);
        }
        if (got_stats) print_stats();  // SIGUSR1, delivered the same way
        Clock::time_point now = Clock::now();
        if (paused_until_ && now >= *paused_until_) paused_until_.reset();
        if (!stopping_ && !paused_until_) accept_if_room();
        // EINTR: SIGTERM or SIGUSR1 arrived while we slept. Nothing else can be interrupted: outside
        // this call both signals are blocked, so no read(), send() or accept() ever sees EINTR.
        int ready = ::epoll_pwait(epoll_.get(), events.data(), kMaxEvents, wait_ms(now), &while_waiting);
        if (ready < 0 && errno != EINTR) {
            log_.info("worker {}: epoll_pwait() failed: {}", setup_.slot, cs::errno_text());
            return 1;
        }
        for (int i = 0; i < ready; ++i) dispatch(events[i]);
        if (setup_.lock) release_accept_lock();  // accepted what woke us: let another worker have a turn
        enforce_idle_timeout(Clock::now());
        if (stopping_) close_idle_connections(Clock::now());
    }
    report(Command::kStats);  // the last words: the master prints them in its exit table
    log_.info("worker {}: exiting", setup_.slot);
    return 0;
}

}  // namespace

void reset_signals_for_worker() {
    struct sigaction action {};
    sigemptyset(&action.sa_mask);
    action.sa_handler = SIG_DFL;  // the master's handlers set the master's flags: not ours
    ::sigaction(SIGCHLD, &action, nullptr);
    action.sa_handler = on_signal;
    ::sigaction(SIGTERM, &action, nullptr);
    ::sigaction(SIGUSR1, &action, nullptr);
    // Ctrl-C in a terminal signals the whole foreground process group. The master decides what a
    // stop or a reload means and tells the workers over their channels; the workers ignore these.
    action.sa_handler = SIG_IGN;
    for (int sig : {SIGINT, SIGHUP, SIGUSR2, SIGPIPE}) ::sigaction(sig, &action, nullptr);
    sigset_t ours;  // fork() copied the master's mask (exec() would keep it too): replace it
    sigemptyset(&ours);
    sigaddset(&ours, SIGTERM);
    sigaddset(&ours, SIGUSR1);
    ::sigprocmask(SIG_SETMASK, &ours, nullptr);
}

int run_worker(WorkerSetup setup, const cs::Log& log) {
    ::prctl(PR_SET_NAME, "mw-worker");  // what `ps -o comm` and `top` show
    cs::Fd listener;
    try {
        // inherit, pass: the master's socket is the listener. reuseport: open one of our own on
        // its address, and close our copy of the master's socket, which is not ours to hold.
        listener =
            setup.share == Share::kReusePort ? open_own_listener(setup.port_socket) : std::move(setup.port_socket);
        setup.port_socket.reset();
    } catch (const std::system_error& error) {
        log.info("worker {}: cannot listen: {}", setup.slot, error.what());
        return 1;
    }
    return Worker(std::move(setup), std::move(listener), log).run();
}

int run_exec_worker(int channel_fd, WorkerSetup setup, const cs::Log& log) {
    reset_signals_for_worker();
    setup.share = Share::kPass;
    setup.channel = cs::Fd{channel_fd};
    Message message;
    std::vector<cs::Fd> fds;
    // Blocking: nothing to serve before the master's first message arrives with the socket.
    if (receive_message(channel_fd, message, &fds) != 1 || message.command != Command::kListener || fds.empty()) {
        log.info("worker: no listening socket from the master on fd {}", channel_fd);
        return 1;
    }
    setup.slot = message.slot;
    setup.port_socket = std::move(fds[0]);  // same socket as the master's, though nothing was inherited
    std::optional<AcceptLock> lock;
    if (setup.lock_mode == LockMode::kMutex && fds.size() > 1) {
        lock.emplace(AcceptLock::attach(std::move(fds[1])));
        setup.lock = &*lock;
    }
    return run_worker(std::move(setup), log);
}

}  // namespace lesson07
