// 05-epoll-pool/startup.cpp — setrlimit(), SO_REUSEPORT listeners, signalfd and eventfd.
#include "05-epoll-pool/startup.hpp"

#include "common/net.hpp"

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <system_error>
#include <unistd.h>

namespace epoll_lesson {
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

void raise_nofile_limit(const cs::Log& log) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) < 0) return;
    rlim_t before = limit.rlim_cur;
    if (before >= limit.rlim_max) {
        log.info("RLIMIT_NOFILE is {}, the hard limit already", before);
        return;
    }
    limit.rlim_cur = limit.rlim_max;  // as far as an unprivileged process may go
    if (::setrlimit(RLIMIT_NOFILE, &limit) < 0) {
        log.info("setrlimit(RLIMIT_NOFILE) failed: {}; staying at {}", cs::errno_text(), before);
        return;
    }
    log.info("raised RLIMIT_NOFILE from {} to {} (the hard limit)", before, limit.rlim_cur);
}

// [slide:reuseport]
// How connections reach the loops: each loop owns a listener on the same port (SO_REUSEPORT)
// and the kernel spreads new connections over them by a hash of the client's address and port.
// No hand-off queue, no lock, no wake-up between threads: each loop is a complete server.
// The price: the kernel balances by hash, not by load. (The other design, one acceptor handing
// fds to the loops, balances as it likes but sends every connection through a locked queue.)
// With --threads 1 the listener is a plain one, so a second server on its port fails as it should.
std::vector<cs::Fd> open_listeners(const cs::ServerOptions& options, int count) {
    cs::ListenOptions listen{.host = options.host, .port = options.port, .reuse_port = count > 1, .nonblocking = true};
    std::vector<cs::Fd> listeners;
    listeners.push_back(cs::listen_tcp(listen));
    listen.port = cs::local_port(listeners.front().get());  // --port 0: the others join the port the kernel chose
    while (static_cast<int>(listeners.size()) < count) listeners.push_back(cs::listen_tcp(listen));
    return listeners;
}
// [/slide]

// [slide:signalfd]
// [slide:signalfd-setup]
StopSignal::StopSignal() {
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

int StopSignal::wait() {
    signalfd_siginfo info{};
    while (::read(signals_.get(), &info, sizeof info) != static_cast<ssize_t>(sizeof info)) {
        if (errno != EINTR) return SIGTERM;  // cannot happen with a valid signalfd; stop rather than hang
    }
    return static_cast<int>(info.ssi_signo);
}

void StopSignal::broadcast() {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t ignored = ::write(broadcast_.get(), &one, sizeof one);
}
// [/slide]

}  // namespace epoll_lesson
