// 02-process/signals.cpp — sigprocmask() around fork(), and a child's signals set back to their defaults.
#include "02-process/signals.hpp"

#include <initializer_list>

namespace lesson02 {

SignalBlock::SignalBlock() {
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    ::sigprocmask(SIG_BLOCK, &block, &previous_);
}

SignalBlock::~SignalBlock() { ::sigprocmask(SIG_SETMASK, &previous_, nullptr); }

void restore_signals_in_child(const sigset_t& mask) {
    // Dispositions first, mask second: a SIGTERM already pending must meet the default action,
    // not the parent's handler, which is about the parent's accept loop.
    struct sigaction defaults {};
    defaults.sa_handler = SIG_DFL;
    for (int sig : {SIGCHLD, SIGINT, SIGTERM}) ::sigaction(sig, &defaults, nullptr);
    // SIGUSR1 reaches a child only when someone signals the whole group (kill -USR1 -PGID). Its
    // default action would end the child and drop its client; the parent's handler would set a
    // flag nobody reads here. Ignored, it is discarded at once and does not even interrupt read().
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGUSR1, &ignore, nullptr);
    ::sigprocmask(SIG_SETMASK, &mask, nullptr);
}

}  // namespace lesson02
