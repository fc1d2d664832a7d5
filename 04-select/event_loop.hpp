// 04-select/event_loop.hpp — one select() loop: its interest sets, its listener, its connections.
// New here: the loop never blocks on a client. It asks select() which descriptors can move bytes
// now, and each connection's state machine (EchoConnection) moves only those bytes.
// 05-epoll-pool/event_loop.hpp is this class for epoll: same members, same order.
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

struct LoopOptions {
    std::size_t out_cap = EchoConnection::kDefaultOutCap;
    int max_conns = FD_SETSIZE;
    std::chrono::seconds idle_timeout{0};  // --idle-timeout; 0: never
    bool busy_poll = false;                // --busy-poll: select() never sleeps (the experiment in the README)
};

class EventLoop {
public:
    static constexpr std::size_t kReadBudget = cs::kReadBudget;  // per connection per turn: no sender hogs the loop
    static constexpr auto kAcceptPause = cs::kAcceptPause;

    // Puts the stop pipe and the listener in the read interest set.
    EventLoop(cs::Fd listener, Signals& signals, const LoopOptions& options, const cs::Log& log);

    // Serves until SIGINT/SIGTERM (true), or select() itself fails (false: a bug, not a client).
    bool run();
    int open() const noexcept { return connections_.open(); }

private:
    using Status = EchoConnection::Status;

    void serve(int fd, Connection& conn, bool readable, bool writable, Clock::time_point now);
    Status read(Connection& conn);  // on_readable(), stopping at a short read
    void set_interest(int fd, const Connection& conn);
    void accept_clients();
    void admit(cs::Fd socket, std::string peer);
    void pause_accepting();
    void resume_accepting();
    void close_idle(Clock::time_point now);
    int next_timeout() const;
    void unwatch(int fd);  // out of both interest sets, before the fd is closed
    bool on_signals();

    fd_set read_interest_{};  // what we watch: kept here and copied for each select() call
    fd_set write_interest_{};
    cs::Fd listener_;
    Signals& signals_;
    int stop_fd_;
    LoopOptions options_;
    ConnectionTable connections_;
    const cs::Log& log_;
    std::uint64_t accepted_ = 0;  // since start, refused ones included
    bool saturated_ = false;      // accept() ran out of descriptors and has not worked since
    bool accept_paused_ = false;
    Clock::time_point accept_paused_until_{};
    std::vector<std::byte> scratch_ = std::vector<std::byte>(kReadBudget);  // one read buffer for every client
};

}  // namespace lesson04
