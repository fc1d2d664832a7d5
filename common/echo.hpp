// common/echo.hpp — the blocking echo loop that 01, 02 and 03 run for each connection.
//
// Taught in 01-iterative: read with the RIO LineReader, write back with writen(), until the
// client's EOF. Every complete line that one read() brought in goes back in one write(); a
// line longer than the buffer goes back in pieces; bytes after the last '\n' go back at EOF.
// Returns how it ended instead of throwing: a per-connection error ends that connection only.
#pragma once

#include <cstdint>

namespace cs {

struct EchoResult {
    std::uint64_t bytes = 0;         // bytes echoed back
    int error = 0;                   // errno of the failure, 0 when the client closed normally
    const char* failed_call = "";    // "read" or "write" when error != 0
};

EchoResult echo_until_eof(int connfd);

}  // namespace cs
