// 04-select/connection_table.hpp — every open client, found by its descriptor number.
//
// FD_SETSIZE slots, because select() can watch no more: FD_SET(fd) with fd >= FD_SETSIZE does
// not fail, it writes past the end of the fd_set (memory corruption). admit() therefore refuses
// such a client: closes it and logs why. Same for a client over --max-conns.
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

struct Connection {
    Connection(cs::Fd socket, std::size_t out_cap, std::string peer_text)
        : echo(std::move(socket), out_cap), peer(std::move(peer_text)) {}
    EchoConnection echo;  // the per-client state machine (README: "The state machine")
    std::string peer;         // "127.0.0.1:51234", for the log lines
    std::chrono::steady_clock::time_point last_active = std::chrono::steady_clock::now();  // --idle-timeout
};

class ConnectionTable {
public:
    ConnectionTable(std::size_t out_cap, int max_conns, const cs::Log& log)
        : out_cap_(out_cap), max_conns_(max_conns), log_(log) {}

    // Takes a freshly accepted non-blocking socket, or refuses it (closes and logs).
    void admit(cs::Fd conn, std::string peer);
    // Logs how the client ended (closed, or the failed call) and closes its descriptor.
    void close(int fd);
    // Closes a client that has been silent for --idle-timeout, and says so.
    void close_idle(int fd, std::chrono::seconds idle);

    Connection* find(int fd) const noexcept { return fd >= 0 && fd < FD_SETSIZE ? slots_[fd].get() : nullptr; }
    int open() const noexcept { return open_; }
    std::uint64_t accepted() const noexcept { return accepted_; }  // since start, refused ones included

private:
    std::size_t out_cap_;
    int max_conns_;
    const cs::Log& log_;
    std::vector<std::unique_ptr<Connection>> slots_ = std::vector<std::unique_ptr<Connection>>(FD_SETSIZE);
    int open_ = 0;
    std::uint64_t accepted_ = 0;
};

}  // namespace lesson04
