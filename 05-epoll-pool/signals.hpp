// 05-epoll-pool/signals.hpp — SIGINT/SIGTERM (stop) and SIGUSR1 (stats) read as data from a
// signalfd, and the stop passed on to every loop through an eventfd. 04's Signals, for threads.
// Owner: main(); construct it before starting any thread (threads inherit the blocked mask).
#pragma once

#include "common/fd.hpp"

namespace lesson05 {

// Why not 04's self-pipe: with threads, a handler runs on whichever thread the kernel picks, in the middle of
// whatever it was doing. Blocked in every thread and read from a signalfd, the signals need no handler at
// all, and no system call of a loop is ever interrupted (no EINTR). The eventfd is a counter the loops watch
// but never read: once written it stays readable, so it wakes every loop, however many there are. SIGUSR1
// comes through the same signalfd; main() answers it alone (the loops never hear of it).
class Signals {
public:
    Signals();  // throws std::system_error naming the call

    int loops_fd() const noexcept { return broadcast_.get(); }  // for each loop's epoll
    int wait();        // sleeps in read(signalfd); returns SIGINT, SIGTERM or SIGUSR1
    void broadcast();  // every loop's epoll_wait() returns with loops_fd() readable

private:
    cs::Fd signals_;
    cs::Fd broadcast_;
};

}  // namespace lesson05
