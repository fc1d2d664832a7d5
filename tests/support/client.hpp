// tests/support/client.hpp — a blocking test client with deadlines on every read.
//
// Failures throw std::runtime_error with what was received so far, so a failing test says
// "expected 12 bytes, got 5 ('hello') before EOF" rather than hanging or printing nothing.
#pragma once

#include "common/fd.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace cs::test {

using namespace std::chrono_literals;

class Client {
public:
    static Client connect(std::uint16_t port, const std::string& host = "127.0.0.1");
    // To 127.0.0.1, with SO_RCVBUF set before connect(): the window we offer is small from the
    // first segment on, so a server that echoes to a client that never reads is stuck at once.
    static Client connect_with_receive_buffer(std::uint16_t port, int bytes);

    int fd() const noexcept { return fd_.get(); }

    void send(std::string_view bytes);  // all of it, or throws
    // All of it, unless the peer stops taking bytes for so long that the deadline passes: false.
    bool send_within(std::string_view bytes, std::chrono::milliseconds timeout);
    std::string read_exact(std::size_t count, std::chrono::milliseconds timeout = 5s);
    std::string read_to_eof(std::chrono::milliseconds timeout = 5s);  // everything until the server closes
    // True when something (data or EOF) becomes readable within the timeout.
    bool readable_within(std::chrono::milliseconds timeout) const;
    // Sends `bytes` and expects them back exactly: the common case of every echo test.
    void expect_echo(std::string_view bytes, std::chrono::milliseconds timeout = 5s);

    void shutdown_write();      // half-close: the server sees EOF, we can still read
    long unsent_bytes() const;  // SIOCOUTQNSD: bytes queued that the peer's window has not let out yet
    int tcp_state() const;      // TCP_INFO's tcpi_state: TCP_ESTABLISHED, TCP_FIN_WAIT2, ...
    void reset();               // close with SO_LINGER {on, 0}: the kernel sends RST instead of FIN
    void close() { fd_.reset(); }

private:
    explicit Client(Fd fd) : fd_(std::move(fd)) {}
    Fd fd_;
};

// Sends `payload` on one thread while reading the echo on this one, so a payload larger than
// the socket buffers cannot deadlock (the server blocks on write if nobody reads).
// Returns what came back (exactly payload.size() bytes unless the deadline or EOF hit).
std::string echo_large(Client& client, const std::string& payload, std::chrono::milliseconds timeout);

// A printable-and-binary pattern with no newline: every byte value, position-dependent, so a
// lost or reordered chunk cannot go unnoticed.
std::string pattern_bytes(std::size_t count, unsigned seed = 1);

}  // namespace cs::test
