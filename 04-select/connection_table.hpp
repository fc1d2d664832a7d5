// 04-select/connection_table.hpp — every open client, found by its descriptor number.
//
// FD_SETSIZE slots, because select() can watch no more: FD_SET(fd) with fd >= FD_SETSIZE does
// not fail, it writes past the end of the fd_set (memory corruption), so the loop refuses such
// a client before it gets here (EventLoop::admit).
// What one client costs: its Connection below (120 bytes) while it is idle, plus up to --out-cap
// bytes of pending echo while it does not read; the table itself is FD_SETSIZE pointers.
// A slot is emptied (and its state destroyed) before its descriptor is closed, so when the kernel
// hands the same number to the next client, that client starts from a fresh state.
// Owner: the one thread that runs the select() loop.
#pragma once

#include "04-select/echo_connection.hpp"
#include "common/log.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <sys/select.h>
#include <vector>

namespace lesson04 {

using Clock = std::chrono::steady_clock;

struct Connection {
    Connection(cs::Fd socket, std::size_t out_cap, std::string peer_text)
        : echo(std::move(socket), out_cap), peer(std::move(peer_text)) {}
    EchoConnection echo;                           // the per-client state machine (README: "The state machine")
    std::string peer;                              // "127.0.0.1:51234", for the log lines
    Clock::time_point last_active = Clock::now();  // the last readiness on it: --idle-timeout counts from here
};

class ConnectionTable {
public:
    explicit ConnectionTable(const cs::Log& log) : log_(log) {}

    Connection& add(cs::Fd socket, std::size_t out_cap, std::string peer);  // fd < FD_SETSIZE
    Connection* find(int fd) const noexcept { return fd >= 0 && fd < FD_SETSIZE ? slots_[fd].get() : nullptr; }
    void touch(int fd, Clock::time_point now) { slots_[fd]->last_active = now; }
    // Logs how the client ended (closed, or the failed call) and closes its descriptor.
    void remove(int fd);
    // Closes a client that has been silent for --idle-timeout, and says so.
    void remove_idle(int fd, std::chrono::seconds idle);

    int open() const noexcept { return open_; }
    int highest_fd() const noexcept { return highest_fd_; }  // -1 when empty: select()'s nfds is one more
    // The connection silent longest (-1: none), for --idle-timeout. A scan of every slot, O(n),
    // like everything else in 04; 05's pool keeps an activity list and answers in O(1).
    int oldest() const noexcept;

private:
    void erase(int fd);

    const cs::Log& log_;
    std::vector<std::unique_ptr<Connection>> slots_ = std::vector<std::unique_ptr<Connection>>(FD_SETSIZE);
    int open_ = 0;
    int highest_fd_ = -1;
};

}  // namespace lesson04
