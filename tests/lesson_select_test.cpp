// tests/lesson_select_test.cpp — 04-select: the conformance suite, the event-loop suite, and what
// makes 04 04: select() cannot watch a descriptor >= FD_SETSIZE, so such clients are refused cleanly.
// Then issue #9's hardening: slow clients, --idle-timeout, the SIGUSR1 stats line.
#include "tests/conformance.hpp"
#include "tests/event_loop_suite.hpp"
#include "tests/exercise.hpp"
#include "tests/hardening.hpp"
#include "tests/support/client.hpp"
#include "tests/support/crowd.hpp"
#include "tests/support/hardening.hpp"
#include "tests/support/proc.hpp"
#include "tests/support/stats_lines.hpp"

#include <sys/select.h>

namespace cs::test {
namespace {

ServerSpec select_server() { return {.name = "select", .binary = ECHO_SERVER_DEFAULT}; }

INSTANTIATE_TEST_SUITE_P(Lesson, Conformance, testing::Values(select_server()), spec_name);
INSTANTIATE_TEST_SUITE_P(Lesson, EventLoop, testing::Values(select_server()), spec_name);

// [slide:test-fd-setsize]
TEST(Select, ElevenHundredClientsAtOnceServeAThousandAndRefuseTheRestCleanly) {
    constexpr int kClients = 1100;
    if (!event_loop::raise_own_nofile(kClients + 64)) GTEST_SKIP() << "ulimit -Hn is below " << kClients + 64;
    // 4096 descriptors: the kernel hands out fds past FD_SETSIZE, which select() must never FD_SET.
    ServerProcess server = start_server(select_server(), {}, rlim_t{4096});
    CrowdResult crowd = run_crowd(server.port(), {.clients = kClients, .deadline = 30s});
    std::cout << "[ measure  ] " << crowd.echoed << " of " << kClients << " echoed, " << crowd.failed << " refused\n";
    EXPECT_GE(crowd.echoed, 1000);
    EXPECT_GT(crowd.failed, 0) << "more than FD_SETSIZE clients were served at once?";
    EXPECT_EQ(crowd.first_error.find("unfinished"), std::string::npos)
        << "refused clients must be closed, not left hanging: " << crowd.first_error;
    ASSERT_TRUE(server.running()) << server.stderr_text().substr(0, 4000);
    EXPECT_TRUE(server.wait_for_stderr(fmt::format(">= FD_SETSIZE ({})", FD_SETSIZE), 1s));

    // Once the crowd is gone, the low descriptor numbers are free again: new clients are served.
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (open_fd_count(server.pid()) > 16 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
    }
    Client after = Client::connect(server.port());
    after.expect_echo("served after the crowd left\n");
}
// [/slide]

// Seed 001's claim, measured: a loop that polls instead of sleeping in select() burns a core even
// when every client is idle; the same server sleeping in select() uses nothing.
TEST(Select, BusyPollBurnsACoreWithIdleClientsWhereSelectSleeps) {
    for (bool busy : {false, true}) {
        ServerProcess server =
            start_server(select_server(), busy ? std::vector<std::string>{"--busy-poll"} : std::vector<std::string>{});
        std::vector<Client> idle;
        for (int i = 0; i < 10; ++i) {
            idle.push_back(Client::connect(server.port()));
            idle.back().expect_echo("then silence\n");
        }
        double share = cpu_share_over(server.pid(), 1s);
        if (busy) {
            EXPECT_GT(share, 0.5) << "--busy-poll: a loop that never sleeps should use most of a core";
        } else {
            EXPECT_LT(share, 0.05) << "sleeping in select() with idle clients should cost nothing";
        }
    }
}

TEST(Select, OutCapOptionIsAcceptedAndListedInHelp) {
    RunResult help = run_to_exit(resolved(select_server()).binary, {"--help"});
    EXPECT_NE(help.out.find("--out-cap"), std::string::npos) << help.out;
    EXPECT_NE(help.out.find("--max-conns"), std::string::npos) << help.out;
    EXPECT_NE(help.out.find("--idle-timeout"), std::string::npos) << help.out;
    ServerProcess server = start_server(select_server(), {"--out-cap", "4096"});
    Client client = Client::connect(server.port());
    std::string big = pattern_bytes(1 << 20, 9) + "\n";
    EXPECT_TRUE(echo_large(client, big, 10s) == big);
}

// ---- hardening (issue #9) -------------------------------------------------------------------

TEST(Select, FiveHundredSlowClientsDelayNoOne) { hardening::expect_slow_clients_delay_no_one(select_server()); }

TEST(Select, IdleTimeoutClosesSilentClientsOnly) { hardening::expect_idle_clients_closed(select_server()); }

TEST(Select, IdleTimeoutZeroNeverCloses) { hardening::expect_idle_timeout_zero_never_closes(select_server()); }

TEST(Select, BadIdleTimeoutsExitTwo) { hardening::expect_bad_idle_timeouts_exit_two(select_server()); }

TEST(Select, SigusrOnePrintsOpenAndAcceptedCounts) {
    ServerProcess server = start_server(select_server());
    std::vector<Client> held = hardening::one_gone_then_held(server, 3);
    std::vector<StatsLine> stats = request_stats(server);
    ASSERT_EQ(stats.size(), 1u) << server.stderr_text();
    EXPECT_EQ(stats[0].pid, server.pid());
    EXPECT_EQ(stats[0].at("open"), 3u);
    EXPECT_EQ(stats[0].at("accepted"), 4u);
    for (auto& client : held) client.expect_echo("and nothing else changed\n");
}

// The README's exercises (tests/exercise.hpp): each runs once the server offers the exercise's option.
TEST(Exercise, Select1ReservedFdAnswersEveryClientWhenOutOfDescriptors) {
    SKIP_UNTIL_THE_EXERCISE_ADDS(select_server(), "--reserve-fd");
    exercise::expect_every_client_answered_out_of_descriptors(select_server(), {"--reserve-fd"});
}

TEST(Exercise, Select3PollServesEveryClientPastFdSetsize) {
    SKIP_UNTIL_THE_EXERCISE_ADDS(select_server(), "--poll");
    constexpr int kClients = 1100;
    if (!event_loop::raise_own_nofile(kClients + 64)) GTEST_SKIP() << "ulimit -Hn is below " << kClients + 64;
    ServerProcess server = start_server(select_server(), {"--poll", "--max-conns", "2000"}, rlim_t{4096});
    CrowdResult crowd = run_crowd(server.port(), {.clients = kClients, .deadline = 30s});
    EXPECT_EQ(crowd.echoed, kClients) << "poll() has no FD_SETSIZE: every client should be served ("
                                      << crowd.first_error << ")";
}

TEST(Exercise, Select4PselectNeedsNoPipeAndStillStopsAndReports) {
    SKIP_UNTIL_THE_EXERCISE_ADDS(select_server(), "--pselect");
    ServerProcess server = start_server(select_server(), {"--pselect"});
    std::vector<Client> clients;
    for (int i = 0; i < 3; ++i) {
        clients.push_back(Client::connect(server.port()));
        clients.back().expect_echo("held\n");
    }
    EXPECT_EQ(pipes_from_fd_three(server.pid()), 0) << "pselect() replaces the self-pipe";
    std::vector<StatsLine> lines = request_stats(server);
    ASSERT_EQ(lines.size(), 1u) << "SIGUSR1 must still print one stats line\n" << server.stderr_text();
    EXPECT_EQ(lines[0].at("open"), 3u);
    server.signal(SIGTERM);
    auto status = server.wait_exit(1s);
    ASSERT_TRUE(status.has_value()) << "SIGTERM must still stop the loop at once";
    EXPECT_EQ(status->code, 0) << status->describe();
}

}  // namespace
}  // namespace cs::test
