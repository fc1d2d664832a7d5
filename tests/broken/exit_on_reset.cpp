// tests/broken/exit_on_reset.cpp — BROKEN ON PURPOSE: a grader fixture, not a lesson.
// An iterative echo server with the textbook's error-checking wrappers: any failed read() or
// write() prints a message and exits the process. A client that resets its connection
// (ECONNRESET) or leaves before its echo (EPIPE) therefore ends the server for everyone.
// The one bug: a per-connection error stops the server. Must be caught by
// Conformance.ServesNextClientAfterClientReset and Conformance.SurvivesClientThatClosesWithoutReading.
#include "tests/broken/fixture.hpp"

#include "common/net.hpp"
#include "common/rio.hpp"

#include <array>
#include <cerrno>
#include <cstdlib>

namespace {

// [slide:the-bug]
// Like CS:APP's unix_error(): fine for a command-line tool, wrong for a server.
[[noreturn]] void exit_with_error(const cs::Log& log, const char* call) {
    log.info("{}() failed: {}; exiting", call, cs::errno_text());
    std::exit(1);  // BUG: one client's error ends every client's server
}
// [/slide]

void serve_client(const cs::Fd& conn, const cs::Log& log) {
    std::string peer = cs::broken::log_connected(log, conn.get());
    cs::LineReader reader(conn.get());
    std::array<std::byte, cs::LineReader::kDefaultCapacity> lines;
    cs::EchoResult result;
    for (;;) {
        ssize_t n = reader.read_lines(lines);
        if (n == 0) break;
        if (n < 0) exit_with_error(log, "read");
        if (cs::writen(conn.get(), std::span(lines).first(static_cast<std::size_t>(n))) < 0) {
            exit_with_error(log, "write");
        }
        result.bytes += static_cast<std::uint64_t>(n);
    }
    cs::broken::log_finished(log, conn.get(), peer, result);
}

void serve(const cs::Fd& listener, const cs::Log& log) { cs::broken::serve_one_at_a_time(listener, log, serve_client); }

}  // namespace

int main(int argc, char** argv) {
    cs::broken::run_fixture(
        argc, argv,
        {.program = "echo-broken-exit-on-reset",
         .description = "BROKEN iterative echo server: exits when one client's read() or write() fails",
         .log_name = "broken-exit-on-reset"},
        serve);
}
