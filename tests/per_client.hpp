// tests/per_client.hpp — helpers for the lessons that give each client a process or a thread of
// its own (02-process, 03-thread): bounded waits on /proc counts, echo latency seen by one client
// while another misbehaves, and a client that sends without ever reading.
#pragma once

#include "tests/support/client.hpp"
#include "tests/support/proc.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <utility>

namespace cs::test {

// Polls until `done()` is true or the timeout passes (bounded: never a bare sleep-and-hope).
template <class Predicate>
bool eventually(Predicate done, std::chrono::milliseconds timeout = 3s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

// The thread count of an idle server, once two samples 50 ms apart agree: the thread of a
// client that just left may still be on its way out, and sanitizer runtimes start helper threads
// of their own at the first pthread_create() (TSan does), so count only after a first client.
inline int settled_thread_count(pid_t pid, std::chrono::milliseconds timeout = 2s) {
    int last = thread_count(pid);
    eventually([&] {
        std::this_thread::sleep_for(50ms);
        int now = thread_count(pid);
        return std::exchange(last, now) == now;
    }, timeout);
    return last;
}

// The slowest of `rounds` echo round trips on `client` (each line sent, then read back exactly).
inline std::chrono::milliseconds worst_echo_latency(Client& client, int rounds) {
    std::chrono::steady_clock::duration worst{};
    for (int i = 0; i < rounds; ++i) {
        auto start = std::chrono::steady_clock::now();
        client.expect_echo("ping " + std::to_string(i) + "\n", 2s);
        worst = std::max(worst, std::chrono::steady_clock::now() - start);
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(worst);
}

// Connects and sends `total` bytes on its own thread without ever reading the echo. Once the
// kernel buffers on both sides are full, the server's write() to it blocks, and so does our
// send(). The destructor shuts the socket down, which unblocks the sender, and joins it.
class NonReader {
public:
    NonReader(std::uint16_t port, std::size_t total) : client_(Client::connect(port)), total_(total) {
        sender_ = std::thread([this] {
            std::string chunk = pattern_bytes(64 * 1024, 3);
            while (sent_ < total_) {
                ssize_t n = ::send(client_.fd(), chunk.data(), std::min(chunk.size(), total_ - sent_), MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) break;
                sent_ += static_cast<std::size_t>(n);
            }
        });
    }
    NonReader(const NonReader&) = delete;
    NonReader& operator=(const NonReader&) = delete;
    ~NonReader() {
        ::shutdown(client_.fd(), SHUT_RDWR);
        sender_.join();
    }

    std::size_t sent() const noexcept { return sent_; }
    std::size_t total() const noexcept { return total_; }

    // True once the sender has stopped making progress for `quiet` (it is blocked: buffers full).
    bool stalled_within(std::chrono::milliseconds timeout, std::chrono::milliseconds quiet = 200ms) const {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        std::size_t last = sent_;
        auto since = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(20ms);
            std::size_t now = sent_;
            if (now != last) {
                last = now;
                since = std::chrono::steady_clock::now();
            } else if (now > 0 && std::chrono::steady_clock::now() - since >= quiet) {
                return true;
            }
        }
        return false;
    }

private:
    Client client_;
    std::size_t total_;
    std::atomic<std::size_t> sent_{0};
    std::thread sender_;
};

}  // namespace cs::test
