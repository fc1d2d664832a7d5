// 03-thread/starter/main.cpp — YOUR echo server, one thread per connection (lesson 03 starter).
// Done for you: the command line (with --max-conns and --stack-kib), listening, the listening line,
//   stopping on SIGINT/SIGTERM, SIGPIPE, and serve_client(): 01's echo, which a thread will run.
// Yours: the TODO blocks — a thread per client that owns its descriptor, a list of the running
//   threads (joined when done, capped by --max-conns), the stack size, and a SIGTERM that wakes
//   and joins every thread.
// Build: cmake --preset default && cmake --build --preset default --target echo-thread-starter
// Grade: scripts/grade --lesson 03-thread --server build/bin/echo-thread-starter
//   (see grading/README.md). As it is, it hangs up on every client and scores low.
#include "common/cli.hpp"
#include "01-iterative/echo.hpp"
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

// SIGINT/SIGTERM: the handler sets a flag and shuts the listening socket down, which wakes a
// blocked accept(). With threads, the kernel runs the handler on any thread that does not block
// the signal: hence a std::atomic flag, not a volatile sig_atomic_t read on another thread.
std::atomic<bool> stop_requested{false};
std::atomic<int> listen_fd{-1};

void on_stop_signal(int) {
    int saved_errno = errno;
    stop_requested = true;
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
    ::signal(SIGPIPE, SIG_IGN);  // default action: the whole process dies, every client's thread with it
}

// --stack-kib: std::thread takes no stack size, so set the default that every new thread gets.
bool set_thread_stack_size(int kib, const cs::Log& log) {
    // TODO(4): pthread_attr_init(&attr); pthread_attr_setstacksize(&attr, kib * 1024);
    // pthread_setattr_default_np(&attr); pthread_attr_destroy(&attr). Each returns an error
    // number (not -1/errno): log it and return false, and main() exits 1.
    // Checked by: SmallerStackOptionStillServesAndBadSizeIsAUsageError.
    log.info("--stack-kib {} ignored (TODO(4) in starter/main.cpp)", kib);
    return true;
}

// Echoes one client until its EOF (01's echo loop, from common/echo.hpp). Runs on the client's
// own thread: its log lines then carry that thread's id ([03-thread PID:TID]).
// [[maybe_unused]]: nothing calls it until your thread in start_thread() does.
[[maybe_unused]] void serve_client(const cs::Fd& conn, const cs::Log& log) {
    std::string peer = cs::peer_endpoint(conn.get());
    log.conn("{} connected (fd {})", peer, conn.get());
    cs::EchoResult result = cs::echo_until_eof(conn.get());
    if (result.error != 0) {
        log.conn("{}() failed: {}; closing fd {} ({})", result.failed_call, cs::errno_text(result.error), conn.get(),
                 peer);
    } else {
        log.conn("{} closed (fd {}, {} bytes echoed)", peer, conn.get(), result.bytes);
    }
}

void start_thread(cs::Fd conn, const cs::Log& log) {
    // TODO(1): one thread per client.
    //  * Give the thread its connection BY VALUE: move the cs::Fd into the thread (or into a list
    //    node the thread gets a reference to). Never the address of a variable in this loop:
    //    the next accept() overwrites it while the thread is still starting (two threads then
    //    serve one client and another client is never served).
    //  * The thread runs serve_client(), then closes its socket and ends.
    // TODO(2): the list of threads, under a std::mutex: one entry per client (its socket, its
    //  std::jthread, a `done` flag the thread sets last). The accept loop joins the done ones
    //  (join_finished() below); --max-conns refuses a client while the list is full (log a line
    //  naming --max-conns and let the connection close).
    // Checked by: every Echoes* test, FiftyClientsHeld..., ThreeRounds..., OverTheCap...
    log.conn("{}: not served yet (TODO(1) in starter/main.cpp); hanging up", cs::peer_endpoint(conn.get()));
}

void join_finished() {
    // TODO(2b): join the threads whose clients left (done == true) and drop them from the list:
    // a thread that ended holds its stack until it is joined.
}

std::size_t shutdown_and_join_all() {
    // TODO(3): SIGTERM with clients connected. Their threads sleep in read(), which no flag wakes:
    //  * under the mutex, ::shutdown(fd, SHUT_RDWR) every client socket still open: each blocked
    //    read() returns 0 (EOF), each blocked write() fails: every thread finishes on its own.
    //    (Shut down, never close, another thread's fd: its number could already be reused.)
    //  * then join every thread; return how many there were.
    // Checked by: SigtermWithTwentyConnectedClientsJoinsEveryThread (it wants "joined 20 threads").
    return 0;
}

void serve_forever(const cs::Fd& listener, int max_conns, const cs::Log& log) {
    (void)max_conns;  // TODO(2): the cap
    while (!stop_requested) {
        int connfd = ::accept(listener.get(), nullptr, nullptr);  // sleeps until a client is queued
        join_finished();
        if (connfd < 0) {
            if (stop_requested) break;
            if (errno == EINTR || errno == ECONNABORTED) continue;  // a signal, or a client gone before accept()
            log.info("accept() failed: {}", cs::errno_text());
            ::usleep(100'000);  // out of descriptors: pause instead of spinning
            continue;
        }
        start_thread(cs::Fd{connfd}, log);
    }
}

}  // namespace

int main(int argc, char** argv) {
    cs::CommandLine cli("echo-thread-starter", "Echo server with one thread per client (lesson 03 starter).",
                        kDefaultPort);
    cli.add_max_conns(kDefaultMaxConns);
    int stack_kib = 0;
    cli.add_int("--stack-kib", stack_kib,
                "Stack size of each client thread in KiB (not given: RLIMIT_STACK, usually 8192)", 64, 1024 * 1024);
    if (auto exit_code = cli.parse(argc, argv)) return *exit_code;
    const cs::ServerOptions& options = cli.options();
    cs::Log log("03-thread");
    log.set_quiet(options.quiet);
    log.show_thread_ids(true);  // [03-thread PID:TID]: which thread wrote each line
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
    cs::announce_listening(listener);  // the contract's first stdout line: tests wait for it
    log.info("listening on {}, one thread per client (at most {})", cs::local_endpoint(listener.get()),
             options.max_conns);

    serve_forever(listener, options.max_conns, log);
    listener.reset();  // refuse new clients while the threads wind up
    log.info("stop signal received; joined {} threads still serving clients", shutdown_and_join_all());
    return cs::kExitOk;
}
