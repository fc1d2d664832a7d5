// tools/echo_demo.cpp — the `make tour` table: every lesson under the same small load, one table.
//
// For each server binary given as NAME=PATH it starts the server on an ephemeral port, lets
// --clients clients connect at the same moment, and has each send --lines lines, one at a
// time, with a short think time between them (clients that think are why servers wait).
// It measures, rather than states:
//   served at once  the most clients that were between their first and last echo at the same
//                   moment (1 for an iterative server, all of them for a concurrent one);
//   wall time       from the first connect to the last echo;
//   errors          clients that failed, timed out, or got back bytes other than they sent.
#include "tests/support/client.hpp"
#include "tests/support/server_process.hpp"

#include "common/cli.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <fmt/format.h>
#include <latch>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Load {
    int clients = 20;
    int lines = 50;
    std::chrono::milliseconds think{1};
    std::chrono::milliseconds deadline{30'000};
};

struct Row {
    std::string name;
    int served_at_once = 0;
    double wall_ms = 0;
    int errors = 0;
    std::string note;
};

// Counts clients "in service" (first echo received, last not yet) and remembers the peak.
class InServiceGauge {
public:
    void enter() {
        int now = ++current_;
        int peak = peak_.load();
        while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
        }
    }
    void leave() { --current_; }
    int peak() const { return peak_; }

private:
    std::atomic<int> current_{0};
    std::atomic<int> peak_{0};
};

bool run_client(std::uint16_t port, int index, const Load& load, InServiceGauge& gauge) {
    bool in_service = false;
    try {
        auto client = cs::test::Client::connect(port);
        for (int line = 0; line < load.lines; ++line) {
            client.expect_echo(fmt::format("client {} line {}\n", index, line), load.deadline);
            if (!in_service) {
                gauge.enter();
                in_service = true;
            }
            std::this_thread::sleep_for(load.think);
        }
        gauge.leave();
        return true;
    } catch (const std::exception&) {
        if (in_service) gauge.leave();
        return false;
    }
}

Row measure(const std::string& name, const std::string& binary, const Load& load) {
    Row row{name};
    try {
        auto server = cs::test::ServerProcess::start({.binary = binary, .args = {"--quiet"}});
        InServiceGauge gauge;
        std::atomic<int> errors{0};
        std::latch start(load.clients + 1);
        std::vector<std::thread> clients;
        for (int i = 0; i < load.clients; ++i) {
            clients.emplace_back([&, i] {
                start.arrive_and_wait();  // every client connects at the same moment
                if (!run_client(server.port(), i, load, gauge)) ++errors;
            });
        }
        auto began = Clock::now();
        start.arrive_and_wait();
        for (auto& client : clients) client.join();
        row.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - began).count();
        row.served_at_once = gauge.peak();
        row.errors = errors;
    } catch (const std::exception& error) {
        row.errors = load.clients;
        row.note = std::string(error.what()).substr(0, 60);
    }
    return row;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app("Runs each echo server under the same load and prints one table.", "echo-demo");
    Load load;
    int think_ms = 1;
    std::vector<std::string> servers;
    app.add_option("--clients", load.clients, "Clients that connect at the same moment")->check(CLI::Range(1, 500));
    app.add_option("--lines", load.lines, "Lines each client sends, one at a time")->check(CLI::Range(1, 100000));
    app.add_option("--think-ms", think_ms, "Pause after each echo, in ms")->check(CLI::Range(0, 1000));
    app.add_option("servers", servers, "NAME=PATH of each server binary")->required();
    // --help and --version exit 0, a usage error exits 2, as for the servers.
    if (auto exit_code = cs::parse_command_line(app, "echo-demo", argc, argv)) return *exit_code;
    load.think = std::chrono::milliseconds(think_ms);

    fmt::print("{} clients at once, {} lines each, {} ms think time between lines\n\n", load.clients, load.lines,
               think_ms);
    fmt::print("| {:<14} | {:>14} | {:>10} | {:>6} |\n", "lesson", "served at once", "wall time", "errors");
    fmt::print("|{:-<16}|{:->16}|{:->12}|{:->8}|\n", "", "", "", "");
    int failures = 0;
    for (const auto& spec : servers) {
        auto equals = spec.find('=');
        if (equals == std::string::npos) {
            fmt::print(stderr, "echo-demo: expected NAME=PATH, got '{}'\n", spec);
            return 2;
        }
        Row row = measure(spec.substr(0, equals), spec.substr(equals + 1), load);
        fmt::print("| {:<14} | {:>14} | {:>7.0f} ms | {:>6} |{}\n", row.name,
                   fmt::format("{} of {}", row.served_at_once, load.clients), row.wall_ms, row.errors,
                   row.note.empty() ? "" : " " + row.note);
        std::fflush(stdout);
        failures += row.errors;
    }
    return failures == 0 ? 0 : 1;
}
