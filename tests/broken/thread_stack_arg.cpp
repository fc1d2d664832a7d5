// tests/broken/thread_stack_arg.cpp — BROKEN ON PURPOSE: a grader fixture, not a lesson.
// A thread-per-connection server that hands each thread the ADDRESS of the one variable
// where accept() stores the descriptor. When clients arrive together, the next accept()
// overwrites the variable before a thread has read it: two threads serve one connection and
// another connection is never served (Stevens, UNP 26.4).
// The one bug: a race on a stack variable's address. Must be caught by
// Conformance.EchoesTwentyClientsHeldOpenAtOnce, and by 03-thread's own tests (expected.toml).
#include "tests/broken/fixture.hpp"

#include "01-iterative/echo.hpp"
#include "common/net.hpp"

#include <cerrno>
#include <chrono>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace {

// [slide:the-bug]
void serve_client(const int* connfd_address, const cs::Log& log) {
    // Real code loses this race only now and then; the pause makes the grader see it every run.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    int fd = *connfd_address;  // BUG: by now main() may have stored the next client's descriptor here
    std::string peer = cs::broken::log_connected(log, fd);
    cs::broken::log_finished(log, fd, peer, cs::echo_until_eof(fd));
    ::close(fd);
}

void serve(const cs::Fd& listener, const cs::Log& log) {
    int connfd = -1;  // ONE variable for every client; each thread gets its address
    while (!cs::broken::stop_requested()) {
        connfd = ::accept(listener.get(), nullptr, nullptr);
        if (connfd < 0) {
            if (errno != EINTR && errno != ECONNABORTED && !cs::broken::stop_requested()) ::usleep(100'000);
            continue;
        }
        std::thread(serve_client, &connfd, std::cref(log)).detach();  // fix: pass connfd by value
    }
}
// [/slide]

}  // namespace

int main(int argc, char** argv) {
    cs::broken::run_fixture(argc, argv,
                            {.program = "echo-broken-thread-stack-arg",
                             .description = "BROKEN thread-per-connection echo server: threads get &connfd",
                             .log_name = "broken-thread-stack-arg"},
                            serve);
}
