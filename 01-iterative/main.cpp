// 01-iterative/main.cpp — echo server that serves one client at a time.
// New here: the accept loop, and a robust (RIO) reader that survives short counts and EINTR.
// Known limit: while one client is connected, every other client waits in the listen backlog;
//   one slow client stops everyone. 02-process, 03-thread and 04-select each fix that.
// Run: build/bin/echo-iterative      Watch: two `nc 127.0.0.1 9001`, then `ss -tn '( sport = :9001 )'`
#include "common/cli.hpp"
#include "common/echo.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/net.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <sys/socket.h>
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

void install_signal_handlers() {
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: let the signal interrupt accept() as well
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);
    // A client that closes without reading makes our next write() raise SIGPIPE, whose default
    // action kills the whole server. Ignored, the write() fails with EPIPE for that client only.
    ::signal(SIGPIPE, SIG_IGN);
}

// [slide:serve-client]
void serve_client(const cs::Fd& conn, const cs::Log& log) {
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
void serve_forever(const cs::Fd& listener, const cs::Log& log) {
    while (!stop_requested) {
        int connfd = ::accept(listener.get(), nullptr, nullptr);  // sleeps until a client is queued
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
        client_fd = connfd;
        if (!stop_requested) serve_client(conn, log);  // everyone else waits in the backlog meanwhile
        client_fd = -1;
    }                                                   // conn's destructor closes connfd here
}
// [/slide]

}  // namespace

int main(int argc, char** argv) {
    cs::CommandLine cli("echo-iterative", "Echo server that serves one client at a time (lesson 01).",
                        kDefaultPort);
    if (auto exit_code = cli.parse(argc, argv)) return *exit_code;
    const cs::ServerOptions& options = cli.options();
    cs::Log log("01-iterative");
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
    cs::announce_listening(listener);
    log.info("listening on {}, one client at a time", cs::local_endpoint(listener.get()));

    serve_forever(listener, log);
    log.info("stop signal received; exiting");
    return cs::kExitOk;
}
