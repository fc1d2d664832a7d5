// 02-process/signals.hpp — the parent's signal mask around fork(), and a new child's signals.
// SIGCHLD, SIGINT and SIGTERM are blocked from before fork() until the child is in the table
// (see children.hpp), so the handler never sees a child the table does not know yet.
// Owner: the parent's main flow (SignalBlock); restore_signals_in_child() runs in each new child.
#pragma once

#include <csignal>

namespace lesson02 {

// Blocks SIGCHLD, SIGINT and SIGTERM for one scope; the destructor restores the old mask.
class SignalBlock {
public:
    SignalBlock();
    ~SignalBlock();
    SignalBlock(const SignalBlock&) = delete;
    SignalBlock& operator=(const SignalBlock&) = delete;

    const sigset_t& previous() const noexcept { return previous_; }  // the mask before the block

private:
    sigset_t previous_;
};

// In a new child: the signal handlers back to their defaults (SIGTERM ends a child; a child has
// no children to reap), SIGUSR1 ignored (the stats line is the parent's), then the signal mask
// from before the fork.
void restore_signals_in_child(const sigset_t& mask);

}  // namespace lesson02
