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
#include "common/process.hpp"

#include <csignal>
#include <optional>
#include <pthread.h>
#include <thread>

namespace {

constexpr std::uint16_t kDefaultPort = 9005;

// The SIGUSR1 line. main() reads every loop's two atomic counters and prints one line: totals first, then
// each loop's share when there are several ("stats: 5 open, 9 accepted; loop 0: 3 open, 6 accepted; loop 1:
// ..."). Asking each loop to print its own would need a wake-up per loop (the stop eventfd cannot be un-rung)
// and would scatter the answer over N lines.
void print_stats(const std::vector<std::unique_ptr<lesson05::EventLoop>>& loops, const cs::Log& log) {
    lesson05::LoopStats total;
    std::string per_loop;
    for (std::size_t i = 0; i < loops.size(); ++i) {
        lesson05::LoopStats stats = loops[i]->stats();
        total.open += stats.open;
        total.accepted += stats.accepted;
        per_loop += fmt::format("; loop {}: {} open, {} accepted", i, stats.open, stats.accepted);
    }
    log.stats("stats: {} open, {} accepted{}", total.open, total.accepted, loops.size() > 1 ? per_loop : "");
}

// [slide:threads]
// One thread per loop; main() itself only waits for SIGINT/SIGTERM, then stops them all.
int run_loops(std::vector<std::unique_ptr<lesson05::EventLoop>>& loops, lesson05::Signals& stop,
              const std::atomic<int>& open_total, const cs::Log& log) {
    std::atomic<bool> loop_failed{false};
    // Read before the loops start: from then on a loop's thread owns its listener (finish() closes it).
    std::string endpoint = cs::local_endpoint(loops.front()->listener().get());
    std::vector<std::thread> workers;
    for (std::size_t i = 0; i < loops.size(); ++i) {
        try {
            workers.emplace_back([&loop_failed, &loop = loops[i]] {
                if (loop->run()) return loop->finish(lesson05::Clock::now());  // 05 closes everything at the stop
                loop_failed = true;
                ::kill(::getpid(), SIGTERM);  // wakes main(), which stops the other loops
            });
        } catch (const std::system_error& error) {  // EAGAIN (RLIMIT_NPROC, memory): exit 1, not terminate()
            log.info("cannot start event loop {}: std::thread: {}", i, error.code().message());
            stop.broadcast();
            for (std::thread& worker : workers) worker.join();
            return cs::kExitStartup;
        }
        std::string name = fmt::format("epoll-loop-{}", i);  // shown by ps -L, top -H, gdb
        ::pthread_setname_np(workers.back().native_handle(), name.c_str());
    }
    cs::announce_listening(endpoint);  // the readiness signal: only once every loop runs
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
    cs::prepare_process();  // first: descriptors 0-2 open, SIGPIPE ignored, stderr never blocks
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
            loops.push_back(std::make_unique<lesson05::EventLoop>(std::move(listener), stop->loops_fd(), loop_options,
                                                                  open_total, log));
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
