// tests/lesson_thread_test.cpp — 03-thread: the conformance suite, and what makes 03 03:
// a thread per client, every thread gone when its client leaves, a cap, and a prompt SIGTERM.
#include "tests/conformance.hpp"
#include "tests/exercise.hpp"

#include "common/net.hpp"
#include "tests/per_client.hpp"
#include "tests/support/client.hpp"
#include "tests/support/crowd.hpp"
#include "tests/support/hardening.hpp"
#include "tests/support/proc.hpp"
#include "tests/support/stats_lines.hpp"

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <regex>
#include <vector>

namespace cs::test {
namespace {

ServerSpec thread_server() {
    return {.name = "thread", .binary = ECHO_SERVER_DEFAULT, .concurrent = true, .threads = true};
}

// --pool N: the fixed pool of N threads fed by a queue of N sockets (pool.hpp). The conformance
// suite holds 20 clients at once, so its pool has room for them.
ServerSpec pool_server(int threads) {
    ServerSpec spec = thread_server();
    spec.name = "thread_pool";
    spec.args = {"--pool", std::to_string(threads)};
    spec.optional_feature = "--pool";
    return spec;
}

INSTANTIATE_TEST_SUITE_P(Lesson, Conformance, testing::Values(thread_server()), spec_name);
// Not "Lesson/": the rubric grades the contract with the lesson's own variant; --pool is optional.
INSTANTIATE_TEST_SUITE_P(Pool, Conformance, testing::Values(pool_server(32)), spec_name);

TEST(Thread, FiftyClientsHeldAtOnceAreFiftyExtraThreads) {
    ServerProcess server = start_server(thread_server(), {"--quiet"});
    echo_and_close(server.port(), "warm-up\n");
    int baseline = settled_thread_count(server.pid());
    int while_held = -1;
    CrowdResult crowd =
        run_crowd(server.port(),
                  {.clients = 50, .deadline = 15s, .while_all_held = [&] { while_held = thread_count(server.pid()); }});
    EXPECT_TRUE(crowd.all_echoed()) << crowd.echoed << "/" << crowd.clients << ": " << crowd.first_error;
    EXPECT_GE(while_held - baseline, 50) << "one thread per connected client (baseline " << baseline << ")";
}

TEST(Thread, ThreeRoundsOfOneHundredFiftySimultaneousClientsLeaveNoThreadAndNoDescriptor) {
    ServerProcess server = start_server(thread_server(), {"--quiet"});
    echo_and_close(server.port(), "warm-up\n");
    int baseline_threads = settled_thread_count(server.pid());
    int baseline_fds = open_fd_count(server.pid());
    for (int round = 0; round < 3; ++round) {
        CrowdResult crowd = run_crowd(server.port(), {.clients = 150, .deadline = 20s});
        EXPECT_EQ(crowd.failed, 0) << "round " << round << ": " << crowd.first_error;
        EXPECT_TRUE(crowd.all_echoed()) << "round " << round << ": " << crowd.echoed << "/" << crowd.clients;
    }
    EXPECT_TRUE(eventually([&] { return thread_count(server.pid()) <= baseline_threads; }))
        << "threads: baseline " << baseline_threads << ", now " << thread_count(server.pid());
    EXPECT_TRUE(eventually([&] { return open_fd_count(server.pid()) <= baseline_fds; }))
        << "descriptors grew from " << baseline_fds << " to " << open_fd_count(server.pid());
    EXPECT_EQ(zombie_children(server.pid()), 0);
}

TEST(Thread, ThreadCountReturnsToBaselineAfterTwoHundredConnections) {
    ServerProcess server = start_server(thread_server(), {"--quiet"});
    echo_and_close(server.port(), "warm-up\n");
    int baseline = settled_thread_count(server.pid());
    for (int i = 0; i < 200; ++i) echo_and_close(server.port(), "short " + std::to_string(i) + "\n");
    EXPECT_TRUE(eventually([&] { return thread_count(server.pid()) <= baseline; }, 1s))
        << "threads: baseline " << baseline << ", now " << thread_count(server.pid());
}

TEST(Thread, PartialLineClientDoesNotDelayAnotherClientByMoreThan100ms) {
    expect_silent_partial_line_delays_no_one(thread_server());
}

TEST(Thread, NonReadingClientSendingSixtyFourMiBBlocksOnlyItsOwnThread) {
    expect_non_reader_blocks_only_itself(thread_server());
}

TEST(Thread, LogsPidAndTheWorkerThreadId) {
    ServerProcess server = start_server(thread_server());
    Client client = Client::connect(server.port());
    client.expect_echo("which thread?\n");
    std::string pattern =
        fmt::format(R"(\[03-thread {}:([0-9]+)\] 127\.0\.0\.1:{} connected)", server.pid(), local_port(client.fd()));
    ASSERT_TRUE(eventually([&] { return std::regex_search(server.stderr_text(), std::regex(pattern)); }, 2s))
        << "expected /" << pattern << "/ in:\n"
        << server.stderr_text();
    std::smatch match;
    std::string log = server.stderr_text();
    std::regex_search(log, match, std::regex(pattern));
    EXPECT_NE(std::stoi(match[1].str()), server.pid()) << "the client should be served on a thread of its own";
}

TEST(Thread, OverTheCapANewClientIsClosedAndTheServerGoesOn) {
    expect_cap_closes_only_the_extra_client(thread_server());
}

TEST(Thread, SmallerStackOptionStillServesAndBadSizeIsAUsageError) {
    // 1 MiB, an eighth of the usual default: TSan's runtime refuses thread stacks below about that.
    ServerProcess server = start_server(thread_server(), {"--stack-kib", "1024", "--quiet"});
    CrowdResult crowd = run_crowd(server.port(), {.clients = 20, .deadline = 10s});
    EXPECT_TRUE(crowd.all_echoed()) << crowd.first_error;
    RunResult run = run_to_exit(resolved(thread_server()).binary, {"--stack-kib", "8"});
    EXPECT_EQ(run.status.code, 2) << run.status.describe() << "\n" << run.err;
}

TEST(Thread, IdleTimeoutClosesASilentClientButNotASlowOne) {
    expect_idle_client_closed_but_not_a_slow_one(thread_server());
}

TEST(Thread, IdleTimeoutZeroNeverCloses) { expect_idle_timeout_zero_never_closes(thread_server()); }

TEST(Thread, IdleTimeoutClosesAClientThatStopsReading) { expect_client_that_stops_reading_is_closed(thread_server()); }

TEST(Thread, BadIdleTimeoutIsAUsageError) { expect_bad_idle_timeout_is_a_usage_error(thread_server()); }

TEST(Thread, StatsLineCountsOpenAndAcceptedConnections) { expect_stats_line_counts(thread_server()); }

// Which thread takes a signal sent to the process? Any one that does not block it. The workers
// block SIGINT, SIGTERM and SIGUSR1 from birth, so it is always the accept thread (tid == pid),
// whose accept() the signal must interrupt. Read from /proc, thread by thread.
TEST(Thread, WorkersBlockTheSignalsSoTheAcceptThreadTakesThem) {
    ServerProcess server = start_server(thread_server(), {"--quiet"});
    std::vector<Client> clients;
    for (int i = 0; i < 3; ++i) {
        clients.push_back(Client::connect(server.port()));
        clients.back().expect_echo("held\n");
    }
    const std::uint64_t signals = (1ull << (SIGINT - 1)) | (1ull << (SIGTERM - 1)) | (1ull << (SIGUSR1 - 1));
    int blocking_workers = 0;
    for (pid_t tid : thread_ids(server.pid())) {
        std::uint64_t blocked = blocked_signals(server.pid(), tid);
        if (tid == server.pid()) {
            EXPECT_EQ(blocked & signals, 0u) << "the accept thread must take the signals";
        } else if ((blocked & signals) == signals) {
            ++blocking_workers;
        }
    }
    EXPECT_GE(blocking_workers, 3) << "every client's thread should block SIGINT, SIGTERM and SIGUSR1";
    EXPECT_TRUE(stats_line_shows(server, "stats: 3 open, 3 accepted")) << server.stderr_text();
}

// More clients than descriptors: RLIMIT_NOFILE = 32 and 60 clients. 03 has one descriptor table
// for all its threads, so accept() fails with EMFILE once about 28 clients are connected. The
// others wait in the listen backlog (their connect() succeeded; nobody reads them yet). The
// served ones still echo; the accept loop pauses 100 ms after each EMFILE instead of spinning,
// so the server uses little CPU; and as served clients leave, the waiting ones are served.
TEST(Thread, MoreClientsThanDescriptorsWaitAtLowCpuAndAreServedLater) {
    ServerProcess server = start_server(thread_server(), {"--quiet"}, 32);
    const std::string line = "one of sixty\n";
    std::vector<Client> clients = clients_that_sent(server.port(), 60, line);
    std::vector<bool> echoed = echoed_within(clients, line, 2s);
    int served = static_cast<int>(std::count(echoed.begin(), echoed.end(), true));
    RecordProperty("served_with_32_fds", served);
    EXPECT_GE(served, 10) << "a few descriptors must still serve clients";
    EXPECT_LT(served, 60) << "32 descriptors cannot hold 60 clients: was the limit applied?";
    for (int i = 0; i < 60; ++i) {
        if (echoed[i]) clients[i].expect_echo("still served\n", 2s);
    }
    double cpu = cpu_share_over(server.pid(), 2s);
    RecordProperty("cpu_percent", static_cast<int>(cpu * 100));
    EXPECT_LT(cpu, 0.2) << "the server used " << cpu * 100 << " % of a core while out of descriptors";

    for (int i = 0; i < 60; ++i) {
        if (echoed[i]) clients[i].close();
    }
    for (int i = 0; i < 60; ++i) {  // in backlog order: each one served frees a place for the next
        if (echoed[i]) continue;
        EXPECT_EQ(clients[i].read_exact(line.size(), 5s), line) << "waiting client " << i;
        clients[i].close();
    }
    Client newcomer = Client::connect(server.port());
    newcomer.expect_echo("recovered\n");
}

TEST(Thread, SigtermWithTwentyConnectedClientsJoinsEveryThread) {
    ServerProcess server = start_server(thread_server());
    std::vector<Client> clients;
    for (int i = 0; i < 20; ++i) {
        clients.push_back(Client::connect(server.port()));
        clients.back().expect_echo("held\n");
    }
    server.signal(SIGTERM);
    auto status = server.wait_exit(2s);
    ASSERT_TRUE(status.has_value()) << "still running 2 s after SIGTERM";
    EXPECT_EQ(status->code, 0) << status->describe() << "\n" << server.stderr_text();
    EXPECT_TRUE(server.wait_for_stderr("joined 20 threads", 1s)) << server.stderr_text();
    for (Client& client : clients) EXPECT_EQ(client.read_to_eof(1s), "") << "each client sees its connection end";
}

// The pool's limit, the one the prethreaded server trades for a fixed bill: with every thread busy,
// the next client is accepted and queued, and its echo comes only when a thread is free.
TEST(ThreadPool, WithTwoBusyThreadsTheThirdClientWaitsUntilOneLeaves) {
    SKIP_UNTIL_THE_EXERCISE_ADDS(thread_server(), "--pool");  // optional: a student's server may not have it
    ServerProcess server = start_server(pool_server(2));
    Client first = Client::connect(server.port());
    first.expect_echo("first\n");
    Client second = Client::connect(server.port());
    second.expect_echo("second\n");
    Client third = Client::connect(server.port());
    third.send("third\n");
    EXPECT_FALSE(third.readable_within(300ms)) << "both threads are busy: nobody may serve the third client yet";
    first.close();
    EXPECT_EQ(third.read_exact(6, 5s), "third\n") << "a thread freed by the first client serves the third";
    second.expect_echo("still served\n");
}

TEST(ThreadPool, ThreadCountStaysFixedWhateverTheNumberOfClients) {
    SKIP_UNTIL_THE_EXERCISE_ADDS(thread_server(), "--pool");  // optional: a student's server may not have it
    ServerProcess server = start_server(pool_server(4), {"--quiet"});
    echo_and_close(server.port(), "warm-up\n");
    int baseline = settled_thread_count(server.pid());
    EXPECT_GE(baseline, 5) << "the accept thread and four pool threads, created at start (TSan adds one of its own)";
    std::vector<Client> clients;
    for (int i = 0; i < 4; ++i) {
        clients.push_back(Client::connect(server.port()));
        clients.back().expect_echo("held\n");
    }
    for (int i = 0; i < 4; ++i) clients.push_back(Client::connect(server.port()));  // queued
    EXPECT_EQ(thread_count(server.pid()), baseline) << "a pool creates no thread per client";
    // A connect() returns before the server's accept(): ask until the last four are accepted too.
    EXPECT_TRUE(eventually(
        [&] {
            std::vector<StatsLine> lines = request_stats(server);
            return !lines.empty() && lines.back().at("accepted") == 9 && lines.back().at("open") == 8;
        },
        3s))
        << "open counts the served and the queued clients:\n"
        << server.stderr_text();
}

TEST(ThreadPool, SigtermClosesServedAndQueuedClientsAndExitsZero) {
    SKIP_UNTIL_THE_EXERCISE_ADDS(thread_server(), "--pool");  // optional: a student's server may not have it
    ServerProcess server = start_server(pool_server(1));
    Client served = Client::connect(server.port());
    served.expect_echo("served\n");
    Client queued = Client::connect(server.port());  // sends nothing: unread bytes would turn its FIN into a reset
    ASSERT_TRUE(eventually(
        [&] {  // the readiness signal: both accepted, one served, one in the queue
            std::vector<StatsLine> lines = request_stats(server);
            return !lines.empty() && lines.back().at("open") == 2;
        },
        3s))
        << server.stderr_text();
    server.signal(SIGTERM);
    auto status = server.wait_exit(2s);
    ASSERT_TRUE(status.has_value()) << "still running 2 s after SIGTERM";
    EXPECT_EQ(status->code, 0) << status->describe() << "\n" << server.stderr_text();
    EXPECT_EQ(served.read_to_eof(1s), "");
    EXPECT_EQ(queued.read_to_eof(1s), "") << "a queued client is closed, never served half-way";
}

TEST(ThreadPool, BadPoolSizesAreUsageErrors) {
    SKIP_UNTIL_THE_EXERCISE_ADDS(thread_server(), "--pool");
    for (const char* size : {"-1", "x", "1025", "4.5"}) {
        RunResult run = run_to_exit(resolved(thread_server()).binary, {"--pool", size});
        EXPECT_EQ(run.status.code, 2) << "--pool " << size << ": " << run.status.describe() << "\n" << run.err;
        EXPECT_NE(run.err.find("--pool"), std::string::npos) << run.err;
    }
}

}  // namespace
}  // namespace cs::test
