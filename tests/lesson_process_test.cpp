// tests/lesson_process_test.cpp — 02-process: the conformance suite, and what makes 02 02:
// a child process per client, every child reaped (no zombie, no orphan), and a cap on children.
#include "tests/conformance.hpp"

#include "common/net.hpp"
#include "tests/per_client.hpp"
#include "tests/support/client.hpp"
#include "tests/support/crowd.hpp"
#include "tests/support/hardening.hpp"
#include "tests/support/proc.hpp"

#include <atomic>
#include <csignal>
#include <thread>
#include <vector>

namespace cs::test {
namespace {

ServerSpec process_server() { return {.name = "process", .binary = ECHO_SERVER_DEFAULT, .concurrent = true}; }

INSTANTIATE_TEST_SUITE_P(Lesson, Conformance, testing::Values(process_server()), spec_name);

bool no_children_left(pid_t server) { return zombie_children(server) == 0 && live_children(server) == 0; }

TEST(Process, FiftyClientsHeldAtOnceAreFiftyLiveChildren) {
    ServerProcess server = start_server(process_server(), {"--quiet"});
    int live_while_held = -1;
    CrowdResult crowd = run_crowd(server.port(), {.clients = 50, .deadline = 15s, .while_all_held = [&] {
                                                      live_while_held = live_children(server.pid());
                                                  }});
    EXPECT_TRUE(crowd.all_echoed()) << crowd.echoed << "/" << crowd.clients << ": " << crowd.first_error;
    EXPECT_GE(live_while_held, 50) << "one child per connected client";
}

TEST(Process, ThreeRoundsOfOneHundredFiftySimultaneousClientsLeaveNoZombieAndNoDescriptor) {
    ServerProcess server = start_server(process_server(), {"--quiet"});
    echo_and_close(server.port(), "warm-up\n");
    ASSERT_TRUE(eventually([&] { return no_children_left(server.pid()); }));
    int baseline_fds = tree_open_fd_count(server.pid());
    for (int round = 0; round < 3; ++round) {
        CrowdResult crowd = run_crowd(server.port(), {.clients = 150, .deadline = 20s});
        EXPECT_EQ(crowd.failed, 0) << "round " << round << ": " << crowd.first_error;
        EXPECT_TRUE(crowd.all_echoed()) << "round " << round << ": " << crowd.echoed << "/" << crowd.clients;
    }
    EXPECT_TRUE(eventually([&] { return no_children_left(server.pid()); }))
        << zombie_children(server.pid()) << " zombies, " << live_children(server.pid()) << " live children";
    EXPECT_TRUE(eventually([&] { return tree_open_fd_count(server.pid()) <= baseline_fds; }))
        << "descriptors grew from " << baseline_fds << " to " << tree_open_fd_count(server.pid());
}

TEST(Process, TwoHundredShortConnectionsLeaveNoChildAfterOneSecond) {
    ServerProcess server = start_server(process_server(), {"--quiet"});
    for (int i = 0; i < 200; ++i) echo_and_close(server.port(), "short " + std::to_string(i) + "\n");
    EXPECT_TRUE(eventually([&] { return no_children_left(server.pid()); }, 1s))
        << zombie_children(server.pid()) << " zombies, " << live_children(server.pid()) << " live children";
}

TEST(Process, StormOfExitingChildrenFailsNoConnectionOfAnotherClient) {
    ServerProcess server = start_server(process_server(), {"--quiet"});
    std::atomic<bool> storming{true};
    std::atomic<int> served{0};
    std::string first_failure;
    std::thread prober([&] {  // connects, echoes and closes, again and again, during the storms
        while (storming) {
            try {
                Client client = Client::connect(server.port());
                client.expect_echo("through the storm\n", 2s);
                ++served;
            } catch (const std::exception& error) {
                if (first_failure.empty()) first_failure = error.what();
                storming = false;
            }
        }
    });
    for (int round = 0; round < 5; ++round) {
        // All 100 close together when the crowd ends: 100 children exit at once, and their
        // SIGCHLDs coalesce while the parent is accepting the prober's connections.
        CrowdResult crowd = run_crowd(server.port(), {.clients = 100, .deadline = 15s});
        EXPECT_TRUE(crowd.all_echoed()) << "round " << round << ": " << crowd.first_error;
    }
    storming = false;
    prober.join();
    EXPECT_TRUE(first_failure.empty()) << "a connection failed during the storm: " << first_failure;
    EXPECT_GT(served.load(), 0);
    EXPECT_TRUE(eventually([&] { return no_children_left(server.pid()); }))
        << zombie_children(server.pid()) << " zombies left after the storm";
}

TEST(Process, PartialLineClientDoesNotDelayAnotherClientByMoreThan100ms) {
    expect_silent_partial_line_delays_no_one(process_server());
}

TEST(Process, NonReadingClientSendingSixtyFourMiBBlocksOnlyItsOwnChild) {
    expect_non_reader_blocks_only_itself(process_server());
}

TEST(Process, LogsTheChildPidOnEachConnectionLine) {
    ServerProcess server = start_server(process_server());
    Client client = Client::connect(server.port());
    client.expect_echo("whose pid?\n");
    std::vector<ProcessInfo> children = children_of(server.pid());
    ASSERT_EQ(children.size(), 1u);
    std::string needle =
        fmt::format("[02-process {}] 127.0.0.1:{} connected", children[0].pid, local_port(client.fd()));
    EXPECT_TRUE(server.wait_for_stderr(needle, 2s)) << "expected '" << needle << "' in:\n" << server.stderr_text();
    client.close();
    EXPECT_TRUE(server.wait_for_stderr(fmt::format("reaped child {} (exit 0)", children[0].pid), 2s))
        << server.stderr_text();
}

TEST(Process, OverTheCapANewClientIsClosedAndTheServerGoesOn) {
    // The client sees its FIN when the child closes the socket, a moment before the child has
    // exited and been reaped; until then the child still counts against the cap.
    expect_cap_closes_only_the_extra_client(process_server(), [](ServerProcess& server) {
        return live_children(server.pid()) <= 1 && zombie_children(server.pid()) == 0;
    });
}

TEST(Process, NoReapLeavesZombiesThatExitStillCleansUp) {
    ServerProcess server = start_server(process_server(), {"--no-reap", "--quiet"});
    for (int i = 0; i < 5; ++i) echo_and_close(server.port(), "become a zombie\n");
    EXPECT_TRUE(eventually([&] { return zombie_children(server.pid()) == 5; }))
        << zombie_children(server.pid()) << " zombies: --no-reap should leave every ended child in state Z";
    server.signal(SIGTERM);
    auto status = server.wait_exit(2s);
    ASSERT_TRUE(status.has_value()) << "still running 2 s after SIGTERM";
    EXPECT_EQ(status->code, 0) << status->describe();
    EXPECT_EQ(::kill(-server.pid(), 0), -1) << "processes left in the server's group";
}

TEST(Process, SigtermWithTwentyConnectedClientsEndsEveryChild) {
    ServerProcess server = start_server(process_server(), {"--quiet"});
    std::vector<Client> clients;
    for (int i = 0; i < 20; ++i) {
        clients.push_back(Client::connect(server.port()));
        clients.back().expect_echo("held\n");
    }
    ASSERT_EQ(live_children(server.pid()), 20);
    server.signal(SIGTERM);
    auto status = server.wait_exit(2s);
    ASSERT_TRUE(status.has_value()) << "still running 2 s after SIGTERM";
    EXPECT_EQ(status->code, 0) << status->describe() << "\n" << server.stderr_text();
    EXPECT_TRUE(eventually([&] { return ::kill(-server.pid(), 0) == -1; }, 1s)) << "children outlived the parent";
    for (Client& client : clients) EXPECT_TRUE(client.readable_within(1s)) << "the client never saw its connection end";
}

TEST(Process, IdleTimeoutClosesASilentClientButNotASlowOne) {
    expect_idle_client_closed_but_not_a_slow_one(process_server());
}

TEST(Process, IdleTimeoutZeroNeverCloses) { expect_idle_timeout_zero_never_closes(process_server()); }

TEST(Process, IdleTimeoutClosesAClientThatStopsReading) {
    expect_client_that_stops_reading_is_closed(process_server());
}

TEST(Process, BadIdleTimeoutIsAUsageError) { expect_bad_idle_timeout_is_a_usage_error(process_server()); }

// Open counts the children not reaped yet; accepted, every connection since start.
TEST(Process, StatsLineCountsOpenAndAcceptedConnections) { expect_stats_line_counts(process_server()); }

// SIGUSR1 to the whole process group (kill -USR1 -PGID) reaches every child too. A child ignores
// it: the default action would end the child and drop its client.
TEST(Process, SigusrOneToTheWholeGroupEndsNoChild) {
    ServerProcess server = start_server(process_server());
    Client client = Client::connect(server.port());
    client.expect_echo("before the signals\n");
    for (int i = 0; i < 20; ++i) ::kill(-server.pid(), SIGUSR1);
    client.expect_echo("after the signals\n");
    EXPECT_EQ(live_children(server.pid()), 1);
    EXPECT_TRUE(stats_line_shows(server, "stats: 1 open, 1 accepted")) << server.stderr_text();
}

// Descriptors do not starve 02: the parent closes its copy of each connection after fork(), so it
// holds the listening socket and little else, and each child has a descriptor table of its own.
// With RLIMIT_NOFILE = 32, 02 serves 40 clients at once, more than one table of 32 could hold.
// What does run out is the cap: over --max-conns 40 the rest are refused at once (closed), not
// left waiting; nothing spins meanwhile; and once clients leave and their children are reaped,
// new clients are served. (The other limit, RLIMIT_NPROC, cannot be tested here: it does not
// apply to root, and the tests often run as root.)
TEST(Process, ThirtyTwoDescriptorsDoNotStarveTheParentAndTheCapRefusesTheRest) {
    ServerProcess server = start_server(process_server(), {"--quiet", "--max-conns", "40"}, 32);
    const std::string line = "one of sixty\n";
    std::vector<Client> clients = clients_that_sent(server.port(), 60, line);
    std::vector<bool> echoed = echoed_within(clients, line, 5s);
    for (int i = 0; i < 60; ++i) {
        if (i < 40) {
            EXPECT_TRUE(echoed[i]) << "client " << i << " is within the cap and should be served";
        } else {
            EXPECT_FALSE(echoed[i]) << "client " << i << " is over the cap";
            EXPECT_TRUE(clients[i].readable_within(1s)) << "client " << i << " should be closed, not left waiting";
        }
    }
    for (int i = 0; i < 40; ++i) clients[i].expect_echo("still served\n", 2s);
    double cpu = cpu_share_over(server.pid(), 2s);
    RecordProperty("cpu_percent", static_cast<int>(cpu * 100));
    EXPECT_LT(cpu, 0.2) << "the server and its children used " << cpu * 100 << " % of a core while idle";

    for (int i = 0; i < 10; ++i) clients[i].close();
    ASSERT_TRUE(eventually([&] { return live_children(server.pid()) <= 30 && zombie_children(server.pid()) == 0; }))
        << live_children(server.pid()) << " live children";
    for (int i = 0; i < 10; ++i) {
        Client newcomer = Client::connect(server.port());
        newcomer.expect_echo("room again\n", 2s);
    }
}

TEST(Process, SigtermEndsAStoppedChildToo) {
    ServerProcess server = start_server(process_server());
    Client client = Client::connect(server.port());
    client.expect_echo("about to be stopped\n");
    std::vector<ProcessInfo> children = children_of(server.pid());
    ASSERT_EQ(children.size(), 1u);
    ::kill(children[0].pid, SIGSTOP);  // a SIGTERM to a stopped process stays pending until SIGCONT
    ASSERT_TRUE(eventually([&] {
        auto now = children_of(server.pid());
        return !now.empty() && now[0].state == 'T';
    }));
    server.signal(SIGTERM);
    auto status = server.wait_exit(2s);
    ASSERT_TRUE(status.has_value()) << "still running 2 s after SIGTERM, waiting for a stopped child";
    EXPECT_EQ(status->code, 0) << status->describe();
}

}  // namespace
}  // namespace cs::test
