// 04-select/main.cpp — echo server: one process, one thread, every client at once, with select().
// New here: non-blocking sockets and a readiness loop. select() says which descriptors can move
//   bytes now; a small state machine per client (cs::EchoConnection) never blocks on any of them.
// Known limits: every wake-up scans all descriptors up to the highest one (O(n)), and select()
//   cannot watch an fd >= FD_SETSIZE (1024) at all. 05-epoll-pool fixes both.
// Run: build/bin/echo-select   Watch: strace -e trace=select -p $(pgrep echo-select) while clients talk;
//   kill -USR1 $(pgrep echo-select) prints "stats: N open, M accepted"
#include "04-select/connection_table.hpp"
#include "04-select/signals.hpp"
#include "common/cli.hpp"
#include "common/contract.hpp"
#include "common/net.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <optional>
#include <sys/select.h>
#include <sys/socket.h>

namespace {

using lesson04::Connection;
using Clock = std::chrono::steady_clock;
using Status = cs::EchoConnection::Status;

constexpr std::uint16_t kDefaultPort = 9004;
using cs::kAcceptPause;
using cs::kReadBudget;  // per client per wake-up: no sender hogs the loop

struct ServerSettings {
    std::size_t out_cap = cs::EchoConnection::kDefaultOutCap;
    int max_conns = FD_SETSIZE;
    std::chrono::seconds idle_timeout{0};  // 0: never
};

class SelectServer {
public:
    SelectServer(cs::Fd listener, lesson04::Signals& signals, const ServerSettings& settings, const cs::Log& log)
        : listener_(std::move(listener)), signals_(signals), stop_fd_(signals.read_fd()),
          clients_(settings.out_cap, settings.max_conns, log), idle_timeout_(settings.idle_timeout), log_(log) {}

    // Returns true on SIGINT/SIGTERM, false if select() itself fails (a bug, not a client: exit 3).
    // [slide:select-loop]
    bool run() {
        for (;;) {
            fd_set readable, writable;  // select() overwrites them with the ready subset: rebuilt each time
            int max_fd = watch(readable, writable);
            timeval timeout{};
            int ready = ::select(max_fd + 1, &readable, &writable, nullptr, next_timeout(timeout));
            if (ready < 0) {
                if (errno == EINTR) continue;  // a signal: the stop pipe is readable now, next turn
                log_.info("select() failed: {}", cs::errno_text());
                return false;
            }
            if (FD_ISSET(stop_fd_, &readable) && on_signals()) return true;
            if (FD_ISSET(listener_.get(), &readable)) accept_clients();
            Clock::time_point now = Clock::now();
            for (int fd = 0; fd <= max_fd; ++fd) {  // the O(n) scan: every fd, ready or not
                Connection* client = clients_.find(fd);
                if (client) serve(fd, *client, FD_ISSET(fd, &readable), FD_ISSET(fd, &writable), now);
            }
        }
    }
    // [/slide]

    int open_clients() const noexcept { return clients_.open(); }

private:
    // [slide:interest]
    // The interest sets, from each client's state. Write interest only while an echo is pending:
    // a socket is almost always writable, so a permanent entry would wake us at once, forever.
    int watch(fd_set& readable, fd_set& writable) const {
        FD_ZERO(&readable);
        FD_ZERO(&writable);
        FD_SET(stop_fd_, &readable);
        int max_fd = stop_fd_;
        if (Clock::now() >= accept_paused_until_) {
            FD_SET(listener_.get(), &readable);
            max_fd = std::max(max_fd, listener_.get());
        }
        for (int fd = 0; fd < FD_SETSIZE; ++fd) {
            const Connection* client = clients_.find(fd);
            if (!client) continue;
            if (client->echo.wants_read()) FD_SET(fd, &readable);  // false at the out cap: backpressure
            if (client->echo.wants_write()) FD_SET(fd, &writable);
            max_fd = std::max(max_fd, fd);
        }
        return max_fd;
    }
    // [/slide]

    // [slide:serve]
    void serve(int fd, Connection& client, bool readable, bool writable, Clock::time_point now) {
        if (!readable && !writable) {
            if (idle_timeout_.count() > 0 && now - client.last_active >= idle_timeout_) {
                clients_.close_idle(fd, idle_timeout_);
            }
            return;
        }
        client.last_active = now;  // readiness is the peer's doing: it sent bytes, or read some echo
        Status status = Status::kOpen;
        if (readable) status = client.echo.on_readable(scratch_, kReadBudget).status;
        if (writable && status == Status::kOpen) status = client.echo.on_writable();
        if (status != Status::kOpen) clients_.close(fd);  // finished (EOF, all echoed) or failed
    }
    // [/slide]

    // [slide:accept]
    void accept_clients() {
        for (;;) {  // until EAGAIN: one readiness report may stand for many queued clients
            sockaddr_storage address{};
            socklen_t length = sizeof address;
            // accept4: on Linux the new socket does NOT inherit O_NONBLOCK from the listener.
            int fd = ::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&address), &length,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED) continue;  // that client left already
                if (errno != EAGAIN && errno != EWOULDBLOCK) pause_accepting();
                return;
            }
            if (saturated_) log_.info("accepting again ({} clients open)", clients_.open());
            saturated_ = false;
            clients_.admit(cs::Fd{fd}, cs::endpoint_text(reinterpret_cast<sockaddr*>(&address), length));
        }
    }
    // [/slide]

    // EMFILE/ENFILE (out of descriptors), ENOMEM, ENOBUFS: accept() would fail again at once while
    // the listener stays readable, so select() would return at once: a 100 % CPU spin. Instead the
    // listener leaves the read set for a moment; new clients wait in the backlog and are served
    // once descriptors are free. (The reserved-fd trick answers them with a close: see Exercises.)
    void pause_accepting() {
        if (!saturated_) {
            log_.info("accept() failed: {}; not accepting for {} ms ({} clients open)", cs::errno_text(),
                      kAcceptPause.count(), clients_.open());
        }
        saturated_ = true;  // logged once per episode, not ten times a second
        accept_paused_until_ = Clock::now() + kAcceptPause;
    }

    // Reads the stop pipe; true means stop. SIGUSR1 prints one line and changes nothing else.
    bool on_signals() {
        lesson04::Signals::Received got = signals_.take();
        if (got.stats) log_.info("stats: {} open, {} accepted", clients_.open(), clients_.accepted());
        return got.stop;
    }

    // [slide:idle-timeout]
    // select()'s timeout: the end of an accept pause, or the moment the client that has been silent
    // longest reaches --idle-timeout; nullptr (sleep until a descriptor is ready) when neither.
    // Finding that client is one more pass over the table: O(n) per wake-up, like watch() and the
    // scan in run(), so it changes nothing in 04's cost. 05 has no scan and cannot afford one: it
    // keeps its connections ordered by last activity and looks only at the oldest.
    timeval* next_timeout(timeval& timeout) const {
        std::optional<Clock::time_point> wake;
        if (Clock::now() < accept_paused_until_) wake = accept_paused_until_;
        for (int fd = 0; idle_timeout_.count() > 0 && fd < FD_SETSIZE; ++fd) {
            const Connection* client = clients_.find(fd);
            if (client && (!wake || client->last_active + idle_timeout_ < *wake)) wake = client->last_active + idle_timeout_;
        }
        if (!wake) return nullptr;
        auto left = std::max<long>(std::chrono::ceil<std::chrono::microseconds>(*wake - Clock::now()).count(), 0);
        timeout.tv_sec = left / 1'000'000;
        timeout.tv_usec = left % 1'000'000;
        return &timeout;
    }
    // [/slide]

    cs::Fd listener_;
    lesson04::Signals& signals_;
    int stop_fd_;
    lesson04::ConnectionTable clients_;
    std::chrono::seconds idle_timeout_;
    const cs::Log& log_;
    bool saturated_ = false;  // accept() ran out of descriptors and has not worked since
    Clock::time_point accept_paused_until_{};
    std::vector<std::byte> scratch_ = std::vector<std::byte>(kReadBudget);  // one read buffer for every client
};

}  // namespace

int main(int argc, char** argv) {
    cs::CommandLine cli("echo-select", "Echo server: one thread serves every client with select() (lesson 04).",
                        kDefaultPort);
    cli.add_max_conns(FD_SETSIZE);
    cli.add_idle_timeout(cs::kDefaultIdleTimeout);
    ServerSettings settings;
    cli.add_size("--out-cap", settings.out_cap, "Pending echo bytes per client before we stop reading from it");
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
    log.info("listening on {}, one thread, select() over at most {} descriptors",
             cs::local_endpoint(listener.get()), FD_SETSIZE);

    settings.max_conns = options.max_conns;
    settings.idle_timeout = std::chrono::seconds(options.idle_timeout);
    SelectServer server(std::move(listener), *stop, settings, log);
    bool stopped_by_signal = server.run();
    log.info("{}; closing {} connections and exiting", stopped_by_signal ? "stop signal received" : "giving up",
             server.open_clients());
    return stopped_by_signal ? cs::kExitOk : cs::kExitLoopFailed;
}
