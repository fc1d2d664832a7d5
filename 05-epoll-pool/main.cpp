// 05-epoll-pool/main.cpp — echo server: epoll event loops, one per thread, each with its own connections.
// New here: epoll keeps the interest list in the kernel, so a wake-up costs O(ready fds), not O(all
//   fds) as select() in 04; level- vs edge-triggered readiness (--edge); one loop per core (--threads).
// Known limit: all clients share one process: one crash (or one blocking call in a loop) hits every
//   client of it. 06-prefork runs the loops in worker processes that a master restarts.
// Run: build/bin/echo-epoll --threads 2   Watch: strace -f -e trace=epoll_wait,epoll_ctl -p $(pgrep echo-epoll);
//   kill -USR1 $(pgrep echo-epoll) prints "stats: N open, M accepted" and each loop's share
#include "05-epoll-pool/event_loop.hpp"
#include "05-epoll-pool/signals.hpp"
#include "05-epoll-pool/startup.hpp"
#include "common/contract.hpp"
#include "common/net.hpp"

#include <cerrno>
#include <csignal>
#include <optional>
#include <pthread.h>
#include <sys/epoll.h>
#include <thread>
#include <utility>

namespace lesson05 {

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

}  // namespace lesson05

namespace {

constexpr std::uint16_t kDefaultPort = 9005;

// The SIGUSR1 line. main() reads every loop's two atomic counters and prints one line: totals
// first, then each loop's share when there are several ("stats: 5 open, 9 accepted; loop 0: 3 open,
// 6 accepted; loop 1: ..."). Asking each loop to print its own would need a wake-up per loop
// (the stop eventfd cannot be un-rung) and would scatter the answer over N lines.
void print_stats(const std::vector<std::unique_ptr<lesson05::EventLoop>>& loops, const cs::Log& log) {
    lesson05::LoopStats total;
    std::string per_loop;
    for (std::size_t i = 0; i < loops.size(); ++i) {
        lesson05::LoopStats stats = loops[i]->stats();
        total.open += stats.open;
        total.accepted += stats.accepted;
        per_loop += fmt::format("; loop {}: {} open, {} accepted", i, stats.open, stats.accepted);
    }
    log.info("stats: {} open, {} accepted{}", total.open, total.accepted, loops.size() > 1 ? per_loop : "");
}

// [slide:threads]
// One thread per loop; main() itself only waits for SIGINT/SIGTERM, then stops them all.
int run_loops(std::vector<std::unique_ptr<lesson05::EventLoop>>& loops, lesson05::Signals& stop,
              const std::atomic<int>& open_total, const cs::Log& log) {
    std::atomic<bool> loop_failed{false};
    std::vector<std::thread> workers;
    for (std::size_t i = 0; i < loops.size(); ++i) {
        workers.emplace_back([&loop_failed, &loop = loops[i]] {
            if (loop->run()) return;
            loop_failed = true;
            ::kill(::getpid(), SIGTERM);  // wakes main(), which stops the other loops
        });
        std::string name = fmt::format("epoll-loop-{}", i);  // shown by ps -L, top -H, gdb
        ::pthread_setname_np(workers.back().native_handle(), name.c_str());
    }
    cs::announce_listening(loops.front()->listener());  // the readiness signal: only once every loop runs
    int signal_number = stop.wait();
    for (; signal_number == SIGUSR1; signal_number = stop.wait()) print_stats(loops, log);
    log.info("{} received; stopping {} loop(s) with {} connections", signal_number == SIGINT ? "SIGINT" : "SIGTERM",
             loops.size(), open_total.load());
    stop.broadcast();
    for (std::thread& worker : workers) worker.join();
    return loop_failed ? cs::kExitLoopFailed : cs::kExitOk;
}
// [/slide]

}  // namespace

int main(int argc, char** argv) {
    cs::CommandLine cli("echo-epoll", "Echo server: epoll event loops, one per thread (lesson 05).", kDefaultPort);
    cli.add_max_conns(10'000);
    cli.add_idle_timeout(cs::kDefaultIdleTimeout);
    lesson05::LoopOptions loop_options;
    int threads = 1;
    cli.add_int("--threads", threads, "Event loops, one per thread, each with its own epoll and listener", 1, 64);
    cli.add_flag("--edge", loop_options.edge, "Edge-triggered epoll (EPOLLET) instead of level-triggered");
    cli.add_size("--out-cap", loop_options.out_cap, "Pending echo bytes per client before we stop reading from it");
    if (auto exit_code = cli.parse(argc, argv)) return *exit_code;
    const cs::ServerOptions& options = cli.options();
    loop_options.max_conns = options.max_conns;
    loop_options.idle_timeout = std::chrono::seconds(options.idle_timeout);
    cs::Log log("05-epoll-pool");
    log.set_quiet(options.quiet);
    log.show_thread_ids(true);

    std::vector<cs::Fd> listeners;
    try {
        listeners = lesson05::open_listeners(options, threads);
    } catch (const std::system_error& error) {
        cli.report_listen_error(error);
        return cs::kExitStartup;
    }
    lesson05::raise_nofile_limit(log);
    std::atomic<int> open_total{0};  // connections of all loops together, for --max-conns
    std::optional<lesson05::Signals> stop;
    std::vector<std::unique_ptr<lesson05::EventLoop>> loops;
    try {
        stop.emplace();  // before any thread starts: they all inherit the blocked SIGINT/SIGTERM
        for (cs::Fd& listener : listeners) {
            loops.push_back(std::make_unique<lesson05::EventLoop>(std::move(listener), stop->loops_fd(),
                                                                      loop_options, open_total, log));
        }
    } catch (const std::system_error& error) {
        log.info("cannot start: {}", error.what());
        return cs::kExitStartup;
    }
    ::signal(SIGPIPE, SIG_IGN);  // belt and braces: EchoConnection already sends with MSG_NOSIGNAL
    log.info("listening on {}: {} event loop(s), {}-triggered", cs::local_endpoint(loops.front()->listener().get()),
             threads, loop_options.edge ? "edge" : "level");
    return run_loops(loops, *stop, open_total, log);
}
