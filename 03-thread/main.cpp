// 03-thread/main.cpp — echo server, one thread per connection.
// New here: a std::jthread per client, who owns the connected fd, and joining every thread
//   (connections.cpp). Threads share one address space: cheaper than 02's fork, but shared data needs locks.
// Known limit: every client still costs a thread and its stack; 04-select and 05-epoll-pool serve
//   thousands of mostly idle clients from one or a few threads.
// Run: build/bin/echo-thread     Watch: grep Threads /proc/$(pgrep -n echo-thread)/status  (and ps -L)
#include "03-thread/connections.hpp"
#include "common/cli.hpp"
#include "common/echo.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/net.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

constexpr std::uint16_t kDefaultPort = 9003;
constexpr int kDefaultMaxConns = 1024;

// SIGINT/SIGTERM: the handler sets a flag and shuts the listening socket down. shutdown() is
// async-signal-safe, and it wakes a blocked accept() (EINVAL). A flag alone would not do: a
// signal arriving just before accept() is entered would leave us asleep.
// New with threads: the kernel gives a process-wide signal to any one thread that does not block
// it, so this handler may run on a worker. Hence an atomic flag (a volatile sig_atomic_t written
// on one thread and read on another is a data race), and nothing here that cares which thread it is.
std::atomic<bool> stop_requested{false};
std::atomic<int> listen_fd{-1};  // lock-free atomics are safe to read in a signal handler

void on_stop_signal(int) {
    int saved_errno = errno;  // the interrupted code may be about to read errno
    stop_requested = true;
    ::shutdown(listen_fd.load(), SHUT_RDWR);
    errno = saved_errno;
}

void install_signal_handlers() {
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: let the signal interrupt accept() as well
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);
    // A client that closes without reading makes our next write() raise SIGPIPE, whose default
    // action kills the whole server: here every other client's thread with it. Ignored, the
    // write() fails with EPIPE for that client only.
    ::signal(SIGPIPE, SIG_IGN);
}

// --stack-kib: std::thread has no stack-size parameter, so set the process-wide default that
// pthread_create() uses for every thread created without attributes, as std::thread does.
bool set_thread_stack_size(int kib, const cs::Log& log) {
    pthread_attr_t attr;
    ::pthread_attr_init(&attr);
    int error = ::pthread_attr_setstacksize(&attr, static_cast<std::size_t>(kib) * 1024);
    if (error == 0) error = ::pthread_setattr_default_np(&attr);
    ::pthread_attr_destroy(&attr);
    if (error != 0) log.info("pthread_setattr_default_np() failed: {}", cs::errno_text(error));
    return error == 0;
}

// [slide:serve-client]
void serve_client(const cs::Fd& conn, const cs::Log& log) {  // runs on the connection's own thread
    std::string peer = cs::peer_endpoint(conn.get());
    log.conn("{} connected (fd {})", peer, conn.get());
    cs::EchoResult result = cs::echo_until_eof(conn.get());
    if (result.error != 0) {
        log.conn("{}() failed: {}; closing fd {} ({}, {} bytes echoed)", result.failed_call,
                 cs::errno_text(result.error), conn.get(), peer, result.bytes);
    } else {
        log.conn("{} closed (fd {}, {} bytes echoed)", peer, conn.get(), result.bytes);
    }
}
// [/slide]

// [slide:accept-loop]
void serve_forever(const cs::Fd& listener, echo_thread::Connections& connections, const cs::Log& log) {
    while (!stop_requested) {
        int connfd = ::accept(listener.get(), nullptr, nullptr);  // sleeps until a client is queued
        connections.join_finished();  // the threads whose clients left while we waited
        if (connfd < 0) {
            if (stop_requested) break;
            if (errno == EINTR || errno == ECONNABORTED) continue;  // a signal, or a client gone before accept()
            log.info("accept() failed: {}", cs::errno_text());
            // Out of descriptors or memory: accept() would fail again at once. Pause instead of
            // spinning at 100% CPU; the queued clients wait in the backlog meanwhile.
            ::usleep(100'000);
            continue;
        }
        cs::Fd conn{connfd};
        if (stop_requested) break;  // conn's destructor closes connfd
        // The Fd moves into the connection list, which the new thread reads it from: no thread
        // ever sees the loop's connfd variable, which the next accept() overwrites.
        connections.start(std::move(conn), [&log](const cs::Fd& socket) { serve_client(socket, log); }, log);
    }
}
// [/slide]

}  // namespace

int main(int argc, char** argv) {
    cs::CommandLine cli("echo-thread", "Echo server with one thread per client (lesson 03).", kDefaultPort);
    cli.add_max_conns(kDefaultMaxConns);
    int stack_kib = 0;
    cli.add_int("--stack-kib", stack_kib,
                "Stack size of each client thread in KiB (not given: RLIMIT_STACK, usually 8192)", 64, 1024 * 1024);
    if (auto exit_code = cli.parse(argc, argv)) return *exit_code;
    const cs::ServerOptions& options = cli.options();
    cs::Log log("03-thread");
    log.set_quiet(options.quiet);
    log.show_thread_ids(true);
    if (stack_kib != 0 && !set_thread_stack_size(stack_kib, log)) return cs::kExitStartup;

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
    log.info("listening on {}, one thread per client (at most {})", cs::local_endpoint(listener.get()),
             options.max_conns);

    echo_thread::Connections connections(static_cast<std::size_t>(options.max_conns));
    serve_forever(listener, connections, log);
    listener.reset();             // refuse new clients while the threads wind up
    connections.shutdown_all();   // every blocked read() returns EOF, every blocked write() fails
    log.info("stop signal received; joined {} threads still serving clients", connections.join_all());
    return cs::kExitOk;
}
