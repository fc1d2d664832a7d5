// bench/load/proc_probe.hpp — what a server process tree costs, read from /proc.
//
// A server is a tree: 02 forks a child per client, 06 a master and its workers. CPU is summed
// over the live tree plus what the tree has already reaped (cutime/cstime of each process):
// otherwise the work of every exited per-client child would vanish from the bill.
// CPU time in /proc/<pid>/stat comes in 10 ms clock ticks, truncated per process: 1,000
// children that each used 3 ms would add up to 0. So each process's total also comes from its
// threads' schedstat files (nanoseconds), and the ticks only say how the total splits into
// user and system time.
// Memory is given two ways: RSS summed over the tree counts shared pages (libc, copy-on-write
// pages of a fork) once per process; PSS divides each shared page among the processes that
// map it, so the PSS sum is the fair "memory this tree uses".
#pragma once

#include <sys/types.h>
#include <vector>

namespace cs::bench {

struct TreeSample {
    bool alive = false;         // the root process existed when sampled
    double cpu_s = 0;           // CPU seconds, user + system: live processes and reaped children
    double user_tick_s = 0;     // the same in clock ticks, user part (coarse; see above)
    double system_tick_s = 0;   // ... and system part
    long rss_kib = 0;           // VmRSS summed over the live tree
    long pss_kib = 0;           // Pss from smaps_rollup summed over the live tree
    int processes = 0;          // live processes in the tree (zombies excluded)
    int zombies = 0;            // exited children nobody has waited for yet
    double taken_s = 0;         // steady-clock seconds when the tree was read (to time the interval)
    long long rw_syscalls = 0;  // syscr + syscw from /proc/<pid>/io over the live tree: read- and
                                // write-class system calls (reaped children included, epoll_wait not)
};

// The CPU used between two samples, split into user and system time by the clock ticks of the
// same interval (or, when the interval has too few ticks to tell, of the whole run so far).
struct CpuUse {
    double total_s = 0;
    double user_s = 0;
    double system_s = 0;
    bool split_known = false;  // false: too few ticks anywhere to split the total
};
CpuUse cpu_between(const TreeSample& start, const TreeSample& end);

// with_memory = false skips the memory files: a CPU-only sample is quick even for 1,000
// processes, so it can be taken exactly when the window closes.
TreeSample sample_tree(pid_t root, bool with_memory = true);

// The processes of the tree (root first, zombies excluded), for tools that attach to each one.
std::vector<pid_t> tree_pids(pid_t root);

// CPU seconds (user + system) this process has used so far, all threads.
double self_cpu_seconds();

}  // namespace cs::bench
