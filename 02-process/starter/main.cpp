// 02-process/starter/main.cpp — YOUR echo server, one forked child per connection (lesson 02 starter).
// Done for you: the command line (with --max-conns and --no-reap), listening, the listening line,
//   stopping on SIGINT/SIGTERM, SIGPIPE, and serve_client(): 01's echo, which a child will run.
// Yours: the TODO blocks — fork a child per client and close the right descriptors, reap every
//   child that ends, the --max-conns cap, and ending the children on SIGTERM.
// Build: cmake --preset default && cmake --build --preset default --target echo-process-starter
// Grade: scripts/grade --lesson 02-process --server build/bin/echo-process-starter
//   (see grading/README.md). As it is, it hangs up on every client and scores low.
#include "common/cli.hpp"
#include "01-iterative/echo.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/net.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

constexpr std::uint16_t kDefaultPort = 9002;
constexpr int kDefaultMaxConns = 1024;

// SIGINT/SIGTERM: the handler sets a flag and shuts the listening socket down; shutdown() is
// async-signal-safe and wakes a blocked accept(). (A flag alone could leave us asleep in accept().)
volatile std::sig_atomic_t stop_requested = 0;
std::atomic<int> listen_fd{-1};

void on_stop_signal(int) {
    int saved_errno = errno;
    stop_requested = 1;
    ::shutdown(listen_fd.load(), SHUT_RDWR);
    errno = saved_errno;
}

void install_signal_handlers() {
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: the signal must interrupt accept()
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);
    ::signal(SIGPIPE, SIG_IGN);  // an ignored signal stays ignored after fork(): children are covered
}

// The SIGCHLD handler: the kernel sends SIGCHLD to the parent each time a child ends.
void on_sigchld(int) {
    int saved_errno = errno;  // waitpid() sets errno; the code we interrupted may be about to read it
    // TODO(3): reap. A child that ended stays a zombie (ps: stat Z) until its parent waitpid()s it.
    //  * Loop: while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) { ... }. Not just one call:
    //    standard signals do not queue, so 50 children that end together may arrive as ONE SIGCHLD.
    //  * Record each (pid, status) for the main loop to log "reaped child PID (exit N)" and to free
    //    the child's place under --max-conns. A handler may not log or allocate: keep a table
    //    allocated at start-up, one slot per allowed child, of lock-free std::atomic values.
    // Checked by: ThreeRounds...LeaveNoZombie..., TwoHundredShortConnections..., StormOfExitingChildren...
    errno = saved_errno;
}

void install_reaper() {
    struct sigaction action {};
    action.sa_handler = on_sigchld;
    sigemptyset(&action.sa_mask);
    // No SA_RESTART: a child's end interrupts accept() with EINTR, so the loop wakes up and can
    // log it at once. SA_NOCLDSTOP: no signal when a child is only stopped (kill -STOP).
    action.sa_flags = SA_NOCLDSTOP;
    ::sigaction(SIGCHLD, &action, nullptr);
}

// Echoes one client until its EOF (01's echo loop, from common/echo.hpp).
void serve_client(const cs::Fd& conn, const cs::Log& log) {
    std::string peer = cs::peer_endpoint(conn.get());
    log.conn("{} connected (fd {})", peer, conn.get());  // logged by the child: its own pid in the prefix
    cs::EchoResult result = cs::echo_until_eof(conn.get());
    if (result.error != 0) {
        log.conn("{}() failed: {}; closing fd {} ({})", result.failed_call, cs::errno_text(result.error), conn.get(),
                 peer);
    } else {
        log.conn("{} closed (fd {}, {} bytes echoed)", peer, conn.get(), result.bytes);
    }
}

// Runs in the new child: serves its one client, then ends the child process.
// [[maybe_unused]]: nothing calls it until your fork() in spawn_child() does.
[[maybe_unused]] [[noreturn]] void run_child(cs::Fd& listener, const cs::Fd& conn, const cs::Log& log) {
    listener.reset();  // the child never accepts: new clients are the parent's business
    // TODO(1b): the child is a copy of the parent, signal handlers included. Give SIGCHLD, SIGINT
    // and SIGTERM their default action back (sigaction with SIG_DFL), so that the parent's SIGTERM
    // simply ends a child: the parent's handlers are about the parent's accept loop.
    serve_client(conn, log);
    ::_exit(0);  // _exit, not exit(): nothing of the parent's (atexit, stdio buffers) may run twice
}

void spawn_child(cs::Fd& listener, cs::Fd conn, const cs::Log& log) {
    // TODO(1): one child per client.
    //  * pid_t pid = ::fork();  pid == 0: you are the child: run_child(listener, conn, log).
    //    pid < 0: log "fork() failed: ..." and return (the connection closes).
    //  * The parent logs "PEER: forked child PID (fd N)", remembers the pid (TODO(3), TODO(4)) and
    //    returns at once. Leaving this function closes the PARENT's copy of connfd (cs::Fd does
    //    it): forget that close and the client never sees EOF when its child exits.
    //  * Block SIGCHLD (sigprocmask) from before fork() until the pid is in your table: a child that
    //    ends at once could otherwise be reaped before the parent ever recorded it.
    // Checked by: every Echoes* test, FiftyClientsHeldAtOnceAreFiftyLiveChildren, LogsTheChildPid...
    (void)listener;
    log.conn("{}: not served yet (TODO(1) in starter/main.cpp); hanging up", cs::peer_endpoint(conn.get()));
}

void serve_forever(cs::Fd& listener, int max_conns, const cs::Log& log) {
    while (!stop_requested) {
        int connfd = ::accept(listener.get(), nullptr, nullptr);  // sleeps until a client is queued
        // TODO(3b): log the children the handler reaped meanwhile ("reaped child PID (exit 0)")
        // and free their places. Here, in the loop: every SIGCHLD interrupts accept() (EINTR).
        if (connfd < 0) {
            if (stop_requested) break;
            if (errno == EINTR || errno == ECONNABORTED) continue;  // a signal, or a client gone before accept()
            log.info("accept() failed: {}", cs::errno_text());
            ::usleep(100'000);  // out of descriptors: pause instead of spinning
            continue;
        }
        cs::Fd conn{connfd};
        // TODO(4): --max-conns. With max_conns children alive, log a line that names --max-conns
        // and `continue` (conn closes): the server goes on serving the others.
        (void)max_conns;
        spawn_child(listener, std::move(conn), log);
    }
}

void end_children(const cs::Log& log) {
    // TODO(5): SIGTERM ends the children too, or they would outlive the server.
    //  * Block SIGCHLD first: from here on this function reaps, not the handler.
    //  * kill(pid, SIGTERM) each child still alive, then kill(pid, SIGCONT): a stopped child
    //    (kill -STOP) would keep the SIGTERM pending forever.
    //  * waitpid(pid, &status, 0) each one (retry on EINTR); log "ended N children".
    // Checked by: SigtermWithTwentyConnectedClientsEndsEveryChild, Sigterm...LeavingNoProcess.
    log.info("no children to end yet (TODO(5) in starter/main.cpp)");
}

}  // namespace

int main(int argc, char** argv) {
    cs::CommandLine cli("echo-process-starter", "Echo server with one child process per client (lesson 02 starter).",
                        kDefaultPort);
    cli.add_max_conns(kDefaultMaxConns);
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
    if (!no_reap) install_reaper();
    cs::announce_listening(listener);  // the contract's first stdout line: tests wait for it
    log.info("listening on {}, one child process per client (at most {})", cs::local_endpoint(listener.get()),
             options.max_conns);

    serve_forever(listener, options.max_conns, log);
    listener.reset();  // refuse new clients while the children end
    log.info("stop signal received; ending children");
    end_children(log);
    return cs::kExitOk;
}
