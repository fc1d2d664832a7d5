// tools/prefork_lab.cpp — prefork-lab: the spread, herd and reload numbers of 07-master-worker's README,
// measured on your machine. It starts echo-master-worker once per --share mode and per --accept-lock,
// drives it with a bounded client loop (--clients threads, each: connect, echo one line, close;
// --connections in all), reads each worker's counters (its SIGUSR1 stats line) and their context
// switches (/proc/<pid>/status), and prints Markdown tables. Last, it stops one worker dead
// (SIGSTOP, then kill -9) to show what one shared queue buys over a queue per worker.
// Run: build/bin/prefork-lab [--workers 4] [--connections 2000] [--clients 4] [--reloads 10]
#include "tests/support/client.hpp"
#include "tests/support/proc.hpp"
#include "tests/support/server_process.hpp"
#include "tests/support/stats_lines.hpp"

#include "common/cli.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <thread>

namespace {

using namespace cs::test;
using Clock = std::chrono::steady_clock;

struct Settings {
    std::string server;
    int workers = 4;
    int connections = 2000;
    int clients = 4;
    int reloads = 10;
};

struct Row {
    pid_t pid = 0;
    std::uint64_t accepted = 0;
};

// ---- the client loop -------------------------------------------------------------------

struct LoadResult {
    int done = 0;
    int failed = 0;
    std::string first_error;
};

// `clients` threads share `limit` connections (0: until `stop`), each connect / echo / close.
LoadResult run_load(std::uint16_t port, int limit, int clients, const std::atomic<bool>& stop) {
    std::atomic<int> next{0}, failed{0};
    std::mutex error_mutex;
    std::string first_error;
    std::vector<std::thread> threads;
    auto deadline = Clock::now() + std::chrono::seconds(120);  // bounded, whatever happens
    for (int t = 0; t < clients; ++t) {
        threads.emplace_back([&] {
            for (int i = next++; (limit == 0 || i < limit) && !stop && Clock::now() < deadline; i = next++) {
                try {
                    Client client = Client::connect(port);
                    client.expect_echo(fmt::format("connection {}\n", i), std::chrono::seconds(5));
                } catch (const std::exception& error) {
                    std::lock_guard lock(error_mutex);
                    if (failed++ == 0) first_error = error.what();
                }
            }
        });
    }
    for (auto& thread : threads) thread.join();
    int done = limit == 0 ? next.load() - clients : std::min(next.load(), limit);
    return {done, failed.load(), first_error};
}

// ---- what the server says, and what /proc says ---------------------------------------------

std::vector<pid_t> workers_of(pid_t master) {
    std::vector<pid_t> workers;
    for (const auto& child : children_of(master)) {
        std::ifstream comm("/proc/" + std::to_string(child.pid) + "/comm");
        std::string name;
        std::getline(comm, name);
        if (child.state != 'Z' && name == "mw-worker") workers.push_back(child.pid);
    }
    return workers;
}

bool wait_for_workers(pid_t master, std::size_t count) {
    for (auto until = Clock::now() + std::chrono::seconds(5); Clock::now() < until;) {
        if (workers_of(master).size() == count) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

// Every time a worker went to sleep (in epoll_wait) and was woken again; preemptions not counted.
long context_switches(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    long total = 0;
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("voluntary_ctxt_switches:", 0) == 0) total += std::stol(line.substr(line.find(':') + 1));
    }
    return total;
}

long total_switches(const std::vector<pid_t>& workers) {
    long total = 0;
    for (pid_t pid : workers) total += context_switches(pid);
    return total;
}

int count_of(const std::string& text, const std::string& needle) {
    int count = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
    return count;
}

// SIGUSR1: the master prints its line, then sends kStats down every channel, and each worker prints "stats: worker S: O open, A accepted".
// Those counts, in slot order.
std::vector<Row> worker_table(ServerProcess& server, int workers) {
    std::map<int, Row> by_slot;
    for (const StatsLine& line : request_stats(server, 1 + workers, std::chrono::seconds(5))) {
        for (int slot = 0; slot < workers; ++slot) {
            std::string worker = fmt::format("worker {} ", slot);
            if (!line.counts.count(worker + "accepted")) continue;
            by_slot[slot] = {line.pid, line.at(worker + "accepted")};
        }
    }
    std::vector<Row> rows;
    for (const auto& [slot, row] : by_slot) rows.push_back(row);
    return rows;
}

ServerProcess start(const Settings& settings, std::vector<std::string> args) {
    args.insert(args.end(), {"--workers", std::to_string(settings.workers), "--quiet"});
    ServerProcess server = ServerProcess::start({.binary = settings.server, .args = args});
    if (!wait_for_workers(server.pid(), static_cast<std::size_t>(settings.workers))) {
        throw std::runtime_error("workers did not start:\n" + server.stderr_text());
    }
    return server;
}

void stop(ServerProcess& server) {
    server.signal(SIGTERM);
    server.wait_exit(std::chrono::seconds(10));
}

// ---- the three experiments --------------------------------------------------------------

void spread(const Settings& settings) {
    fmt::print("\n### Spread: accepts per worker, {} connections from {} client threads, {} workers\n\n",
               settings.connections, settings.clients, settings.workers);
    fmt::print("| --share | accepts per worker | max/min | failed |\n|---|---|---|---|\n");
    for (const char* share : {"inherit", "reuseport", "pass"}) {
        ServerProcess server = start(settings, {"--share", share});
        std::atomic<bool> never{false};
        LoadResult load = run_load(server.port(), settings.connections, settings.clients, never);
        std::vector<Row> rows = worker_table(server, settings.workers);
        std::string counts;
        std::uint64_t most = 0, least = UINT64_MAX;
        for (const auto& row : rows) {
            counts += fmt::format("{}{}", counts.empty() ? "" : " / ", row.accepted);
            most = std::max(most, row.accepted);
            least = std::min(least, row.accepted);
        }
        std::string ratio =
            least == 0 ? "inf (a worker got none)" : fmt::format("{:.2f}", double(most) / double(least));
        fmt::print("| {} | {} | {} | {} |\n", share, counts, ratio, load.failed);
        stop(server);
    }
}

void herd(const Settings& settings) {
    fmt::print("\n### Herd: --share inherit, {} connections, {} workers\n\n", settings.connections, settings.workers);
    fmt::print(
        "| --accept-lock | client threads | worker wake-ups per connection | accepts per worker | wall time "
        "|\n|---|---|---|---|---|\n");
    // One client: every connection finds every worker asleep, the herd's worst case. Then the
    // concurrent load of --clients threads, where workers are often busy when a connection comes.
    for (int clients : {1, settings.clients}) {
        for (const char* lock : {"none", "exclusive"}) {
            ServerProcess server = start(settings, {"--accept-lock", lock});
            std::vector<pid_t> workers = workers_of(server.pid());
            long wakeups_before = total_switches(workers);
            auto started = Clock::now();
            std::atomic<bool> never{false};
            LoadResult load = run_load(server.port(), settings.connections, clients, never);
            auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
            long wakeups = total_switches(workers) - wakeups_before;
            std::vector<Row> rows = worker_table(server, settings.workers);
            std::string counts;
            for (const auto& row : rows) counts += fmt::format("{}{}", counts.empty() ? "" : " / ", row.accepted);
            fmt::print("| {} | {} | {:.2f} | {} | {} ms |\n", lock, clients,
                       load.done ? double(wakeups) / double(load.done) : 0.0, counts, wall.count());
            if (load.failed) fmt::print("(  {} failed: {})\n", load.failed, load.first_error);
            stop(server);
        }
    }
}

void reload(const Settings& settings) {
    fmt::print("\n### Reload: {} SIGHUPs while {} client threads connect, echo and close, {} workers\n\n",
               settings.reloads, settings.clients, settings.workers);
    fmt::print("| --share | connections | failed | first failure |\n|---|---|---|---|\n");
    for (const char* share : {"inherit", "pass", "reuseport"}) {
        ServerProcess server = start(settings, {"--share", share});
        std::atomic<bool> done{false};
        LoadResult load;
        std::thread clients([&] { load = run_load(server.port(), 0, settings.clients, done); });
        for (int i = 1; i <= settings.reloads; ++i) {
            server.signal(SIGHUP);
            // The next reload only once this one is over: new workers ready, old ones gone.
            std::string ready = fmt::format("reload: {} new workers ready", settings.workers);
            for (auto until = Clock::now() + std::chrono::seconds(10);
                 (count_of(server.stderr_text(), ready) < i ||
                  workers_of(server.pid()).size() != static_cast<std::size_t>(settings.workers)) &&
                 Clock::now() < until;) {
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
        }
        done = true;
        clients.join();
        fmt::print("| {} | {} | {} | {} |\n", share, load.done, load.failed,
                   load.first_error.empty() ? "-" : load.first_error);
        stop(server);
    }
}

// One worker stops (SIGSTOP: as stuck as a worker can be) while clients arrive, then dies (kill -9).
// One shared queue: the other workers take every connection. A queue per worker (reuseport): what
// the hash sends to the stuck worker waits, and is reset when its listener dies with it.
void stalled_worker(const Settings& settings) {
    constexpr int kClients = 40;
    fmt::print("\n### A stuck worker: SIGSTOP worker 0, {} clients connect and send a line, then kill -9 worker 0\n\n",
               kClients);
    fmt::print(
        "| mode | echoed within 1 s | still waiting | after kill -9: reset | echoed later |\n|---|---|---|---|---|\n");
    struct Mode {
        const char* name;
        std::vector<std::string> args;
    };
    for (const Mode& mode : {Mode{"inherit, exclusive", {"--share", "inherit"}},
                             Mode{"inherit, none", {"--share", "inherit", "--accept-lock", "none"}},
                             Mode{"reuseport", {"--share", "reuseport"}}}) {
        ServerProcess server = start(settings, mode.args);
        pid_t stuck = workers_of(server.pid()).front();
        ::kill(stuck, SIGSTOP);
        std::vector<Client> clients;
        for (int i = 0; i < kClients; ++i) {
            clients.push_back(Client::connect(server.port()));  // the handshake completes in the kernel
            clients.back().send(fmt::format("client {}\n", i));
        }
        auto settled = Clock::now() + std::chrono::seconds(1);
        std::vector<Client*> waiting;
        int echoed = 0;
        for (auto& client : clients) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(settled - Clock::now());
            if (client.readable_within(std::max(left, std::chrono::milliseconds(1)))) ++echoed;
            else waiting.push_back(&client);
        }
        ::kill(stuck, SIGKILL);
        int reset = 0, late = 0;
        for (Client* client : waiting) {
            try {
                client->read_exact(1, std::chrono::seconds(2));
                ++late;
            } catch (const std::exception&) {
                ++reset;  // ECONNRESET, or EOF: the connection died with the listener it was queued on
            }
        }
        fmt::print("| {} | {} | {} | {} | {} |\n", mode.name, echoed, waiting.size(), reset, late);
        stop(server);
    }
}

int run(int argc, char** argv) {
    Settings settings;
    settings.server = (std::filesystem::path(argv[0]).parent_path() / "echo-master-worker").string();
    CLI::App app("prefork-lab: measures spread, herd and reloads of echo-master-worker", "prefork-lab");
    app.add_option("--server", settings.server, "The echo-master-worker binary")->capture_default_str();
    app.add_option("--workers", settings.workers, "Workers per server")
        ->check(CLI::Range(2, 64))
        ->capture_default_str();
    app.add_option("--connections", settings.connections, "Connections per run")
        ->check(CLI::Range(10, 1'000'000))
        ->capture_default_str();
    app.add_option("--clients", settings.clients, "Client threads")->check(CLI::Range(1, 64))->capture_default_str();
    app.add_option("--reloads", settings.reloads, "SIGHUPs per reload run")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    // --help and --version exit 0, a usage error exits 2, as for the servers.
    if (auto exit_code = cs::parse_command_line(app, "prefork-lab", argc, argv)) return *exit_code;
    std::signal(SIGPIPE, SIG_IGN);
    fmt::print("prefork-lab: {} on {} CPUs\n", settings.server, std::thread::hardware_concurrency());
    spread(settings);
    herd(settings);
    reload(settings);
    stalled_worker(settings);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& error) {
        fmt::print(stderr, "prefork-lab: {}\n", error.what());
        return 1;
    }
}
