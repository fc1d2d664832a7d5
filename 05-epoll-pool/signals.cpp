// 05-epoll-pool/signals.cpp — pthread_sigmask(), signalfd() and eventfd(): signals without a handler.
#include "05-epoll-pool/signals.hpp"

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <system_error>
#include <unistd.h>

namespace lesson05 {
namespace {

[[noreturn]] void throw_errno(const char* call) { throw std::system_error(errno, std::generic_category(), call); }

sigset_t handled_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);  // the stats request
    return set;
}

}  // namespace

// [slide:signalfd-setup]
Signals::Signals() {
    sigset_t set = handled_signals();
    // Blocked, SIGINT/SIGTERM/SIGUSR1 stay pending instead of running a handler or killing us; the
    // signalfd then reads them like data. pthread_sigmask: this thread, and every thread it starts.
    if (int error = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); error != 0) {
        throw std::system_error(error, std::generic_category(), "pthread_sigmask()");
    }
    signals_.reset(::signalfd(-1, &set, SFD_CLOEXEC));
    if (!signals_) throw_errno("signalfd()");
    broadcast_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!broadcast_) throw_errno("eventfd()");
}
// [/slide]

int Signals::wait() {
    signalfd_siginfo info{};
    while (::read(signals_.get(), &info, sizeof info) != static_cast<ssize_t>(sizeof info)) {
        if (errno != EINTR) return SIGTERM;  // cannot happen with a valid signalfd; stop rather than hang
    }
    return static_cast<int>(info.ssi_signo);
}

void Signals::broadcast() {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t ignored = ::write(broadcast_.get(), &one, sizeof one);
}

}  // namespace lesson05
