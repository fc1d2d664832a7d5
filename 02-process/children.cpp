// 02-process/children.cpp — reaping children in a SIGCHLD handler without losing one.
#include "02-process/children.hpp"

#include <cerrno>
#include <cstring>
#include <sys/wait.h>

namespace lesson02 {

namespace {

Children* reaper_table = nullptr;  // a handler gets no arguments: this is how it finds the table

std::string describe(int status) {
    if (WIFSIGNALED(status))
        return fmt::format("killed by signal {} ({})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
    return fmt::format("exit {}", WEXITSTATUS(status));
}

}  // namespace

// [slide:sigchld]
void on_sigchld(int) {
    int saved_errno = errno;  // waitpid() sets errno; the code we interrupted may be about to read it
    // [todo:2 reap every child | tests: ThreeRoundsOfOneHundredFiftySimultaneousClientsLeaveNoZombieAndNoDescriptor, TwoHundredShortConnectionsLeaveNoChildAfterOneSecond, StormOfExitingChildrenFailsNoConnectionOfAnotherClient]
    //? waitpid() every child that has ended, without blocking (WNOHANG), and tell the table
    //? (reaper_table->mark_reaped(pid, status)) so the accept loop logs it and frees its slot.
    //? One SIGCHLD may stand for many children: how many waitpid() calls does that take?
    int status = 0;
    pid_t pid;
    // Loop until nothing is left: standard signals do not queue, so ten children that end
    // together may arrive as ONE SIGCHLD. Reaping only one per signal leaves zombies behind.
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) reaper_table->mark_reaped(pid, status);
    // [/todo]
    errno = saved_errno;
}
// [/slide]

Children::Children(int capacity) : slots_(static_cast<std::size_t>(capacity)) {}

void Children::install_reaper() {
    reaper_table = this;
    struct sigaction action {};
    action.sa_handler = on_sigchld;
    sigemptyset(&action.sa_mask);
    // No SA_RESTART, on purpose: a child's end interrupts accept() with EINTR, so the main loop
    // wakes up and logs the reaped child at once. The accept loop treats EINTR as "go round again".
    // SA_NOCLDSTOP: no signal when a child is merely stopped (kill -STOP) or continued.
    action.sa_flags = SA_NOCLDSTOP;
    ::sigaction(SIGCHLD, &action, nullptr);
}

void Children::mark_reaped(pid_t pid, int status) noexcept {
    for (Slot& slot : slots_) {
        if (slot.pid == pid) {
            slot.status = status;
            slot.reaped = true;
            return;
        }
    }
}

bool Children::full() const {
    SignalBlock block;
    for (const Slot& slot : slots_) {
        if (slot.pid == 0) return false;  // a reaped child holds its slot until report_reaped() logged it
    }
    return true;
}

int Children::serving() const {
    SignalBlock block;
    int count = 0;
    for (const Slot& slot : slots_) {
        if (slot.pid != 0 && !slot.reaped) ++count;
    }
    return count;
}

// [slide:record-child]
void Children::add(pid_t pid) {
    // The caller blocked SIGCHLD before fork(): otherwise a child that ends at once could be
    // reaped by the handler before it is in the table, and the table would keep a dead pid.
    for (Slot& slot : slots_) {
        if (slot.pid == 0) {
            slot.reaped = false;
            slot.pid = pid;
            return;
        }
    }
}
// [/slide]

void Children::report_reaped(const cs::Log& log) {
    SignalBlock block;
    for (Slot& slot : slots_) {
        if (slot.pid != 0 && slot.reaped) {
            log.conn("reaped child {} ({})", slot.pid.load(), describe(slot.status));
            slot.pid = 0;
        }
    }
}

void Children::end_all(const cs::Log& log) {
    SignalBlock block;  // from here on this function reaps, not the handler
    int ended = 0;
    for (Slot& slot : slots_) {
        // A child runs with SIGTERM at its default action: it dies at once, and the kernel
        // closes its connection. An echo has no half-done work worth a grace period.
        // SIGCONT too: a stopped child (kill -STOP) would keep the SIGTERM pending forever.
        if (slot.pid != 0 && !slot.reaped) {
            ::kill(slot.pid, SIGTERM);
            ::kill(slot.pid, SIGCONT);
        }
    }
    for (Slot& slot : slots_) {
        if (slot.pid == 0 || slot.reaped) continue;
        int status = 0;
        while (::waitpid(slot.pid, &status, 0) < 0 && errno == EINTR) {
        }
        slot.status = status;
        slot.reaped = true;
        ++ended;
    }
    report_reaped(log);
    log.info("ended {} children still serving clients", ended);
}

}  // namespace lesson02
