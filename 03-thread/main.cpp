// 03-thread/main.cpp — echo server, one thread per connection.
// New here: a std::jthread per client, who owns the connected fd, and joining every thread
//   (connections.cpp). Threads share one address space: cheaper than 02's fork, but shared data needs locks.
// Known limit: every client still costs a thread and its stack; 04-select and 05-epoll-pool serve
//   thousands of mostly idle clients from one or a few threads.
// Run: build/bin/echo-thread     Watch: grep Threads /proc/$(pgrep -n echo-thread)/status  (and ps -L)
//   and kill -USR1 $(pgrep -n echo-thread): the accept thread prints how many clients it serves now
#include "03-thread/connections.hpp"
#include "03-thread/pool.hpp"
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
#include <optional>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace {

constexpr std::uint16_t kDefaultPort = 9003;

// SIGINT/SIGTERM: the handler sets a flag and shuts the listening socket down. shutdown() is
// async-signal-safe, and it wakes a blocked accept() (EINVAL). A flag alone would not do: a
// signal arriving just before accept() is entered would leave us asleep.
// New with threads: the kernel gives a process-wide signal to any one thread that does not block
// it. The workers block these signals (WorkerSignalMask below), so the handlers run on the accept
// thread. The flags are atomics all the same: lock-free atomics are safe in a handler, and a
// volatile sig_atomic_t would be a data race the day another thread reads it.
std::atomic<bool> stop_requested{false};
std::atomic<int> listen_fd{-1};  // lock-free atomics are safe to read in a signal handler

void on_stop_signal(int) {
    int saved_errno = errno;  // the interrupted code may be about to read errno
    stop_requested = true;
    ::shutdown(listen_fd.load(), SHUT_RDWR);
    errno = saved_errno;
}

// SIGUSR1: a request for one stats line. Printing formats and allocates, which a handler must
// never do, so the handler only sets a flag and the accept loop prints.
std::atomic<bool> stats_requested{false};

void on_stats_signal(int) { stats_requested = true; }

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
    // action kills the whole server: here every other client's thread with it. Ignored, the
    // write() fails with EPIPE for that client only.
    ::signal(SIGPIPE, SIG_IGN);
}

// Which thread gets SIGUSR1 matters: only the accept thread's accept() returning EINTR makes the
// line come at once. (On a worker the handler would set the flag, and nobody would look until the
// next client arrived.) A new thread starts with the signal mask of the thread that creates it, so
// the accept thread blocks the three signals just while it creates a worker: the worker keeps them
// blocked for life, the accept thread unblocks them at once (one that came meanwhile waits, pending).
class WorkerSignalMask {
public:
    WorkerSignalMask() {
        sigset_t signals;
        sigemptyset(&signals);
        for (int sig : {SIGINT, SIGTERM, SIGUSR1}) sigaddset(&signals, sig);
        ::pthread_sigmask(SIG_BLOCK, &signals, &previous_);
    }
    ~WorkerSignalMask() { ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
    WorkerSignalMask(const WorkerSignalMask&) = delete;
    WorkerSignalMask& operator=(const WorkerSignalMask&) = delete;

private:
    sigset_t previous_;
};

void serve_client(const cs::Fd& conn, int idle_timeout, const cs::Log& log) {  // on the connection's own thread
    std::string peer = cs::peer_endpoint(conn.get());
    log.conn("{} connected (fd {})", peer, conn.get());
    // A silent client would hold its thread, and a place under --max-conns, forever.
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

// Open: the workers still serving. (A SIGUSR1 that lands between the loop's flag test and
// accept() waits for the next wake-up: a gap a stats line can live with.)
void report_stats(std::size_t open, std::uint64_t accepted, const cs::Log& log) {
    stats_requested = false;
    log.stats("stats: {} open, {} accepted", open, accepted);
}

// [slide:accept-loop]
void serve_forever(const cs::Fd& listener, lesson03::Connections& connections, lesson03::ThreadPool* pool,
                   int idle_timeout, const cs::Log& log) {
    std::uint64_t accepted = 0;
    while (!stop_requested) {
        if (stats_requested) report_stats(pool ? pool->open() : connections.serving(), accepted, log);
        int connfd = ::accept(listener.get(), nullptr, nullptr);  // sleeps until a client is queued
        cs::Fd conn{connfd};                                      // owns it from here; an Fd of -1 owns nothing
        connections.join_finished();                              // the threads whose clients left while we waited
        if (stop_requested) break;  // shutdown() woke accept() (EINVAL), or a client came as we stopped
        if (connfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;  // a signal, or a client gone before accept()
            log.info("accept() failed: {}", cs::errno_text());
            // out of fds or memory (as in 01): pause, do not spin; the backlog waits
            std::this_thread::sleep_for(cs::kAcceptPause);
            continue;
        }
        ++accepted;
        if (pool) {  // --pool: a waiting pool thread takes it (or we wait here while all are busy)
            pool->submit(std::move(conn), stop_requested);
            continue;
        }
        // conn moves into the list and the thread reads it there: never &connfd, which accept() reuses
        WorkerSignalMask mask;  // the new thread starts with SIGINT, SIGTERM and SIGUSR1 blocked
        connections.start(
            std::move(conn), [&log, idle_timeout](const cs::Fd& socket) { serve_client(socket, idle_timeout, log); },
            log);
    }
}
// [/slide]

}  // namespace

int main(int argc, char** argv) {
    cs::prepare_process();  // first: descriptors 0-2 open, SIGPIPE ignored, stderr never blocks
    cs::CommandLine cli("echo-thread", "Echo server with one thread per client (lesson 03).", kDefaultPort);
    cli.add_max_conns(cs::kDefaultMaxConns);
    cli.add_idle_timeout(cs::kDefaultIdleTimeout);
    int stack_kib = 0;
    cli.add_int("--stack-kib", stack_kib,
                "Stack size of each client thread in KiB (not given: RLIMIT_STACK, usually 8192)", 64, 1024 * 1024);
    int pool_threads = 0;
    cli.add_int("--pool", pool_threads, "Serve with a fixed pool of N threads and a queue of N sockets (pool.hpp)", 0,
                1024);
    if (auto exit_code = cli.parse(argc, argv)) return *exit_code;
    const cs::ServerOptions& options = cli.options();
    cs::Log log("03-thread");
    log.set_quiet(options.quiet);
    log.show_thread_ids(true);
    if (stack_kib != 0 && !lesson03::set_thread_stack_size(stack_kib, log)) return cs::kExitStartup;

    cs::Fd listener;
    try {
        listener = cs::listen_tcp({.host = options.host, .port = options.port});
    } catch (const std::system_error& error) {
        cli.report_listen_error(error);
        return cs::kExitStartup;
    }
    listen_fd = listener.get();
    install_signal_handlers();
    cs::announce_listening(listener);
    log.info("listening on {}, one thread per client (at most {}, idle timeout {} s)",
             cs::local_endpoint(listener.get()), options.max_conns, options.idle_timeout);

    lesson03::Connections connections(static_cast<std::size_t>(options.max_conns));
    std::optional<lesson03::ThreadPool> pool;
    try {
        WorkerSignalMask mask;  // pool threads start with the stop and stats signals blocked, for life
        if (pool_threads > 0)
            pool.emplace(pool_threads,
                         [&log, &options](const cs::Fd& socket) { serve_client(socket, options.idle_timeout, log); });
    } catch (const std::system_error& error) {
        log.info("pthread_create() failed: {}; no pool of {} threads", error.code().message(), pool_threads);
        return cs::kExitStartup;
    }
    serve_forever(listener, connections, pool ? &*pool : nullptr, options.idle_timeout, log);
    listener.reset();            // refuse new clients while the threads wind up
    connections.shutdown_all();  // every blocked read() returns EOF, every blocked write() fails
    std::size_t cut = pool ? pool->shutdown_all() : 0;
    pool.reset();  // joins the pool threads
    log.info("stop signal received; joined {} threads still serving clients", connections.join_all() + cut);
    return cs::kExitOk;
}
