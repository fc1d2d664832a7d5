// tests/broken/silent.cpp — BROKEN ON PURPOSE: a grader fixture, not a lesson.
// An echo server that announces itself in its own words ("Server ready on port N") instead of
// the contract's first stdout line "listening on HOST:PORT". Nothing that waits for the
// contract's line can ever use it: the grader must say so once, clearly, give zero to every test
// that needs a running server, and still grade the command line (--help, bad usage, port in use).
// Standalone on purpose: run_fixture() would print the right line.
#include "common/cli.hpp"
#include "01-iterative/echo.hpp"
#include "common/fd.hpp"
#include "common/net.hpp"

#include <csignal>
#include <cstdio>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char** argv) {
    cs::CommandLine cli("echo-broken-silent", "BROKEN echo server: no 'listening on HOST:PORT' line", 9100);
    if (auto exit_code = cli.parse(argc, argv)) return *exit_code;
    cs::Fd listener;
    try {
        listener = cs::listen_tcp({.host = cli.options().host, .port = cli.options().port});
    } catch (const std::system_error& error) {
        cli.report_listen_error(error);
        return cs::kExitStartup;
    }
    std::printf("Server ready on port %u\n", cs::local_port(listener.get()));  // BUG: not the contract's line
    std::fflush(stdout);
    ::signal(SIGPIPE, SIG_IGN);
    for (;;) {  // SIGTERM and SIGINT keep their default action: they end the process
        cs::Fd conn{::accept(listener.get(), nullptr, nullptr)};
        if (conn) cs::echo_until_eof(conn.get());
    }
}
