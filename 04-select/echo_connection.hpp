// 04-select/echo_connection.hpp — one non-blocking echo connection: the state an event loop keeps per fd.
// New in 04: a client's bytes move a little at a time, whenever select() says they can, so the
// per-client state is a small state machine instead of a blocking loop. 05 and 06 link this same
// code (the lesson04_connection library), so that their files can be about epoll/processes while
// the byte-moving rules stay identical:
//  * read what the socket has; write it straight back; queue only what the socket did not take
//    (so an idle connection holds no buffer: memory is spent only while output is pending);
//  * backpressure: once pending output reaches out_cap, stop reading from this client until
//    it drains, so a client that sends without reading costs at most about out_cap bytes;
//  * the peer's EOF is remembered; the connection is finished once everything is echoed.
// The loop asks wants_read()/wants_write() to decide its interest in this fd: write interest
// only while output is pending (an always-armed write interest spins the CPU).
//
// Owner: the one event loop (thread) that owns the fd. Not thread-safe. Non-copyable.
#pragma once

#include "common/fd.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace lesson04 {

class EchoConnection {
public:
    static constexpr std::size_t kDefaultOutCap = std::size_t{256} * 1024;

    enum class Status {
        kOpen,      // keep watching it
        kFinished,  // peer sent EOF and everything was echoed: close it
        kFailed,    // read()/write() failed (error(), failed_call()): close it
    };

    struct ReadOutcome {
        Status status = Status::kOpen;
        bool drained = false;  // nothing left to read now: EAGAIN, EOF, or a short read (kShortRead)
    };

    enum class ReadUntil {
        kShortRead,  // level-triggered loops (select, epoll without EPOLLET): a short read means empty
        kEagain,     // edge-triggered loops: only EAGAIN proves the socket is empty
    };

    EchoConnection(cs::Fd socket, std::size_t out_cap = kDefaultOutCap);
    EchoConnection(const EchoConnection&) = delete;
    EchoConnection& operator=(const EchoConnection&) = delete;

    int fd() const noexcept { return socket_.get(); }

    // Reads until `until`, EOF, `budget` bytes, or the output cap, echoing as it goes. `scratch`
    // is the loop's shared read buffer (one per loop, not one per connection).
    ReadOutcome on_readable(std::span<std::byte> scratch, std::size_t budget = SIZE_MAX,
                            ReadUntil until = ReadUntil::kEagain);

    // Writes pending output until EAGAIN or nothing is left.
    Status on_writable();

    // Read interest: the peer may still send, and its pending echo is under the cap. When this
    // turns false because of the cap, call on_readable() again once on_writable() drained some:
    // an edge-triggered loop gets no new edge for bytes that were already waiting.
    bool wants_read() const noexcept { return !peer_eof_ && pending_bytes() < out_cap_; }
    bool wants_write() const noexcept { return pending_bytes() > 0; }

    std::size_t pending_bytes() const noexcept { return pending_.size() - pending_begin_; }
    std::uint64_t bytes_echoed() const noexcept { return bytes_echoed_; }
    bool peer_eof() const noexcept { return peer_eof_; }
    int error() const noexcept { return error_; }
    const char* failed_call() const noexcept { return failed_call_; }

    // Gives the socket back (for closing by the owner, e.g. to count closes in one place).
    cs::Fd release_socket() noexcept { return std::move(socket_); }

private:
    std::size_t send_now(std::span<const std::byte> bytes);  // what the socket took; 0 on EAGAIN
    Status fail(const char* call, int error);
    Status status_after_io() const noexcept;

    cs::Fd socket_;
    std::size_t out_cap_;
    std::string pending_;            // bytes read but not yet written back, in order...
    std::size_t pending_begin_ = 0;  // ...starting here (the front was already written)
    std::uint64_t bytes_echoed_ = 0;
    bool peer_eof_ = false;
    int error_ = 0;
    const char* failed_call_ = "";
};

}  // namespace lesson04
