// tests/hardening.hpp — issue #9's checks for the event-driven servers (04-select, 05-epoll-pool,
// 06-prefork), shared by their lesson tests:
//
//   * slowloris: 500 clients each send one byte a second for 5 s; meanwhile a normal client's echo
//     round trips stay under 100 ms (p99), and the slow clients get their bytes back too;
//   * --idle-timeout 1: silent clients read EOF within 1-3 s, a client that sends a byte every
//     300 ms is never closed; --idle-timeout 0 never closes; a bad value exits 2;
//   * helpers for the out-of-descriptors tests (event_loop_suite.hpp, 06's starvation test) and the
//     SIGUSR1 tests.
//
// Plain inline functions, not TEST_P bodies: each lesson calls them from its own TEST()s with the
// arguments that matter for it (05's --edge and --threads, 06's --share).
#pragma once

#include "tests/conformance.hpp"
#include "tests/support/client.hpp"
#include "tests/support/slow_clients.hpp"

#include <algorithm>
#include <iostream>
#include <optional>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>

namespace cs::test::hardening {

// The test process's own RLIMIT_NOFILE soft limit, raised to the hard limit: 500 slow clients and
// the rest need more than the usual 1024. False when even the hard limit is below `needed`.
inline bool raise_own_nofile_to_hard(rlim_t needed) {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
    return limit.rlim_max == RLIM_INFINITY || limit.rlim_max >= needed;
}

inline std::vector<std::string> with(std::vector<std::string> args, std::initializer_list<std::string> more) {
    args.insert(args.end(), more);
    return args;
}

// Clients that have each sent a line of their own, and those lines.
struct Senders {
    std::vector<Client> clients;
    std::vector<std::string> messages;
};

// `count` clients connect and send at once; the listen backlog holds those the server cannot accept.
inline Senders connect_and_send(std::uint16_t port, int count) {
    Senders senders;
    for (int i = 0; i < count; ++i) {
        senders.clients.push_back(Client::connect(port));
        senders.messages.push_back(fmt::format("client {}\n", i));
        senders.clients.back().send(senders.messages.back());
    }
    return senders;
}

// The clients of `from` whose echo did not come (`echoed[i]` false), moved out with their lines.
inline Senders take_unechoed(Senders& from, const std::vector<bool>& echoed) {
    Senders waiting;
    for (std::size_t i = 0; i < from.clients.size(); ++i) {
        if (echoed[i]) continue;
        waiting.clients.push_back(std::move(from.clients[i]));
        waiting.messages.push_back(from.messages[i]);
    }
    return waiting;
}

// One client that comes and goes, then `count` clients held open, each echoed once: a stats line
// must then say `count` open and `count + 1` accepted.
inline std::vector<Client> one_gone_then_held(const ServerProcess& server, int count) {
    Client gone = Client::connect(server.port());
    gone.expect_echo("I leave first\n");
    gone.close();
    EXPECT_TRUE(server.wait_for_stderr(" closed (fd", 2s)) << server.stderr_text();
    std::vector<Client> held;
    for (int i = 0; i < count; ++i) {
        held.push_back(Client::connect(server.port()));
        held.back().expect_echo("held\n");
    }
    return held;
}

// Which of `clients` got `expected[i]` back within one shared deadline.
inline std::vector<bool> echoed_within(std::vector<Client>& clients, const std::vector<std::string>& expected,
                                       std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<bool> echoed;
    for (std::size_t i = 0; i < clients.size(); ++i) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        bool ready = clients[i].readable_within(std::max(left, 0ms));  // 0 ms once the deadline passed: a peek
        echoed.push_back(ready && clients[i].read_exact(expected[i].size(), 1s) == expected[i]);
    }
    return echoed;
}

// [slide:test-slowloris]
inline void expect_slow_clients_delay_no_one(const ServerSpec& spec, const std::vector<std::string>& args = {}) {
    constexpr int kSlowClients = 500;
    if (!raise_own_nofile_to_hard(kSlowClients + 64)) GTEST_SKIP() << "ulimit -Hn is below " << kSlowClients + 64;
    ServerProcess server = start_server(spec, with(args, {"--quiet"}));
    SlowClientsResult result = run_slow_clients(server.port(), {.slow_clients = kSlowClients, .duration = 5s});
    std::vector<std::string> shown{spec.name};
    shown.insert(shown.end(), args.begin(), args.end());
    std::cout << "[ measure  ] slowloris, " << fmt::format("{}", fmt::join(shown, " ")) << ": " << result.summary()
              << "\n";
    EXPECT_EQ(result.slow_connected, kSlowClients) << result.first_error;
    EXPECT_EQ(result.slow_failed, 0) << result.first_error;
    EXPECT_GE(result.slow_bytes_echoed, std::uint64_t{kSlowClients} * 4) << "the slow clients were not served";
    ASSERT_GE(result.round_trips_ms.size(), 100u) << "the normal client hardly got through: " << result.first_error;
    EXPECT_LT(result.percentile_ms(0.99), 100.0) << "slow clients delayed a normal one";
    EXPECT_TRUE(server.running());
}
// [/slide]

// When each of `clients` reads EOF (or a reset); nothing for those that did not within `timeout`.
// One poll() over all of them, so each time is its own.
inline std::vector<std::optional<std::chrono::steady_clock::time_point>> eof_times(std::vector<Client>& clients,
                                                                                   std::chrono::milliseconds timeout) {
    std::vector<std::optional<std::chrono::steady_clock::time_point>> closed(clients.size());
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (auto now = std::chrono::steady_clock::now(); now < deadline; now = std::chrono::steady_clock::now()) {
        std::vector<pollfd> open;
        for (std::size_t i = 0; i < clients.size(); ++i) {
            if (!closed[i]) open.push_back({clients[i].fd(), POLLIN, 0});
        }
        if (open.empty()) break;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
        if (::poll(open.data(), open.size(), static_cast<int>(left) + 1) <= 0) continue;
        for (std::size_t i = 0; i < clients.size(); ++i) {
            char byte;
            if (closed[i] || !clients[i].readable_within(0ms)) continue;
            if (::recv(clients[i].fd(), &byte, 1, 0) > 0) continue;  // not EOF: a stray byte, keep waiting
            closed[i] = std::chrono::steady_clock::now();
        }
    }
    return closed;
}

inline void expect_idle_clients_closed(const ServerSpec& spec, const std::vector<std::string>& args = {},
                                       int idle_clients = 4) {
    ServerProcess server = start_server(spec, with(args, {"--idle-timeout", "1"}));
    std::vector<Client> idle;
    std::vector<std::chrono::steady_clock::time_point> silent_since;
    for (int i = 0; i < idle_clients; ++i) {
        idle.push_back(Client::connect(server.port()));
        idle.back().expect_echo("then silence\n");
        silent_since.push_back(std::chrono::steady_clock::now());
    }
    std::string busy_error;
    std::thread busy([&] {  // a byte every 300 ms for 2.5 s: never silent for a whole second
        try {
            Client client = Client::connect(server.port());
            for (auto end = std::chrono::steady_clock::now() + 2500ms; std::chrono::steady_clock::now() < end;) {
                client.expect_echo("x", 1s);
                std::this_thread::sleep_for(300ms);
            }
            client.expect_echo("still served after 2.5 s\n", 1s);
        } catch (const std::exception& error) {
            busy_error = error.what();
        }
    });
    auto closed = eof_times(idle, 4s);
    busy.join();
    for (int i = 0; i < idle_clients; ++i) {
        ASSERT_TRUE(closed[i].has_value()) << "idle client " << i << " still open after 4 s\n" << server.stderr_text();
        auto after = std::chrono::duration_cast<std::chrono::milliseconds>(*closed[i] - silent_since[i]);
        std::cout << "[ measure  ] idle client " << i << " closed after " << after.count() << " ms of silence\n";
        EXPECT_GE(after, 900ms);
        EXPECT_LE(after, 3000ms);
    }
    EXPECT_EQ(busy_error, "") << "a client that sends every 300 ms was closed";
    EXPECT_TRUE(server.wait_for_stderr("idle for 1 s, closing", 1s)) << server.stderr_text();
}

inline void expect_idle_timeout_zero_never_closes(const ServerSpec& spec, const std::vector<std::string>& args = {}) {
    ServerProcess server = start_server(spec, with(args, {"--idle-timeout", "0"}));
    Client client = Client::connect(server.port());
    client.expect_echo("before a long silence\n");
    EXPECT_FALSE(client.readable_within(2s)) << "closed (or sent something) although --idle-timeout is 0";
    client.expect_echo("after 2 s of silence\n");
}

inline void expect_bad_idle_timeouts_exit_two(const ServerSpec& spec) {
    for (const char* value : {"-1", "soon", "86401", "1.5"}) {
        RunResult run = run_to_exit(resolved(spec).binary, {"--idle-timeout", value});
        EXPECT_EQ(run.status.code, 2) << "--idle-timeout " << value << ": " << run.status.describe() << "\n" << run.err;
    }
    RunResult help = run_to_exit(resolved(spec).binary, {"--help"});
    EXPECT_NE(help.out.find("--idle-timeout"), std::string::npos) << help.out;
}

}  // namespace cs::test::hardening
