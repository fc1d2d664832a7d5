// 03-thread/pool.cpp — N threads, one bounded queue: take a socket, serve it, close it, again.
#include "03-thread/pool.hpp"

#include <algorithm>
#include <sys/socket.h>

namespace lesson03 {

ThreadPool::ThreadPool(std::size_t threads, Work work)
    : work_(std::move(work)), capacity_(threads), served_(threads, -1) {
    try {
        for (std::size_t slot = 0; slot < threads; ++slot) threads_.emplace_back([this, slot] { run(slot); });
    } catch (...) {  // no memory for a stack, or a thread limit: end the threads already started
        shutdown_all();
        throw;  // threads_ is destroyed now: each std::jthread joins its (stopping) thread
    }
}

ThreadPool::~ThreadPool() { shutdown_all(); }  // then threads_, declared last, joins every thread

bool ThreadPool::submit(cs::Fd socket, const std::atomic<bool>& stop) {
    std::unique_lock lock(mutex_);
    // Full: every thread is busy and N more clients wait. Stop accepting until one is taken; the
    // kernel's backlog, not our memory, holds whoever comes next.
    while (queue_.size() >= capacity_ && !stopping_) {
        if (stop) return false;  // closes `socket`: we are stopping anyway
        taken_.wait_for(lock, kStopCheck);
    }
    if (stopping_) return false;
    queue_.push_back(std::move(socket));
    queued_.notify_one();  // one free thread is enough
    return true;
}

void ThreadPool::run(std::size_t slot) {
    for (;;) {
        cs::Fd socket;
        {
            std::unique_lock lock(mutex_);
            queued_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) return;  // shutdown_all() closed what was still queued
            socket = std::move(queue_.front());
            queue_.pop_front();
            served_[slot] = socket.get();
        }
        taken_.notify_one();
        work_(socket);  // without the lock: the client may take minutes
        std::lock_guard lock(mutex_);
        socket.reset();  // under the lock, like connections.cpp's finish(): see shutdown_all()
        served_[slot] = -1;
    }
}

std::size_t ThreadPool::open() {
    std::lock_guard lock(mutex_);
    auto serving = std::count_if(served_.begin(), served_.end(), [](int fd) { return fd >= 0; });
    return queue_.size() + static_cast<std::size_t>(serving);
}

std::size_t ThreadPool::shutdown_all() {
    std::lock_guard lock(mutex_);
    std::size_t cut = stopping_ ? 0 : queue_.size();
    stopping_ = true;
    queue_.clear();  // never served: closing them is all we owe them
    for (int fd : served_) {
        if (fd < 0) continue;
        ::shutdown(fd, SHUT_RDWR);  // its thread's read() returns EOF, its write() fails: it ends as usual
        ++cut;
    }
    queued_.notify_all();
    return cut;
}

}  // namespace lesson03
