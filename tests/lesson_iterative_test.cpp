// tests/lesson_iterative_test.cpp — 01-iterative: the conformance suite, and what makes 01 01:
// one client at a time, the next one waiting in the listen backlog (and what an idle timeout and
// a stats request look like when there is only one place), and the SO_REUSEADDR experiment.
#include "tests/conformance.hpp"
#include "tests/support/client.hpp"
#include "tests/support/hardening.hpp"

#include <csignal>
#include <fstream>
#include <sstream>
#include <string>

namespace cs::test {
namespace {

ServerSpec iterative() { return {.name = "iterative", .binary = ECHO_SERVER_DEFAULT, .concurrent = false}; }

INSTANTIATE_TEST_SUITE_P(Lesson, Conformance, testing::Values(iterative()), spec_name);

TEST(Iterative, SecondClientWaitsWhileFirstIsConnectedAndIsServedRightAfter) {
    ServerProcess server = start_server(iterative());
    Client first = Client::connect(server.port());
    first.expect_echo("first\n");

    // connect() succeeds: the kernel completes the handshake and queues us in the backlog.
    Client second = Client::connect(server.port());
    second.send("second\n");
    EXPECT_FALSE(second.readable_within(300ms)) << "an iterative server must not serve two clients at once";

    first.close();
    EXPECT_EQ(second.read_exact(7, 2s), "second\n");
}

TEST(Iterative, ServesClientsQueuedInTheBacklogInOrder) {
    ServerProcess server = start_server(iterative(), {"--quiet"});
    Client first = Client::connect(server.port());
    first.expect_echo("hold\n");
    std::vector<Client> queued;
    for (int i = 0; i < 5; ++i) {
        queued.push_back(Client::connect(server.port()));
        queued.back().send("queued " + std::to_string(i) + "\n");
    }
    first.close();
    for (int i = 0; i < 5; ++i) {
        std::string expected = "queued " + std::to_string(i) + "\n";
        EXPECT_EQ(queued[i].read_exact(expected.size(), 2s), expected);
        queued[i].close();  // the next one is served only now
    }
}

// One silent client holds 01 for the whole idle timeout, then the next one is served.
TEST(Iterative, IdleTimeoutFreesTheServerFromASilentClient) {
    ServerProcess server = start_server(iterative(), {"--idle-timeout", "1"});
    Client silent = Client::connect(server.port());
    silent.expect_echo("connected, then silent\n");
    Client waiting = Client::connect(server.port());
    waiting.send("my turn?\n");
    EXPECT_FALSE(waiting.readable_within(300ms)) << "01 serves one client at a time";
    EXPECT_EQ(waiting.read_exact(9, 3s), "my turn?\n") << "served once the silent one was closed";
    EXPECT_EQ(silent.read_to_eof(1s), "");
    EXPECT_TRUE(server.wait_for_stderr("idle for 1 s in read()", 1s)) << server.stderr_text();
}

TEST(Iterative, IdleTimeoutClosesASilentClientButNotASlowOne) {
    expect_idle_client_closed_but_not_a_slow_one(iterative());
}

TEST(Iterative, IdleTimeoutZeroNeverCloses) { expect_idle_timeout_zero_never_closes(iterative()); }

TEST(Iterative, IdleTimeoutClosesAClientThatStopsReading) { expect_client_that_stops_reading_is_closed(iterative()); }

TEST(Iterative, BadIdleTimeoutIsAUsageError) { expect_bad_idle_timeout_is_a_usage_error(iterative()); }

// While 01 serves a client it sits in that client's read() (which retries the EINTR): the stats
// line comes when that client has left, like everything else in 01.
TEST(Iterative, StatsLineWaitsUntilTheClientBeingServedLeaves) {
    ServerProcess server = start_server(iterative(), {"--quiet"});
    ASSERT_TRUE(stats_line_shows(server, "stats: 0 open, 0 accepted")) << server.stderr_text();
    Client client = Client::connect(server.port());
    client.expect_echo("busy\n");
    server.signal(SIGUSR1);
    EXPECT_FALSE(server.wait_for_stderr("1 accepted", 300ms)) << "01 is busy with its client";
    client.expect_echo("a signal changes nothing for me\n");
    client.close();
    EXPECT_TRUE(server.wait_for_stderr("stats: 0 open, 1 accepted", 2s)) << server.stderr_text();
}

// ---- SO_REUSEADDR and TIME_WAIT (the README's experiment) ---------------------------------

bool time_wait_on(std::uint16_t port) {  // a line of /proc/net/tcp: local port `port`, state 06
    std::ifstream table("/proc/net/tcp");
    std::string line, slot, local, remote, state;
    std::getline(table, line);  // the header
    while (std::getline(table, line)) {
        std::istringstream(line) >> slot >> local >> remote >> state;
        if (std::stoul(local.substr(local.find(':') + 1), nullptr, 16) == port && state == "06") return true;
    }
    return false;
}

TEST(Iterative, RestartWithoutReuseaddrFailsWhileTheOldConnectionIsInTimeWait) {
    if (!offers_option(iterative(), "--no-reuseaddr")) GTEST_SKIP() << "the server has no --no-reuseaddr";
    std::uint16_t port = 0;
    {
        ServerProcess server = start_server(iterative());
        port = server.port();
        Client client = Client::connect(port);
        client.expect_echo("hi\n");
        server.signal(SIGTERM);  // the server closes first: its side of the connection gets TIME_WAIT
        ASSERT_TRUE(server.wait_exit(3s)) << server.stderr_text();
        EXPECT_EQ(client.read_to_eof(2s), "");
    }  // the client closes too, and the server's side is now in TIME_WAIT
    ASSERT_TRUE(time_wait_on(port)) << "no TIME_WAIT connection on port " << port;
    std::string binary = resolved(iterative()).binary;
    RunResult refused = run_to_exit(binary, {"--port", std::to_string(port), "--no-reuseaddr"});
    EXPECT_EQ(refused.status.code, 1) << refused.status.describe() << "\n" << refused.err;
    EXPECT_NE(refused.err.find("Address already in use"), std::string::npos) << refused.err;
    ServerProcess again = ServerProcess::start({.binary = binary, .args = {"--port", std::to_string(port)}});
    EXPECT_EQ(again.port(), port) << "SO_REUSEADDR: the restart binds although TIME_WAIT is still there";
}

}  // namespace
}  // namespace cs::test
