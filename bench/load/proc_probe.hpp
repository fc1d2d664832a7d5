// bench/load/proc_probe.hpp — what a server process tree costs, read from /proc.
//
// A server is a tree: 02 forks a child per client, 06 a master and its workers. CPU is summed
// over the live tree plus what the tree has already reaped (cutime/cstime of each process):
// otherwise the work of every exited per-client child would vanish from the bill.
// Memory is given two ways: RSS summed over the tree counts shared pages (libc, copy-on-write
// pages of a fork) once per process; PSS divides each shared page among the processes that
// map it, so the PSS sum is the fair "memory this tree uses".
#pragma once

#include <sys/types.h>

namespace cs::bench {

struct TreeSample {
    bool alive = false;   // the root process existed when sampled
    double user_s = 0;    // user CPU seconds: live processes and reaped children
    double system_s = 0;  // system (kernel) CPU seconds, likewise
    long rss_kib = 0;     // VmRSS summed over the live tree
    long pss_kib = 0;     // Pss from smaps_rollup summed over the live tree
    int processes = 0;    // live processes in the tree (zombies excluded)
    int zombies = 0;      // exited children nobody has waited for yet
};

TreeSample sample_tree(pid_t root);

// CPU seconds (user + system) this process has used so far, all threads.
double self_cpu_seconds();

}  // namespace cs::bench
