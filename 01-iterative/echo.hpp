// 01-iterative/echo.hpp — the blocking echo loop that 01, 02 and 03 run for each connection.
//
// read() what the client has sent, write all of it back with writen(), until the client's EOF.
// Every byte goes back as soon as it has been read (RFC 862): a prompt or a message without a
// '\n' is not held back waiting for the rest of a line. Returns how it ended instead of throwing:
// a per-connection error ends that connection only.
//
// The idle timeout (--idle-timeout) is a socket option, set before the loop: with it, a read()
// or write() that waits longer than that fails with EAGAIN, and the loop reports `idle`.
#pragma once

#include <cstdint>

namespace cs {

struct EchoResult {
    std::uint64_t bytes = 0;       // bytes echoed back
    int error = 0;                 // errno of the failure, 0 when the client closed normally or idled
    const char* failed_call = "";  // "read" or "write" when error != 0 or idle
    bool idle = false;             // that call waited longer than the idle timeout: not an error
};

// SO_RCVTIMEO and SO_SNDTIMEO on a blocking socket: a read() that gets no byte, or a write() that
// sends none, for `seconds` fails with EAGAIN. 0 leaves the socket as it is (wait forever).
// Returns false (errno set) when setsockopt() fails.
bool set_idle_timeout(int connfd, int seconds);

// TCP_NODELAY: Nagle off. An echo is interactive, and when a write() is cut short (a full send
// buffer) its tail goes out later as a small segment, which Nagle holds until the client's delayed
// ACK, about 40 ms. A failure costs only speed: the caller may ignore it.
bool set_no_delay(int connfd);

EchoResult echo_until_eof(int connfd);

}  // namespace cs
