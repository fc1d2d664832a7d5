// tests/broken/hang.cpp — BROKEN ON PURPOSE: a grader fixture, not a lesson.
// A server that prints the contract's listening line, forks a worker that sleeps forever,
// and never accepts a connection. Clients connect (the kernel queues them in the backlog)
// and then wait for an echo that never comes.
// It proves the grader's deadlines: every test against it must be cut off at its own deadline,
// and the grader must leave no process behind, not even the orphaned worker
// (tests/grade/grade_test.py, HungServerIsCutAtEachDeadlineAndLeavesNoProcess).
#include "common/cli.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/net.hpp"

#include <csignal>
#include <unistd.h>

int main(int argc, char** argv) {
    cs::CommandLine cli("echo-broken-hang", "BROKEN echo server: listens, never serves", 9100);
    if (auto exit_code = cli.parse(argc, argv)) return *exit_code;
    cs::Fd listener;
    try {
        listener = cs::listen_tcp({.host = cli.options().host, .port = cli.options().port});
    } catch (const std::system_error& error) {
        cli.report_listen_error(error);
        return cs::kExitStartup;
    }
    // Ignore the stop signals too: only SIGKILL (the harness's, the grader's) ends this server.
    ::signal(SIGTERM, SIG_IGN);
    ::signal(SIGINT, SIG_IGN);
    if (::fork() == 0) {
        ::setpgid(0, 0);     // a group of its own: killing the server's group misses this worker
        for (;;) ::pause();  // it outlives its parent unless the grader finds it
    }
    cs::announce_listening(listener);
    for (;;) ::pause();
}
