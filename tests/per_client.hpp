// tests/per_client.hpp — for the lessons that give each client a process or a thread of its own
// (02-process, 03-thread): bounded waits on /proc counts, echo latency seen by one client while
// another misbehaves, a client that sends without ever reading, and the scenarios both lessons
// share (each lesson's test file names them in its own TESTs).
#pragma once

#include "tests/support/client.hpp"
#include "tests/support/proc.hpp"
#include "tests/support/server_spec.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
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
    eventually(
        [&] {
            std::this_thread::sleep_for(50ms);
            int now = thread_count(pid);
            return std::exchange(last, now) == now;
        },
        timeout);
    return last;
}

// One short connection: send, half-close, expect exactly the echo and then the server's close.
inline void echo_and_close(std::uint16_t port, const std::string& message) {
    Client client = Client::connect(port);
    client.send(message);
    client.shutdown_write();
    EXPECT_EQ(client.read_to_eof(), message);
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

// A client that sent a partial line and went silent holds up no one: another client's echoes
// each come back within 100 ms, and the silent one still gets its bytes at its half-close.
inline void expect_silent_partial_line_delays_no_one(const ServerSpec& spec) {
    ServerProcess server = start_server(spec, {"--quiet"});
    Client silent = Client::connect(server.port());
    silent.send("a partial line, then silence");
    Client other = Client::connect(server.port());
    EXPECT_LE(worst_echo_latency(other, 20), 100ms);
    silent.shutdown_write();
    EXPECT_EQ(silent.read_to_eof(), "a partial line, then silence");
}

// A client that sends 64 MiB and never reads blocks its own process or thread in write(), and
// only that one: another client's echoes come back within 100 ms, and a new client is served.
inline void expect_non_reader_blocks_only_itself(const ServerSpec& spec) {
    ServerProcess server = start_server(spec, {"--quiet"});
    NonReader hog(server.port(), 64 << 20);
    ASSERT_TRUE(hog.stalled_within(10s)) << "the non-reading client never filled the buffers";
    EXPECT_LT(hog.sent(), hog.total()) << "the server should be blocked writing to it";
    Client other = Client::connect(server.port());
    EXPECT_LE(worst_echo_latency(other, 20), 100ms);
    Client newcomer = Client::connect(server.port());
    newcomer.expect_echo("and a new client too\n", 1s);
}

// With --max-conns 2, a third client is closed with a log line; the two are still served, and
// once one of them leaves there is room for a new one. `released(server)` says when the server
// has given the first one's place back (02: its child reaped; by default: when its client saw EOF).
inline void expect_cap_closes_only_the_extra_client(
    const ServerSpec& spec, const std::function<bool(ServerProcess&)>& released = [](ServerProcess&) { return true; }) {
    ServerProcess server = start_server(spec, {"--max-conns", "2"});
    Client first = Client::connect(server.port());
    first.expect_echo("one\n");
    Client second = Client::connect(server.port());
    second.expect_echo("two\n");
    Client third = Client::connect(server.port());
    EXPECT_EQ(third.read_to_eof(2s), "") << "over the cap the server closes the new connection";
    EXPECT_TRUE(server.wait_for_stderr("--max-conns", 1s)) << server.stderr_text();
    first.shutdown_write();
    EXPECT_EQ(first.read_to_eof(), "") << "the server should close after the first client's EOF";
    ASSERT_TRUE(eventually([&] { return released(server); })) << "the first client's place was never given back";
    Client fourth = Client::connect(server.port());
    fourth.expect_echo("room again\n");
    second.expect_echo("still served\n");
}

}  // namespace cs::test
