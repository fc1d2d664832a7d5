// 02-process/main.cpp — echo server, one forked child process per connection.
// New here: fork() after accept(), who closes which descriptor, and reaping children (children.cpp).
// Known limit: a fork per connection costs time and a process per client costs memory; 06-prefork
//   forks a few workers once, and 04/05 serve every client from one process.
// Run: build/bin/echo-process            Watch: ps -o pid,ppid,stat,cmd --ppid $(pgrep -o echo-process)
//   (try --no-reap: every client that leaves stays behind as a zombie, stat Z)
//   and kill -USR1 $(pgrep -o echo-process): the parent prints how many children serve clients now
#include "02-process/children.hpp"
#include "02-process/signals.hpp"
#include "common/cli.hpp"
#include "common/contract.hpp"
#include "01-iterative/echo.hpp"
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

constexpr std::uint16_t kDefaultPort = 9002;

// SIGINT/SIGTERM: the handler sets a flag and shuts the listening socket down. shutdown() is
// async-signal-safe, and it wakes a blocked accept() (EINVAL). A flag alone would not do: a
// signal arriving just before accept() is entered would leave us asleep. A child puts the
// default action back first thing: SIGTERM simply ends a child.
volatile std::sig_atomic_t stop_requested = 0;
std::atomic<int> listen_fd{-1};  // lock-free atomics are safe to read in a signal handler

void on_stop_signal(int) {
    int saved_errno = errno;  // the interrupted code may be about to read errno
    stop_requested = 1;
    ::shutdown(listen_fd.load(), SHUT_RDWR);
    errno = saved_errno;
}

// SIGUSR1: a request for one stats line. Printing formats and allocates, which a handler must
// never do, so the handler only sets a flag and the accept loop prints. A child ignores SIGUSR1
// (restore_signals_in_child): it has nothing to report, and the default action would kill it.
volatile std::sig_atomic_t stats_requested = 0;

void on_stats_signal(int) { stats_requested = 1; }

void install_signal_handlers() {
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: let the signal interrupt accept() as well
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);
    // No SA_RESTART for SIGUSR1 either: a blocked accept() returns EINTR, so the loop prints at once.
    action.sa_handler = on_stats_signal;
    ::sigaction(SIGUSR1, &action, nullptr);
    // A client that closes without reading makes our next write() raise SIGPIPE, whose default
    // action kills the whole server. Ignored, the write() fails with EPIPE for that client only.
    // (An ignored signal stays ignored in a forked child: the children are protected too.)
    ::signal(SIGPIPE, SIG_IGN);
}

void serve_client(const cs::Fd& conn, int idle_timeout, const cs::Log& log) {
    std::string peer = cs::peer_endpoint(conn.get());
    log.conn("{} connected (fd {})", peer, conn.get());
    // A silent client would hold its child, and a place under --max-conns, forever.
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

// [todo:1 one child per client | tests: FiftyClientsHeldAtOnceAreFiftyLiveChildren, LogsTheChildPidOnEachConnectionLine, EchoesOneLine, SigtermWithTwentyConnectedClientsEndsEveryChild]
//? fork() after accept(). The child closes the listening socket (it never accepts), gives the
//? signals back their default actions (lesson02::restore_signals_in_child), runs serve_client()
//? and _exit()s. The parent records the pid (children.add, with SIGCHLD blocked meanwhile:
//? lesson02::SignalBlock), logs "PEER: forked child PID (fd N)", and closes its copy of connfd.
// [slide:child]
[[noreturn]] void run_child(cs::Fd& listener, const cs::Fd& conn, int idle_timeout, const cs::Log& log,
                            const sigset_t& mask) {
    listener.reset();  // the child never accepts: new clients are the parent's business
    lesson02::restore_signals_in_child(mask);
    serve_client(conn, idle_timeout, log);
    // _exit, not exit or return: nothing of the parent's (atexit handlers, the copied stdio
    // buffers, destructors of main's objects) may run a second time in the child.
    ::_exit(0);
}
// [/slide]

// [slide:fork]
void spawn_child(cs::Fd& listener, cs::Fd conn, lesson02::Children& children, int idle_timeout, const cs::Log& log) {
    std::string peer = cs::peer_endpoint(conn.get());
    lesson02::SignalBlock block;  // no reaping until the new child is in the table
    pid_t pid = ::fork();
    if (pid == 0) run_child(listener, conn, idle_timeout, log, block.previous());
    if (pid < 0) {
        log.info("fork() failed: {}; closing fd {} ({})", cs::errno_text(), conn.get(), peer);
        return;
    }
    children.add(pid);
    log.conn("{}: forked child {} (fd {})", peer, pid, conn.get());
}  // the parent closes its copy of connfd here. The socket stays open: the child holds the other
// reference. Forget this close and the client never sees EOF when the child exits.
// [/slide]
//| void spawn_child(cs::Fd& listener, cs::Fd conn, lesson02::Children& children, int idle_timeout,
//|                  const cs::Log& log) {
//|     (void)listener, (void)children, (void)idle_timeout, (void)serve_client;  // the child's work, ready
//|     log.conn("{}: not served yet (TODO 1); hanging up", cs::peer_endpoint(conn.get()));
//| }
// [/todo]

// Open: the children not reaped yet. (A SIGUSR1 that lands between the loop's flag test and
// accept() waits for the next wake-up, as a reaped child's log line does: a gap these can live with.)
void report_stats(const lesson02::Children& children, std::uint64_t accepted, const cs::Log& log) {
    stats_requested = 0;
    log.stats("stats: {} open, {} accepted", children.serving(), accepted);
}

// [slide:accept-loop]
void serve_forever(cs::Fd& listener, lesson02::Children& children, const cs::ServerOptions& options,
                   const cs::Log& log) {
    std::uint64_t accepted = 0;
    while (!stop_requested) {
        if (stats_requested) report_stats(children, accepted, log);
        int connfd = ::accept(listener.get(), nullptr, nullptr);  // sleeps until a client is queued
        cs::Fd conn{connfd};                                      // owns it from here; an Fd of -1 owns nothing
        children.report_reaped(log);  // log what the SIGCHLD handler reaped meanwhile; frees their slots
        if (stop_requested) break;    // shutdown() woke accept() (EINVAL), or a client came as we stopped
        if (connfd < 0) {             // EINTR is routine here: every child that ends interrupts accept() (SIGCHLD)
            if (errno == EINTR || errno == ECONNABORTED) continue;  // a signal, or a client gone before accept()
            log.info("accept() failed: {}", cs::errno_text());
            // out of fds or memory (as in 01): pause, do not spin; the backlog waits
            std::this_thread::sleep_for(cs::kAcceptPause);
            continue;
        }
        ++accepted;
        if (children.full()) {  // over the cap: close this one at once, and go on serving the others
            log.conn("{}: {} children already (--max-conns); closing fd {}", cs::peer_endpoint(connfd),
                     options.max_conns, connfd);
            continue;
        }
        spawn_child(listener, std::move(conn), children, options.idle_timeout, log);
    }
}
// [/slide]

}  // namespace

int main(int argc, char** argv) {
    cs::prepare_process();  // first: descriptors 0-2 open, SIGPIPE ignored, stderr never blocks
    cs::CommandLine cli("echo-process", "Echo server with one child process per client (lesson 02).", kDefaultPort);
    cli.add_max_conns(cs::kDefaultMaxConns);
    cli.add_idle_timeout(cs::kDefaultIdleTimeout);
    bool no_reap = false;
    cli.add_flag("--no-reap", no_reap, "Experiment: never reap children, so each one that ends stays a zombie");
    if (auto exit_code = cli.parse(argc, argv)) return *exit_code;
    const cs::ServerOptions& options = cli.options();
    cs::Log log("02-process");
    log.set_quiet(options.quiet);

    cs::Fd listener;
    try {
        listener = cs::listen_tcp({.host = options.host, .port = options.port});
    } catch (const std::system_error& error) {
        cli.report_listen_error(error);
        return cs::kExitStartup;
    }
    listen_fd = listener.get();
    install_signal_handlers();
    lesson02::Children children(options.max_conns);
    if (!no_reap) children.install_reaper();
    cs::announce_listening(listener);
    log.info("listening on {}, one child process per client (at most {}, idle timeout {} s){}",
             cs::local_endpoint(listener.get()), options.max_conns, options.idle_timeout,
             no_reap ? "; --no-reap: children that end stay zombies" : "");

    serve_forever(listener, children, options, log);
    listener.reset();  // refuse new clients while the children end
    log.info("stop signal received; ending children");
    children.end_all(log);
    return cs::kExitOk;
}
