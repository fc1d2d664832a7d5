// tests/broken/fork_no_close.cpp — BROKEN ON PURPOSE: a grader fixture, not a lesson.
// A process-per-connection server whose parent never closes the connected descriptor after
// fork(). The child echoes and closes its copy, but the parent's copy keeps the connection
// open: the client never sees EOF, and the parent's descriptor table grows with every client.
// The one bug: the parent does not close connfd. Must be caught by
// Conformance.ClosesConnectionAfterClientEofAndFullEcho and
// Conformance.ThreeHundredSequentialConnectionsDoNotLeakDescriptors (and every test that
// waits for the server's EOF: see tests/broken/expected.toml).
#include "tests/broken/fixture.hpp"

#include "01-iterative/echo.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

void reap_children(int) {
    int saved_errno = errno;
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {  // correct here: every exited child, not one
    }
    errno = saved_errno;
}

void serve_in_child(const cs::Fd& listener, int connfd, const cs::Log& log) {
    cs::broken::become_child(listener);
    std::string peer = cs::broken::log_connected(log, connfd);
    cs::broken::log_finished(log, connfd, peer, cs::echo_until_eof(connfd));
    ::close(connfd);
    ::_exit(0);
}

// [slide:the-bug]
void serve(const cs::Fd& listener, const cs::Log& log) {
    struct sigaction action {};
    action.sa_handler = reap_children;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGCHLD, &action, nullptr);
    while (!cs::broken::stop_requested()) {
        int connfd = ::accept(listener.get(), nullptr, nullptr);
        if (connfd < 0) {
            if (errno != EINTR && errno != ECONNABORTED && !cs::broken::stop_requested()) ::usleep(100'000);
            continue;
        }
        pid_t pid = ::fork();
        if (pid == 0) serve_in_child(listener, connfd, log);
        if (pid < 0) log.info("fork() failed: {}", std::strerror(errno));
        // BUG: missing ::close(connfd). The connection ends only when its LAST descriptor closes.
    }
    cs::broken::stop_and_reap_children(log);
}
// [/slide]

}  // namespace

int main(int argc, char** argv) {
    cs::broken::run_fixture(argc, argv,
                            {.program = "echo-broken-fork-no-close",
                             .description = "BROKEN process-per-connection echo server: the parent keeps connfd open",
                             .log_name = "broken-fork-no-close"},
                            serve);
}
