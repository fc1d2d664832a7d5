// 05-epoll-pool/startup.hpp — what main() sets up before the loops run: the descriptor limit,
// one listener per loop, and the stop signal.
#pragma once

#include "common/cli.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"

#include <vector>

namespace epoll_lesson {

// Raises RLIMIT_NOFILE (soft) to the hard limit and logs what it did: every connection is a
// descriptor, and the usual soft limit of 1024 would stop us long before 10,000 clients.
void raise_nofile_limit(const cs::Log& log);

// `count` non-blocking listeners on options.host:options.port (SO_REUSEPORT when count > 1).
// Throws std::system_error naming the call, like cs::listen_tcp.
std::vector<cs::Fd> open_listeners(const cs::ServerOptions& options, int count);

// SIGINT/SIGTERM read as data from a signalfd by main(), then broadcast to every loop through an
// eventfd. Why not 04's self-pipe: with threads, a handler runs on whichever thread the kernel
// picks, in the middle of whatever it was doing. Blocked in every thread and read from a
// signalfd, the signals need no handler at all, and no system call of a loop is ever
// interrupted (no EINTR). The eventfd is a counter the loops watch but never read: once written
// it stays readable, so it wakes every loop, however many there are.
// SIGUSR1 comes through the same signalfd; main() answers it alone (the loops never hear of it).
// Construct it before starting any thread: threads inherit the blocked signal mask.
class StopSignal {
public:
    StopSignal();  // throws std::system_error naming the call

    int loops_fd() const noexcept { return broadcast_.get(); }  // for each loop's epoll
    int wait();        // sleeps in read(signalfd); returns SIGINT, SIGTERM or SIGUSR1
    void broadcast();  // every loop's epoll_wait() returns with loops_fd() readable

private:
    cs::Fd signals_;
    cs::Fd broadcast_;
};

}  // namespace epoll_lesson
