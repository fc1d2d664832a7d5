// 05-epoll-pool/connection_pool.hpp — one event loop's connections, found by descriptor number and
// kept in order of last activity (for --idle-timeout).
//
// The pool grows with the highest fd it has seen (no FD_SETSIZE here) and costs little per idle
// connection: a pointer slot plus one small Connection, whose echo buffer is allocated only
// while an echo is pending (lesson04::EchoConnection). Nothing like a 64 KiB buffer per client: the
// one read buffer belongs to the loop.
// remove() destroys the state before it closes the descriptor, so when the kernel hands the
// same number to the next client, that client starts from a fresh Connection.
// Owner: one EventLoop, touched only by that loop's thread. Shared with other threads: the count
// of connections across all loops (for --max-conns), an atomic owned by main(), and this pool's
// own open count, which main() reads for the SIGUSR1 stats line.
#pragma once

#include "04-select/echo_connection.hpp"
#include "common/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lesson05 {

using lesson04::EchoConnection;  // 04's state machine, linked as it is (lesson04_connection)
using Clock = std::chrono::steady_clock;

struct Connection {
    Connection(cs::Fd socket, std::size_t out_cap, std::string peer_text)
        : echo(std::move(socket), out_cap), peer(std::move(peer_text)) {}
    EchoConnection echo;
    std::string peer;               // "127.0.0.1:51234", for the log lines
    Clock::time_point last_active;  // the last event on it: --idle-timeout counts from here
    std::uint32_t interest = 0;     // what epoll watches now (EPOLLIN/EPOLLOUT): skip epoll_ctl when unchanged
    int older = -1;                 // the activity list, by fd: the connection active just before this one...
    int newer = -1;                 // ...and just after it (-1: none)
    bool unread = false;            // edge-triggered: bytes may be waiting that no new edge will announce
    bool queued = false;            // on the loop's read-again list
};

class ConnectionPool {
public:
    ConnectionPool(int max_conns, std::atomic<int>& open_total, const cs::Log& log)
        : max_conns_(max_conns), open_total_(open_total), log_(log) {}

    // Counts a new connection against --max-conns (all loops together). False: refuse it.
    bool reserve();
    void unreserve() { open_total_.fetch_sub(1, std::memory_order_relaxed); }  // admission failed after reserve()
    int open_total() const noexcept { return open_total_.load(std::memory_order_relaxed); }
    int open() const noexcept { return open_.load(std::memory_order_relaxed); }  // this pool's; any thread
    Connection& add(cs::Fd socket, std::size_t out_cap, std::string peer);       // active now: the newest
    Connection* find(int fd) const noexcept {
        return fd >= 0 && static_cast<std::size_t>(fd) < slots_.size() ? slots_[fd].get() : nullptr;
    }
    // Logs how the connection ended (closed, or the failed call) and closes it.
    void remove(int fd);
    // Closes a connection that has been silent for --idle-timeout, and says so.
    void remove_idle(int fd, std::chrono::seconds idle);

    // The activity list: every connection, the one silent longest first. touch() moves a
    // connection to the newest end in O(1): the links are fd numbers inside the Connections
    // themselves (an intrusive list), so keeping the order costs no allocation and no search.
    void touch(int fd, Clock::time_point now);
    int oldest() const noexcept { return oldest_; }  // -1 when the pool is empty

private:
    void link_newest(int fd);
    void unlink(int fd);
    void erase(int fd);

    int max_conns_;
    std::atomic<int>& open_total_;
    const cs::Log& log_;
    std::vector<std::unique_ptr<Connection>> slots_;  // by fd
    std::atomic<int> open_{0};
    int oldest_ = -1;  // the ends of the activity list
    int newest_ = -1;
};

}  // namespace lesson05
