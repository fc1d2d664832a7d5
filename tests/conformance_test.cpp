// tests/conformance_test.cpp — the server contract, checked against any echo server binary.
//
// Every lesson instantiates this suite (see lesson_*_test.cpp); graders run it against a
// student's binary with ECHO_SERVER=/path/to/binary. Each test names the behaviour it protects.
#include "tests/conformance.hpp"

#include "common/net.hpp"
#include "tests/support/client.hpp"
#include "tests/support/crowd.hpp"
#include "tests/support/fragmenting_proxy.hpp"
#include "tests/support/proc.hpp"

#include <csignal>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <regex>
#include <sys/socket.h>
#include <thread>

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
    std::string payload = std::string("first line\r\nsecond\0line\n", 24) + pattern_bytes(300) +
                          "\nlast line without a newline";
    client.send(payload);
    client.shutdown_write();
    EXPECT_EQ(client.read_to_eof(15s), payload);
}

TEST_P(Conformance, EchoesPipelinedLinesCutAtRandomPlaces) {
    ServerProcess server = start_server(GetParam(), {"--quiet"});
    FragmentingProxy proxy(server.port(), {.max_segment = 700, .seed = 42});
    Client client = Client::connect(proxy.port());
    std::string lines;
    for (int i = 0; i < 300; ++i) lines += "pipelined line " + std::to_string(i) + " " + std::string(i % 50, '.') + "\n";
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

TEST_P(Conformance, SurvivesClientThatClosesWithoutReading) {
    ServerProcess server = start_server(GetParam(), {"--quiet"});
    for (int round = 0; round < 3; ++round) {
        Client rude = Client::connect(server.port());
        rude.send(pattern_bytes(1 << 20, round) + "\n");  // the echo will hit a closed socket: EPIPE
        rude.close();
    }
    Client next = Client::connect(server.port());
    next.expect_echo("did SIGPIPE kill you?\n");
    EXPECT_TRUE(server.running()) << server.stderr_text();
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
