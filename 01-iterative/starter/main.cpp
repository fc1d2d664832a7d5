// 01-iterative/starter/main.cpp — YOUR echo server, one client at a time (lesson 01 starter).
// Done for you: the command line, listening, the listening line, stopping on SIGINT/SIGTERM.
// Yours: the three TODO blocks — echo one client to its EOF, the accept loop, SIGPIPE.
// Build: cmake --preset default -DCOURSE_STARTERS=ON && cmake --build --preset default
// Grade: scripts/grade --lesson 01-iterative --server build/bin/echo-iterative-starter
//   (see grading/README.md). As it is, it hangs up on every client and scores low.
#include "common/cli.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/net.hpp"
#include "common/rio.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <sys/socket.h>
#include <unistd.h>

namespace {

constexpr std::uint16_t kDefaultPort = 9001;

// SIGINT/SIGTERM: the handler sets a flag and shuts the sockets down; shutdown() is
// async-signal-safe and wakes a blocked accept() or read(). (A flag alone could leave the
// server asleep in accept() forever, if the signal came just before it.)
volatile std::sig_atomic_t stop_requested = 0;
std::atomic<int> listen_fd{-1};
std::atomic<int> client_fd{-1};  // the connection being served, so a stop wakes its read() too

void on_stop_signal(int) {
    int saved_errno = errno;
    stop_requested = 1;
    ::shutdown(listen_fd.load(), SHUT_RDWR);
    if (int fd = client_fd.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
    errno = saved_errno;
}

void install_signal_handlers() {
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: the signal must interrupt accept()
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);

    // TODO(3): SIGPIPE. When a client leaves without reading its echo, your next write() to it
    // raises SIGPIPE, and its default action kills the WHOLE server. Ignore it (one line), so
    // that write() fails with EPIPE for that one client instead.
    // Checked by: ServesNextClientAfterClientReset, SurvivesClientThatClosesWithoutReading.
}

// Echoes everything one client sends, until the client closes its side (EOF).
void serve_client(const cs::Fd& conn, const cs::Log& log) {
    std::string peer = cs::peer_endpoint(conn.get());
    log.conn("{} connected (fd {})", peer, conn.get());

    // TODO(1): the echo loop.
    //  * One cs::LineReader for this connection (common/rio.hpp), and a buffer of
    //    cs::LineReader::kDefaultCapacity bytes (std::array<std::byte, N>).
    //  * Loop: n = reader.read_lines(buffer) returns every complete line one read() brought in,
    //    a piece of a line longer than the buffer, or the bytes after the last '\n' at EOF.
    //      n == 0: the client closed and everything was echoed: leave the loop.
    //      n < 0:  read() failed (errno says why, e.g. ECONNRESET): log it, return.
    //      n > 0:  cs::writen() those n bytes back (it handles short counts and EINTR);
    //              if it fails (EPIPE, ECONNRESET), log it and return.
    //  * Never exit() here: one client's error must end that client only.
    //  * Log the end, e.g. log.conn("{} closed (fd {}, {} bytes echoed)", peer, conn.get(), bytes);
    // Checked by every Echoes* test, and by the lesson's own tests.
    log.conn("{}: not served yet (TODO(1) in starter/main.cpp); hanging up", peer);
}

void serve_forever(const cs::Fd& listener, const cs::Log& log) {
    // TODO(2): the accept loop, robust. As it is, it accepts and serves (TODO(1)) each client;
    // make it survive what accept() may say:
    //  * when accept() fails: leave the loop if stop_requested; retry at once on EINTR (a
    //    signal) and ECONNABORTED (the client left before we accepted it); on anything else
    //    (EMFILE: out of descriptors) log it and pause ::usleep(100'000) instead of spinning.
    //  * set client_fd = connfd while you serve, and back to -1 after, so a stop signal wakes
    //    a read() blocked on this client.
    // The connection is closed when `conn` goes out of scope (cs::Fd closes it exactly once).
    while (!stop_requested) {
        int connfd = ::accept(listener.get(), nullptr, nullptr);  // sleeps until a client is queued
        if (connfd < 0) continue;
        cs::Fd conn{connfd};
        serve_client(conn, log);  // everyone else waits in the listen backlog meanwhile
    }
}

}  // namespace

int main(int argc, char** argv) {
    cs::CommandLine cli("echo-iterative-starter", "Echo server that serves one client at a time (lesson 01 starter).",
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
    cs::announce_listening(listener);  // the contract's first stdout line: tests wait for it
    log.info("listening on {}, one client at a time", cs::local_endpoint(listener.get()));

    serve_forever(listener, log);
    log.info("stop signal received; exiting");
    return cs::kExitOk;
}
