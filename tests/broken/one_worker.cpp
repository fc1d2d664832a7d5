// tests/broken/one_worker.cpp — BROKEN ON PURPOSE: a grader fixture, not a lesson.
// An iterative server presented as concurrent: the main thread accepts every client at once
// (so connect() succeeds and "connected" is logged for each), but a single worker thread
// serves the accepted connections one after another, like a thread pool of size 1.
// The one bug: accepted is not served; one idle client holds up all the others.
// Must be caught by Conformance.ServesAnotherClientWhileOneIsIdle and
// Conformance.EchoesTwentyClientsHeldOpenAtOnce, which hold a connection open instead of
// trusting that connect() (or accept()) succeeded.
#include "tests/broken/fixture.hpp"

#include "01-iterative/echo.hpp"
#include "common/net.hpp"

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace {

// Accepted connections waiting for the worker. Shared by the accepting thread and the worker;
// every member is guarded by `mutex`.
struct Queue {
    std::mutex mutex;
    std::condition_variable not_empty;
    std::deque<int> fds;
};

void work(Queue& queue, const cs::Log& log) {
    for (;;) {
        int fd;
        {
            std::unique_lock lock(queue.mutex);
            queue.not_empty.wait(lock, [&] { return !queue.fds.empty(); });
            fd = queue.fds.front();
            queue.fds.pop_front();
        }
        cs::Fd conn{fd};
        std::string peer = cs::peer_endpoint(fd);
        cs::broken::log_finished(log, fd, peer, cs::echo_until_eof(fd));  // to EOF: the others wait
    }
}

void serve(const cs::Fd& listener, const cs::Log& log) {
    // Lives as long as the process: the detached worker may still wait on it at exit.
    auto* queue = new Queue;
    std::thread(work, std::ref(*queue), std::cref(log)).detach();  // BUG: one worker for everyone
    while (!cs::broken::stop_requested()) {
        int connfd = ::accept(listener.get(), nullptr, nullptr);
        if (connfd < 0) {
            if (errno != EINTR && errno != ECONNABORTED && !cs::broken::stop_requested()) ::usleep(100'000);
            continue;
        }
        cs::broken::log_connected(log, connfd);
        std::lock_guard lock(queue->mutex);
        queue->fds.push_back(connfd);
        queue->not_empty.notify_one();
    }
}

}  // namespace

int main(int argc, char** argv) {
    cs::broken::run_fixture(argc, argv,
                            {.program = "echo-broken-one-worker",
                             .description = "BROKEN echo server: accepts everyone, serves one client at a time",
                             .log_name = "broken-one-worker"},
                            serve);
}
