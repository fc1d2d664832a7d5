// tests/epoll_loop_finish_test.cpp — 05's EventLoop::finish(deadline), the graceful end that 05's
// main() calls with `now` and 06-prefork's workers with their grace period: a client queued on
// the listener is served, not reset; a quiet connection closes at once; a transfer in flight gets
// every byte back and then EOF; nothing outlives the deadline.
#include "05-epoll-pool/event_loop.hpp"
#include "common/net.hpp"

#include <gtest/gtest.h>
#include <string>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace lesson05 {
namespace {

using namespace std::chrono_literals;

void set_timeouts(int fd, std::chrono::seconds limit) {
    timeval tv{static_cast<time_t>(limit.count()), 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// Reads until EOF (returns the byte count), or -1 on an error or after the socket's timeout.
long read_to_eof(int fd) {
    std::string buffer(64 * 1024, '\0');
    long total = 0;
    for (;;) {
        ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n == 0) return total;
        if (n < 0) return -1;
        total += n;
    }
}

struct LoopUnderTest {
    explicit LoopUnderTest(bool edge = false) {
        cs::Fd listener = cs::listen_tcp({.nonblocking = true});
        port = cs::local_port(listener.get());
        log.set_quiet(true);
        loop = std::make_unique<EventLoop>(
            std::move(listener), stop.get(),
            LoopOptions{.out_cap = 256 * 1024, .max_conns = 16, .edge = edge, .idle_timeout = std::chrono::seconds(0)},
            open_total, log);
    }
    cs::Fd client() const {
        cs::Fd fd = cs::connect_tcp("127.0.0.1", port);
        set_timeouts(fd.get(), 10s);
        return fd;
    }
    void ring() const {
        std::uint64_t one = 1;
        ASSERT_EQ(::write(stop.get(), &one, sizeof one), static_cast<ssize_t>(sizeof one));
    }

    cs::Log log{"test-finish"};
    cs::Fd stop{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
    std::atomic<int> open_total{0};
    std::uint16_t port = 0;
    std::unique_ptr<EventLoop> loop;
};

TEST(EventLoopFinish, ClientQueuedOnTheListenerIsServedThenClosedNotReset) {
    LoopUnderTest under;
    cs::Fd queued = under.client();  // in the backlog: the loop has not run yet
    ASSERT_EQ(::write(queued.get(), "x", 1), 1);
    under.ring();
    ASSERT_TRUE(under.loop->run());  // returns at once: the stop fd is readable
    under.loop->finish(Clock::now() + 5s);
    EXPECT_EQ(read_to_eof(queued.get()), 1) << "the queued client's byte back, then EOF (not a reset)";
    EXPECT_EQ(under.loop->stats().open, 0);
}

class EventLoopFinishBothTriggers : public ::testing::TestWithParam<bool> {};

TEST_P(EventLoopFinishBothTriggers, QuietConnectionClosesAtOnceAndTransferInFlightGetsEveryByteThenEof) {
    constexpr long kTotal = 16L * 1024 * 1024;
    LoopUnderTest under(GetParam());
    std::thread serving([&] {
        if (under.loop->run()) under.loop->finish(Clock::now() + 30s);
    });
    cs::Fd quiet = under.client();
    cs::Fd busy = under.client();
    std::thread sending([&] {
        std::string chunk(64 * 1024, 'b');
        for (long sent = 0; sent < kTotal; sent += static_cast<long>(chunk.size())) {
            if (sent == kTotal / 4) under.ring();  // the stop comes in the middle of the transfer
            if (::send(busy.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(chunk.size()))
                break;
        }
        ::shutdown(busy.get(), SHUT_WR);
    });
    auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(read_to_eof(busy.get()), kTotal) << "every byte echoed, then EOF";
    sending.join();
    EXPECT_EQ(read_to_eof(quiet.get()), 0) << "the quiet connection is closed, not kept to the deadline";
    serving.join();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 20s) << "finish() returned once both were done";
}

INSTANTIATE_TEST_SUITE_P(EventLoopFinish, EventLoopFinishBothTriggers, ::testing::Values(false, true),
                         [](const auto& trigger) { return std::string(trigger.param ? "Edge" : "Level"); });

TEST(EventLoopFinish, DeadlineClosesAClientThatNeverReadsItsEcho) {
    LoopUnderTest under;
    std::thread serving([&] {
        if (under.loop->run()) under.loop->finish(Clock::now() + 300ms);
    });
    cs::Fd stuck = under.client();
    std::string chunk(64 * 1024, 's');
    for (int i = 0; i < 4; ++i) ASSERT_EQ(::send(stuck.get(), chunk.data(), chunk.size(), 0), 65536);
    std::this_thread::sleep_for(100ms);  // let the loop read some and queue its echo
    auto rung = std::chrono::steady_clock::now();
    under.ring();
    serving.join();
    EXPECT_LT(std::chrono::steady_clock::now() - rung, 3s) << "finish() keeps to its deadline";
    EXPECT_EQ(under.loop->stats().open, 0);
}

}  // namespace
}  // namespace lesson05
