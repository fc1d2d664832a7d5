// tests/support/crowd.hpp — many clients at once, with Boost.Asio (one thread, coroutines).
//
// Every client connects, sends its own message (its index is in it, so cross-talk between
// connections shows as a mismatch), and reads the exact echo. With hold_until_all_done the
// connections all stay open until every client has its echo: that is how a test proves the
// server served them at the same time, and it is when while_all_held runs (count children,
// threads or descriptors there). A deadline bounds the whole crowd.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace cs::test {

using namespace std::chrono_literals;

struct CrowdOptions {
    int clients = 50;
    std::string message = "hello from the crowd\n";
    bool hold_until_all_done = true;
    std::chrono::milliseconds deadline = 20s;
    std::string host = "127.0.0.1";
    std::function<void()> while_all_held;  // runs once, after every client finished, before any closes
};

struct CrowdResult {
    int clients = 0;
    int connected = 0;
    int echoed = 0;  // got exactly their own bytes back
    int failed = 0;  // connect/read/write error, wrong bytes, or the deadline
    std::string first_error;
    bool all_echoed() const { return echoed == clients; }
};

CrowdResult run_crowd(std::uint16_t port, const CrowdOptions& options);

}  // namespace cs::test
