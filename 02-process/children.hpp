// 02-process/children.hpp — the parent's table of its children, and the SIGCHLD handler that reaps them.
//
// The parent needs to know its children for three things: the --max-conns cap, a log line when
// each one ends, and ending them all on SIGTERM. The table has one slot per allowed child,
// allocated once at start-up, because the SIGCHLD handler that writes into it must not allocate.
//
// Who touches it: the parent's main flow and the SIGCHLD handler, which interrupts that same
// flow. The main flow blocks SIGCHLD (SignalBlock) whenever it reads or changes the table, so
// the two never run over each other. Children never use it (they are copies of the parent, and
// their copy of the table is never looked at).
#pragma once

#include "02-process/signals.hpp"
#include "common/log.hpp"

#include <atomic>
#include <csignal>
#include <sys/types.h>
#include <vector>

namespace lesson02 {

class Children {
public:
    explicit Children(int capacity);  // capacity: --max-conns

    // Installs the SIGCHLD handler that reaps into this table. Without it (--no-reap) every
    // child that ends stays a zombie until the parent exits.
    void install_reaper();

    bool full() const;                       // every slot holds a child that has not been reaped
    int serving() const;                     // children not reaped yet: the connections open now
    void add(pid_t pid);                     // call with SIGCHLD blocked, right after fork()
    void report_reaped(const cs::Log& log);  // logs the children the handler reaped, frees their slots
    void end_all(const cs::Log& log);        // SIGTERM to every child, then reaps each one

private:
    friend void on_sigchld(int);
    void mark_reaped(pid_t pid, int status) noexcept;  // from the handler: async-signal-safe

    // Lock-free atomics: the only objects a signal handler may portably share with the code it interrupts.
    struct Slot {
        std::atomic<pid_t> pid{0};  // 0: free
        std::atomic<bool> reaped{false};
        std::atomic<int> status{0};  // waitpid() status, once reaped
    };
    std::vector<Slot> slots_;
};

}  // namespace lesson02
