// bench/load/churn.hpp — one connection per request, one after another: the load that makes a
// server pay for accept(), and for fork() or a new thread where a lesson makes one per client.
//
// Each round: connect, send one message, half-close, read the echo until the server's EOF,
// close. The server closes first (the contract), so TIME_WAIT stays on the server's side and
// the generator never runs out of ephemeral ports. Latency is connect() to EOF.
// With --count, exactly that many connections started after the warm-up are measured.
//
// Owner: its Worker's thread.
#pragma once

#include "bench/load/run.hpp"

#include <optional>

namespace cs::bench {

class Churner : public Task {
public:
    Churner(Worker& worker, std::uint64_t id) : worker_(worker), id_(id), socket_(worker.io()) {}

    void start() override;
    void on_tick(Clock::time_point now) override;
    bool finished() const override { return state_ == State::kDone; }

private:
    enum class State { kBetween, kConnecting, kExchanging, kDone };

    void next();
    void on_connected(const boost::system::error_code& error);
    void wait_readable();
    void on_readable();
    void on_eof();
    void stop(std::string error);

    Worker& worker_;
    std::uint64_t id_;
    State state_ = State::kBetween;
    tcp::socket socket_;
    std::optional<EchoChecker> checker_;
    std::uint64_t rounds_ = 0;
    bool first_connect_ = true;
    bool measured_ = false;  // this round counts (it holds a --count ticket, or ends in the window)
    Clock::time_point began_{};
};

}  // namespace cs::bench
