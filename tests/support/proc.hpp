// tests/support/proc.hpp — what /proc says about a server: descriptors, threads, children,
// zombies, memory, CPU time. Tests count these instead of trusting log lines.
#pragma once

#include <sys/types.h>
#include <vector>

namespace cs::test {

struct ProcessInfo {
    pid_t pid = 0;
    pid_t ppid = 0;
    char state = '?';  // R, S, D, Z (zombie), ...
};

int open_fd_count(pid_t pid);             // entries in /proc/<pid>/fd; -1 if the process is gone
int thread_count(pid_t pid);              // "Threads:" in /proc/<pid>/status
long rss_kib(pid_t pid);                  // "VmRSS:" in /proc/<pid>/status
long cpu_ticks(pid_t pid);                // utime + stime, in clock ticks (sysconf(_SC_CLK_TCK))
std::vector<ProcessInfo> children_of(pid_t pid);  // direct children, zombies included
std::vector<pid_t> descendants_of(pid_t pid);     // children, grandchildren, ...
int zombie_children(pid_t pid);
int live_children(pid_t pid);             // children not in state Z

// Processes of process group `pgid` that are still running (zombies are dead: not counted).
int live_processes_in_group(pid_t pgid);

// Sums over the process and all its descendants (prefork: master and workers).
int tree_open_fd_count(pid_t pid);

}  // namespace cs::test
