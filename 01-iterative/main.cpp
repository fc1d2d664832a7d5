// 01-iterative/main.cpp — echo server that serves one client at a time.
// New here: the accept loop; listen.cpp opens the listening socket, echo.cpp echoes with rio.cpp's
//   robust I/O, which survives short counts and EINTR (02 and later reuse all three: lesson01_io).
// Known limit: while one client is connected, every other client waits in the listen backlog;
//   one slow client stops everyone (--idle-timeout only bounds how long). 02-process, 03-thread
//   and 04-select each fix that.
// Run: build/bin/echo-iterative      Watch: two `nc -N 127.0.0.1 9001`, then `ss -tn '( sport = :9001 )'`
//   and `kill -USR1 $(pgrep -n echo-iterative)` (the stats line comes when no client is served)
#include "01-iterative/echo.hpp"
#include "01-iterative/listen.hpp"
#include "common/cli.hpp"
#include "common/contract.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/net.hpp"
#include "common/process.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace {

constexpr std::uint16_t kDefaultPort = 9001;

// SIGINT/SIGTERM: the handler sets a flag and shuts the sockets down. shutdown() is
// async-signal-safe, and it wakes a blocked accept() (EINVAL) or read() (EOF). A flag alone
// would not do: a signal arriving just before accept() is entered would leave us asleep.
volatile std::sig_atomic_t stop_requested = 0;
std::atomic<int> listen_fd{-1};  // lock-free atomics are safe to read in a signal handler
std::atomic<int> client_fd{-1};

void on_stop_signal(int) {
    int saved_errno = errno;  // the interrupted code may be about to read errno
    stop_requested = 1;
    ::shutdown(listen_fd.load(), SHUT_RDWR);
    if (int fd = client_fd.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
    errno = saved_errno;
}

// SIGUSR1: a request for one stats line. Printing formats and allocates, which a handler must
// never do, so the handler only sets a flag and the loop prints.
volatile std::sig_atomic_t stats_requested = 0;

void on_stats_signal(int) { stats_requested = 1; }

void install_signal_handlers() {
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: let the signal interrupt accept() as well
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);
    // No SA_RESTART for SIGUSR1 either: a blocked accept() returns EINTR, so the loop wakes up and
    // prints at once. Every other call it interrupts (the echo's read() and write()) retries EINTR.
    action.sa_handler = on_stats_signal;
    ::sigaction(SIGUSR1, &action, nullptr);
    // A client that closes without reading makes our next write() raise SIGPIPE, whose default
    // action kills the whole server. Ignored, the write() fails with EPIPE for that client only.
    ::signal(SIGPIPE, SIG_IGN);
}

// [slide:serve-client]
void serve_client(const cs::Fd& conn, int idle_timeout, const cs::Log& log) {
    std::string peer = cs::peer_endpoint(conn.get());
    log.conn("{} connected (fd {})", peer, conn.get());
    // Here more than anywhere a silent client costs: it holds the only place there is.
    if (!cs::set_idle_timeout(conn.get(), idle_timeout)) log.info("setsockopt() failed: {}", cs::errno_text());
    cs::set_no_delay(conn.get());  // echoes are interactive: no 40 ms Nagle waits (echo.hpp)
    cs::EchoResult result = cs::echo_until_eof(conn.get());
    if (result.idle) {
        log.conn("{} idle for {} s in {}(); closing fd {} ({} bytes echoed)", peer, idle_timeout, result.failed_call,
                 conn.get(), result.bytes);
    } else if (result.error != 0) {
        log.conn("{}() failed: {}; closing fd {} ({}, {} bytes echoed)", result.failed_call,
                 cs::errno_text(result.error), conn.get(), peer, result.bytes);
    } else {
        log.conn("{} closed (fd {}, {} bytes echoed)", peer, conn.get(), result.bytes);
    }
}
// [/slide]

// Open is always 0 here: while 01 serves a client it sits in that client's read(), which retries
// the EINTR, so the request waits, like every other client, until that one has left. (A SIGUSR1
// that lands between the loop's flag test and accept() waits for the next wake-up: a gap a stats
// line can live with. The stop signal cannot, which is why its handler calls shutdown().)
void report_stats(std::uint64_t accepted, const cs::Log& log) {
    stats_requested = 0;
    log.stats("stats: 0 open, {} accepted", accepted);
}

// [slide:accept-loop]
void serve_forever(const cs::Fd& listener, int idle_timeout, const cs::Log& log) {
    std::uint64_t accepted = 0;
    while (!stop_requested) {
        if (stats_requested) report_stats(accepted, log);         // SIGUSR1 woke accept(), or came during a client
        int connfd = ::accept(listener.get(), nullptr, nullptr);  // sleeps until a client is queued
        // [todo:2 what accept() may say | tests: ServesFourThousandRoundTripsWithOnlyThirtyTwoDescriptors, SigtermExitsZeroWithinTwoSecondsLeavingNoProcess]
        //? When accept() fails: leave the loop if a stop was requested; go round again at once on
        //? EINTR (a signal) and ECONNABORTED (the client left before we accepted it); on anything
        //? else (EMFILE: out of descriptors) log it and pause cs::kAcceptPause instead of spinning.
        if (connfd < 0) {
            if (stop_requested) break;
            if (errno == EINTR || errno == ECONNABORTED) continue;  // a signal, or a client gone before accept()
            log.info("accept() failed: {}", cs::errno_text());
            // Out of descriptors or memory: accept() would fail again at once. Pause instead of
            // spinning at 100% CPU; the queued clients wait in the backlog meanwhile.
            std::this_thread::sleep_for(cs::kAcceptPause);
            continue;
        }
        //| if (connfd < 0) continue;  // spins at 100% CPU when out of descriptors
        // [/todo]
        cs::Fd conn{connfd};
        ++accepted;
        client_fd = connfd;
        if (!stop_requested) serve_client(conn, idle_timeout, log);  // everyone else waits in the backlog
        client_fd = -1;
    }  // conn's destructor closes connfd here
}
// [/slide]

}  // namespace

int main(int argc, char** argv) {
    cs::prepare_process();  // first: descriptors 0-2 open, SIGPIPE ignored, stderr never blocks
    cs::CommandLine cli("echo-iterative", "Echo server that serves one client at a time (lesson 01).", kDefaultPort);
    cli.add_idle_timeout(cs::kDefaultIdleTimeout);
    bool no_reuseaddr = false;  // README "Watch it": a restart while old connections are in TIME_WAIT
    cli.add_flag("--no-reuseaddr", no_reuseaddr, "Experiment: bind without SO_REUSEADDR (a quick restart then fails)");
    if (auto exit_code = cli.parse(argc, argv)) return *exit_code;
    const cs::ServerOptions& options = cli.options();
    cs::Log log("01-iterative");
    log.set_quiet(options.quiet);

    cs::Fd listener;
    try {
        listener = cs::listen_tcp({.host = options.host, .port = options.port, .reuse_addr = !no_reuseaddr});
    } catch (const std::system_error& error) {
        cli.report_listen_error(error);
        return cs::kExitStartup;
    }
    listen_fd = listener.get();
    install_signal_handlers();
    cs::announce_listening(listener);
    log.info("listening on {}, one client at a time (idle timeout {} s)", cs::local_endpoint(listener.get()),
             options.idle_timeout);

    serve_forever(listener, options.idle_timeout, log);
    log.info("stop signal received; exiting");
    return cs::kExitOk;
}
