// bench/load/run.cpp — tallies, and the Worker's connect window and deadline ticker.
#include "bench/load/run.hpp"

#include <algorithm>

namespace cs::bench {

std::chrono::nanoseconds nanoseconds_between(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(to - from);
}

void Tally::error(std::string what) {
    ++errors;
    if (first_error.empty()) first_error = std::move(what);
}

void Tally::merge(const Tally& other) {
    sent += other.sent;
    echoed += other.echoed;
    timed_out += other.timed_out;
    lost += other.lost;
    errors += other.errors;
    connect_timeouts += other.connect_timeouts;
    requests += other.requests;
    censored += other.censored;
    served += other.served;
    connections += other.connections;
    latency.merge(other.latency);
    send_lag.merge(other.send_lag);
    last_measured = std::max(last_measured, other.last_measured);
    if (first_error.empty()) first_error = other.first_error;
}

Worker::Worker(const LoadOptions& options, const Pattern& pattern, const Timeline& timeline, Shared& shared,
               tcp::endpoint server)
    : options_(options), pattern_(pattern), timeline_(timeline), shared_(shared), server_(std::move(server)),
      timeout_(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.timeout_s))) {}

void Worker::run() {
    start_more();
    tick();
    io_.run();
}

void Worker::connect_done() {
    --connecting_;
    start_more();
}

void Worker::start_more() {
    while (connecting_ < kConnectWindow && next_to_start_ < tasks_.size()) {
        ++connecting_;
        tasks_[next_to_start_++]->start();
    }
}

// Deadlines are checked here, every 20 ms, rather than with a timer per connection: 10,000
// idle connections would otherwise mean 10,000 timers re-armed on every event.
void Worker::tick() {
    auto now = Clock::now();
    bool all_finished = next_to_start_ == tasks_.size();
    for (std::size_t i = 0; i < next_to_start_; ++i) {
        if (tasks_[i]->finished()) continue;
        tasks_[i]->on_tick(now);
        all_finished = all_finished && tasks_[i]->finished();
    }
    if (all_finished) return;  // no more timer: io_.run() returns once the last handler ran
    ticker_.expires_after(std::chrono::milliseconds(20));
    ticker_.async_wait([this](boost::system::error_code error) {
        if (!error) tick();
    });
}

}  // namespace cs::bench
