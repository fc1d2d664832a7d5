// 05-epoll-pool/event_loop.hpp — one epoll event loop: its epoll instance, its listener, its pool.
// Built as the lesson05_loop library: 05's main() runs one per thread, the workers of 06 and 07 one each.
//
// 04-select/event_loop.hpp is this class for select(): same members, same order; what 04 has no use for comes
// last, in files of its own (edge.cpp: --edge and the fairness budget, and read(), which decides where a read
// stops; finish.cpp: the graceful end 06 and 07 use; connection_pool.cpp: the O(1) idle list).
// Owner: one thread calls run() and then finish(); nothing else touches the loop. Shared with
// other threads: the Log (thread-safe), the stop fd (only ever readable once rung), the atomic
// connection count (--max-conns across loops), and stats(), which any thread may call.
#pragma once

#include "05-epoll-pool/connection_pool.hpp"
#include "common/contract.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

namespace lesson05 {

struct LoopOptions {
    std::size_t out_cap = EchoConnection::kDefaultOutCap;
    int max_conns = 0;
    bool edge = false;                     // --edge: EPOLLET on every descriptor but the stop eventfd
    std::chrono::seconds idle_timeout{0};  // --idle-timeout; 0: never
    bool exclusive = false;                // EPOLLEXCLUSIVE on the listener: of N processes' loops, one wakes (07)
};

struct LoopStats {
    int open = 0;
    std::uint64_t accepted = 0;  // since start, refused ones included
};

class EventLoop {
public:
    static constexpr std::size_t kReadBudget = cs::kReadBudget;  // per connection per turn: no sender hogs the loop
    static constexpr auto kAcceptPause = cs::kAcceptPause;
    static constexpr int kMaxEvents = 256;  // per epoll_wait(); more wait for the next call
    static constexpr auto kQuietBeforeStop = std::chrono::milliseconds(500);  // finish(): silent this long = quiet
    static constexpr auto kStopTick = std::chrono::milliseconds(50);  // finish(): look for newly quiet ones this often

    // Throws std::system_error naming the call (epoll_create1(), epoll_ctl()).
    EventLoop(cs::Fd listener, int stop_fd, const LoopOptions& options, std::atomic<int>& open_total,
              const cs::Log& log);

    // Serves until the stop fd is readable (true), or epoll_wait() itself fails (false: a bug, not a client).
    bool run();
    // The graceful end (finish.cpp), on run()'s thread once run() returned true: stops watching
    // the stop fd, accepts what is queued, closes the listener; closes the quiet connections and
    // serves the busy ones until each finishes or `deadline` (now: close everything at once).
    void finish(Clock::time_point deadline);
    LoopStats stats() const noexcept {  // any thread: a snapshot, each count exact at its own moment
        return {connections_.open(), accepted_.load(std::memory_order_relaxed)};
    }
    const cs::Fd& listener() const noexcept { return listener_; }

private:
    using Status = EchoConnection::Status;

    void serve(int fd, Connection& conn, bool readable, bool writable, Clock::time_point now);
    void set_interest(int fd, Connection& conn);
    void accept_clients();
    void admit(cs::Fd socket, std::string peer);
    void pause_accepting();
    void resume_accepting();
    void close_idle(Clock::time_point now);
    int next_timeout() const;
    bool ctl(int op, int fd, std::uint32_t events);  // epoll_ctl(); false with errno set
    // Beyond 04 (edge.cpp): edge-triggered readiness and the fairness budget.
    std::uint32_t edge_flag() const noexcept;
    std::uint32_t listener_events() const noexcept;  // EPOLLIN, with EPOLLET and EPOLLEXCLUSIVE when asked
    Status read(Connection& conn);
    void read_later(int fd, Connection& conn);
    void read_again(Clock::time_point now);
    // finish.cpp
    void close_quiet(Clock::time_point now, Clock::time_point deadline);

    cs::Fd epoll_;  // what we watch: kept by the kernel, changed with epoll_ctl()
    cs::Fd listener_;
    int stop_fd_;
    LoopOptions options_;
    ConnectionPool connections_;
    const cs::Log& log_;
    std::atomic<std::uint64_t> accepted_{0};  // written by this loop only; read by main() for SIGUSR1
    bool saturated_ = false;                  // accept() ran out of descriptors and has not worked since
    bool accept_paused_ = false;
    Clock::time_point accept_paused_until_{};
    std::vector<std::byte> scratch_ = std::vector<std::byte>(kReadBudget);  // one read buffer for every client
    std::vector<int> again_;  // edge-triggered: fds to read again next turn
};

}  // namespace lesson05
