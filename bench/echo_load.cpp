// bench/echo_load.cpp — echo-load: a Boost.Asio load generator that checks every echoed byte.
// What it shows: one io_context per thread, many connections per thread, and a measured window
//   that opens only once every connection is up (a warm-up first), so set-up is never measured.
// Modes: pingpong (closed loop), rate (open loop), churn (a connection per request), idle (held
//   connections). See bench/README.md for what each measures and why.
// Run: build/bin/echo-load --port 9010 --conns 100 --depth 16 --duration 5
//      build/bin/echo-load --port 9010 --mode churn --count 5000 --server-pid $(pgrep -n echo-asio)
#include "bench/load/churn.hpp"
#include "bench/load/held.hpp"
#include "bench/load/lean_pingpong.hpp"
#include "bench/load/pingpong.hpp"
#include "bench/load/proc_probe.hpp"
#include "bench/load/report.hpp"
#include "bench/load/run.hpp"
#include "bench/load/syscall_counter.hpp"
#include "common/cli.hpp"

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <fmt/format.h>
#include <iostream>
#include <map>
#include <optional>
#include <sys/resource.h>
#include <thread>

namespace {

using namespace cs::bench;
using namespace std::chrono_literals;

constexpr int kExitErrors = 1;  // the server's echo was wrong, or it could not be reached
constexpr int kExitUsage = 2;

// Every option; later ones win (the driver appends to a point's arguments).
void add_options(CLI::App& app, LoadOptions& o, bool& json_only) {
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    std::map<std::string, Mode> modes{
        {"pingpong", Mode::kPingPong}, {"rate", Mode::kRate}, {"churn", Mode::kChurn}, {"idle", Mode::kIdle}};
    app.add_option("--host", o.host, "Server address (numeric, loopback only)")->capture_default_str();
    app.add_option("--port", o.port, "Server port")->required();
    app.add_option("--mode", o.mode, "pingpong | rate | churn | idle")
        ->transform(CLI::CheckedTransformer(modes, CLI::ignore_case))
        ->capture_default_str();
    app.add_option("--conns", o.conns, "Connections (churn: at once; idle: held)")
        ->check(CLI::Range(0, 1'000'000))
        ->capture_default_str();
    app.add_option("--depth", o.depth, "Requests in flight per connection")
        ->check(CLI::Range(1, 100'000))
        ->capture_default_str();
    app.add_option("--size", o.size, "Bytes per request, the final newline included")
        ->check(CLI::Range(1, 1 << 30))
        ->capture_default_str();
    app.add_option("--duration", o.duration_s, "Measured window, seconds")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--warmup", o.warmup_s, "Unmeasured traffic before the window, seconds")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--rate", o.rate, "rate mode: planned requests per second, all connections together")
        ->check(CLI::PositiveNumber);
    app.add_option("--count", o.count, "churn mode: measure exactly this many connections instead of a duration");
    app.add_option("--active", o.active, "idle mode: connections doing ping-pong beside the held ones")
        ->check(CLI::Range(0, 1'000'000));
    app.add_option("--threads", o.threads, "Generator threads (one io_context each)")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    app.add_option("--timeout", o.timeout_s,
                   "Seconds an answer may take after the window before it counts as timed out")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--connect-timeout", o.connect_timeout_s, "Seconds for every connection to be up")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--server-pid", o.server_pid, "Sample this server process tree's CPU and memory from /proc");
    std::map<std::string, Engine> engines{{"epoll", Engine::kEpoll}, {"asio", Engine::kAsio}};
    app.add_option("--engine", o.engine,
                   "pingpong: epoll (lean: one read, one write per echo) | asio (the Asio state machine)")
        ->transform(CLI::CheckedTransformer(engines, CLI::ignore_case))
        ->capture_default_str();
    app.add_flag("--count-syscalls", o.count_syscalls,
                 "Count every system call of the server tree in the window (perf tracepoint; root)");
    app.add_flag("--json", o.json, "Print one JSON line after the table");
    app.add_flag("--json-only", json_only, "Print only the JSON line");
}

// What CLI11's per-option checks cannot see: combinations.
void check_combinations(const LoadOptions& o) {
    if (o.mode == Mode::kRate && o.rate <= 0) throw CLI::ValidationError("--rate", "rate mode needs --rate R");
    if (o.mode != Mode::kIdle && o.conns < 1) throw CLI::ValidationError("--conns", "needs at least one connection");
    if (o.mode == Mode::kIdle && o.conns + o.active < 1) throw CLI::ValidationError("--conns", "nothing to hold");
}

std::optional<int> parse(int argc, char** argv, LoadOptions& o) {
    CLI::App app("Load generator for echo servers: every echoed byte is checked.", "echo-load");
    bool json_only = false;
    add_options(app, o, json_only);
    app.callback([&o] { check_combinations(o); });  // a ValidationError here is a usage error too
    if (auto exit_code = cs::parse_command_line(app, "echo-load", argc, argv)) return exit_code;
    if (json_only) {
        o.json = true;
        o.table = false;
    }
    return std::nullopt;
}

// 10,000 held connections need 10,000 descriptors: raise the soft limit as far as allowed.
void raise_descriptor_limit(long needed) {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    if (static_cast<long>(limit.rlim_cur) >= needed) return;
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    if (static_cast<long>(limit.rlim_max) < needed) {
        std::fprintf(stderr, "echo-load: warning: %ld descriptors needed, the hard limit is %ld\n", needed,
                     static_cast<long>(limit.rlim_max));
    }
}

int total_tasks(const LoadOptions& o) { return o.mode == Mode::kIdle ? o.conns + o.active : o.conns; }

// Connection i goes to worker i % threads; each task knows its id (it picks the bytes it sends).
void create_tasks(const LoadOptions& o, std::vector<std::unique_ptr<Worker>>& workers) {
    for (int i = 0; i < total_tasks(o); ++i) {
        Worker& worker = *workers[static_cast<std::size_t>(i) % workers.size()];
        auto id = static_cast<std::uint64_t>(i);
        switch (o.mode) {
            case Mode::kPingPong: worker.add(std::make_unique<PingPong>(worker, id, false)); break;
            case Mode::kRate: worker.add(std::make_unique<PingPong>(worker, id, true)); break;
            case Mode::kChurn: worker.add(std::make_unique<Churner>(worker, id)); break;
            case Mode::kIdle:
                if (i < o.conns) worker.add(std::make_unique<Held>(worker, id));
                else worker.add(std::make_unique<PingPong>(worker, id, false));
                break;
        }
    }
}

void wait_until_ready(const Shared& shared, Clock::time_point deadline) {
    while (shared.unready.load() > 0 && Clock::now() < deadline) std::this_thread::sleep_for(2ms);
}

// Zombies are reaped asynchronously (on SIGCHLD); give the server a moment before counting.
int settled_zombies(pid_t server) {
    auto deadline = Clock::now() + 500ms;
    int zombies = sample_tree(server, false).zombies;
    while (zombies > 0 && Clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
        zombies = sample_tree(server, false).zombies;
    }
    return zombies;
}

double steady_seconds() { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); }

Clock::duration seconds(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

// The whole run; main() only turns an unexpected exception (no memory, no thread) into exit 1.
int run(int argc, char** argv) {
    LoadOptions options;
    if (auto exit_code = parse(argc, argv, options)) return *exit_code;
    ::signal(SIGPIPE, SIG_IGN);  // a server that dies mid-run must show up as errors, not kill us
    raise_descriptor_limit(total_tasks(options) + 64L);

    boost::system::error_code bad_address;
    auto address = asio::ip::make_address(options.host, bad_address);
    if (bad_address) {
        std::fprintf(stderr, "echo-load: --host %s: %s\n", options.host.c_str(), bad_address.message().c_str());
        return kExitUsage;
    }
    // A load generator aimed at someone else's machine is a flood: this one only talks to itself.
    if (!address.is_loopback()) {
        std::fprintf(stderr, "echo-load: --host %s: only loopback addresses (127.0.0.0/8, ::1)\n",
                     options.host.c_str());
        return kExitUsage;
    }
    const Pattern pattern(options.size);
    Timeline timeline(Clock::now() + seconds(options.connect_timeout_s));
    Shared shared;
    shared.unready = total_tasks(options);

    RunReport report;
    report.options = &options;
    report.server_sampled = options.server_pid > 0 && sample_tree(options.server_pid).alive;
    if (report.server_sampled) report.server_before = sample_tree(options.server_pid);

    std::vector<std::unique_ptr<Worker>> workers;
    std::vector<std::unique_ptr<EpollPingPong>> lean;
    const tcp::endpoint server(address, options.port);
    if (options.mode == Mode::kPingPong && options.engine == Engine::kEpoll) {
        for (int t = 0; t < options.threads; ++t) {
            lean.push_back(std::make_unique<EpollPingPong>(options, pattern, timeline, shared, server));
        }
        for (int i = 0; i < options.conns; ++i) {
            lean[static_cast<std::size_t>(i) % lean.size()]->add(static_cast<std::uint64_t>(i));
        }
    } else {
        for (int t = 0; t < options.threads; ++t) {
            workers.push_back(std::make_unique<Worker>(options, pattern, timeline, shared, server));
        }
        create_tasks(options, workers);
    }
    std::vector<std::thread> threads;
    for (auto& worker : workers) threads.emplace_back([&worker] { worker->run(); });
    for (auto& worker : lean) threads.emplace_back([&worker] { worker->run(); });

    // [slide:measured-window]
    wait_until_ready(shared, timeline.connect_deadline());
    const bool by_count = options.mode == Mode::kChurn && options.count > 0;
    Clock::time_point start = Clock::now() + seconds(options.warmup_s);
    Clock::time_point end = by_count ? Clock::time_point::max() : start + seconds(options.duration_s);
    shared.tickets = static_cast<std::int64_t>(options.count);
    timeline.publish(start, end);  // from now on workers know when to count, and when to stop

    std::this_thread::sleep_until(start);
    SyscallCounter syscalls;
    long long syscalls_at_start = 0;
    if (report.server_sampled && options.count_syscalls && syscalls.attach(tree_pids(options.server_pid))) {
        syscalls_at_start = syscalls.total();
        report.syscalls_interval_s = -steady_seconds();
    }
    if (report.server_sampled) report.server_start = sample_tree(options.server_pid);
    double generator_start = self_cpu_seconds();
    report.generator_interval_s = -steady_seconds();
    if (!by_count) {
        std::this_thread::sleep_until(end);
        // Our own CPU first: the walk over /proc below is the sampler's work, not the load's.
        report.generator_cpu_s = self_cpu_seconds() - generator_start;
        report.generator_interval_s += steady_seconds();
        if (syscalls.available()) {
            report.server_syscalls = syscalls.total() - syscalls_at_start;
            report.syscalls_interval_s += steady_seconds();
        }
        if (report.server_sampled) report.server_end = sample_tree(options.server_pid, /*with_memory=*/false);
    }
    timeline.allow_drain();
    for (auto& thread : threads) thread.join();  // the drain: last echoes, EOFs, give-ups
    // [/slide]

    for (auto& worker : workers) report.totals.merge(worker->tally());
    for (auto& worker : lean) report.totals.merge(worker->tally());
    if (by_count) {
        report.generator_cpu_s = self_cpu_seconds() - generator_start;
        report.generator_interval_s += steady_seconds();
        if (report.server_sampled) report.server_end = sample_tree(options.server_pid, /*with_memory=*/false);
        Clock::time_point last = std::max(report.totals.last_measured, start);
        report.window_s = std::chrono::duration<double>(last - start).count();
    } else {
        report.window_s = std::chrono::duration<double>(end - start).count();
    }
    if (report.server_sampled) report.zombies_after = settled_zombies(options.server_pid);

    if (options.table) std::fputs(format_table(report).c_str(), stdout);
    if (options.json) std::fputs((format_json(report) + "\n").c_str(), stdout);
    std::fflush(stdout);
    return report.valid() ? cs::kExitOk : kExitErrors;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "echo-load: %s\n", error.what());
        return kExitErrors;
    }
}
