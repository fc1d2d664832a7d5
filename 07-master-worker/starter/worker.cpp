// 07-master-worker/starter/worker.cpp — a worker's event loop (done for you, but for the accept lock).
// What it shows: 05's level-triggered epoll loop, now one per process over a listener that several
// processes watch, and a graceful stop: stop accepting, let busy connections finish within the
// grace period, close the idle ones, exit 0. Yours here: TODO(3a) and TODO(3b), the accept lock.
#include "07-master-worker/starter/worker.hpp"

#include "04-select/echo_connection.hpp"
#include "common/net.hpp"

#include <algorithm>
#include <array>
#include <csignal>
#include <memory>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <unordered_map>
#include <vector>

namespace master_worker_starter {
namespace {

using Clock = std::chrono::steady_clock;
using Status = lesson04::EchoConnection::Status;
using namespace std::chrono_literals;

constexpr int kMaxEvents = 64;
constexpr int kAcceptBatch = 16;                             // per wake-up: a burst in one go, no hoarding
constexpr std::size_t kReadBudget = std::size_t{64} * 1024;  // per connection per wake-up: no client starves the rest
constexpr auto kIdleAfter = 500ms;    // stopping: nothing to echo and silent this long = idle: closed
constexpr auto kOrphanGrace = 1s;     // the master died: this long for connections in flight
constexpr auto kStopTick = 50ms;      // stopping: look for newly idle connections this often
constexpr auto kLockRetry = 100ms;    // mutex mode, lock held by another worker: try again this often
constexpr auto kAcceptPause = 100ms;  // accept() failed (EMFILE...): rest this long instead of spinning

volatile std::sig_atomic_t got_term = 0;  // SIGTERM is blocked except inside epoll_pwait(): no race
void on_term(int) { got_term = 1; }

struct Connection {
    Connection(cs::Fd socket, std::string peer_text) : echo(std::move(socket)), peer(std::move(peer_text)) {}
    lesson04::EchoConnection echo;
    std::string peer;
    Clock::time_point last_active = Clock::now();
    std::uint32_t interest = EPOLLIN;  // what epoll watches for this fd now
};

class Worker {
public:
    Worker(WorkerSetup setup, const cs::Log& log) : setup_(std::move(setup)), log_(log) {}
    int run();

private:
    void control(int op, int fd, std::uint32_t events) {
        epoll_event event{.events = events, .data = {.fd = fd}};
        if (::epoll_ctl(epoll_.get(), op, fd, &event) < 0)
            log_.info("worker {}: epoll_ctl(): {}", setup_.slot, cs::errno_text());
    }

    void watch_listener(bool on) {
        if (on == watching_listener_ || !setup_.listener) return;
        std::uint32_t events = EPOLLIN;
        // TODO(3a): --accept-lock exclusive (the default): add EPOLLEXCLUSIVE (only allowed with
        // EPOLL_CTL_ADD). Then the kernel wakes one waiting worker per new connection, not every
        // worker's epoll, of which all but one find nothing to accept (the thundering herd).
        control(on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, setup_.listener.get(), events);
        watching_listener_ = on;
    }

    // --accept-lock mutex: only the worker holding the lock watches the listener.
    void take_accept_lock() {
        if (holds_lock_) return;
        // TODO(3b): int rc = ::pthread_mutex_trylock(setup_.accept_mutex); never a blocking lock:
        // this process must keep serving its own connections meanwhile.
        //  * 0: we hold it.  EBUSY: another worker does; leave the listener alone this round.
        //  * EOWNERDEAD: its holder died holding it (a robust mutex tells the next taker). Call
        //    ::pthread_mutex_consistent(), log "worker N: took over the accept lock from a worker
        //    that died holding it", and we hold it. Checked by: MutexAcceptLockIsTakenOver...
        holds_lock_ = true;  // as shipped: as if the lock were always free
        watch_listener(holds_lock_);
    }

    void release_accept_lock() {  // after each round of events: another worker may take a turn
        if (!holds_lock_) return;
        // TODO(3b): ::pthread_mutex_unlock(setup_.accept_mutex).
        holds_lock_ = false;
    }

    void accept_some() {
        for (int i = 0; i < kAcceptBatch; ++i) {
            sockaddr_storage peer{};
            socklen_t length = sizeof peer;
            int fd = ::accept4(setup_.listener.get(), reinterpret_cast<sockaddr*>(&peer), &length,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // another worker was faster, or none left
                if (errno == EINTR || errno == ECONNABORTED) continue;
                log_.info("worker {}: accept() failed: {}; pausing accepts", setup_.slot, cs::errno_text());
                watch_listener(false);  // level-triggered: it would wake us again at once
                paused_until_ = Clock::now() + kAcceptPause;
                return;
            }
            auto connection =
                std::make_unique<Connection>(cs::Fd{fd}, cs::endpoint_text(reinterpret_cast<sockaddr*>(&peer), length));
            log_.conn("worker {}: {} connected (fd {})", setup_.slot, connection->peer, fd);
            control(EPOLL_CTL_ADD, fd, EPOLLIN);
            connections_.emplace(fd, std::move(connection));
        }
    }

    void serve(int fd, std::uint32_t events) {
        auto found = connections_.find(fd);
        if (found == connections_.end()) return;
        Connection& c = *found->second;
        std::uint64_t before = c.echo.bytes_echoed() + c.echo.pending_bytes();
        Status status = Status::kOpen;
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) status = c.echo.on_writable();
        if (status == Status::kOpen && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && c.echo.wants_read()) {
            status = c.echo.on_readable(scratch_, kReadBudget).status;
        }
        if (c.echo.bytes_echoed() + c.echo.pending_bytes() != before) c.last_active = Clock::now();
        if (status != Status::kOpen) return close_connection(fd, "");
        std::uint32_t interest = (c.echo.wants_read() ? EPOLLIN : 0u) | (c.echo.wants_write() ? EPOLLOUT : 0u);
        if (interest != c.interest) control(EPOLL_CTL_MOD, fd, interest);
        c.interest = interest;
    }

    void close_connection(int fd, const char* why) {
        auto found = connections_.find(fd);
        const Connection& c = *found->second;
        if (c.echo.error() != 0) {
            log_.conn("worker {}: {}() failed: {}; closing fd {} ({})", setup_.slot, c.echo.failed_call(),
                      cs::errno_text(c.echo.error()), fd, c.peer);
        } else {
            log_.conn("worker {}: {} closed{} (fd {}, {} bytes echoed)", setup_.slot, c.peer, why, fd,
                      c.echo.bytes_echoed());
        }
        connections_.erase(found);  // closes the socket, which also leaves the epoll set
    }

    void on_channel() {  // the master sends nothing after start-up; EOF means it is gone
        char byte;
        ssize_t n = ::read(setup_.channel.get(), &byte, 1);
        if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR))) return;
        log_.info("worker {}: lost the master; stopping", setup_.slot);
        setup_.channel.reset();    // closing it also takes it out of the epoll set
        begin_stop(kOrphanGrace);  // nobody would replace or stop us: finish briefly, do not serve on
    }

    void begin_stop(Clock::duration grace) {
        Clock::time_point now = Clock::now();
        deadline_ = stopping_ ? std::min(deadline_, now + grace) : now + grace;
        if (stopping_) return;
        stopping_ = true;
        watch_listener(false);  // from now on, new connections wake other workers
        release_accept_lock();
        if (setup_.listener) {
            accept_some();  // a connection the kernel already queued for us must not sit unnoticed
            setup_.listener.reset();
        }
        log_.info("worker {}: stopping; {} connection(s) open", setup_.slot, connections_.size());
        close_idle_connections(now);
    }

    // Idle (nothing to echo, silent for kIdleAfter) closes now; busy ones at the deadline at the latest.
    void close_idle_connections(Clock::time_point now) {
        bool over = now >= deadline_;
        if (over && !connections_.empty()) {
            log_.info("worker {}: grace period over; closing {} connection(s)", setup_.slot, connections_.size());
        }
        std::vector<int> closing;
        for (const auto& [fd, c] : connections_) {
            if (over || (c->echo.pending_bytes() == 0 && now - c->last_active >= kIdleAfter)) closing.push_back(fd);
        }
        for (int fd : closing) close_connection(fd, over ? " at the end of the grace period" : " while idle, to stop");
    }

    int wait_ms(Clock::time_point now) const {
        Clock::time_point wake = Clock::time_point::max();
        if (stopping_) wake = std::min(deadline_, now + kStopTick);
        if (!stopping_ && setup_.accept_mutex && !holds_lock_) wake = now + kLockRetry;
        if (paused_until_ > now) wake = std::min(wake, paused_until_);
        if (wake == Clock::time_point::max()) return -1;
        auto ms = std::chrono::ceil<std::chrono::milliseconds>(wake - now).count();
        return static_cast<int>(std::max<decltype(ms)>(ms, 0));  // a deadline just passed: poll, never -1
    }

    WorkerSetup setup_;
    const cs::Log& log_;
    cs::Fd epoll_;
    std::unordered_map<int, std::unique_ptr<Connection>> connections_;
    bool watching_listener_ = false;
    bool holds_lock_ = false;
    bool stopping_ = false;
    Clock::time_point deadline_{};
    Clock::time_point paused_until_{};
    std::array<std::byte, kReadBudget> scratch_{};  // one read buffer for all connections
};

int Worker::run() {
    epoll_ = cs::Fd{::epoll_create1(EPOLL_CLOEXEC)};
    if (!epoll_ || !cs::set_nonblocking(setup_.channel.get())) {
        log_.info("worker {}: cannot start its loop: {}", setup_.slot, cs::errno_text());
        return 1;
    }
    control(EPOLL_CTL_ADD, setup_.channel.get(), EPOLLIN);
    sigset_t while_waiting;  // our mask without SIGTERM: the one place a SIGTERM is delivered
    ::sigprocmask(SIG_SETMASK, nullptr, &while_waiting);
    sigdelset(&while_waiting, SIGTERM);
    char ready = 'R';  // the listener exists, so connections queue for us from now on: count us in
    [[maybe_unused]] ssize_t ignored = ::write(setup_.channel.get(), &ready, 1);
    std::array<epoll_event, kMaxEvents> events;
    while (!stopping_ || !connections_.empty()) {
        if (got_term) {
            got_term = 0;
            log_.info("worker {}: SIGTERM", setup_.slot);
            begin_stop(setup_.grace);
        }
        Clock::time_point now = Clock::now();
        if (!stopping_ && now >= paused_until_) {
            if (setup_.accept_mutex) take_accept_lock();
            else watch_listener(true);
        }
        int count = ::epoll_pwait(epoll_.get(), events.data(), kMaxEvents, wait_ms(now), &while_waiting);
        if (count < 0 && errno != EINTR) {
            log_.info("worker {}: epoll_pwait() failed: {}", setup_.slot, cs::errno_text());
            return 1;
        }
        for (int i = 0; i < count; ++i) {
            int fd = events[i].data.fd;
            if (setup_.listener && fd == setup_.listener.get()) {
                if (watching_listener_) accept_some();  // not if a stop came earlier in this batch
            } else if (setup_.channel && fd == setup_.channel.get()) {
                on_channel();
            } else {
                serve(fd, events[i].events);
            }
        }
        if (setup_.accept_mutex) release_accept_lock();
        if (stopping_) close_idle_connections(Clock::now());
    }
    log_.info("worker {}: exiting", setup_.slot);
    return 0;
}

}  // namespace

void reset_signals_for_worker() {
    struct sigaction action {};
    sigemptyset(&action.sa_mask);
    action.sa_handler = SIG_DFL;  // the master's handlers set the master's flags, not ours
    ::sigaction(SIGCHLD, &action, nullptr);
    action.sa_handler = on_term;
    ::sigaction(SIGTERM, &action, nullptr);
    // Ctrl-C reaches the whole process group: the master decides what it means and tells us.
    action.sa_handler = SIG_IGN;
    for (int sig : {SIGINT, SIGHUP, SIGPIPE}) ::sigaction(sig, &action, nullptr);
    sigset_t only_term;  // fork() and exec() keep the master's mask: replace it
    sigemptyset(&only_term);
    sigaddset(&only_term, SIGTERM);
    ::sigprocmask(SIG_SETMASK, &only_term, nullptr);
}

int run_worker(WorkerSetup setup, const cs::Log& log) {
    ::prctl(PR_SET_NAME, "mw-worker");  // what ps -o comm shows, and how the tests find workers
    return Worker(std::move(setup), log).run();
}

}  // namespace master_worker_starter
