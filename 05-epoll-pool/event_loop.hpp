// 05-epoll-pool/event_loop.hpp — one epoll event loop: its epoll instance, its listener, its pool.
//
// The loop, its accept side (admission, pausing on EMFILE) and the idle timeout are all in
// event_loop.cpp, in the order of 04-select/event_loop.cpp.
// Owner: one thread runs one EventLoop, and nothing else touches it. Shared between loops: the
// Log (thread-safe), the stop eventfd (only ever readable) and the atomic connection count.
// main() reads stats() from its own thread: two relaxed atomic counters, nothing else.
#pragma once

#include "05-epoll-pool/connection_pool.hpp"
#include "common/contract.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

namespace lesson05 {

struct LoopOptions {
    std::size_t out_cap = lesson04::EchoConnection::kDefaultOutCap;
    int max_conns = 0;
    bool edge = false;  // --edge: EPOLLET on every descriptor but the stop eventfd
    std::chrono::seconds idle_timeout{0};  // --idle-timeout; 0: never
};

struct LoopStats {
    int open = 0;
    std::uint64_t accepted = 0;  // since start, refused ones included
};

class EventLoop {
public:
    static constexpr int kMaxEvents = 256;                 // per epoll_wait(); more wait for the next call
    static constexpr std::size_t kReadBudget = cs::kReadBudget;  // per connection per turn: the fairness budget
    static constexpr auto kAcceptPause = cs::kAcceptPause;

    // epoll_create1() and the first epoll_ctl()s; throws std::system_error naming the call.
    EventLoop(cs::Fd listener, int stop_fd, const LoopOptions& options, std::atomic<int>& open_total,
              const cs::Log& log);

    // Serves until the stop eventfd is readable (true), or epoll_wait() itself fails (false: a bug).
    bool run();
    const cs::Fd& listener() const noexcept { return listener_; }
    LoopStats stats() const noexcept {  // any thread: a snapshot, each count exact at its own moment
        return {pool_.open(), accepted_.load(std::memory_order_relaxed)};
    }

private:
    using Status = lesson04::EchoConnection::Status;

    void serve(int fd, Connection& conn, std::uint32_t events, Clock::time_point now);
    void set_interest(int fd, Connection& conn);
    void accept_clients();
    void admit(cs::Fd socket, std::string peer);
    void pause_accepting();
    void resume_accepting();
    void close_idle(Clock::time_point now);
    int wait_timeout_ms() const;
    bool ctl(int op, int fd, std::uint32_t events);  // epoll_ctl(); false with errno set
    std::uint32_t edge_flag() const noexcept;
    // Beyond 04: edge-triggered readiness and the fairness budget.
    Status read(Connection& conn);
    void after_io(int fd, Connection& conn, Status status);
    void read_again(Clock::time_point now);

    cs::Fd epoll_;
    cs::Fd listener_;
    int stop_fd_;
    LoopOptions options_;
    ConnectionPool pool_;
    const cs::Log& log_;
    std::vector<int> again_;  // edge-triggered: fds to read again next turn
    std::atomic<std::uint64_t> accepted_{0};  // written by this loop only; read by main() for SIGUSR1
    bool saturated_ = false;  // accept() ran out of descriptors and has not worked since
    bool accept_paused_ = false;
    Clock::time_point accept_resume_at_{};
    std::vector<std::byte> scratch_ = std::vector<std::byte>(kReadBudget);  // one read buffer per loop
};

}  // namespace lesson05
