// bench/echo_floor.cpp — echo-floor: the physical floor, the least an epoll echo server can do.
//
// What it shows: what the kernel alone costs per echo. One thread, one level-triggered epoll
// loop, and per echo exactly one read() and one write() (plus the loop's share of one
// epoll_wait()). No logging, no timers, no connection cap, no idle timeout, no stats: every
// lesson adds something on top of this, and the bench prints how much.
//
// A REFERENCE, NOT A LESSON: it does NOT obey the whole server contract (README.md). It keeps
// the parts the bench relies on (--host, --port, the `listening on HOST:PORT` line, exit 0 on
// SIGTERM, every byte echoed in order, SIGPIPE ignored; --quiet is accepted and changes nothing,
// since it never logs) and drops the rest: no per-connection log, no SIGUSR1 stats line, no
// --idle-timeout, no --max-conns, no bound on what a client that never reads can make it hold.
//
// --extra-syscall adds one cheap system call per echo (getppid(), made with syscall() so that
// no library can cache it): the bench's one-syscall experiment uses it to show that it can see
// a cost that small (bench/README.md).
//
// Run: build/bin/echo-floor --port 0    (then: nc 127.0.0.1 PORT)
#include "common/cli.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/net.hpp"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kBufferBytes = 64 * 1024;  // as echo-asio and the lessons: one read takes a whole burst
constexpr int kMaxEvents = 256;

volatile std::sig_atomic_t g_stop = 0;  // set by SIGINT/SIGTERM; the loop checks it after epoll_wait
void on_stop_signal(int) { g_stop = 1; }

// The bytes a write() could not take yet. While a connection has some, it is not read from:
// that keeps the order and is the only bookkeeping a partial write forces on us.
struct Pending {
    std::vector<char> bytes;
    std::size_t sent = 0;
};

struct Floor {
    int epoll_fd = -1;
    int listen_fd = -1;
    bool extra_syscall = false;
    std::vector<Pending> pending;  // indexed by fd
    char buffer[kBufferBytes];
};

void watch(Floor& f, int fd, std::uint32_t events, int op) {
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;
    ::epoll_ctl(f.epoll_fd, op, fd, &event);
}

void close_connection(Floor& f, int fd) {
    f.pending[static_cast<std::size_t>(fd)] = Pending{};
    ::close(fd);  // also removes it from the epoll set
}

void accept_all(Floor& f) {
    for (;;) {
        int fd = ::accept4(f.listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;  // EAGAIN: the backlog is empty (or EMFILE: try again on the next wake-up)
        int one = 1;
        // Fair to the generator and to echo-asio, which does the same: an echo is interactive.
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (static_cast<std::size_t>(fd) >= f.pending.size()) f.pending.resize(static_cast<std::size_t>(fd) + 1);
        watch(f, fd, EPOLLIN, EPOLL_CTL_ADD);
    }
}

// Writes what is pending; true when nothing is left (the connection may be read again).
bool flush_pending(Floor& f, int fd) {
    Pending& p = f.pending[static_cast<std::size_t>(fd)];
    while (p.sent < p.bytes.size()) {
        ssize_t n = ::write(fd, p.bytes.data() + p.sent, p.bytes.size() - p.sent);
        if (n < 0 && errno == EAGAIN) return false;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return close_connection(f, fd), false;
        p.sent += static_cast<std::size_t>(n);
    }
    p = Pending{};
    watch(f, fd, EPOLLIN, EPOLL_CTL_MOD);
    return true;
}

// One echo: one read(), one write(). Level-triggered epoll reports the socket again if the
// read left bytes behind, so there is no second read to find EAGAIN.
void echo_once(Floor& f, int fd) {
    ssize_t n = ::read(fd, f.buffer, sizeof f.buffer);
    if (n == 0) return close_connection(f, fd);  // the client's EOF; everything it sent is echoed
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) close_connection(f, fd);
        return;
    }
    if (f.extra_syscall) ::syscall(SYS_getppid);  // the one-syscall experiment
    ssize_t written = ::write(fd, f.buffer, static_cast<std::size_t>(n));
    if (written < 0 && errno != EAGAIN && errno != EINTR) return close_connection(f, fd);
    if (written == n) return;
    // Partial write (a client slower than us): keep the rest, wait until it can be written.
    Pending& p = f.pending[static_cast<std::size_t>(fd)];
    std::size_t done = written > 0 ? static_cast<std::size_t>(written) : 0;
    p.bytes.assign(f.buffer + done, f.buffer + n);
    watch(f, fd, EPOLLOUT, EPOLL_CTL_MOD);
}

void serve(Floor& f) {
    epoll_event events[kMaxEvents];
    while (g_stop == 0) {
        int ready = ::epoll_wait(f.epoll_fd, events, kMaxEvents, -1);
        for (int i = 0; i < ready; ++i) {
            int fd = events[i].data.fd;
            if (fd == f.listen_fd) {
                accept_all(f);
            } else if (!f.pending[static_cast<std::size_t>(fd)].bytes.empty()) {
                flush_pending(f, fd);
            } else {
                echo_once(f, fd);
            }
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app("echo-floor: the least an epoll echo server can do (a bench reference; not the whole contract).",
                 "echo-floor");
    std::string host = "127.0.0.1";
    int port = 9000;
    auto floor = std::make_unique<Floor>();
    app.add_option("--host", host, "Address to listen on")->capture_default_str();
    app.add_option("--port", port, "Port (0: a free one)")->check(CLI::Range(0, 65535))->capture_default_str();
    bool quiet = false;  // accepted so that the bench can start every server alike; there is no log to silence
    app.add_flag("--quiet", quiet, "Accepted for the bench; echo-floor never logs");
    app.add_flag("--extra-syscall", floor->extra_syscall, "One extra getppid() per echo (the one-syscall experiment)");
    if (auto exit_code = cs::parse_command_line(app, "echo-floor", argc, argv)) return *exit_code;

    cs::Fd listener;
    try {
        listener = cs::listen_tcp({.host = host, .port = static_cast<std::uint16_t>(port)});
    } catch (const std::system_error& error) {
        std::fprintf(stderr, "echo-floor: cannot listen on %s:%d: %s\n", host.c_str(), port,
                     error.code().message().c_str());
        return cs::kExitStartup;
    }
    ::signal(SIGPIPE, SIG_IGN);
    struct sigaction stop {};
    stop.sa_handler = on_stop_signal;  // no SA_RESTART: epoll_wait returns EINTR and the loop ends
    ::sigaction(SIGINT, &stop, nullptr);
    ::sigaction(SIGTERM, &stop, nullptr);

    floor->listen_fd = listener.get();
    ::fcntl(floor->listen_fd, F_SETFL, ::fcntl(floor->listen_fd, F_GETFL) | O_NONBLOCK);
    floor->epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    watch(*floor, floor->listen_fd, EPOLLIN, EPOLL_CTL_ADD);
    cs::announce_listening(listener);
    serve(*floor);
    return cs::kExitOk;
}
