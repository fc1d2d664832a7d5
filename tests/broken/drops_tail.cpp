// tests/broken/drops_tail.cpp — BROKEN ON PURPOSE: a grader fixture, not a lesson.
// An iterative echo server that echoes complete lines only: it gathers bytes until a newline
// and, when the client's EOF arrives, forgets what came after the last newline.
// The one bug: bytes after the last newline are dropped at EOF.
// Must be caught by Conformance.EchoesPartialLineWhenClientHalfCloses.
#include "tests/broken/fixture.hpp"

#include "common/rio.hpp"

#include <array>
#include <cerrno>
#include <string>
#include <unistd.h>

namespace {

// [slide:the-bug]
cs::EchoResult echo_complete_lines(int fd) {
    cs::EchoResult result;
    std::string pending;  // bytes read but not echoed yet: the current, unfinished line
    std::array<char, 8192> chunk;
    for (;;) {
        ssize_t n = ::read(fd, chunk.data(), chunk.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return {.bytes = result.bytes, .error = errno, .failed_call = "read"};
        if (n == 0) return result;  // BUG: EOF, and `pending` (the bytes after the last '\n') is dropped
        std::string_view fresh(chunk.data(), static_cast<std::size_t>(n));
        std::size_t newline_in_fresh = fresh.rfind('\n');  // search only the new bytes: a long line stays O(n)
        pending.append(fresh);
        if (newline_in_fresh == std::string_view::npos) continue;  // no complete line yet
        std::string_view lines(pending.data(), pending.size() - fresh.size() + newline_in_fresh + 1);
        if (cs::writen(fd, cs::as_bytes(lines)) < 0)
            return {.bytes = result.bytes, .error = errno, .failed_call = "write"};
        result.bytes += lines.size();
        pending.erase(0, lines.size());
    }
}
// [/slide]

void serve_client(const cs::Fd& conn, const cs::Log& log) {
    std::string peer = cs::broken::log_connected(log, conn.get());
    cs::broken::log_finished(log, conn.get(), peer, echo_complete_lines(conn.get()));
}

void serve(const cs::Fd& listener, const cs::Log& log) { cs::broken::serve_one_at_a_time(listener, log, serve_client); }

}  // namespace

int main(int argc, char** argv) {
    cs::broken::run_fixture(argc, argv,
                            {.program = "echo-broken-drops-tail",
                             .description = "BROKEN iterative echo server: drops the bytes after the last newline",
                             .log_name = "broken-drops-tail"},
                            serve);
}
