// tests/lesson_master_worker_test.cpp — 07-master-worker: the conformance suite in pass mode and
// in each --accept-lock mode, then what 07 adds to 06: workers fork+exec'd that receive the socket
// over their channel (pass), the channel's orders (stop, stats, the master's death as EOF), rolling
// restart (SIGHUP) under a client loop, the accepts per worker with and without EPOLLEXCLUSIVE.
// Pass-mode runs of the hardening tests (slow clients, --idle-timeout read by an exec'd worker).
// The exercises' checks (SIGUSR2 upgrade, socket activation, the re-arming and mutex accept locks,
// --max-conns that leaves clients to the others) skip until the server's --help says the exercise
// is done (tests/exercise.hpp). What 07 shares with 06 (supervision, graceful stop) is in 06's file.
//
// Who serves what is read from /proc, not from log lines: the workers are the master's children
// named "mw-worker".
#include "common/net.hpp"
#include "tests/conformance.hpp"
#include "tests/exercise.hpp"
#include "tests/hardening.hpp"
#include "tests/workers.hpp"
#include "tests/support/client.hpp"
#include "tests/support/crowd.hpp"
#include "tests/support/proc.hpp"
#include "tests/support/stats_lines.hpp"

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <poll.h>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace cs::test {
namespace {

namespace fs = std::filesystem;
using namespace workers;  // tests/workers.hpp: /proc, /proc/net/tcp, ClientLoop

ServerSpec master_worker(const std::string& name, std::vector<std::string> args) {
    // Two workers pinned: the default (one per CPU) would start 64 of them on a big grader.
    args.insert(args.end(), {"--workers", "2"});
    return {.name = "master_worker_" + name, .binary = ECHO_SERVER_DEFAULT, .args = std::move(args)};
}

// inherit runs the default accept lock, exclusive; none gets a run of its own. (The mutex lock, an
// exercise now, is checked by MasterWorker.MutexAcceptLockIsTakenOverWhenItsHolderIsKilled.)
INSTANTIATE_TEST_SUITE_P(Lesson, Conformance,
                         testing::Values(master_worker("inherit", {"--share", "inherit"}),
                                         master_worker("pass", {"--share", "pass"}),
                                         master_worker("lock_none", {"--accept-lock", "none"})),
                         spec_name);

ServerSpec plain() { return {.name = "master_worker", .binary = ECHO_SERVER_DEFAULT}; }

// ---- /proc helpers ------------------------------------------------------------------------

std::vector<pid_t> workers_of(pid_t master) {
    std::vector<pid_t> workers;
    for (const auto& child : children_of(master)) {
        if (child.state != 'Z' && comm_of(child.pid) == "mw-worker") workers.push_back(child.pid);
    }
    std::sort(workers.begin(), workers.end());
    return workers;
}

std::vector<pid_t> wait_for_workers(pid_t master, std::size_t count, std::chrono::milliseconds timeout = 3s) {
    std::vector<pid_t> workers;
    eventually([&] { return (workers = workers_of(master)).size() == count; }, timeout);
    return workers;
}

// `count` workers, each ready: the master prints "listening on" once the first one is (06's rule),
// so a test that reads the others' listeners or counters waits for their "ready" lines too.
std::vector<pid_t> wait_for_workers(const ServerProcess& server, std::size_t count,
                                    std::chrono::milliseconds timeout = 3s) {
    std::vector<pid_t> workers;
    eventually(
        [&] {
            workers = workers_of(server.pid());
            std::string log = server.stderr_text();
            return workers.size() == count && std::all_of(workers.begin(), workers.end(), [&](pid_t worker) {
                       return log.find(fmt::format("(pid {}) ready", worker)) != std::string::npos;
                   });
        },
        timeout);
    return workers;
}

// ---- the master's worker table ----------------------------------------------------------

struct Row {
    int slot;
    pid_t pid;
    std::uint64_t accepted, open;
};

int count_of(const std::string& text, const std::string& needle) {
    int count = 0;
    for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
    return count;
}

// What each worker said on its way out ("worker S: exiting; A accepted"): the accepted counts.
std::vector<std::uint64_t> exit_counts(const std::string& stderr_text) {
    std::vector<std::uint64_t> counts;
    static const std::regex exiting(R"(worker \d+: exiting; (\d+) accepted)");
    for (std::sregex_iterator it(stderr_text.begin(), stderr_text.end(), exiting), end; it != end; ++it) {
        counts.push_back(std::stoull((*it)[1]));
    }
    return counts;
}

// SIGUSR1: the master prints its line and sends kStats down every channel; each of the `workers`
// prints "stats: worker S: O open, A accepted". Those lines, by slot.
std::vector<Row> request_table(ServerProcess& server, int workers) {
    std::vector<StatsLine> lines = request_stats(server, 1 + workers);
    std::map<int, Row> by_slot;
    static const std::regex accepted_key(R"(^worker (\d+) accepted$)");
    for (const auto& line : lines) {
        for (const auto& [key, value] : line.counts) {
            std::smatch m;
            if (!std::regex_match(key, m, accepted_key)) continue;
            std::string worker = "worker " + m[1].str() + " ";
            by_slot[std::stoi(m[1])] = {std::stoi(m[1]), line.pid, value, line.at(worker + "open")};
        }
    }
    EXPECT_EQ(by_slot.size(), static_cast<std::size_t>(workers)) << "one stats line per worker expected:\n"
                                                                 << server.stderr_text();
    std::vector<Row> rows;
    for (const auto& [slot, row] : by_slot) rows.push_back(row);
    return rows;
}

std::uint64_t total_accepted(const std::vector<Row>& rows) {
    std::uint64_t total = 0;
    for (const auto& row : rows) total += row.accepted;
    return total;
}

void print_table(const std::string& title, const std::vector<Row>& rows) {
    std::cout << title << "\n  worker  accepted\n";
    for (const auto& row : rows) std::cout << fmt::format("  {:>6}  {:>8}\n", row.slot, row.accepted);
}

// An exercise is done when the server's --help says so: a lock mode in --accept-lock's description
// ("none, exclusive or mutex"), a signal or variable in a footer line ("SIGUSR2: ...").
bool help_says(const std::string& words) {
    RunResult help = run_to_exit(resolved(plain()).binary, {"--help"});
    return (help.out + help.err).find(words) != std::string::npos;
}

#define SKIP_UNTIL_THE_HELP_SAYS(words) \
    if (!help_says(words)) GTEST_SKIP() << "exercise not done yet: the server's --help does not say '" << (words) << "'"

// ---- the master passes its socket --------------------------------------------------------

TEST(MasterWorker, PassModeWorkersAreExecedAndReceiveTheMastersSocket) {
    ServerProcess server = start_server(plain(), {"--workers", "2", "--share", "pass"});
    std::vector<pid_t> workers = wait_for_workers(server, 2);
    ASSERT_EQ(workers.size(), 2u) << server.stderr_text();
    std::set<unsigned long> listening = listening_inodes(server.port());
    ASSERT_EQ(listening.size(), 1u);
    for (pid_t worker : workers) {
        std::ifstream cmdline("/proc/" + std::to_string(worker) + "/cmdline");
        std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
        EXPECT_NE(args.find("--worker-channel"), std::string::npos) << "pass-mode workers are fork+exec'd";
        EXPECT_EQ(socket_inodes(worker).count(*listening.begin()), 1u) << "the same socket, sent over the channel";
    }
    Client client = Client::connect(server.port());
    client.expect_echo("through a passed socket\n");
}

// ---- reload and upgrade under load ----------------------------------------------------------

class MasterWorkerReload : public testing::TestWithParam<std::string> {};

TEST_P(MasterWorkerReload, SighupWhileAClientLoopOpensFiveHundredConnectionsLosesNone) {
    ServerProcess server = start_server(plain(), {"--workers", "2", "--share", GetParam(), "--quiet"});
    std::vector<pid_t> old_workers = wait_for_workers(server, 2);
    ASSERT_EQ(old_workers.size(), 2u);
    ClientLoop loop(server.port(), 500);
    ASSERT_TRUE(loop.wait_for(100, 20s));
    server.signal(SIGHUP);
    EXPECT_TRUE(server.wait_for_stderr("reload: 2 new workers ready", 5s)) << server.stderr_text();
    loop.join();
    EXPECT_EQ(loop.failures(), 0) << loop.first_error();
    EXPECT_EQ(loop.done(), 500);
    EXPECT_TRUE(eventually([&] { return std::none_of(old_workers.begin(), old_workers.end(), alive); }, 5s))
        << "old workers should have stopped";
    std::vector<pid_t> new_workers = workers_of(server.pid());
    EXPECT_EQ(new_workers.size(), 2u);
    for (pid_t worker : new_workers) EXPECT_EQ(std::count(old_workers.begin(), old_workers.end(), worker), 0);
}

INSTANTIATE_TEST_SUITE_P(Share, MasterWorkerReload, testing::Values("inherit", "pass"));

// Exercise 4 (SIGUSR2, the binary upgrade): the checks run once --help names SIGUSR2.
TEST(MasterWorker, SigusrTwoUpgradeWhileClientsConnectLosesNoneAndTheNewMasterServes) {
    SKIP_UNTIL_THE_EXERCISE_ADDS(plain(), "SIGUSR2");
    ServerProcess server = start_server(plain(), {"--workers", "2", "--quiet"});
    ClientLoop loop(server.port(), 0);
    ASSERT_TRUE(loop.wait_for(100, 20s));
    server.signal(SIGUSR2);
    ASSERT_TRUE(server.wait_for_stderr("is ready; stopping my workers", 10s)) << server.stderr_text();
    std::smatch found;
    std::string text = server.stderr_text();
    ASSERT_TRUE(std::regex_search(text, found, std::regex(R"(new master (\d+) is ready)")));
    pid_t new_master = static_cast<pid_t>(std::stol(found[1]));

    auto status = server.wait_exit(5s);
    ASSERT_TRUE(status.has_value()) << "the old master should stop once the new one is ready";
    EXPECT_EQ(status->code, 0) << status->describe();
    int after_old_exit = loop.done();
    EXPECT_TRUE(loop.wait_for(after_old_exit + 100, 20s)) << "the loop goes on against the new master";
    loop.stop();
    loop.join();
    EXPECT_EQ(loop.failures(), 0) << loop.first_error();

    EXPECT_NE(new_master, server.pid());
    EXPECT_TRUE(alive(new_master));
    EXPECT_EQ(wait_for_workers(new_master, 2).size(), 2u);
    Client client = Client::connect(server.port());
    client.expect_echo("served by the new master\n");
    ::kill(new_master, SIGTERM);  // not our child: watch it go instead of reaping it
    EXPECT_TRUE(eventually([&] { return !alive(new_master); }, 3s));
}

// Exercise 4 and issue 18: one SIGTERM to the pid that was started stops everything it started,
// even when it comes just after SIGUSR2 (a new master left alone would serve on in our group).
TEST(MasterWorker, SigtermJustAfterSigusrTwoLeavesNothingRunning) {
    SKIP_UNTIL_THE_EXERCISE_ADDS(plain(), "SIGUSR2");
    for (int delay_ms : {0, 20, 50}) {
        ServerProcess server = start_server(plain(), {"--workers", "2", "--quiet"});
        pid_t group = server.pid();  // the server leads its own process group
        server.signal(SIGUSR2);
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        server.signal(SIGTERM);
        ASSERT_TRUE(server.wait_exit(10s).has_value()) << server.stderr_text();
        bool gone = eventually([&] { return ::kill(-group, 0) != 0 && errno == ESRCH; }, 10s);
        EXPECT_TRUE(gone) << "SIGUSR2, then SIGTERM " << delay_ms << " ms later: the group still runs\n"
                          << server.stderr_text();
        if (!gone) ::kill(-group, SIGKILL);
    }
}

// Exercise 5 (socket activation): once --help names LISTEN_FDS.
TEST(MasterWorker, AcceptsAListeningSocketFromSystemdSocketActivation) {
    SKIP_UNTIL_THE_EXERCISE_ADDS(plain(), "LISTEN_FDS");
    Fd listener = listen_tcp({.host = "127.0.0.1", .port = 0});
    // A free descriptor number below 10 (the shell's redirections take one digit), passed on to
    // the shell on purpose (ServerProcess closes every other one a server would inherit).
    int inheritable = 9;
    while (inheritable > 3 && ::fcntl(inheritable, F_GETFD) >= 0) --inheritable;
    ASSERT_GT(inheritable, 3) << "no free descriptor below 10";
    ASSERT_EQ(::dup2(listener.get(), inheritable), inheritable);
    Fd holder{inheritable};
    // The shell moves it to descriptor 3 and execs the server with its own pid as LISTEN_PID,
    // as systemd does for a socket unit.
    std::string script =
        fmt::format("exec 3<&{0} {0}<&-; export LISTEN_FDS=1 LISTEN_PID=$$; exec \"$0\" \"$@\"", inheritable);
    ServerProcess server = ServerProcess::start({.binary = "/bin/sh",
                                                 .args = {"-c", script, resolved(plain()).binary, "--workers", "2"},
                                                 .add_port_zero = false,
                                                 .pass_fds = {inheritable}});
    EXPECT_EQ(server.port(), local_port(listener.get()));
    EXPECT_NE(server.stderr_text().find("from LISTEN_FDS"), std::string::npos) << server.stderr_text();
    Client client = Client::connect(server.port());
    client.expect_echo("socket activated\n");
}

// ---- the accept lock ------------------------------------------------------------------------

// Exercise 3 (the accept mutex): once --accept-lock's help offers "mutex".
TEST(MasterWorker, MutexAcceptLockIsTakenOverWhenItsHolderIsKilled) {
    SKIP_UNTIL_THE_EXERCISE_ADDS(plain(), "mutex");
    // One worker: it holds the lock all the time, so kill -9 always catches it holding the lock.
    ServerProcess server = start_server(plain(), {"--workers", "1", "--accept-lock", "mutex"});
    std::vector<pid_t> workers = wait_for_workers(server, 1);
    ASSERT_EQ(workers.size(), 1u);
    Client first = Client::connect(server.port());
    first.expect_echo("the holder serves me\n");
    ::kill(workers[0], SIGKILL);
    EXPECT_TRUE(server.wait_for_stderr("took over the accept lock from a worker that died holding it", 1s))
        << server.stderr_text();
    Client next = Client::connect(server.port());
    next.expect_echo("the new holder serves me\n", 1s);
}

// Four workers with the given --accept-lock take `connections` clients, one at a time; the
// workers' counter rows at exit (printed), after checking that every connection was counted.
std::vector<Row> accepts_one_at_a_time(const std::string& lock, int connections) {
    ServerProcess server = start_server(plain(), {"--workers", "4", "--accept-lock", lock, "--quiet"});
    EXPECT_EQ(wait_for_workers(server, 4).size(), 4u);
    ClientLoop loop(server.port(), connections);
    loop.join();
    EXPECT_EQ(loop.failures(), 0) << loop.first_error();
    std::vector<Row> rows = request_table(server, 4);
    EXPECT_EQ(rows.size(), 4u) << server.stderr_text();
    EXPECT_EQ(total_accepted(rows), static_cast<std::uint64_t>(connections));
    print_table(fmt::format("--accept-lock {}, {} sequential connections, 4 workers:", lock, connections), rows);
    return rows;
}

class MasterWorkerHerd : public testing::TestWithParam<std::string> {};

TEST_P(MasterWorkerHerd, CountersAddUpAndArePrinted) {
    if (GetParam() == "rearm" || GetParam() == "mutex") SKIP_UNTIL_THE_EXERCISE_ADDS(plain(), GetParam());
    accepts_one_at_a_time(GetParam(), 200);
}

INSTANTIATE_TEST_SUITE_P(Lock, MasterWorkerHerd, testing::Values("none", "exclusive", "rearm", "mutex"));

// EPOLLEXCLUSIVE alone wakes the worker at the front of the listener's wait queue, so one client
// at a time mostly meets the same worker (the README's lab: 1470 / 518 / 11 / 1). Re-arming every
// 16 accepts sends each worker to the back in turn, so every worker gets its share.
TEST(MasterWorker, RearmGivesEveryWorkerConnectionsWhenClientsComeOneAtATime) {
    SKIP_UNTIL_THE_EXERCISE_ADDS(plain(), "rearm");  // exercise 2
    for (const Row& row : accepts_one_at_a_time("rearm", 400)) {
        EXPECT_GE(row.accepted, 16u) << "a worker that never reached the front of the queue";
    }
}

// ---- supervision over the channel ---------------------------------------------------------

TEST(MasterWorker, WorkersThatDieBeforeTheyAreReadyMakeTheMasterGiveUpWithExitOne) {
    // A broken binary deployed on disk: pass-mode workers are exec'd from it, and die at once.
    std::string binary = resolved(plain()).binary;
    if (std::ifstream file(binary); file.get() == '#' && file.get() == '!') {
        GTEST_SKIP() << binary << " is a wrapper script (valgrind-suite?): the master's argv[0] is not the file "
                     << "this test replaces";
    }
    fs::path dir = fs::temp_directory_path() / fmt::format("prefork-test-{}", ::getpid());
    fs::create_directories(dir);
    fs::path copy = dir / "echo-prefork";
    fs::copy_file(binary, copy, fs::copy_options::overwrite_existing);
    ServerProcess server =
        ServerProcess::start({.binary = copy.string(), .args = {"--workers", "1", "--share", "pass"}});
    std::vector<pid_t> workers = wait_for_workers(server, 1);
    ASSERT_EQ(workers.size(), 1u);
    fs::remove(copy);  // the running master keeps its (now nameless) file; exec finds the script
    {
        std::ofstream script(copy);
        script << "#!/bin/sh\nexit 3\n";
    }
    fs::permissions(copy, fs::perms::owner_all);

    ::kill(workers[0], SIGKILL);
    auto status = server.wait_exit(5s);
    fs::remove_all(dir);
    ASSERT_TRUE(status.has_value()) << "the master kept respawning\n" << server.stderr_text();
    EXPECT_EQ(status->code, 1) << status->describe();
    EXPECT_NE(server.stderr_text().find("giving up"), std::string::npos) << server.stderr_text();
    EXPECT_GE(count_of(server.stderr_text(), "died: exit 3"), 5) << server.stderr_text();
}

TEST(MasterWorker, SigtermToTheWholeProcessGroupStillStopsGracefully) {
    // systemd (KillMode=control-group), `timeout` and `kill -TERM -<pgid>` signal every process.
    ServerProcess server = start_server(plain(), {"--workers", "2"});
    std::vector<pid_t> workers = wait_for_workers(server, 2);
    ASSERT_EQ(workers.size(), 2u);
    Client client = Client::connect(server.port());
    client.expect_echo("everyone gets SIGTERM\n");
    ::kill(-server.pid(), SIGTERM);
    auto status = server.wait_exit(2s);
    ASSERT_TRUE(status.has_value()) << server.stderr_text();
    EXPECT_EQ(status->code, 0) << status->describe();
    for (pid_t worker : workers) {
        EXPECT_NE(server.stderr_text().find(fmt::format("(pid {}) exited: exit 0", worker)), std::string::npos)
            << "worker " << worker << " should stop gracefully, not die of the signal\n"
            << server.stderr_text();
    }
    EXPECT_EQ(server.stderr_text().find("started worker 0", server.stderr_text().find("stopping")), std::string::npos)
        << "no replacement may start during the stop";
    std::vector<std::uint64_t> counts = exit_counts(server.stderr_text());
    EXPECT_EQ(counts.size(), 2u) << "both workers say what they accepted on the way out";
    EXPECT_EQ(std::accumulate(counts.begin(), counts.end(), std::uint64_t{0}), 1u);
}

// The channel is also the master's pulse: once the master is gone, every worker reads EOF on it.
TEST(MasterWorker, WorkersExitWithinTwoSecondsWhenTheMasterIsKilled) {
    ServerProcess server = start_server(plain(), {"--workers", "2"});
    std::vector<pid_t> workers = wait_for_workers(server, 2);
    ASSERT_EQ(workers.size(), 2u);
    Client idle = Client::connect(server.port());
    idle.expect_echo("the master is about to die\n");
    ::kill(server.pid(), SIGKILL);
    ASSERT_TRUE(server.wait_exit(1s).has_value());
    bool gone = eventually([&] { return std::none_of(workers.begin(), workers.end(), alive); }, 2s);
    EXPECT_TRUE(gone) << "workers still running 2 s after the master died\n" << server.stderr_text();
    EXPECT_NE(server.stderr_text().find("lost the master (channel EOF)"), std::string::npos) << server.stderr_text();
    EXPECT_EQ(idle.read_to_eof(1s), "") << "the orphaned worker closed its connection";
}

// Exercise 6: a full worker leaves new clients to the others. Its checks run once --max-conns's help
// says so ("... leaves new connections to the others"); until then 07 keeps 05's rule (accept, close).
TEST(MasterWorker, MaxConnsFullWorkerMakesTheNextClientWaitUntilOneLeaves) {
    SKIP_UNTIL_THE_HELP_SAYS("leaves new connections to the others");
    ServerProcess server = start_server(plain(), {"--workers", "1", "--max-conns", "3"});
    expect_the_fourth_client_waits_for_a_place(server);
}

TEST(MasterWorker, MaxConnsIsPerWorkerAndAFullWorkerLeavesClientsToTheOthers) {
    SKIP_UNTIL_THE_HELP_SAYS("leaves new connections to the others");
    // Inherit mode, one shared queue: a full worker stops watching it, so the other takes the next
    // client, even though EPOLLEXCLUSIVE (the default) likes to wake the same idle worker each time.
    ServerProcess server = start_server(plain(), {"--workers", "2", "--max-conns", "2", "--share", "inherit"});
    std::vector<pid_t> workers = wait_for_workers(server, 2);
    ASSERT_EQ(workers.size(), 2u);
    std::vector<Client> held;
    std::map<pid_t, int> per_worker;
    for (int i = 0; i < 4; ++i) {
        held.push_back(Client::connect(server.port()));
        held.back().expect_echo("held\n", 2s);
        ++per_worker[owner_of(held.back(), server.port(), workers)];
    }
    EXPECT_EQ(per_worker[workers[0]], 2);
    EXPECT_EQ(per_worker[workers[1]], 2);
    Client fifth = Client::connect(server.port());
    fifth.send("full?\n");
    EXPECT_FALSE(fifth.readable_within(300ms)) << "2 workers x --max-conns 2 are 4 connections, not 5";
    held.back().close();
    EXPECT_EQ(fifth.read_exact(6, 2s), "full?\n");
}

// ---- hardening (issue #9), pass mode --------------------------------------------------------

class MasterWorkerPass : public testing::TestWithParam<ServerSpec> {};

TEST_P(MasterWorkerPass, FiveHundredSlowClientsDelayNoOne) { hardening::expect_slow_clients_delay_no_one(GetParam()); }

// Pass-mode workers are exec'd and read --idle-timeout from their own command line.
TEST_P(MasterWorkerPass, IdleTimeoutClosesSilentClientsOnly) {
    hardening::expect_idle_clients_closed(GetParam(), {}, 6);
}

INSTANTIATE_TEST_SUITE_P(Share, MasterWorkerPass, testing::Values(master_worker("pass", {"--share", "pass"})),
                         spec_name);

// ---- command line ---------------------------------------------------------------------------

TEST(MasterWorker, BadLessonOptionsExitTwo) {
    for (const auto& args : std::vector<std::vector<std::string>>{{"--workers", "0"},
                                                                  {"--share", "fork"},
                                                                  {"--accept-lock", "spin"},
                                                                  {"--grace", "-1"},
                                                                  {"--max-conns", "0"},
                                                                  {"--max-conns", "many"}}) {
        RunResult run = run_to_exit(resolved(plain()).binary, args);
        EXPECT_EQ(run.status.code, 2) << fmt::format("{}", fmt::join(args, " ")) << ": " << run.status.describe();
    }
}

}  // namespace
}  // namespace cs::test
