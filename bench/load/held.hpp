// bench/load/held.hpp — an idle connection: served once, then held open and quiet.
//
// It sends one message and waits for its echo before it counts as ready, so that the server
// has really accepted it (and forked or spawned for it, where a lesson does that) when the
// memory is sampled. Then it only waits: any byte or an EOF from the server is an error.
// When the window is over it half-closes and expects the server's EOF.
//
// Owner: its Worker's thread.
#pragma once

#include "bench/load/run.hpp"

namespace cs::bench {

class Held : public Task {
public:
    Held(Worker& worker, std::uint64_t id)
        : worker_(worker), id_(id), socket_(worker.io()), checker_(worker.pattern(), id) {}

    void start() override;
    void on_tick(Clock::time_point now) override;
    bool finished() const override { return state_ == State::kDone; }

private:
    enum class State { kConnecting, kConfirming, kHolding, kDraining, kDone };

    void on_connected(const boost::system::error_code& error);
    void wait_readable();
    void on_readable();
    void on_eof();
    void ready_once();
    void stop(std::string error);

    Worker& worker_;
    std::uint64_t id_;
    State state_ = State::kConnecting;
    tcp::socket socket_;
    EchoChecker checker_;
    bool counted_ready_ = false;
};

}  // namespace cs::bench
