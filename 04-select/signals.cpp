// 04-select/signals.cpp — the signal handler sets a flag and writes a byte; select() sees the pipe readable.
#include "04-select/signals.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <system_error>
#include <unistd.h>

namespace lesson04 {
namespace {

// Lock-free atomics are safe to touch in a signal handler; exchange() below reads and clears a
// flag in one step, so a signal that lands in between is never lost.
std::atomic<int> write_end_fd{-1};
std::atomic<bool> stop_requested{false};
std::atomic<bool> stats_requested{false};

// [slide:self-pipe]
void on_signal(int sig) {
    int saved_errno = errno;  // write() may change errno under the code we interrupted
    if (sig == SIGUSR1) stats_requested = true;
    else stop_requested = true;
    char byte = 1;
    // Non-blocking: if the pipe is full, it is readable already, and that is all the loop needs.
    [[maybe_unused]] ssize_t ignored = ::write(write_end_fd.load(), &byte, 1);
    errno = saved_errno;
}
// [/slide]

}  // namespace

Signals::Signals() {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) throw std::system_error(errno, std::generic_category(), "pipe2()");
    read_end_.reset(fds[0]);
    write_end_.reset(fds[1]);
    write_end_fd = fds[1];

    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    // SA_RESTART: a read() or send() the signal interrupts is restarted by the kernel instead of
    // failing with EINTR (the loop retries EINTR anyway). select() fails with EINTR whatever
    // SA_RESTART says (signal(7)): the loop just goes round, and finds the pipe readable.
    action.sa_flags = SA_RESTART;
    for (int sig : {SIGINT, SIGTERM, SIGUSR1}) {
        if (::sigaction(sig, &action, nullptr) < 0)
            throw std::system_error(errno, std::generic_category(), "sigaction()");
    }
}

// The write end closes after this: the handler must not write to a number the kernel may reuse.
Signals::~Signals() { write_end_fd = -1; }

Signals::Received Signals::take() {
    char bytes[256];
    while (::read(read_end_.get(), bytes, sizeof bytes) > 0) continue;  // until EAGAIN: one wake-up for all
    // After the drain: a signal arriving from here on leaves a byte, so the next select() wakes again.
    return {.stop = stop_requested.exchange(false), .stats = stats_requested.exchange(false)};
}

}  // namespace lesson04
