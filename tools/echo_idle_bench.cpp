// tools/echo_idle_bench.cpp — what idle connections cost a server: memory, and the echo latency of
// the one client that is busy. Measures the claims of 04-select (O(n) per wake-up) and
// 05-epoll-pool (O(ready), little memory per idle connection).
//
//   build/bin/echo-idle-bench --server build/bin/echo-select --server build/bin/echo-epoll --idle 10 --idle 1000
//   build/bin/echo-idle-bench --server build/bin/echo-epoll --idle 10000
//
// For each server and idle count: start the server (--quiet --port 0, as the tests do), open the
// idle connections and echo one byte on each (so the server really holds them), read its RSS,
// then time `--rounds` echoes of a 64-byte line on one more connection (back to back, or with
// `--pause-us` between them so each request finds the server asleep in select/epoll_wait). Bounded: every read has
// a deadline, and the server is killed at the end of each row.
#include "common/net.hpp"
#include "tests/support/client.hpp"
#include "tests/support/proc.hpp"
#include "tests/support/server_process.hpp"

#include "common/cli.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <thread>

namespace {

using namespace std::chrono_literals;
using cs::test::Client;

struct Row {
    std::string server;
    int idle = 0;
    long rss_empty_kib = 0;
    long rss_idle_kib = 0;
    std::vector<double> round_trips_us;  // sorted
};

double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    return sorted[static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1))];
}

bool raise_own_nofile(rlim_t needed) {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur >= needed) return true;
    if (limit.rlim_max < needed) return false;
    limit.rlim_cur = needed;
    return ::setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

Row measure(const std::string& binary, int idle, int rounds, std::chrono::microseconds pause) {
    cs::test::ServerProcess server = cs::test::ServerProcess::start(
        {.binary = binary, .args = {"--quiet", "--max-conns", std::to_string(idle + 16)}});
    Row row{.server = std::filesystem::path(binary).filename().string(), .idle = idle};
    row.rss_empty_kib = cs::test::rss_kib(server.pid());

    std::vector<Client> idle_clients;
    idle_clients.reserve(static_cast<std::size_t>(idle));
    for (int i = 0; i < idle; ++i) {
        idle_clients.push_back(Client::connect(server.port()));
        idle_clients.back().expect_echo("i", 5s);  // accepted and served once: now idle
    }
    row.rss_idle_kib = cs::test::rss_kib(server.pid());

    Client busy = Client::connect(server.port());
    int on = 1;
    ::setsockopt(busy.fd(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    const std::string line = std::string(63, 'x') + "\n";
    for (int i = 0; i < 200; ++i) busy.expect_echo(line, 2s);  // warm-up: caches, TCP state
    for (int i = 0; i < rounds; ++i) {
        if (pause.count() > 0) std::this_thread::sleep_for(pause);  // let the server go back to sleep first
        auto start = std::chrono::steady_clock::now();
        busy.expect_echo(line, 2s);
        row.round_trips_us.push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(row.round_trips_us.begin(), row.round_trips_us.end());
    return row;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app("RSS per idle connection and echo latency with N idle connections", "echo-idle-bench");
    std::vector<std::string> servers;
    std::vector<int> idle_counts;
    int rounds = 5000;
    int pause_us = 0;
    app.add_option("--server", servers, "Server binary (repeat for several)")->required();
    app.add_option("--idle", idle_counts, "Idle connections (repeat for several)")->required();
    app.add_option("--rounds", rounds, "Timed echoes of a 64-byte line")
        ->check(CLI::Range(1, 1'000'000))
        ->capture_default_str();
    app.add_option("--pause-us", pause_us, "Pause before each timed echo, so each request finds the server asleep")
        ->check(CLI::Range(0, 1'000'000))
        ->capture_default_str();
    // --help and --version exit 0, a usage error exits 2, as for the servers.
    if (auto exit_code = cs::parse_command_line(app, "echo-idle-bench", argc, argv)) return *exit_code;
    std::signal(SIGPIPE, SIG_IGN);

    int most = *std::max_element(idle_counts.begin(), idle_counts.end());
    if (!raise_own_nofile(static_cast<rlim_t>(most) + 64)) {
        fmt::print(stderr, "echo-idle-bench: need {} descriptors; raise `ulimit -n`\n", most + 64);
        return 1;
    }
    fmt::print("{:<12} {:>6} {:>10} {:>10} {:>12} {:>8} {:>8} {:>8} {:>8}\n", "server", "idle", "rss_kib", "rss+idle",
               "bytes/idle", "p50_us", "p90_us", "p99_us", "max_us");
    for (const std::string& server : servers) {
        for (int idle : idle_counts) {
            try {
                Row row = measure(server, idle, rounds, std::chrono::microseconds(pause_us));
                long grown_kib = row.rss_idle_kib - row.rss_empty_kib;
                double per_idle = idle > 0 ? static_cast<double>(grown_kib) * 1024 / idle : 0;
                fmt::print("{:<12} {:>6} {:>10} {:>10} {:>12.0f} {:>8.1f} {:>8.1f} {:>8.1f} {:>8.1f}\n", row.server,
                           idle, row.rss_empty_kib, row.rss_idle_kib, per_idle, percentile(row.round_trips_us, 0.5),
                           percentile(row.round_trips_us, 0.9), percentile(row.round_trips_us, 0.99),
                           row.round_trips_us.back());
            } catch (const std::exception& error) {
                fmt::print("{:<12} {:>6} failed: {}\n", std::filesystem::path(server).filename().string(), idle,
                           error.what());
            }
            std::fflush(stdout);
        }
    }
    return 0;
}
