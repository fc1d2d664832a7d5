// tests/conformance_test.cpp — the server contract, checked against any echo server binary.
//
// Every lesson instantiates this suite (see lesson_*_test.cpp); graders run it against a
// student's binary with ECHO_SERVER=/path/to/binary. Each test names the behaviour it protects.
#include "tests/conformance.hpp"

#include "common/net.hpp"
#include "tests/support/client.hpp"
#include "tests/support/crowd.hpp"
#include "tests/support/fragmenting_proxy.hpp"
#include "tests/support/hardening.hpp"
#include "tests/support/proc.hpp"

#include <atomic>
#include <csignal>
#include <functional>
#include <mutex>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <regex>
#include <sys/socket.h>
#include <thread>
#include <vector>

namespace cs::test {
namespace {

// Waits (bounded) until no process of the server's process group is still running.
bool group_gone_within(pid_t group, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (live_processes_in_group(group) > 0) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

// Waits (bounded) until the count that `sample` returns is at most `limit`; returns the last sample.
template <class Sample>
int settle_at_most(int limit, Sample sample, std::chrono::milliseconds timeout = 3s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int value = sample();
    while (value > limit && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
        value = sample();
    }
    return value;
}

void echo_and_close(std::uint16_t port, const std::string& message) {
    Client client = Client::connect(port);
    client.send(message);
    client.shutdown_write();
    EXPECT_EQ(client.read_to_eof(), message);
}

// ---- for the SIGUSR1 storm ----

// SIGUSR1 to the server every millisecond, on a thread of its own, until stop() or a deadline.
class SignalStorm {
public:
    explicit SignalStorm(const ServerProcess& server) {
        thread_ = std::thread([this, &server] {
            auto deadline = std::chrono::steady_clock::now() + 10s;
            while (!stop_ && std::chrono::steady_clock::now() < deadline) {
                server.signal(SIGUSR1);
                ++sent_;
                std::this_thread::sleep_for(1ms);
            }
            over_ = true;
        });
    }
    SignalStorm(const SignalStorm&) = delete;
    SignalStorm& operator=(const SignalStorm&) = delete;
    ~SignalStorm() { stop(); }

    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    int sent() const noexcept { return sent_; }
    // Clients keep going until this: a few hundred signals have hit the server while they ran.
    bool long_enough() const noexcept { return sent_ >= 300 || over_; }

private:
    std::atomic<bool> stop_{false};
    std::atomic<bool> over_{false};
    std::atomic<int> sent_{0};
    std::thread thread_;
};

// Rounds of 50 lines sent in one write() and read back: the server's read() and write() calls are
// the ones the storm interrupts. At least two rounds, and more until the storm has lasted.
void pipelining_client(std::uint16_t port, int index, const SignalStorm& storm) {
    Client client = Client::connect(port);
    for (int round = 0; round < 2 || !storm.long_enough(); ++round) {
        std::string lines;
        for (int i = 0; i < 50; ++i) lines += fmt::format("client {} round {} line {}\n", index, round, i);
        client.expect_echo(lines);
    }
}

// Rounds of a 64 KiB line sent in 4 KiB pieces, then read back (64 KiB fits in the kernel's
// buffers, so sending it all before reading cannot deadlock).
void bulk_client(std::uint16_t port, int index, const SignalStorm& storm) {
    Client client = Client::connect(port);
    for (int round = 0; round < 2 || !storm.long_enough(); ++round) {
        std::string bulk = pattern_bytes(64 * 1024 - 1, static_cast<unsigned>(index * 1000 + round)) + "\n";
        for (std::size_t at = 0; at < bulk.size(); at += 4096) client.send(std::string_view(bulk).substr(at, 4096));
        if (client.read_exact(bulk.size()) != bulk)
            throw std::runtime_error(fmt::format("client {}: bulk differs", index));
    }
}

// Runs the clients at once (one thread each), or one after another for a server that serves one
// client at a time. Returns the first failure, or "".
std::string run_clients(bool concurrent, const std::vector<std::function<void()>>& clients) {
    std::mutex mutex;
    std::string first_failure;
    auto guarded = [&](const std::function<void()>& client) {
        try {
            client();
        } catch (const std::exception& error) {
            std::lock_guard lock(mutex);
            if (first_failure.empty()) first_failure = error.what();
        }
    };
    if (!concurrent) {
        for (const auto& client : clients) guarded(client);
        return first_failure;
    }
    std::vector<std::thread> threads;
    for (const auto& client : clients) threads.emplace_back(guarded, client);
    for (auto& thread : threads) thread.join();
    return first_failure;
}

// ---- for the SIGPIPE test ----

// Waits (bounded) until `done()`; polling kernel state, for which there is no event to wait on.
template <class Predicate>
bool within(std::chrono::milliseconds timeout, Predicate done, std::chrono::microseconds step = 2ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(step);
    }
    return true;
}

// Sends without ever reading until the server cannot echo what it has received. The client
// connects with a tiny receive buffer, so the echo has nowhere to go: it piles up in the server's
// send buffer. We stop once that buffer has less than kSlack free while a whole chunk of ours
// waits unread in the server's receive queue: the server cannot write that chunk, even if our
// window opened by the few KiB our buffer still holds, so it is stuck in write(), or will be as
// soon as it reads on. The kernel shows us the server's side of the connection (sock_diag).
// Each chunk is out of our send queue before the next goes, so the server's receive queue never
// fills: our FIN still gets through afterwards.
// Returns the server's side of the connection then, or nothing, with `why`, when the server
// stopped taking our bytes without being stuck in write() (a server that strands data).
std::optional<TcpQueues> fill_until_server_blocks_in_write(Client& client, std::uint16_t server_port,
                                                           std::string& why) {
    constexpr long kSlack = 8 * 1024;
    std::string chunk;  // 32 lines of 1 KiB: a server that echoes whole lines echoes at once too
    for (unsigned i = 0; i < 32; ++i) chunk += pattern_bytes(1023, i) + "\n";
    const long chunk_size = static_cast<long>(chunk.size());
    const std::uint16_t client_port = local_port(client.fd());
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
        auto all_sent = [&] { return client.unsent_bytes() == 0; };
        if (!client.send_within(chunk, 2s) || !within(2s, all_sent, 100us)) {
            why = "the server stopped reading before it was stuck writing its echo";
            return std::nullopt;
        }
        std::optional<TcpQueues> server = tcp_queues(server_port, client_port);
        if (!server) {
            why = "sock_diag does not know the server's side of the connection";
            return std::nullopt;
        }
        if (server->receive >= chunk_size && server->send_buffer - server->send_queued < kSlack) return server;
    }
    why = "the server never stopped reading";
    return std::nullopt;
}

}  // namespace

std::string spec_name(const testing::TestParamInfo<ServerSpec>& info) { return info.param.name; }

// ---- readiness and echo semantics -------------------------------------------------------

TEST_P(Conformance, PrintsListeningLineWithTheRealPort) {
    ServerProcess server = start_server(GetParam());
    EXPECT_TRUE(std::regex_match(server.listening_line(), std::regex(R"(listening on 127\.0\.0\.1:[0-9]+)")))
        << server.listening_line();
    EXPECT_NE(server.port(), 0);
}

TEST_P(Conformance, EchoesOneLine) {
    ServerProcess server = start_server(GetParam());
    Client client = Client::connect(server.port());
    client.expect_echo("hello, echo\n");
}

TEST_P(Conformance, EchoesBinaryDataWithNulAndCarriageReturn) {
    ServerProcess server = start_server(GetParam());
    Client client = Client::connect(server.port());
    std::string binary("a\0b\r\nc\0\0\xff\xfe\r\n", 12);
    client.expect_echo(binary);
    client.expect_echo(pattern_bytes(100'000) + "\n");
}

TEST_P(Conformance, EchoesPipelinedLinesSentInOneWrite) {
    ServerProcess server = start_server(GetParam());
    Client client = Client::connect(server.port());
    std::string lines;
    for (int i = 0; i < 200; ++i) lines += "line " + std::to_string(i) + "\n";
    client.expect_echo(lines);  // every line, in order, though they arrive in one segment
}

TEST_P(Conformance, EchoesOneByteDribble) {
    ServerProcess server = start_server(GetParam());
    Client client = Client::connect(server.port());
    int on = 1;
    ::setsockopt(client.fd(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);  // one segment per byte
    std::string line = "dribbled one byte at a time\n";
    for (char c : line) {
        client.send(std::string(1, c));
        std::this_thread::sleep_for(2ms);  // pacing, so the bytes really arrive apart
    }
    EXPECT_EQ(client.read_exact(line.size()), line);
}

TEST_P(Conformance, EchoesEightMiBLine) {
    ServerProcess server = start_server(GetParam(), {"--quiet"});
    Client client = Client::connect(server.port());
    std::string line = pattern_bytes(8 << 20, 7) + "\n";
    std::string echo = echo_large(client, line, 30s);
    ASSERT_EQ(echo.size(), line.size());
    EXPECT_TRUE(echo == line) << "8 MiB line came back with different bytes";
}

// RFC 862: an echo server sends back what it receives, as soon as it has read it. A prompt or a
// binary message without '\n' must come back while the connection stays open: a server that
// waits for a newline (or for EOF) leaves a client that waits for its echo waiting forever.
TEST_P(Conformance, EchoesBytesWithoutNewlineBeforeHalfClose) {
    ServerProcess server = start_server(GetParam());
    Client client = Client::connect(server.port());
    client.send("prompt> ");
    EXPECT_EQ(client.read_exact(8, 3s), "prompt> ") << "bytes without a newline must come back before any EOF";
    client.send("line\nand a tail");  // a line and more: both come back, the tail without waiting
    EXPECT_EQ(client.read_exact(15, 3s), "line\nand a tail");
    client.expect_echo("still open\n");  // and the connection is still served
}

TEST_P(Conformance, EchoesPartialLineWhenClientHalfCloses) {
    ServerProcess server = start_server(GetParam());
    Client client = Client::connect(server.port());
    client.send("first line\nno newline at the end");
    client.shutdown_write();
    EXPECT_EQ(client.read_to_eof(), "first line\nno newline at the end");
}

TEST_P(Conformance, ClosesConnectionAfterClientEofAndFullEcho) {
    ServerProcess server = start_server(GetParam());
    Client client = Client::connect(server.port());
    client.send("one\ntwo\n");
    client.shutdown_write();
    EXPECT_EQ(client.read_to_eof(2s), "one\ntwo\n");  // read_to_eof returns only on the server's FIN
}

TEST_P(Conformance, EchoesEverythingWhenTheStreamArrivesOneByteAtATime) {
    ServerProcess server = start_server(GetParam(), {"--quiet"});
    FragmentingProxy proxy(server.port(), {.max_segment = 1});
    Client client = Client::connect(proxy.port());
    std::string payload =
        std::string("first line\r\nsecond\0line\n", 24) + pattern_bytes(300) + "\nlast line without a newline";
    client.send(payload);
    client.shutdown_write();
    EXPECT_EQ(client.read_to_eof(15s), payload);
}

TEST_P(Conformance, EchoesPipelinedLinesCutAtRandomPlaces) {
    ServerProcess server = start_server(GetParam(), {"--quiet"});
    FragmentingProxy proxy(server.port(), {.max_segment = 700, .seed = 42});
    Client client = Client::connect(proxy.port());
    std::string lines;
    for (int i = 0; i < 300; ++i)
        lines += "pipelined line " + std::to_string(i) + " " + std::string(i % 50, '.') + "\n";
    client.send(lines);
    client.shutdown_write();
    EXPECT_EQ(client.read_to_eof(15s), lines);
}

// ---- robustness: no client can end the server -------------------------------------------

TEST_P(Conformance, ServesNextClientAfterClientReset) {
    ServerProcess server = start_server(GetParam());
    {
        Client rude = Client::connect(server.port());
        rude.expect_echo("about to reset\n");
        rude.send("half a line");
        rude.reset();  // RST: the server's next read() fails with ECONNRESET
    }
    Client next = Client::connect(server.port());
    next.expect_echo("still here?\n");
    EXPECT_TRUE(server.running());
}

// A client sends without reading until the server is stuck writing to it, then closes: with
// unread bytes in its buffer, close() sends RST, and the server's write() fails with ECONNRESET
// for that client only. (The first failing write after a reset in ESTABLISHED reports
// ECONNRESET and raises no SIGPIPE. Closing at a random moment instead, before any echo had
// arrived, would send FIN first, and the reset would then raise SIGPIPE by luck of timing:
// SurvivesSigpipeWhenWritingToAResetClient does that on purpose.) A server that stops reading
// before it is stuck writing is reset all the same.
TEST_P(Conformance, SurvivesClientThatClosesWithoutReading) {
    ServerProcess server = start_server(GetParam(), {"--quiet"});
    for (int round = 0; round < 3; ++round) {
        Client rude = Client::connect_with_receive_buffer(server.port(), 4096);
        std::string why;
        fill_until_server_blocks_in_write(rude, server.port(), why);
        rude.close();
    }
    Client next = Client::connect(server.port());
    next.expect_echo("did SIGPIPE kill you?\n");
    EXPECT_TRUE(server.running()) << server.stderr_text();
}

// A write() to a connection whose reset has already been reported raises SIGPIPE, whose default
// action kills the whole server. Made deterministic here: the client half-closes first, so the
// server's socket is in CLOSE_WAIT when the RST arrives, and Linux then reports the reset as EPIPE
// (not ECONNRESET) to the very write() that is blocked on it, with SIGPIPE. (In ESTABLISHED the
// first write() after a reset gets ECONNRESET and no signal; only a later one would raise it.)
// Twenty rounds, each checked at once: the server is alive and serves a new client.
TEST_P(Conformance, SurvivesSigpipeWhenWritingToAResetClient) {
    ServerProcess server = start_server(GetParam(), {"--quiet"});
    unsigned long last_socket = 0;
    for (int round = 0; round < 20; ++round) {
        {
            Client rude = Client::connect_with_receive_buffer(server.port(), 4096);
            std::string why;
            std::optional<TcpQueues> stuck = fill_until_server_blocks_in_write(rude, server.port(), why);
            ASSERT_TRUE(stuck) << "round " << round << ": " << why;
            last_socket = stuck->inode;
            rude.shutdown_write();
            ASSERT_TRUE(within(2s, [&] { return rude.tcp_state() == TCP_FIN_WAIT2; }))
                << "round " << round << ": the server never acknowledged our FIN";
            rude.reset();  // RST: the server's blocked write() fails with EPIPE, and SIGPIPE is raised
        }
        // A server that died of it refuses the next client: at once if it served one at a time,
        // by the next round if it was busy dying on another thread meanwhile.
        try {
            Client next = Client::connect(server.port());
            next.expect_echo("still alive?\n");
        } catch (const std::exception& error) {
            auto status = server.wait_exit(1s);  // a server on its way out may not be reaped yet
            FAIL() << "round " << round << ": " << error.what() << "; the server "
                   << (status ? status->describe() : "is still running") << "\n"
                   << server.stderr_text();
        }
    }
    // The last round: wait (bounded) until the server has let go of that socket, or died.
    within(2s, [&] { return !tree_holds_socket(server.pid(), last_socket); });
    EXPECT_TRUE(server.running()) << server.wait_exit(0ms)->describe() << "\n" << server.stderr_text();
}

TEST_P(Conformance, ServesAnotherClientWhileOneIsIdle) {
    if (!GetParam().concurrent) GTEST_SKIP() << "01 serves one client at a time by design";
    ServerProcess server = start_server(GetParam());
    Client idle = Client::connect(server.port());
    idle.expect_echo("I will go quiet\n");
    idle.send("a partial line, then silence");
    Client busy = Client::connect(server.port());
    busy.expect_echo("am I served?\n", 1s);  // the idle client must not hold anyone up
    idle.shutdown_write();
    EXPECT_EQ(idle.read_to_eof(), "a partial line, then silence");
}

TEST_P(Conformance, EchoesTwentyClientsHeldOpenAtOnce) {
    if (!GetParam().concurrent) GTEST_SKIP() << "01 serves one client at a time by design";
    ServerProcess server = start_server(GetParam(), {"--quiet"});
    CrowdResult crowd = run_crowd(server.port(), {.clients = 20, .deadline = 10s});
    EXPECT_TRUE(crowd.all_echoed()) << crowd.echoed << "/" << crowd.clients << ": " << crowd.first_error;
}

TEST_P(Conformance, ThreeHundredSequentialConnectionsDoNotLeakDescriptors) {
    ServerProcess server = start_server(GetParam(), {"--quiet"});
    for (int i = 0; i < 10; ++i) echo_and_close(server.port(), "warm-up\n");
    auto fds = [&] { return tree_open_fd_count(server.pid()); };
    int baseline = fds();
    for (int i = 0; i < 300; ++i) echo_and_close(server.port(), "connection " + std::to_string(i) + "\n");
    int after = settle_at_most(baseline, fds);
    EXPECT_LE(after, baseline) << "descriptors grew from " << baseline << " to " << after;
}

TEST_P(Conformance, ServesFourThousandRoundTripsWithOnlyThirtyTwoDescriptors) {
    // RLIMIT_NOFILE = 32: a server that leaks one descriptor per connection runs out within
    // a few dozen clients, and the test sees it at once.
    ServerProcess server = start_server(GetParam(), {"--quiet"}, 32);
    for (int i = 0; i < 10; ++i) echo_and_close(server.port(), "warm-up\n");
    auto fds = [&] { return tree_open_fd_count(server.pid()); };
    int baseline = fds();
    for (int i = 0; i < 4000; ++i) {
        Client client = Client::connect(server.port());
        client.send("round trip " + std::to_string(i) + "\n");
        client.shutdown_write();
        std::string echo = client.read_to_eof();
        ASSERT_EQ(echo, "round trip " + std::to_string(i) + "\n") << "round trip " << i;
    }
    EXPECT_LE(settle_at_most(baseline, fds), baseline);
}

// ---- signals: SIGUSR1 asks for stats and changes nothing else ----------------------------

// Eight clients, half pipelining lines and half sending 64 KiB in pieces, while SIGUSR1 hits the
// server every millisecond: every system call it interrupts with EINTR must be retried, so every
// byte comes back in order, nobody is dropped, and the server still accepts afterwards. Then at
// least one stats line ("stats: N open, M accepted") is on stderr. A server that does not handle
// SIGUSR1 dies at the first one (the default action).
TEST_P(Conformance, EchoesEveryByteThroughASigusr1Storm) {
    ServerProcess server = start_server(GetParam(), {"--quiet"});
    SignalStorm storm(server);
    std::vector<std::function<void()>> clients;
    for (int i = 0; i < 8; ++i) {
        clients.emplace_back([port = server.port(), i, &storm] {
            i % 2 == 0 ? pipelining_client(port, i, storm) : bulk_client(port, i, storm);
        });
    }
    // 01 serves one client at a time by design: its clients go one after another, through the same storm.
    std::string failure = run_clients(GetParam().concurrent, clients);
    storm.stop();
    RecordProperty("sigusr1_sent", storm.sent());

    EXPECT_EQ(failure, "") << "after " << storm.sent() << " signals";
    ASSERT_TRUE(server.running()) << server.wait_exit(0ms)->describe() << " after " << storm.sent() << " signals";
    Client after = Client::connect(server.port());
    after.expect_echo("still accepting after the storm\n");
    EXPECT_TRUE(stats_line_shows(server, "stats: ")) << "no 'stats: ' line on stderr:\n" << server.stderr_text();
    // 06's workers name themselves: "stats: worker 0: 3 open, 120 accepted, ..." (the contract).
    EXPECT_TRUE(
        std::regex_search(server.stderr_text(), std::regex(R"(stats: (worker [0-9]+: )?[0-9]+ open, [0-9]+ accepted)")))
        << "expected 'stats: N open, M accepted':\n"
        << server.stderr_text();
}

// ---- logging ----------------------------------------------------------------------------

TEST_P(Conformance, LogsEachConnectionWithPeerAndFd) {
    ServerProcess server = start_server(GetParam());
    Client client = Client::connect(server.port());
    std::string peer = fmt::format("127.0.0.1:{}", local_port(client.fd()));
    client.expect_echo("log me\n");
    ASSERT_TRUE(server.wait_for_stderr(peer, 2s)) << "no log line names the peer " << peer << ":\n"
                                                  << server.stderr_text();
    EXPECT_TRUE(std::regex_search(server.stderr_text(), std::regex("fd [0-9]+"))) << server.stderr_text();
}

TEST_P(Conformance, QuietOptionSilencesConnectionLogs) {
    ServerProcess server = start_server(GetParam(), {"--quiet"});
    Client client = Client::connect(server.port());
    std::string peer = fmt::format("127.0.0.1:{}", local_port(client.fd()));
    client.send("quiet please\n");
    client.shutdown_write();
    EXPECT_EQ(client.read_to_eof(), "quiet please\n");
    EXPECT_FALSE(server.wait_for_stderr(peer, 200ms)) << server.stderr_text();
}

// ---- command line and exit codes --------------------------------------------------------

TEST_P(Conformance, HelpPrintsUsageAndExitsZero) {
    RunResult run = run_to_exit(resolved(GetParam()).binary, {"--help"});
    EXPECT_EQ(run.status.code, 0) << run.status.describe();
    EXPECT_NE(run.out.find("--port"), std::string::npos) << "usage on stdout should list --port:\n" << run.out;
    EXPECT_NE(run.out.find("--host"), std::string::npos);
    EXPECT_NE(run.out.find("--quiet"), std::string::npos);
}

TEST_P(Conformance, BadArgumentsExitTwoWithUsageOnStderr) {
    const std::string binary = resolved(GetParam()).binary;
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"--no-such-flag"}, {"--port", "abc"}, {"--port", "70000"}, {"--port", "-1"}, {"stray"}}) {
        RunResult run = run_to_exit(binary, args);
        std::string shown = fmt::format("{}", fmt::join(args, " "));
        EXPECT_EQ(run.status.code, 2) << shown << ": " << run.status.describe();
        EXPECT_FALSE(run.timed_out) << shown;
        EXPECT_NE(run.err.find("--port"), std::string::npos) << shown << ": usage expected on stderr:\n" << run.err;
        EXPECT_EQ(run.out.find("listening on"), std::string::npos) << shown;
    }
}

TEST_P(Conformance, PortInUseExitsOneWithOneLineError) {
    // Hold the port with a plain listener (no SO_REUSEPORT), so even a SO_REUSEPORT server must fail.
    Fd holder = listen_tcp({.host = "127.0.0.1", .port = 0});
    std::string port = std::to_string(local_port(holder.get()));
    ServerSpec spec = resolved(GetParam());
    std::vector<std::string> args = spec.args;
    args.insert(args.end(), {"--port", port});
    RunResult run = run_to_exit(spec.binary, args);
    EXPECT_EQ(run.status.code, 1) << run.status.describe() << "\n" << run.err;
    EXPECT_NE(run.err.find("Address already in use"), std::string::npos) << run.err;
    EXPECT_NE(run.err.find(":" + port), std::string::npos) << "the error should name the port:\n" << run.err;
}

TEST_P(Conformance, SigtermExitsZeroWithinTwoSecondsLeavingNoProcess) {
    ServerProcess server = start_server(GetParam());
    Client client = Client::connect(server.port());
    client.expect_echo("connected while the server stops\n");
    server.signal(SIGTERM);
    auto status = server.wait_exit(2s);
    ASSERT_TRUE(status.has_value()) << "still running 2 s after SIGTERM";
    EXPECT_EQ(status->code, 0) << status->describe() << "\n" << server.stderr_text();
    EXPECT_TRUE(group_gone_within(server.pid(), 1s)) << "processes left in the server's group";
}

TEST_P(Conformance, SigintExitsZero) {
    ServerProcess server = start_server(GetParam());
    server.signal(SIGINT);
    auto status = server.wait_exit(2s);
    ASSERT_TRUE(status.has_value()) << "still running 2 s after SIGINT";
    EXPECT_EQ(status->code, 0) << status->describe();
}

TEST_P(Conformance, ServesIpv6Loopback) {
    {
        Fd probe{::socket(AF_INET6, SOCK_STREAM, 0)};
        sockaddr_in6 loopback{};
        loopback.sin6_family = AF_INET6;
        loopback.sin6_addr = in6addr_loopback;
        if (!probe || ::bind(probe.get(), reinterpret_cast<sockaddr*>(&loopback), sizeof loopback) < 0) {
            GTEST_SKIP() << "this machine has no IPv6 loopback";
        }
    }
    ServerProcess server = start_server(GetParam(), {"--host", "::1"});
    EXPECT_EQ(server.listening_line(), fmt::format("listening on [::1]:{}", server.port()));
    Client client = Client::connect(server.port(), "::1");
    client.expect_echo("over IPv6\n");
}

}  // namespace cs::test
