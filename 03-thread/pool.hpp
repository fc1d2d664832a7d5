// 03-thread/pool.hpp — a fixed pool of threads fed by a bounded queue of sockets (--pool N).
// The prethreaded server (CS:APP's sbuf, UNP 30.11): N threads made once, a queue of at most N
// connected sockets, a free thread takes the oldest. Against a thread per client: no thread made per
// client, a fixed bill, but only N served at once: client N+1 is accepted and waits for a free thread.
// Threads: all shared state is under mutex_; a socket is closed under it (no reused number hit).
#pragma once

#include "common/fd.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lesson03 {

class ThreadPool {
public:
    using Work = std::function<void(const cs::Fd& socket)>;  // serves one client; runs on a pool thread

    // Starts the threads with the caller's signal mask. Throws std::system_error (none left running).
    ThreadPool(std::size_t threads, Work work);
    ~ThreadPool();  // shutdown_all(), then every thread joined
    ThreadPool(const ThreadPool&) = delete;

    // Queues a socket; while the queue is full, waits (the backlog holds the next clients). Gives up,
    // closing it, once `stop` is set: checked every kStopCheck, as a handler cannot notify a condvar.
    bool submit(cs::Fd socket, const std::atomic<bool>& stop);
    std::size_t open();          // clients being served plus clients queued
    std::size_t shutdown_all();  // stop: close the queued, shutdown() the served; returns how many

    static constexpr auto kStopCheck = std::chrono::milliseconds(100);

private:
    void run(std::size_t slot);  // one pool thread

    Work work_;
    std::size_t capacity_;
    std::mutex mutex_;
    std::condition_variable queued_;  // a socket was queued, or stopping
    std::condition_variable taken_;   // a socket left the queue
    std::deque<cs::Fd> queue_;
    std::vector<int> served_;  // per pool thread: the descriptor it serves, -1 when free
    bool stopping_ = false;
    std::vector<std::jthread> threads_;  // last: joined before the rest is destroyed
};

}  // namespace lesson03
