// tests/broken/fixture.cpp — command line, listen, stop signals and logs for the broken servers.
#include "tests/broken/fixture.hpp"

#include "common/cli.hpp"
#include "common/net.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace cs::broken {
namespace {

volatile std::sig_atomic_t stop_flag = 0;
std::atomic<int> listen_fd{-1};  // lock-free atomics may be read in a signal handler
std::atomic<int> client_fd{-1};

void on_stop_signal(int) {
    int saved_errno = errno;
    stop_flag = 1;
    ::shutdown(listen_fd.load(), SHUT_RDWR);  // wakes accept(), select() and epoll_wait()
    if (int fd = client_fd.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
    errno = saved_errno;
}

void install_stop_handler(bool ignore_sigpipe) {
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: the signal must interrupt the blocked call
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);
    if (ignore_sigpipe) ::signal(SIGPIPE, SIG_IGN);
}

}  // namespace

bool stop_requested() noexcept { return stop_flag != 0; }

void set_blocking_client(int fd) noexcept { client_fd = fd; }

void run_fixture(int argc, char** argv, const FixtureInfo& info, ServeFn serve) {
    cs::CommandLine cli(info.program, info.description, 9100);
    if (auto exit_code = cli.parse(argc, argv)) std::_Exit(*exit_code);
    cs::Log log(info.log_name);
    log.set_quiet(cli.options().quiet);

    cs::Fd listener;
    try {
        listener = cs::listen_tcp({.host = cli.options().host, .port = cli.options().port});
    } catch (const std::system_error& error) {
        cli.report_listen_error(error);
        std::_Exit(cs::kExitStartup);
    }
    listen_fd = listener.get();
    install_stop_handler(info.ignore_sigpipe);
    cs::announce_listening(listener);

    serve(listener, log);
    log.info("stop signal received; exiting");
    std::_Exit(cs::kExitOk);  // no destructors: detached threads may still be using `log`
}

void serve_one_at_a_time(const Fd& listener, const Log& log, ServeClientFn serve_client) {
    while (!stop_requested()) {
        int connfd = ::accept(listener.get(), nullptr, nullptr);
        if (connfd < 0) {
            if (stop_requested()) break;
            if (errno != EINTR && errno != ECONNABORTED) ::usleep(100'000);  // e.g. EMFILE: do not spin
            continue;
        }
        cs::Fd conn{connfd};
        set_blocking_client(connfd);
        if (!stop_requested()) serve_client(conn, log);
        set_blocking_client(-1);
    }
}

std::string log_connected(const Log& log, int fd) {
    std::string peer = cs::peer_endpoint(fd);
    log.conn("{} connected (fd {})", peer, fd);
    return peer;
}

void log_finished(const Log& log, int fd, const std::string& peer, const EchoResult& result) {
    if (result.error != 0) {
        log.conn("{}() failed: {}; closing fd {} ({})", result.failed_call, cs::errno_text(result.error), fd, peer);
    } else {
        log.conn("{} closed (fd {}, {} bytes echoed)", peer, fd, result.bytes);
    }
}

void become_child(const Fd& listener) noexcept {
    struct sigaction defaults {};
    defaults.sa_handler = SIG_DFL;
    sigemptyset(&defaults.sa_mask);
    for (int sig : {SIGTERM, SIGINT, SIGCHLD}) ::sigaction(sig, &defaults, nullptr);
    listen_fd = -1;  // a child must never shut down the listening socket its parent still uses
    ::close(listener.get());
}

void stop_and_reap_children(const Log& log) {
    ::kill(0, SIGTERM);  // the children are in our process group; our own handler only sets the flag
    int reaped = 0;
    for (;;) {
        pid_t pid = ::waitpid(-1, nullptr, 0);
        if (pid > 0) {
            ++reaped;
        } else if (errno != EINTR) {
            break;  // ECHILD: none left
        }
    }
    log.info("stopped and reaped {} children", reaped);
}

}  // namespace cs::broken
