// tests/broken/fork_reap_once.cpp — BROKEN ON PURPOSE: a grader fixture, not a lesson.
// A process-per-connection server whose SIGCHLD handler calls waitpid() once per signal.
// Signals do not queue: when several children exit close together, their SIGCHLDs coalesce
// into one, one child is reaped and the others stay zombies until the server exits.
// The one bug: zombies when child exits coalesce. The conformance suite cannot see it (a
// zombie echoes nothing and holds no descriptor); it must be caught by 02-process's own
// tests, which count zombies (see tests/broken/expected.toml).
#include "tests/broken/fixture.hpp"

#include "01-iterative/echo.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

// [slide:the-bug]
void reap_one_child(int) {
    int saved_errno = errno;
    ::waitpid(-1, nullptr, WNOHANG);  // BUG: one child per signal; must loop while waitpid() > 0
    errno = saved_errno;
}
// [/slide]

void serve_in_child(const cs::Fd& listener, int connfd, const cs::Log& log) {
    cs::broken::become_child(listener);
    std::string peer = cs::broken::log_connected(log, connfd);
    cs::broken::log_finished(log, connfd, peer, cs::echo_until_eof(connfd));
    ::close(connfd);
    ::_exit(0);
}

void serve(const cs::Fd& listener, const cs::Log& log) {
    struct sigaction action {};
    action.sa_handler = reap_one_child;
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
        ::close(connfd);  // the child has its own copy
    }
    cs::broken::stop_and_reap_children(log);
}

}  // namespace

int main(int argc, char** argv) {
    cs::broken::run_fixture(argc, argv,
                            {.program = "echo-broken-fork-reap-once",
                             .description = "BROKEN process-per-connection echo server: reaps one child per SIGCHLD",
                             .log_name = "broken-fork-reap-once"},
                            serve);
}
