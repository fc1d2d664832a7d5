// tests/lesson_epoll_test.cpp — 05-epoll-pool: the conformance and event-loop suites, level- and
// edge-triggered and with two loops; then what makes 05 05: thousands of connections at little
// memory each, RLIMIT_NOFILE raised at start-up, one event loop per thread. Then issue #9's
// hardening: slow clients, --idle-timeout in every loop, the SIGUSR1 stats line per loop.
#include "common/net.hpp"
#include "tests/conformance.hpp"
#include "tests/event_loop_suite.hpp"
#include "tests/exercise.hpp"
#include "tests/hardening.hpp"
#include "tests/support/client.hpp"
#include "tests/support/crowd.hpp"
#include "tests/support/hardening.hpp"
#include "tests/support/proc.hpp"
#include "tests/support/stats_lines.hpp"

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sys/resource.h>

namespace cs::test {
namespace {

ServerSpec epoll_server(std::string name = "epoll", std::vector<std::string> args = {}) {
    return {.name = std::move(name), .binary = ECHO_SERVER_DEFAULT, .args = std::move(args), .threads = true};
}

const auto kVariants = testing::Values(epoll_server(), epoll_server("epoll_threads2", {"--threads", "2"}),
                                       epoll_server("epoll_edge", {"--edge"}));
INSTANTIATE_TEST_SUITE_P(Lesson, Conformance, kVariants, spec_name);
INSTANTIATE_TEST_SUITE_P(Lesson, EventLoop, kVariants, spec_name);

// Threads of `pid` whose name (/proc/<pid>/task/<tid>/comm) starts with `prefix`. Counting by
// name, because sanitizers add threads of their own.
int threads_named(pid_t pid, const std::string& prefix) {
    int count = 0;
    std::error_code error;
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", error)) {
        std::ifstream comm(task.path() / "comm");
        std::string name;
        if (std::getline(comm, name) && name.rfind(prefix, 0) == 0) ++count;
    }
    return count;
}

// "Max open files  20000  20000  files" from /proc/<pid>/limits: the soft limit.
long soft_nofile_of(pid_t pid) {
    std::ifstream limits("/proc/" + std::to_string(pid) + "/limits");
    for (std::string line; std::getline(limits, line);) {
        if (line.rfind("Max open files", 0) == 0) return std::stol(line.substr(std::string("Max open files").size()));
    }
    return -1;
}

// [slide:test-five-thousand]
TEST(Epoll, FiveThousandClientsHeldOpenAreAllEchoedAtLittleMemoryEach) {
    constexpr int kClients = 5000;
    if (!event_loop::raise_own_nofile(kClients + 64)) GTEST_SKIP() << "ulimit -Hn is below " << kClients + 64;
    if (event_loop::own_hard_nofile() < kClients + 64) GTEST_SKIP() << "the server inherits too low a hard limit";
    ServerProcess server = start_server(epoll_server(), {"--quiet"});
    long rss_before = rss_kib(server.pid());
    long rss_held = 0;
    CrowdResult crowd =
        run_crowd(server.port(),
                  {.clients = kClients, .deadline = 60s, .while_all_held = [&] { rss_held = rss_kib(server.pid()); }});
    EXPECT_TRUE(crowd.all_echoed()) << crowd.echoed << "/" << crowd.clients << ": " << crowd.first_error;
    double per_connection = static_cast<double>(rss_held - rss_before) * 1024 / kClients;
    std::cout << "[ measure  ] server RSS " << rss_before << " KiB idle, " << rss_held << " KiB with " << kClients
              << " connections: " << per_connection << " bytes per connection\n";
    EXPECT_LT(per_connection, 16 * 1024) << "idle connections should not each hold a buffer";
}
// [/slide]

TEST(Epoll, RaisesItsDescriptorLimitToTheHardLimitAndSaysSo) {
    rlimit own{};
    ::getrlimit(RLIMIT_NOFILE, &own);
    if (own.rlim_max <= 256) GTEST_SKIP() << "the hard limit is too low to see a raise";
    rlimit lowered{256, own.rlim_max};
    ::setrlimit(RLIMIT_NOFILE, &lowered);  // the server inherits soft 256, hard unchanged
    std::optional<ServerProcess> server;
    try {
        server.emplace(start_server(epoll_server()));
    } catch (...) {
        ::setrlimit(RLIMIT_NOFILE, &own);
        throw;
    }
    ::setrlimit(RLIMIT_NOFILE, &own);
    EXPECT_EQ(soft_nofile_of(server->pid()), static_cast<long>(own.rlim_max));
    EXPECT_TRUE(server->wait_for_stderr(fmt::format("raised RLIMIT_NOFILE from 256 to {}", own.rlim_max), 1s))
        << server->stderr_text();
}

TEST(Epoll, ThreadsOptionRunsOneLoopPerThreadAndBothServe) {
    ServerProcess server = start_server(epoll_server(), {"--threads", "2"});
    EXPECT_EQ(threads_named(server.pid(), "epoll-loop-"), 2) << "one thread per loop";
    CrowdResult crowd = run_crowd(server.port(), {.clients = 40, .deadline = 10s});
    ASSERT_TRUE(crowd.all_echoed()) << crowd.first_error;
    // "[05-epoll-pool PID:TID] 127.0.0.1:PORT connected (fd N)": which threads accepted clients?
    // Every line was written before its client got an echo, but the test's drain thread may not
    // have read them all yet: wait (bounded) until the 40 are there.
    std::set<std::string> loop_tids;
    std::string text;
    std::regex connected(R"(\[05-epoll-pool [0-9]+:([0-9]+)\] [^ ]+ connected)");
    for (auto until = std::chrono::steady_clock::now() + 2s; std::chrono::steady_clock::now() < until;) {
        text = server.stderr_text();
        auto lines = std::sregex_iterator(text.begin(), text.end(), connected);
        if (std::distance(lines, std::sregex_iterator()) >= 40) break;
        std::this_thread::sleep_for(5ms);
    }
    for (auto it = std::sregex_iterator(text.begin(), text.end(), connected); it != std::sregex_iterator(); ++it) {
        loop_tids.insert((*it)[1]);
    }
    EXPECT_EQ(loop_tids.size(), 2u) << "SO_REUSEPORT should spread 40 clients over both loops:\n" << text;
}

TEST(Epoll, SecondServerOnTheSamePortFailsWithOneLoop) {
    ServerProcess first = start_server(epoll_server());
    RunResult second = run_to_exit(resolved(epoll_server()).binary, {"--port", std::to_string(first.port())});
    EXPECT_EQ(second.status.code, 1) << second.status.describe() << "\n" << second.err;
    EXPECT_NE(second.err.find("Address already in use"), std::string::npos) << second.err;
}

TEST(Epoll, OptionsAreListedInHelp) {
    RunResult help = run_to_exit(resolved(epoll_server()).binary, {"--help"});
    for (const char* option : {"--threads", "--edge", "--out-cap", "--max-conns", "--idle-timeout"}) {
        EXPECT_NE(help.out.find(option), std::string::npos) << option << " missing from:\n" << help.out;
    }
    RunResult bad = run_to_exit(resolved(epoll_server()).binary, {"--threads", "0"});
    EXPECT_EQ(bad.status.code, 2) << bad.status.describe();
}

// ---- hardening (issue #9) -------------------------------------------------------------------

TEST(Epoll, FiveHundredSlowClientsDelayNoOne) { hardening::expect_slow_clients_delay_no_one(epoll_server()); }

TEST(Epoll, FiveHundredSlowClientsDelayNoOneWithTwoEdgeTriggeredLoops) {
    hardening::expect_slow_clients_delay_no_one(epoll_server(), {"--threads", "2", "--edge"});
}

// Each loop keeps its own activity list: with two loops, the idle clients land on both (the
// SO_REUSEPORT hash), and each loop must close its own.
class EpollIdle : public testing::TestWithParam<ServerSpec> {};

TEST_P(EpollIdle, IdleTimeoutClosesSilentClientsOnly) { hardening::expect_idle_clients_closed(GetParam(), {}, 6); }

INSTANTIATE_TEST_SUITE_P(Loops, EpollIdle,
                         testing::Values(epoll_server("level"), epoll_server("edge", {"--edge"}),
                                         epoll_server("level_threads2", {"--threads", "2"}),
                                         epoll_server("edge_threads2", {"--threads", "2", "--edge"})),
                         spec_name);

TEST(Epoll, IdleTimeoutZeroNeverCloses) { hardening::expect_idle_timeout_zero_never_closes(epoll_server()); }

TEST(Epoll, BadIdleTimeoutsExitTwo) { hardening::expect_bad_idle_timeouts_exit_two(epoll_server()); }

TEST(Epoll, SigusrOnePrintsTotalsAndEachLoopsShare) {
    ServerProcess server = start_server(epoll_server(), {"--threads", "2"});
    std::vector<Client> held = hardening::one_gone_then_held(server, 6);
    std::vector<StatsLine> stats = request_stats(server);
    ASSERT_EQ(stats.size(), 1u) << "one line, printed by main(), for all the loops\n" << server.stderr_text();
    const StatsLine& line = stats[0];
    EXPECT_EQ(line.at("open"), 6u);
    EXPECT_EQ(line.at("accepted"), 7u);
    EXPECT_EQ(line.at("loop 0 open") + line.at("loop 1 open"), 6u);
    EXPECT_EQ(line.at("loop 0 accepted") + line.at("loop 1 accepted"), 7u);
    for (auto& client : held) client.expect_echo("and nothing else changed\n");
}

}  // namespace
}  // namespace cs::test

// ---- edge-triggered: read until EAGAIN (the grader's test for tests/broken/epoll_et_no_drain.cpp) ----
namespace cs::test {
namespace {

// Edge-triggered, epoll reports new bytes once, when they arrive, and not again while they wait.
// A loop that does one read() per report and then waits for the next one strands the rest until
// the client sends more, and this client sends nothing more: one burst of four times the
// reference's 64 KiB read budget, then it only reads.
TEST(Epoll, EdgeTriggeredEchoesABurstLargerThanOneReadWithNothingSentAfterIt) {
    ServerProcess server = start_server(epoll_server(), {"--edge", "--quiet"});
    Client client = Client::connect(server.port());
    const std::string burst = pattern_bytes(256 * 1024, 21);
    try {
        std::string echo = echo_large(client, burst, 5s);
        EXPECT_TRUE(echo == burst) << "256 KiB came back with different bytes";
    } catch (const std::exception& error) {
        ADD_FAILURE() << "the echo stopped short (" << error.what() << "): with --edge, read each ready "
                      << "connection until read() says EAGAIN, or remember to read it again";
    }
}

// The README's exercises (tests/exercise.hpp): each runs once the server offers the exercise's option.
TEST(Exercise, Epoll2OneAcceptorHandsClientsToEveryLoop) {
    SKIP_UNTIL_THE_EXERCISE_ADDS(epoll_server(), "--acceptor");
    ServerProcess server = start_server(epoll_server(), {"--threads", "2", "--acceptor"});
    std::vector<Client> clients;
    for (int i = 0; i < 40; ++i) {
        clients.push_back(Client::connect(server.port()));
        clients.back().expect_echo("held " + std::to_string(i) + "\n");
    }
    EXPECT_EQ(listening_sockets(server.pid()), 1) << "one acceptor: one listening socket, no SO_REUSEPORT group";
    std::vector<StatsLine> lines = request_stats(server);
    ASSERT_EQ(lines.size(), 1u) << server.stderr_text();
    EXPECT_GT(lines[0].at("loop 0 open"), 0u) << "the acceptor hands clients to every loop";
    EXPECT_GT(lines[0].at("loop 1 open"), 0u) << "the acceptor hands clients to every loop";
}

TEST(Exercise, Epoll3ReservedFdAnswersEveryClientWithTwoLoops) {
    SKIP_UNTIL_THE_EXERCISE_ADDS(epoll_server(), "--reserve-fd");
    exercise::expect_every_client_answered_out_of_descriptors(epoll_server(), {"--reserve-fd", "--threads", "2"});
}

TEST(Exercise, Epoll4SendTimeoutClosesAStuckEchoButNotASilentClient) {
    SKIP_UNTIL_THE_EXERCISE_ADDS(epoll_server(), "--send-timeout");
    ServerProcess server = start_server(epoll_server(), {"--send-timeout", "1", "--idle-timeout", "60"});
    Client silent = Client::connect(server.port());
    silent.expect_echo("then silence\n");
    Client stuck = Client::connect_with_receive_buffer(server.port(), 4096);
    stuck.send_within(std::string(std::size_t{4} << 20, 'x'), 2s);  // never reads: its echo stops moving
    bool closed = false;
    for (auto deadline = std::chrono::steady_clock::now() + 5s;
         !closed && std::chrono::steady_clock::now() < deadline;) {
        std::vector<StatsLine> lines = request_stats(server);
        closed = !lines.empty() && lines.back().at("open") == 1;
    }
    EXPECT_TRUE(closed) << "a pending echo that makes no progress for 1 s closes its connection\n"
                        << server.stderr_text().substr(0, 2000);
    silent.expect_echo("still here\n");  // silence is --idle-timeout's business (60 s)
}

TEST(Exercise, Epoll5ArmedEpolloutInEdgeModeNeitherSpinsNorLosesBytes) {
    SKIP_UNTIL_THE_EXERCISE_ADDS(epoll_server(), "--always-out");
    ServerProcess server = start_server(epoll_server(), {"--edge", "--always-out"});
    std::vector<Client> idle;
    for (int i = 0; i < 10; ++i) {
        idle.push_back(Client::connect(server.port()));
        idle.back().expect_echo("then silence\n");
    }
    EXPECT_LT(cpu_share_over(server.pid(), 1s), 0.05) << "an armed EPOLLOUT must not wake an edge-triggered loop";
    Client bulk = Client::connect(server.port());
    std::string payload = pattern_bytes(std::size_t{4} << 20);
    EXPECT_EQ(echo_large(bulk, payload, 10s), payload) << "every byte back, though no epoll_ctl(MOD) ever ran";
}

}  // namespace
}  // namespace cs::test
