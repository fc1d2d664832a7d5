// 04-select/starter/main.cpp — YOUR echo server: one thread, every client at once, with select() (lesson 04 starter).
// Done for you: the command line (with --max-conns and --out-cap), a non-blocking listener, the
//   listening line, stopping on SIGINT/SIGTERM, and a select() loop that watches the listener and
//   accepts until EAGAIN. Each client's byte rules are lesson04::EchoConnection's (04-select/echo_connection.hpp).
// Yours: the TODO blocks — a table of clients by fd, the fd_sets rebuilt from their state every
//   turn, serving the ready ones, refusing what select() cannot watch, and surviving EMFILE.
// Build: cmake --preset default && cmake --build --preset default --target echo-select-starter
// Grade: scripts/grade --lesson 04-select --server build/bin/echo-select-starter
//   (see grading/README.md). As it is, it accepts every client and hangs up at once, and scores low.
#include "common/cli.hpp"
#include "04-select/echo_connection.hpp"
#include "common/log.hpp"
#include "common/net.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <memory>
#include <sys/select.h>
#include <sys/socket.h>
#include <vector>

namespace {

using Status = cs::EchoConnection::Status;

constexpr std::uint16_t kDefaultPort = 9004;
constexpr std::size_t kReadBudget = std::size_t{64} * 1024;  // per client per turn: no sender hogs the loop

// SIGINT/SIGTERM: the handler sets a flag and shuts the listener down. A shut-down listener is
// readable for good, so select() returns even if the signal came just before it was called.
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
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);
    ::signal(SIGPIPE, SIG_IGN);  // belt and braces: EchoConnection already sends with MSG_NOSIGNAL
}

// One client: its state machine (what is pending, EOF seen, errors) and its name for the logs.
struct Client {
    Client(cs::Fd socket, std::size_t out_cap, std::string peer_text)
        : echo(std::move(socket), out_cap), peer(std::move(peer_text)) {}
    cs::EchoConnection echo;
    std::string peer;  // "127.0.0.1:51234"
};

class SelectServer {
public:
    SelectServer(cs::Fd listener, std::size_t out_cap, int max_conns, const cs::Log& log)
        : listener_(std::move(listener)), out_cap_(out_cap), max_conns_(max_conns), log_(log) {}

    void run() {
        while (!stop_requested) {
            fd_set readable, writable;  // select() overwrites them with the ready subset: rebuilt each turn
            int max_fd = watch(readable, writable);
            if (::select(max_fd + 1, &readable, &writable, nullptr, nullptr) < 0) {
                if (errno == EINTR) continue;  // a signal: the loop condition says whether it was ours
                log_.info("select() failed: {}", cs::errno_text());
                return;
            }
            if (FD_ISSET(listener_.get(), &readable)) accept_clients();
            // TODO(3): serve the ready clients: for every fd up to max_fd that has a client,
            // serve(fd, client, FD_ISSET(fd, &readable), FD_ISSET(fd, &writable)).
        }
    }

private:
    // The interest sets for this turn.
    int watch(fd_set& readable, fd_set& writable) const {
        FD_ZERO(&readable);
        FD_ZERO(&writable);
        FD_SET(listener_.get(), &readable);
        int max_fd = listener_.get();
        // TODO(2): add every client, from its state:
        //  * FD_SET(fd, &readable) while client.echo.wants_read() (false at the --out-cap: that is
        //    the backpressure that keeps a client who never reads from costing more than the cap);
        //  * FD_SET(fd, &writable) only while client.echo.wants_write(): a socket is almost always
        //    writable, so a permanent entry would wake select() at once, forever (100 % CPU);
        //  * max_fd: the highest descriptor in either set.
        // TODO(5): EMFILE. While accepting is paused (see accept_clients), leave the listener
        // out, and give select() a timeout so that it wakes up when the pause ends.
        return max_fd;
    }

    // Reads and writes what this client's socket allows now. Never blocks: a non-blocking socket
    // says EAGAIN instead, and EchoConnection stops there.
    [[maybe_unused]] void serve(int fd, Client& client, bool readable, bool writable) {
        // TODO(3b): if readable: status = client.echo.on_readable(scratch_, kReadBudget).status
        // (one budget per turn, so that a flooding client cannot starve the others); then, if
        // still kOpen and writable: status = client.echo.on_writable(). Anything but kOpen
        // (finished: EOF and all echoed; failed: read()/write() error): close_client(fd).
        (void)fd, (void)client, (void)readable, (void)writable;
    }

    void accept_clients() {
        for (;;) {  // until EAGAIN: one readiness report may stand for many queued clients
            sockaddr_storage address{};
            socklen_t length = sizeof address;
            // accept4: on Linux an accepted socket does NOT inherit O_NONBLOCK from the listener.
            int fd = ::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&address), &length,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED) continue;  // that client left already
                // TODO(5): EMFILE/ENFILE (out of descriptors), ENOMEM, ENOBUFS: accept() fails
                // again at once while the listener stays readable, so the loop would spin at
                // 100 % CPU. Log once and stop watching the listener for ~100 ms instead.
                return;  // EAGAIN: nobody else is queued
            }
            admit(cs::Fd{fd}, cs::endpoint_text(reinterpret_cast<sockaddr*>(&address), length));
        }
    }

    void admit(cs::Fd conn, std::string peer) {
        // TODO(1): keep the client: clients_[fd] = std::make_unique<Client>(std::move(conn),
        // out_cap_, peer), and log "PEER connected (fd N)". Refuse it instead (log, return: conn
        // closes) when
        //  * fd >= FD_SETSIZE: FD_SET() on it would write past the end of the fd_set (memory
        //    corruption, no error). Log "... fd N >= FD_SETSIZE (1024), select() cannot watch it";
        //  * max_conns_ clients are open: log "... --max-conns N reached".
        // Checked by: every Echoes* test, ElevenHundredClients..., MaxConnsRefusesTheExtraClient...
        log_.conn("{}: not served yet (TODO(1) in starter/main.cpp); hanging up (fd {})", peer, conn.get());
    }

    [[maybe_unused]] void close_client(int fd) {
        // TODO(4): log how the client ended ("PEER closed (fd N, B bytes echoed)", or the failed
        // call and its error), then clients_[fd].reset(): that destroys the state AND closes the
        // socket, in that order, so a new client that gets the same fd number starts afresh.
        (void)fd;
    }

    cs::Fd listener_;
    std::size_t out_cap_;
    int max_conns_;
    const cs::Log& log_;
    std::vector<std::unique_ptr<Client>> clients_ = std::vector<std::unique_ptr<Client>>(FD_SETSIZE);  // by fd
    std::vector<std::byte> scratch_ = std::vector<std::byte>(kReadBudget);  // one read buffer for every client
};

}  // namespace

int main(int argc, char** argv) {
    cs::CommandLine cli("echo-select-starter",
                        "Echo server: one thread serves every client with select() (lesson 04 starter).", kDefaultPort);
    cli.add_max_conns(FD_SETSIZE);
    std::size_t out_cap = cs::EchoConnection::kDefaultOutCap;
    cli.add_size("--out-cap", out_cap, "Pending echo bytes per client before we stop reading from it");
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
    listen_fd = listener.get();
    install_signal_handlers();
    cs::announce_listening(listener);  // the contract's first stdout line: tests wait for it
    log.info("listening on {}, one thread, select() over at most {} descriptors", cs::local_endpoint(listener.get()),
             FD_SETSIZE);

    SelectServer server(std::move(listener), out_cap, options.max_conns, log);
    server.run();
    log.info("stop signal received; exiting");
    return cs::kExitOk;
}
