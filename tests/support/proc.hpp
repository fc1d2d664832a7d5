// tests/support/proc.hpp — what /proc says about a server: descriptors, threads, children,
// zombies, memory, CPU time, blocked signals; and what the kernel says about one of its TCP
// sockets. Tests count these instead of trusting log lines.
#pragma once

#include <cstdint>
#include <optional>
#include <sys/types.h>
#include <vector>

namespace cs::test {

struct ProcessInfo {
    pid_t pid = 0;
    pid_t ppid = 0;
    char state = '?';  // R, S, D, Z (zombie), ...
};

int open_fd_count(pid_t pid);                         // entries in /proc/<pid>/fd; -1 if the process is gone
int thread_count(pid_t pid);                          // "Threads:" in /proc/<pid>/status
std::vector<pid_t> thread_ids(pid_t pid);             // the entries of /proc/<pid>/task
std::uint64_t blocked_signals(pid_t pid, pid_t tid);  // "SigBlk:" of one thread: bit (n - 1) is signal n
long rss_kib(pid_t pid);                              // "VmRSS:" in /proc/<pid>/status
long cpu_ticks(pid_t pid);                            // utime + stime, in clock ticks (sysconf(_SC_CLK_TCK))
long tree_cpu_ticks(pid_t pid);                       // the same, summed over the process and its descendants now
double ticks_per_second();                            // sysconf(_SC_CLK_TCK)
std::vector<ProcessInfo> children_of(pid_t pid);      // direct children, zombies included
std::vector<pid_t> descendants_of(pid_t pid);         // children, grandchildren, ...
int zombie_children(pid_t pid);
int live_children(pid_t pid);  // children not in state Z

// Processes of process group `pgid` that are still running (zombies are dead: not counted).
int live_processes_in_group(pid_t pgid);

// Sums over the process and all its descendants (prefork: master and workers).
int tree_open_fd_count(pid_t pid);

// The kernel's queues of one TCP socket on 127.0.0.1, asked of the kernel by sock_diag (as `ss`
// does): whoever owns it, the server's side of a test's connection is (server port, client port).
struct TcpQueues {
    long send = 0;            // bytes written but not acknowledged by the peer yet
    long receive = 0;         // bytes received that the owner has not read yet
    long send_buffer = 0;     // SO_SNDBUF as the kernel sizes it now (autotuned)
    long send_queued = 0;     // memory of the send queue: a blocking write() waits while this is >= send_buffer
    unsigned long inode = 0;  // the socket's inode: /proc/<pid>/fd/N links to "socket:[inode]"
};
std::optional<TcpQueues> tcp_queues(std::uint16_t local_port, std::uint16_t remote_port);

// Whether the process or one of its descendants still has the socket `inode` open.
bool tree_holds_socket(pid_t pid, unsigned long inode);

}  // namespace cs::test
