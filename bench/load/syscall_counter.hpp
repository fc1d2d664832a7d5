// bench/load/syscall_counter.hpp — every system call a process tree makes, counted by the kernel.
//
// /proc/<pid>/io counts only read- and write-class calls (syscr, syscw); an event loop's
// epoll_wait()/select() and everything else is invisible there. The kernel's tracepoint
// raw_syscalls:sys_enter fires on every system call; a perf counter on it (perf_event_open,
// counting only, no samples, no strace-style stop per call) gives the exact total for each
// thread it is attached to. Attached to every thread of the tree when the window opens, with
// `inherit` so that threads and processes created later count too (they add to the total when
// they exit). Costs the traced process a little per call, so echo-load does it only when asked
// (--count-syscalls), in runs of their own.
//
// Needs permission to trace the server (root, or kernel.perf_event_paranoid <= 1 and the same
// user) and tracefs; without them available() is false and the count is reported as unknown.
#pragma once

#include <sys/types.h>
#include <vector>

namespace cs::bench {

class SyscallCounter {
public:
    SyscallCounter() = default;
    ~SyscallCounter();
    SyscallCounter(const SyscallCounter&) = delete;
    SyscallCounter& operator=(const SyscallCounter&) = delete;

    // Starts counting on every thread of these processes. False if any could not be attached.
    bool attach(const std::vector<pid_t>& processes);
    bool available() const noexcept { return ok_; }
    long long total() const;  // system calls since attach(), all attached threads together

private:
    std::vector<int> fds_;
    bool ok_ = false;
};

}  // namespace cs::bench
