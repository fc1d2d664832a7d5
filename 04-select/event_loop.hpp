// 04-select/event_loop.hpp — one select() loop: its listener, its signals, its connections.
// New here: the loop never blocks on a client. It asks select() which descriptors can move bytes
// now, and each connection's state machine (EchoConnection) moves only those bytes.
// Owner: main() creates it; the one thread that calls run() is the only one that touches it.
#pragma once

#include "04-select/connection_table.hpp"
#include "04-select/signals.hpp"
#include "common/contract.hpp"

#include <chrono>
#include <cstdint>
#include <sys/select.h>
#include <vector>

namespace lesson04 {

using Clock = std::chrono::steady_clock;

struct LoopOptions {
    std::size_t out_cap = EchoConnection::kDefaultOutCap;
    int max_conns = FD_SETSIZE;
    std::chrono::seconds idle_timeout{0};  // --idle-timeout; 0: never
};

class EventLoop {
public:
    static constexpr std::size_t kReadBudget = cs::kReadBudget;  // per connection per turn: no sender hogs the loop
    static constexpr auto kAcceptPause = cs::kAcceptPause;

    EventLoop(cs::Fd listener, Signals& signals, const LoopOptions& options, const cs::Log& log);

    // Serves until SIGINT/SIGTERM (true), or select() itself fails (false: a bug, not a client).
    bool run();
    int open() const noexcept { return clients_.open(); }

private:
    using Status = EchoConnection::Status;

    void serve(int fd, Connection& conn, bool readable, bool writable, Clock::time_point now);
    int watch(fd_set& readable, fd_set& writable) const;
    void accept_clients();
    void pause_accepting();
    bool on_signals();
    timeval* next_timeout(timeval& timeout) const;

    cs::Fd listener_;
    Signals& signals_;
    int stop_fd_;
    LoopOptions options_;
    ConnectionTable clients_;
    const cs::Log& log_;
    bool saturated_ = false;  // accept() ran out of descriptors and has not worked since
    Clock::time_point accept_paused_until_{};
    std::vector<std::byte> scratch_ = std::vector<std::byte>(kReadBudget);  // one read buffer for every client
};

}  // namespace lesson04
