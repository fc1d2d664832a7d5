// tests/broken/sigpipe_death.cpp — BROKEN ON PURPOSE: a grader fixture, not a lesson.
// The 01-iterative server, correct in every way but one: it leaves SIGPIPE at its default
// action. A write() to a connection whose reset was already reported raises SIGPIPE, and its
// default action kills the whole server, not just that connection.
// The one bug: death by SIGPIPE. Must be caught by Conformance.ServesNextClientAfterClientReset
// (read() reports the reset, then the partial line is written back). Not by
// SurvivesClientThatClosesWithoutReading: there the first failing write() reports ECONNRESET,
// which raises no signal (see tests/broken/expected.toml).
#include "tests/broken/fixture.hpp"

#include "01-iterative/echo.hpp"

namespace {

void serve_client(const cs::Fd& conn, const cs::Log& log) {
    std::string peer = cs::broken::log_connected(log, conn.get());
    cs::EchoResult result = cs::echo_until_eof(conn.get());  // writen() -> write() -> SIGPIPE: dead
    cs::broken::log_finished(log, conn.get(), peer, result);
}

void serve(const cs::Fd& listener, const cs::Log& log) { cs::broken::serve_one_at_a_time(listener, log, serve_client); }

}  // namespace

int main(int argc, char** argv) {
    cs::broken::run_fixture(argc, argv,
                            {.program = "echo-broken-sigpipe",
                             .description = "BROKEN iterative echo server: SIGPIPE is not ignored",
                             .log_name = "broken-sigpipe",
                             .ignore_sigpipe = false},  // BUG: the whole point of this fixture
                            serve);
}
