// 04-select/stop_pipe.cpp — the signal handler writes a byte; select() sees the pipe readable.
#include "04-select/stop_pipe.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <system_error>
#include <unistd.h>

namespace select_lesson {
namespace {

std::atomic<int> write_end_fd{-1};  // lock-free atomics are safe to read in a signal handler

// [slide:self-pipe]
void on_stop_signal(int) {
    int saved_errno = errno;  // write() may change errno under the code we interrupted
    char byte = 1;
    // Non-blocking: if the pipe is full, it is readable already, and that is all the loop needs.
    [[maybe_unused]] ssize_t ignored = ::write(write_end_fd.load(), &byte, 1);
    errno = saved_errno;
}
// [/slide]

}  // namespace

StopPipe::StopPipe() {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) throw std::system_error(errno, std::generic_category(), "pipe2()");
    read_end_.reset(fds[0]);
    write_end_.reset(fds[1]);
    write_end_fd = fds[1];

    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;  // select() fails with EINTR anyway, whatever SA_RESTART says (signal(7))
    if (::sigaction(SIGINT, &action, nullptr) < 0 || ::sigaction(SIGTERM, &action, nullptr) < 0) {
        throw std::system_error(errno, std::generic_category(), "sigaction()");
    }
}

// The write end closes after this: the handler must not write to a number the kernel may reuse.
StopPipe::~StopPipe() { write_end_fd = -1; }

}  // namespace select_lesson
