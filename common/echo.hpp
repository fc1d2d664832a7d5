// common/echo.hpp — the blocking echo loop that 01, 02 and 03 run for each connection.
//
// Taught in 01-iterative: read with the RIO LineReader, write back with writen(), until the
// client's EOF. Every complete line that one read() brought in goes back in one write(); a
// line longer than the buffer goes back in pieces; bytes after the last '\n' go back at EOF.
// Returns how it ended instead of throwing: a per-connection error ends that connection only.
//
// The idle timeout (--idle-timeout) is a socket option, set before the loop: with it, a read()
// or write() that waits longer than that fails with EAGAIN, and the loop reports `idle`. A piece
// of a line waiting in the reader when the read() times out is echoed first (RIO hands out what
// it holds before it reports a failure), so that client is closed one quiet period later.
#pragma once

#include <cstdint>

namespace cs {

struct EchoResult {
    std::uint64_t bytes = 0;         // bytes echoed back
    int error = 0;                   // errno of the failure, 0 when the client closed normally or idled
    const char* failed_call = "";    // "read" or "write" when error != 0 or idle
    bool idle = false;               // that call waited longer than the idle timeout: not an error
};

// SO_RCVTIMEO and SO_SNDTIMEO on a blocking socket: a read() that gets no byte, or a write() that
// sends none, for `seconds` fails with EAGAIN. 0 leaves the socket as it is (wait forever).
// Returns false (errno set) when setsockopt() fails.
bool set_idle_timeout(int connfd, int seconds);

EchoResult echo_until_eof(int connfd);

}  // namespace cs
