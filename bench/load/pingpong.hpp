// bench/load/pingpong.hpp — one request/response connection, closed loop or open loop.
//
// Closed loop (pingpong): `depth` requests go out at once; every echo that completes sends
// a new one. All echoes found in one wake-up are answered with ONE gather write, so a deep
// pipeline costs the generator one send() per wake-up, not one per request.
// Open loop (rate): requests leave at planned times whatever the server does, and latency is
// counted from the planned time: a server that stalls for 100 ms is charged 100 ms for every
// request that should have left meanwhile (no coordinated omission), and a request still
// unanswered when the window closes is charged its age at that moment.
// End: when the window is over the connection stops sending; once its queue is written and the
// main thread has sampled the server (Timeline::allow_drain) it half-closes and reads until the
// server's EOF. An EOF while echoes are still owed is an error
// (bytes were lost); no EOF within the timeout counts the owed requests as timed out.
//
// Owner: its Worker's thread.
#pragma once

#include "bench/load/run.hpp"

#include <deque>

namespace cs::bench {

class PingPong : public Task {
public:
    PingPong(Worker& worker, std::uint64_t id, bool paced);

    void start() override;
    void on_tick(Clock::time_point now) override;
    bool finished() const override { return state_ == State::kDone; }

private:
    enum class State { kConnecting, kRunning, kDraining, kDone };

    void on_connected(const boost::system::error_code& error);
    void send_request(Clock::time_point origin);
    void flush();
    void on_written(const boost::system::error_code& error);
    void half_close_when_written();
    void pace();
    void wait_readable();
    void on_readable();
    void complete(std::uint64_t count, Clock::time_point now);
    void begin_drain();
    void charge_the_waiting();
    void on_eof();
    void give_up(Clock::time_point now);
    void fail(std::string what);
    void close();
    void ready_once();

    Worker& worker_;
    std::uint64_t id_;
    bool paced_;
    State state_ = State::kConnecting;
    tcp::socket socket_;
    asio::steady_timer pacer_;
    EchoChecker checker_;
    std::deque<Clock::time_point> origins_;    // one per request in flight: when it left (or was planned to)
    std::vector<asio::const_buffer> queued_;   // requests waiting for the write in flight to finish
    std::vector<asio::const_buffer> writing_;  // the write in flight (views into the shared Pattern)
    bool write_in_flight_ = false;
    bool half_closed_ = false;
    bool counted_ready_ = false;
    bool served_ = false;
    std::uint64_t sent_ = 0;
    Clock::time_point next_planned_{};
    Clock::duration interval_{};
};

}  // namespace cs::bench
