// tests/support/hardening.hpp — the scenarios of the hardening contract (--idle-timeout, the
// SIGUSR1 stats line, more clients than descriptors) that several lessons' tests share. Each
// lesson's test file names them in TESTs of its own; any server written to the contract can run
// them. Header-only, like the tests that include it (it uses GoogleTest's EXPECT_*).
#pragma once

#include "tests/support/client.hpp"
#include "tests/support/proc.hpp"
#include "tests/support/server_spec.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace cs::test {

using namespace std::chrono_literals;

// Sends SIGUSR1 every 100 ms until stderr holds `needle` (bounded). Asking again, not once: the
// count may still be on its way (a child being reaped), and a request that lands just before the
// server goes to sleep may wait for its next wake-up.
inline bool stats_line_shows(const ServerProcess& server, const std::string& needle,
                             std::chrono::milliseconds timeout = 3s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        server.signal(SIGUSR1);
        if (server.wait_for_stderr(needle, 100ms)) return true;
    }
    return false;
}

// Five clients served, two of them gone: "stats: 3 open, 5 accepted".
inline void expect_stats_line_counts(const ServerSpec& spec) {
    ServerProcess server = start_server(spec, {"--quiet"});
    std::vector<Client> clients;
    for (int i = 0; i < 5; ++i) {
        clients.push_back(Client::connect(server.port()));
        clients.back().expect_echo("counted\n");
    }
    for (int i = 0; i < 2; ++i) {
        clients[i].shutdown_write();
        EXPECT_EQ(clients[i].read_to_eof(), "");
    }
    EXPECT_TRUE(stats_line_shows(server, "stats: 3 open, 5 accepted")) << server.stderr_text();
    for (int i = 2; i < 5; ++i) clients[i].expect_echo("still served after the signals\n");
}

// How long until the server closes a client that went silent (EOF seen); a failure and `timeout`
// when it does not close it in time.
inline std::chrono::milliseconds time_until_closed(Client& client, std::chrono::milliseconds timeout) {
    auto start = std::chrono::steady_clock::now();
    try {
        EXPECT_EQ(client.read_to_eof(timeout), "") << "the server sent something instead of closing";
    } catch (const std::exception& error) {
        ADD_FAILURE() << "the silent client was not closed: " << error.what();
        return timeout;
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
}

// A client that sends a byte every 300 ms for 2 s: never quiet for the 1 s an idle timeout
// allows. The bytes make one line, so they come back at its end: the connection must still be open.
inline void trickle_for_two_seconds(std::uint16_t port) {
    Client client = Client::connect(port);
    for (int i = 0; i < 7; ++i) {
        std::this_thread::sleep_for(300ms);  // the pacing is the point of this client
        client.send("x");
    }
    client.send("\n");
    std::string line = client.read_exact(8, 1s);  // throws if the server closed the connection instead
    if (line != "xxxxxxx\n") throw std::runtime_error("the trickled line came back as '" + line + "'");
}

// --idle-timeout 1: a client that goes silent is closed within 1-3 s, with a log line; a client
// that trickles a byte every 300 ms for 2 s is not. A concurrent server runs both at once; a
// server of one client at a time (01) serves the trickle first, then the silent one.
inline void expect_idle_client_closed_but_not_a_slow_one(const ServerSpec& spec) {
    ServerProcess server = start_server(spec, {"--idle-timeout", "1"});
    std::jthread trickle;  // joined before the server is stopped, even when a check below throws
    std::string trickle_failure;
    auto run_trickle = [&] {
        try {
            trickle_for_two_seconds(server.port());
        } catch (const std::exception& error) {
            trickle_failure = error.what();
        }
    };
    if (spec.concurrent) {
        trickle = std::jthread(run_trickle);
    } else {
        run_trickle();
    }
    Client silent = Client::connect(server.port());
    silent.expect_echo("and now, silence\n");
    auto closed_after = time_until_closed(silent, 4s);
    EXPECT_GE(closed_after, 800ms);
    EXPECT_LE(closed_after, 3s);
    EXPECT_TRUE(server.wait_for_stderr("idle for 1 s in read()", 1s)) << server.stderr_text();
    if (trickle.joinable()) trickle.join();
    EXPECT_EQ(trickle_failure, "") << "a client that sends every 300 ms must not be closed";
    Client next = Client::connect(server.port());
    next.expect_echo("the server goes on\n");
}

// --idle-timeout 0 never closes: a client silent for 2 s is still served.
inline void expect_idle_timeout_zero_never_closes(const ServerSpec& spec) {
    ServerProcess server = start_server(spec, {"--idle-timeout", "0"});
    Client silent = Client::connect(server.port());
    silent.expect_echo("quiet for a while\n");
    EXPECT_FALSE(silent.readable_within(2s)) << "closed although --idle-timeout 0 means never";
    silent.expect_echo("still here\n");
}

// A client that sends a lot and never reads, then goes silent: the server's write() to it makes
// no progress, and after the idle timeout it fails (SO_SNDTIMEO) and the server closes it.
inline void expect_client_that_stops_reading_is_closed(const ServerSpec& spec) {
    ServerProcess server = start_server(spec, {"--idle-timeout", "1"});
    // The burst is made before the connection: under TSan making 16 MiB takes over a second, and a
    // connection that waits that long for its first byte is idle in read(), not in write().
    std::string burst = pattern_bytes(16 << 20, 9);
    {
        Client hog = Client::connect_with_receive_buffer(server.port(), 4096);
        try {
            hog.send_within(burst, 6s);  // blocks once the server is stuck; fails when it closes
        } catch (const std::exception&) {
            // ECONNRESET or EPIPE: the server closed the connection, which is what we wait for
        }
        EXPECT_TRUE(server.wait_for_stderr("idle for 1 s in write()", 2s)) << server.stderr_text();
    }
    Client next = Client::connect(server.port());
    next.expect_echo("the server goes on\n");
}

// --idle-timeout takes whole seconds from 0: anything else is a usage error (exit 2).
inline void expect_bad_idle_timeout_is_a_usage_error(const ServerSpec& spec) {
    for (const char* bad : {"-1", "abc", "1.5"}) {
        RunResult run = run_to_exit(resolved(spec).binary, {"--idle-timeout", bad});
        EXPECT_EQ(run.status.code, 2) << "--idle-timeout " << bad << ": " << run.status.describe() << "\n" << run.err;
        EXPECT_NE(run.err.find("--idle-timeout"), std::string::npos) << run.err;
    }
}

// CPU time the server (and its children) used over `window`, as a share of one core.
inline double cpu_share_over(pid_t pid, std::chrono::milliseconds window) {
    long before = tree_cpu_ticks(pid);
    std::this_thread::sleep_for(window);  // measuring what the server does meanwhile: nothing to wait for
    long after = tree_cpu_ticks(pid);
    return static_cast<double>(after - before) / ticks_per_second() / std::chrono::duration<double>(window).count();
}

// `count` clients, connected one after another (the order they wait in in the backlog), each of
// which has sent `line`.
inline std::vector<Client> clients_that_sent(std::uint16_t port, int count, const std::string& line) {
    std::vector<Client> clients;
    for (int i = 0; i < count; ++i) {
        clients.push_back(Client::connect(port));
        clients.back().send(line);
    }
    return clients;
}

// Which of `clients` (each sent `line`) get exactly their echo within one shared `timeout`. A
// client that is closed or reset instead counts as not echoed.
inline std::vector<bool> echoed_within(std::vector<Client>& clients, const std::string& line,
                                       std::chrono::milliseconds timeout) {
    std::vector<bool> echoed(clients.size(), false);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (std::size_t i = 0; i < clients.size(); ++i) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (!clients[i].readable_within(std::max(left, 0ms))) continue;
        try {
            echoed[i] = clients[i].read_exact(line.size(), 100ms) == line;
        } catch (const std::exception&) {
            echoed[i] = false;  // closed (refused over the cap) or reset
        }
    }
    return echoed;
}

}  // namespace cs::test
