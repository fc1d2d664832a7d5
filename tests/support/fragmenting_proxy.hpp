// tests/support/fragmenting_proxy.hpp — a TCP proxy that re-cuts the byte stream.
//
// Sits between a test client and the server under test. Every chunk it reads is forwarded in
// segments of 1..max_segment bytes (TCP_NODELAY, a short pause between segments), in both
// directions, so the server sees lines arrive split at every possible place: the test of the
// claim that a server never assumes "one read() = one line". A half-close is forwarded as a
// half-close. Threads: one acceptor, two pumps per connection; all stop in the destructor.
#pragma once

#include "common/fd.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace cs::test {

class FragmentingProxy {
public:
    struct Options {
        std::size_t max_segment = 1;           // 1: one byte per segment
        std::chrono::microseconds pause{100};  // between segments
        unsigned seed = 1;                     // segment sizes are pseudo-random in 1..max_segment
    };

    FragmentingProxy(std::uint16_t upstream_port, Options options);
    ~FragmentingProxy();
    FragmentingProxy(const FragmentingProxy&) = delete;
    FragmentingProxy& operator=(const FragmentingProxy&) = delete;

    std::uint16_t port() const noexcept { return port_; }

private:
    void accept_loop();
    void pump(int from, int to, unsigned seed);

    std::uint16_t upstream_port_;
    Options options_;
    Fd listener_;
    Fd stop_read_, stop_write_;  // a pipe: written once to wake every poll() at shutdown
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::mutex mutex_;
    std::vector<std::unique_ptr<Fd>> sockets_;  // every proxied socket, closed after the pumps stop
    std::vector<std::thread> pumps_;
    std::thread acceptor_;
};

}  // namespace cs::test
