// bench/tests/proc_probe_test.cpp — the server-tree sample must bill CPU that /proc's clock
// ticks lose: many children that each ran less than a tick, alive, as zombies, and reaped.
#include "bench/load/proc_probe.hpp"

#include <chrono>
#include <ctime>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace cs::bench {
namespace {

using namespace std::chrono_literals;

constexpr int kChildren = 40;
constexpr double kChildCpuS = 0.003;  // each child: 3 ms, well under one 10 ms tick

double thread_cpu_s() {
    timespec now{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// Forks children that burn kChildCpuS of CPU, report through `ready`, and exit when `release`
// reaches EOF (the parent closes release_writer). Only async-signal-safe calls in the child.
std::vector<pid_t> fork_busy_children(int ready, int release, int release_writer) {
    std::vector<pid_t> children;
    for (int i = 0; i < kChildren; ++i) {
        pid_t pid = ::fork();
        if (pid == 0) {
            ::close(release_writer);  // else this child's own copy would keep `release` from EOF
            double start = thread_cpu_s();
            while (thread_cpu_s() - start < kChildCpuS) {
            }
            char byte = 1;
            [[maybe_unused]] ssize_t w = ::write(ready, &byte, 1);
            [[maybe_unused]] ssize_t r = ::read(release, &byte, 1);  // returns 0 when the parent closes it
            ::_exit(0);
        }
        children.push_back(pid);
    }
    return children;
}

TEST(ProcProbe, BillsChildrenThatEachRanLessThanATickAliveZombieAndReaped) {
    int ready[2], release[2];
    ASSERT_EQ(::pipe(ready), 0);
    ASSERT_EQ(::pipe(release), 0);
    TreeSample before = sample_tree(::getpid(), false);
    std::vector<pid_t> children = fork_busy_children(ready[1], release[0], release[1]);
    ::close(release[0]);
    char byte;
    for (int i = 0; i < kChildren; ++i) ASSERT_EQ(::read(ready[0], &byte, 1), 1);
    const double expected = kChildren * kChildCpuS * 0.8;  // a little slack for the clock

    TreeSample alive = sample_tree(::getpid(), false);
    EXPECT_EQ(alive.processes, before.processes + kChildren);
    EXPECT_GE(alive.cpu_s - before.cpu_s, expected) << "children's CPU lost to tick truncation";

    ::close(release[1]);  // the children exit; unreaped, they are zombies
    TreeSample zombies;
    for (auto deadline = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < deadline;) {
        zombies = sample_tree(::getpid(), false);
        if (zombies.zombies == kChildren) break;
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(zombies.zombies, kChildren);
    EXPECT_GE(zombies.cpu_s - before.cpu_s, expected) << "zombies' CPU lost";

    for (pid_t child : children) ::waitpid(child, nullptr, 0);
    TreeSample reaped = sample_tree(::getpid(), false);
    EXPECT_EQ(reaped.zombies, 0);
    EXPECT_EQ(reaped.processes, before.processes);
    EXPECT_GE(reaped.cpu_s - before.cpu_s, expected) << "reaped children's CPU (cutime) lost";
    ::close(ready[0]);
    ::close(ready[1]);
}

TEST(ProcProbe, AProcessThatDoesNotExistIsNotAlive) {
    pid_t gone = ::fork();
    if (gone == 0) ::_exit(0);
    ::waitpid(gone, nullptr, 0);
    TreeSample sample = sample_tree(gone);
    EXPECT_FALSE(sample.alive);
    EXPECT_EQ(sample.processes, 0);
}

TEST(ProcProbe, CpuUseSplitsTheExactTotalByTheTickRatio) {
    TreeSample start{.cpu_s = 1.0, .user_tick_s = 0.10, .system_tick_s = 0.90};
    TreeSample end{.cpu_s = 3.0, .user_tick_s = 0.60, .system_tick_s = 2.40};
    CpuUse use = cpu_between(start, end);
    EXPECT_DOUBLE_EQ(use.total_s, 2.0);
    EXPECT_TRUE(use.split_known);
    EXPECT_NEAR(use.user_s, 0.5, 1e-9);  // the window's ticks: 0.5 user of 2.0 in all, a quarter
    EXPECT_NEAR(use.system_s, 1.5, 1e-9);
}

TEST(ProcProbe, CpuUseWithTooFewTicksFallsBackOnTheWholeRun) {
    TreeSample start{.cpu_s = 1.0, .user_tick_s = 0.25, .system_tick_s = 0.75};
    TreeSample end{.cpu_s = 1.02, .user_tick_s = 0.25, .system_tick_s = 0.75};  // no tick in between
    CpuUse use = cpu_between(start, end);
    EXPECT_NEAR(use.total_s, 0.02, 1e-12);
    EXPECT_NEAR(use.user_s, 0.005, 1e-12);
    TreeSample nothing{};
    EXPECT_FALSE(cpu_between(nothing, nothing).split_known);
}

}  // namespace
}  // namespace cs::bench
