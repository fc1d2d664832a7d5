// tests/support/slow_clients.hpp — slowloris against an echo server: many connections that each
// send one byte a second (and read its echo), while one normal client times its echo round trips.
//
// An event loop must not let a crowd of slow clients delay a fast one: each slow byte is one
// short read and one short write, whatever the number of them. A server that reads a client
// until it has a whole line, or serves clients in turn, fails at once. Everything runs on one
// Boost.Asio io_context in the calling thread (coroutines, as in crowd.hpp); a deadline bounds it.
// The caller needs RLIMIT_NOFILE above slow_clients + a few.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace cs::test {

using namespace std::chrono_literals;

struct SlowClientsOptions {
    int slow_clients = 500;
    std::chrono::milliseconds duration = 5s;       // how long the slow clients dribble (and the probe runs)
    std::chrono::milliseconds byte_every = 1s;     // each slow client's pace; their starts are spread over it
    std::chrono::milliseconds probe_pause = 10ms;  // the normal client's pause between two round trips
    std::string host = "127.0.0.1";
};

struct SlowClientsResult {
    int slow_connected = 0;
    int slow_failed = 0;                  // connect, read or write error, or a wrong echo
    std::uint64_t slow_bytes_echoed = 0;  // bytes the slow clients got back
    std::vector<double> round_trips_ms;   // the normal client's, sorted
    std::string first_error;

    double percentile_ms(double p) const;  // p in [0, 1]; 0 without round trips
    double max_ms() const { return round_trips_ms.empty() ? 0 : round_trips_ms.back(); }
    std::string summary() const;  // one line for the test log
};

SlowClientsResult run_slow_clients(std::uint16_t port, const SlowClientsOptions& options);

}  // namespace cs::test
