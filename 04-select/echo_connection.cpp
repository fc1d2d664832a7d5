// 04-select/echo_connection.cpp — non-blocking read/echo/queue with a bounded output buffer.
#include "04-select/echo_connection.hpp"

#include <algorithm>
#include <cerrno>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace lesson04 {

EchoConnection::EchoConnection(cs::Fd socket, std::size_t out_cap) : socket_(std::move(socket)), out_cap_(out_cap) {
    // Nagle off. An echo is interactive: when send() takes only part of a large echo and the rest
    // goes out later as a small segment while data is unacknowledged, Nagle holds it back until the
    // client's delayed ACK, about 40 ms (measured: 1 MiB echoes at p99 45 ms with it, 9 ms without).
    int one = 1;
    ::setsockopt(socket_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // a failure costs only speed
}

EchoConnection::Status EchoConnection::fail(const char* call, int error) {
    error_ = error;
    failed_call_ = call;
    return Status::kFailed;
}

EchoConnection::Status EchoConnection::status_after_io() const noexcept {
    if (error_ != 0) return Status::kFailed;
    if (peer_eof_ && pending_bytes() == 0) return Status::kFinished;
    return Status::kOpen;
}

std::size_t EchoConnection::send_now(std::span<const std::byte> bytes) {
    for (;;) {
        // MSG_NOSIGNAL: a peer that closed without reading gives us EPIPE, not a SIGPIPE that
        // would kill every other client's server process too.
        ssize_t n = ::send(socket_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n >= 0) {
            bytes_echoed_ += static_cast<std::uint64_t>(n);
            return static_cast<std::size_t>(n);
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) fail("send", errno);
        return 0;  // the socket's send buffer is full: queue the rest
    }
}

EchoConnection::ReadOutcome EchoConnection::on_readable(std::span<std::byte> scratch, std::size_t budget,
                                                        ReadUntil until) {
    // [todo:3 read, echo at once, queue the rest | tests: SilentPartialLineDoesNotDelayAnotherClient, OneByteDribbleAndAFastClientAreBothServed, FloodingClientDoesNotStarveAnother, EchoesBytesWithoutNewlineBeforeHalfClose]
    //? While wants_read(), under `budget` bytes and without an error: read() into scratch. EAGAIN:
    //? drained, stop. 0: the peer's EOF (peer_eof_), stop. Else send_now() what came when nothing is
    //? pending, append the rest to pending_, and stop after a short read when `until` says so.
    ReadOutcome outcome;
    std::size_t read_so_far = 0;
    // [slide:read-loop]
    while (wants_read() && read_so_far < budget && error_ == 0) {
        std::size_t want = std::min(scratch.size(), budget - read_so_far);
        ssize_t n = ::read(socket_.get(), scratch.data(), want);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                outcome.drained = true;  // nothing more until the next readiness event
                break;
            }
            fail("read", errno);
            break;
        }
        if (n == 0) {  // EOF: the peer will send no more; finish echoing, then close
            peer_eof_ = true;
            outcome.drained = true;
            break;
        }
        read_so_far += static_cast<std::size_t>(n);
        auto fresh = scratch.first(static_cast<std::size_t>(n));
        // Echo at once when nothing is queued (the common case); queue what the socket refuses.
        std::size_t sent = pending_bytes() == 0 ? send_now(fresh) : 0;
        auto rest = fresh.subspan(sent);
        pending_.append(reinterpret_cast<const char*>(rest.data()), rest.size());
        // A read that brought less than we asked for emptied the socket's receive queue. A level-
        // triggered loop is told again when more comes, so one more read() would only say EAGAIN:
        // a third system call per echo. Edge-triggered, read on: an EOF that came with these bytes
        // would bring no new edge.
        if (until == ReadUntil::kShortRead && static_cast<std::size_t>(n) < want) {
            outcome.drained = true;
            break;
        }
    }
    // [/slide]
    //| ReadOutcome outcome;
    //| (void)scratch, (void)budget, (void)until;
    //| fail("read", ENOSYS);  // not written yet: every client is hung up on
    // [/todo]
    outcome.status = status_after_io();
    return outcome;
}

EchoConnection::Status EchoConnection::on_writable() {
    // [todo:4 send what is pending | tests: ClientThatSendsWithoutReadingCostsAboutTheCapAndGetsEveryByteBack]
    //? send_now() the pending bytes from pending_begin_ on, until they are all sent or the socket
    //? takes nothing more (EAGAIN), and move pending_begin_ past what went out.
    while (pending_bytes() > 0 && error_ == 0) {
        auto queued = std::as_bytes(std::span(pending_)).subspan(pending_begin_);
        std::size_t sent = send_now(queued);
        if (sent == 0) break;  // EAGAIN (or an error, seen below)
        pending_begin_ += sent;
    }
    // [/todo]
    if (pending_bytes() == 0) {
        pending_ = std::string();  // give the memory back: an idle connection keeps no buffer
        pending_begin_ = 0;
    } else if (pending_begin_ > pending_.size() / 2) {
        pending_.erase(0, pending_begin_);  // compact now and then, not on every write
        pending_begin_ = 0;
    }
    return status_after_io();
}

}  // namespace lesson04
