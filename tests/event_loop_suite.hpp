// tests/event_loop_suite.hpp — what every event-driven server (04-select, 05-epoll-pool) must prove
// beyond the conformance suite: no client can stall, starve or bloat the others.
//
//   * a crowd of 50 and of 500 clients held open at once, all echoed;
//   * a silent partial line, a 1-byte dribble, a flood: another client's echo stays under 100 ms;
//   * a client that sends 64 MiB without reading costs the server about its --out-cap, not 64 MiB,
//     and gets every byte back in order once it reads;
//   * out of descriptors (EMFILE): no crash, no CPU spin, clients served again once others leave;
//   * --max-conns refuses politely; a reused fd number starts with a fresh state.
//
// Test bodies live in this header so that each lesson's test binary gets them without another
// CMake target: include it from exactly one file per binary (lesson_select_test.cpp,
// lesson_epoll_test.cpp) and instantiate it there:
//   INSTANTIATE_TEST_SUITE_P(Lesson, EventLoop, testing::Values(spec), cs::test::spec_name);
#pragma once

#include "common/net.hpp"
#include "tests/conformance.hpp"
#include "tests/hardening.hpp"
#include "tests/support/client.hpp"
#include "tests/support/crowd.hpp"
#include "tests/support/proc.hpp"

#include <atomic>
#include <iostream>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <regex>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace cs::test {

class EventLoop : public testing::TestWithParam<ServerSpec> {};

namespace event_loop {

// Raises this test process's own RLIMIT_NOFILE (soft) so it can hold `needed` client sockets.
// False when the hard limit is too low: the caller skips and says so.
inline bool raise_own_nofile(rlim_t needed) {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur >= needed) return true;
    if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed) return false;
    limit.rlim_cur = needed;
    return ::setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

inline rlim_t own_hard_nofile() {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    return limit.rlim_max;
}

// Round-trip time of one echo on an already connected client.
inline std::chrono::milliseconds echo_time(Client& client, std::string_view message,
                                           std::chrono::milliseconds timeout = 2s) {
    auto start = std::chrono::steady_clock::now();
    client.expect_echo(message, timeout);
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
}

// Small kernel buffers on the client, so the kernel cannot hide what the server does: with
// megabytes of socket buffer on both sides, a non-reading client would look "fine" for a while.
inline void shrink_buffers(const Client& client, int receive_bytes, int send_bytes) {
    ::setsockopt(client.fd(), SOL_SOCKET, SO_RCVBUF, &receive_bytes, sizeof receive_bytes);
    ::setsockopt(client.fd(), SOL_SOCKET, SO_SNDBUF, &send_bytes, sizeof send_bytes);
}

// Waits (bounded) until `progress` stops growing for `quiet`: a blocked sender.
inline void wait_until_stalled(const std::atomic<std::size_t>& progress, std::chrono::milliseconds quiet,
                               std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (std::size_t seen = progress;;) {
        std::this_thread::sleep_for(quiet);
        std::size_t now = progress;
        if (now == seen || std::chrono::steady_clock::now() >= deadline) return;
        seen = now;
    }
}

// The fd number the server logged for the client whose local port is `port` ("... connected (fd N)").
inline int logged_fd(const ServerProcess& server, std::uint16_t port) {
    server.wait_for_stderr(fmt::format("127.0.0.1:{} connected", port), 2s);
    std::smatch match;
    std::string text = server.stderr_text();
    std::regex connected(fmt::format(R"(127\.0\.0\.1:{} connected \(fd ([0-9]+)\))", port));
    return std::regex_search(text, match, connected) ? std::stoi(match[1]) : -1;
}

inline void expect_crowd_echoed(const ServerSpec& spec, int clients) {
    if (!raise_own_nofile(static_cast<rlim_t>(clients) + 64)) GTEST_SKIP() << "ulimit -Hn is below " << clients;
    ServerProcess server = start_server(spec, {"--quiet"});
    CrowdResult crowd = run_crowd(server.port(), {.clients = clients, .deadline = 30s});
    EXPECT_TRUE(crowd.all_echoed()) << crowd.echoed << "/" << crowd.clients << ": " << crowd.first_error;
    EXPECT_TRUE(server.running());
}

}  // namespace event_loop

TEST_P(EventLoop, FiftyClientsHeldOpenAreAllEchoed) { event_loop::expect_crowd_echoed(GetParam(), 50); }

TEST_P(EventLoop, FiveHundredClientsHeldOpenAreAllEchoed) { event_loop::expect_crowd_echoed(GetParam(), 500); }

TEST_P(EventLoop, SilentPartialLineDoesNotDelayAnotherClient) {
    ServerProcess server = start_server(GetParam());
    Client silent = Client::connect(server.port());
    silent.send("a partial line and then nothing");  // a readline()-after-select() server would block here
    Client other = Client::connect(server.port());
    other.expect_echo("warm-up\n");
    for (int i = 0; i < 5; ++i) {
        EXPECT_LT(event_loop::echo_time(other, "am I delayed?\n"), 100ms);
    }
    silent.shutdown_write();
    EXPECT_EQ(silent.read_to_eof(), "a partial line and then nothing");
}

TEST_P(EventLoop, OneByteDribbleAndAFastClientAreBothServed) {
    ServerProcess server = start_server(GetParam(), {"--quiet"});
    Client dribble = Client::connect(server.port());
    int on = 1;
    ::setsockopt(dribble.fd(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);  // one segment per byte
    std::string line = "one byte at a time, while someone else is in a hurry\n";
    std::thread dribbler([&] {
        for (char c : line) {
            dribble.send(std::string(1, c));
            std::this_thread::sleep_for(3ms);  // pacing, so the bytes really arrive apart
        }
    });
    Client fast = Client::connect(server.port());
    std::chrono::milliseconds slowest{0};
    for (int i = 0; i < 50; ++i) {
        slowest = std::max(slowest, event_loop::echo_time(fast, pattern_bytes(4096, i) + "\n"));
    }
    dribbler.join();
    EXPECT_LT(slowest, 100ms) << "the fast client waited behind the dribbling one";
    EXPECT_EQ(dribble.read_exact(line.size()), line);
}

TEST_P(EventLoop, FloodingClientDoesNotStarveAnother) {
    ServerProcess server = start_server(GetParam(), {"--quiet"});
    Client flood = Client::connect(server.port());
    std::string payload = pattern_bytes(32 << 20, 3);
    std::string echo;
    std::thread flooder([&] { echo = echo_large(flood, payload, 60s); });  // sends and reads at full speed
    Client other = Client::connect(server.port());
    std::chrono::milliseconds slowest{0};
    for (int i = 0; i < 20; ++i) slowest = std::max(slowest, event_loop::echo_time(other, "still there?\n"));
    flooder.join();
    std::cout << "[ measure  ] slowest of 20 echoes during a 32 MiB flood: " << slowest.count() << " ms\n";
    EXPECT_LT(slowest, 100ms) << "a client that always has bytes ready took the whole loop";
    EXPECT_TRUE(echo == payload) << "the flood came back with " << echo.size() << " of " << payload.size() << " bytes";
}

// [slide:test-non-reader]
TEST_P(EventLoop, ClientThatSendsWithoutReadingCostsAboutTheCapAndGetsEveryByteBack) {
    constexpr std::size_t kPayload = 64u << 20;
    constexpr long kCapKiB = 256;  // the contract's default --out-cap
    ServerProcess server = start_server(GetParam(), {"--quiet"});
    Client other = Client::connect(server.port());
    other.expect_echo("warm-up\n");
    long rss_before = rss_kib(server.pid());

    Client hog = Client::connect(server.port());
    // A small receive buffer, so the echo backs up into the server; a send buffer big enough that
    // the client pushes megabytes quickly (tiny ones make loopback TCP crawl on delayed ACKs).
    event_loop::shrink_buffers(hog, 32 * 1024, 256 * 1024);
    std::string payload = pattern_bytes(kPayload, 11);
    std::atomic<std::size_t> sent{0};
    std::thread sender([&] {  // blocking sends: this thread stalls as soon as the server stops reading
        try {
            for (std::size_t at = 0; at < kPayload; at += 64 * 1024) {
                hog.send(std::string_view(payload).substr(at, 64 * 1024));
                sent = at + 64 * 1024;
            }
        } catch (const std::exception&) {  // the checks below report what went wrong
        }
    });
    std::this_thread::sleep_for(1s);  // the issue's scenario: nothing read for a second...
    // ...and until the sender is stuck: every buffer on the way is full, the server at its cap.
    event_loop::wait_until_stalled(sent, 200ms, 5s);
    long grown_kib = rss_kib(server.pid()) - rss_before;
    std::size_t sent_while_not_reading = sent;
    std::chrono::milliseconds other_echo = event_loop::echo_time(other, "and me?\n");
    std::cout << "[ measure  ] server RSS grew " << grown_kib << " KiB while the client sent "
              << (sent_while_not_reading >> 10) << " KiB without reading; other client's echo took "
              << other_echo.count() << " ms\n";
    EXPECT_LT(grown_kib, kCapKiB + 4 * 1024) << "the server buffered far more than its cap";
    EXPECT_LT(sent_while_not_reading, kPayload / 2) << "the server kept reading from a client that does not read";
    EXPECT_LT(other_echo, 100ms);

    std::string echo = hog.read_exact(kPayload, 60s);  // now read: every byte, in order
    sender.join();
    EXPECT_EQ(sent.load(), kPayload);
    EXPECT_TRUE(echo == payload) << "64 MiB came back with different bytes";
    hog.shutdown_write();
    EXPECT_EQ(hog.read_to_eof(), "");
}
// [/slide]

TEST_P(EventLoop, MaxConnsRefusesTheExtraClientPolitelyAndServesAgainLater) {
    ServerProcess server = start_server(GetParam(), {"--max-conns", "3"});
    std::vector<Client> held;
    for (int i = 0; i < 3; ++i) {
        held.push_back(Client::connect(server.port()));
        held.back().expect_echo("held " + std::to_string(i) + "\n");
    }
    Client extra = Client::connect(server.port());  // the kernel completes the handshake; the server closes it
    EXPECT_EQ(extra.read_to_eof(2s), "");
    EXPECT_TRUE(server.wait_for_stderr("--max-conns 3 reached", 1s)) << server.stderr_text();

    held.front().close();
    ASSERT_TRUE(server.wait_for_stderr(" closed (fd", 2s)) << server.stderr_text();
    Client next = Client::connect(server.port());
    next.expect_echo("room for me now?\n");
    for (std::size_t i = 1; i < held.size(); ++i) held[i].expect_echo("still served\n");
}

TEST_P(EventLoop, NewClientOnAReusedFdNumberSeesOnlyItsOwnBytes) {
    ServerProcess server = start_server(GetParam());
    int baseline = open_fd_count(server.pid());
    Client old = Client::connect(server.port());
    event_loop::shrink_buffers(old, 16 * 1024, 256 * 1024);
    old.send("secret that must not leak\n");
    old.send(pattern_bytes(1 << 20, 5));  // leaves echo pending in the server for this fd
    int old_fd = event_loop::logged_fd(server, local_port(old.fd()));
    old.reset();
    auto deadline = std::chrono::steady_clock::now() + 3s;  // the server notices the reset and closes
    while (open_fd_count(server.pid()) > baseline && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
    }
    ASSERT_EQ(open_fd_count(server.pid()), baseline) << "the server did not close the reset client's fd";

    Client fresh = Client::connect(server.port());
    fresh.expect_echo("fresh\n");
    EXPECT_EQ(event_loop::logged_fd(server, local_port(fresh.fd())), old_fd) << "the kernel did not reuse the fd";
    EXPECT_FALSE(fresh.readable_within(200ms)) << "the new client received bytes it never sent";
}

// [slide:test-emfile]
TEST_P(EventLoop, OutOfDescriptorsNeitherCrashesNorSpinsAndServesAgainWhenClientsLeave) {
    constexpr int kClients = 80;  // more than the server's 64 descriptors can hold
    ServerProcess server = start_server(GetParam(), {"--quiet"}, rlim_t{64});
    hardening::Senders crowd = hardening::connect_and_send(server.port(), kClients);  // the backlog holds the rest
    ASSERT_TRUE(server.wait_for_stderr("Too many open files", 2s)) << server.stderr_text();
    std::vector<bool> echoed = hardening::echoed_within(crowd.clients, crowd.messages, 1s);
    int served = static_cast<int>(std::count(echoed.begin(), echoed.end(), true));
    EXPECT_GE(served, 30);
    ASSERT_LT(served, kClients) << "the server never ran out of descriptors";

    long ticks_before = cpu_ticks(server.pid());
    std::this_thread::sleep_for(1s);  // a measurement window: the server is saturated the whole time
    long cpu_percent = (cpu_ticks(server.pid()) - ticks_before) * 100 / ::sysconf(_SC_CLK_TCK);
    std::cout << "[ measure  ] CPU while saturated at EMFILE: " << cpu_percent << " % of one core, " << served
              << " clients served, " << kClients - served << " waiting\n";
    EXPECT_LT(cpu_percent, 20) << "the server spins while it cannot accept";

    for (int i = 0; i < kClients; ++i) {
        if (echoed[i]) crowd.clients[i].expect_echo("still served\n", 1s);
    }
    int leaving = 0;
    for (int i = 0; i < kClients && leaving < 10; ++i) {
        if (echoed[i]) {
            crowd.clients[i].close();
            ++leaving;
        }
    }
    hardening::Senders waiting = hardening::take_unechoed(crowd, echoed);
    std::vector<bool> now_echoed = hardening::echoed_within(waiting.clients, waiting.messages, 3s);
    EXPECT_GE(std::count(now_echoed.begin(), now_echoed.end(), true), std::min<long>(leaving, waiting.clients.size()))
        << "freed descriptors should let waiting clients in\n"
        << server.stderr_text();
    EXPECT_TRUE(server.running());
}
// [/slide]

}  // namespace cs::test
