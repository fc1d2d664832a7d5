// 04-select/main.cpp — echo server: one process, one thread, every client at once, with select().
// New here: non-blocking sockets and a readiness loop. select() says which descriptors can move
//   bytes now; a small state machine per client (EchoConnection) never blocks on any of them.
// Known limits: every wake-up scans all descriptors up to the highest one (O(n)), and select()
//   cannot watch an fd >= FD_SETSIZE (1024) at all. 05-epoll-pool fixes both.
// Read: this file (options, listener, signals), then event_loop.cpp (the loop) and connection_table.cpp.
// Run: build/bin/echo-select   Watch: strace -e trace=select -p $(pgrep echo-select) while clients talk;
//   kill -USR1 $(pgrep echo-select) prints "stats: N open, M accepted"
#include "04-select/event_loop.hpp"
#include "04-select/signals.hpp"
#include "common/cli.hpp"
#include "common/contract.hpp"
#include "common/net.hpp"
#include "common/process.hpp"

#include <chrono>
#include <csignal>
#include <optional>
#include <sys/select.h>

namespace {

constexpr std::uint16_t kDefaultPort = 9004;

}  // namespace

int main(int argc, char** argv) {
    cs::prepare_process();  // first: descriptors 0-2 open, SIGPIPE ignored, stderr never blocks
    cs::CommandLine cli("echo-select", "Echo server: one thread serves every client with select() (lesson 04).",
                        kDefaultPort);
    cli.add_max_conns(FD_SETSIZE);
    cli.add_idle_timeout(cs::kDefaultIdleTimeout);
    lesson04::LoopOptions loop_options;
    cli.add_size("--out-cap", loop_options.out_cap, "Pending echo bytes per client before we stop reading from it");
    cli.add_flag("--busy-poll", loop_options.busy_poll,
                 "Experiment: select() with a zero timeout, a loop that never sleeps");
    if (auto exit_code = cli.parse(argc, argv)) return *exit_code;
    const cs::ServerOptions& options = cli.options();
    cs::Log log("04-select");
    log.set_quiet(options.quiet);

    cs::Fd listener;
    try {
        listener = cs::listen_tcp({.host = options.host, .port = options.port, .nonblocking = true});
    } catch (const std::system_error& error) {
        cli.report_listen_error(error);
        return cs::kExitStartup;
    }
    std::optional<lesson04::Signals> stop;
    try {
        stop.emplace();  // from here on, SIGINT/SIGTERM/SIGUSR1 make stop->read_fd() readable
    } catch (const std::system_error& error) {
        log.info("cannot install the stop signals: {}", error.what());
        return cs::kExitStartup;
    }
    ::signal(SIGPIPE, SIG_IGN);  // belt and braces: EchoConnection already sends with MSG_NOSIGNAL
    cs::announce_listening(listener);
    log.info("listening on {}, one thread, select() over at most {} descriptors", cs::local_endpoint(listener.get()),
             FD_SETSIZE);

    loop_options.max_conns = options.max_conns;
    loop_options.idle_timeout = std::chrono::seconds(options.idle_timeout);
    lesson04::EventLoop loop(std::move(listener), *stop, loop_options, log);
    bool stopped_by_signal = loop.run();
    log.info("{}; closing {} connections and exiting", stopped_by_signal ? "stop signal received" : "giving up",
             loop.open());
    return stopped_by_signal ? cs::kExitOk : cs::kExitLoopFailed;
}
