// tests/broken/fixture.hpp — the contract plumbing every broken server shares, so that each
// fixture's own file shows nothing but its serving loop and its one bug.
//
// The broken servers are test fixtures for the grader (tests/grade): each one carries one
// classic bug and must lose exactly the points of the tests that catch that bug
// (tests/broken/expected.toml). Built for the tests only, never installed, never a lesson.
//
// run_fixture() does what every server of the course does before serving: parse the contract's
// command line, listen, install the stop signals, print the listening line. The stop handler
// sets a flag and shuts the listening socket down (async-signal-safe), which wakes a blocked
// accept(), select() or epoll_wait() alike, so every loop below can just test stop_requested().
#pragma once

#include "01-iterative/echo.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"

#include <string>

namespace cs::broken {

struct FixtureInfo {
    const char* program;         // "echo-broken-reader-copy": --help and the start-up error line
    const char* description;     // one line for --help: which bug this server carries
    const char* log_name;        // "broken-reader-copy": the prefix of every log line
    bool ignore_sigpipe = true;  // false only where dying of SIGPIPE is the bug
};

// A fixture's serving loop. Returns once stop_requested() is true.
using ServeFn = void (*)(const Fd& listener, const Log& log);

// Never returns: ends the process with the contract's exit code. (It ends with _Exit(), because
// some fixtures leave detached threads running that still use `log`.)
[[noreturn]] void run_fixture(int argc, char** argv, const FixtureInfo& info, ServeFn serve);

bool stop_requested() noexcept;

// For loops that block in read() on one client (iterative fixtures): the stop handler shuts
// this descriptor down as well, so the blocked read() returns and the loop sees the flag.
void set_blocking_client(int fd) noexcept;

// The 01-iterative accept loop, for fixtures whose bug is in how they serve one client:
// accept, serve_client() to the end, close, repeat.
using ServeClientFn = void (*)(const Fd& conn, const Log& log);
void serve_one_at_a_time(const Fd& listener, const Log& log, ServeClientFn serve_client);

// The per-connection log lines the conformance suite looks for ("PEER connected (fd N)").
std::string log_connected(const Log& log, int fd);  // returns the peer's "ADDR:PORT"
void log_finished(const Log& log, int fd, const std::string& peer, const EchoResult& result);

// Fork-based fixtures. In the child, right after fork(): take back the default SIGTERM/SIGINT
// (so the parent can stop it) and the default SIGCHLD, and close the listening socket.
void become_child(const Fd& listener) noexcept;
// In the parent, once its loop ended: stop every child (they share its process group) and
// reap them all, so no zombie outlives the server.
void stop_and_reap_children(const Log& log);

}  // namespace cs::broken
