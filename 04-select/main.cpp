// 04-select/main.cpp — echo server: one process, one thread, every client at once, with select().
// New here: non-blocking sockets and a readiness loop. select() says which descriptors can move
//   bytes now; a small state machine per client (cs::EchoConnection) never blocks on any of them.
// Known limits: every wake-up scans all descriptors up to the highest one (O(n)), and select()
//   cannot watch an fd >= FD_SETSIZE (1024) at all. 05-epoll-pool fixes both.
// Run: build/bin/echo-select   Watch: strace -e trace=select -p $(pgrep echo-select) while clients talk
#include "04-select/client_table.hpp"
#include "04-select/stop_pipe.hpp"
#include "common/cli.hpp"
#include "common/net.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <optional>
#include <sys/select.h>
#include <sys/socket.h>

namespace {

using select_lesson::Client;
using Clock = std::chrono::steady_clock;
using Status = cs::EchoConnection::Status;

constexpr std::uint16_t kDefaultPort = 9004;
constexpr std::size_t kReadBudget = std::size_t{64} * 1024;  // per client per wake-up: no sender hogs the loop
constexpr auto kAcceptPause = std::chrono::milliseconds(100);

class SelectServer {
public:
    SelectServer(cs::Fd listener, int stop_fd, std::size_t out_cap, int max_conns, const cs::Log& log)
        : listener_(std::move(listener)), stop_fd_(stop_fd), clients_(out_cap, max_conns, log), log_(log) {}

    // Returns true on SIGINT/SIGTERM, false if select() itself fails (a bug, not a client).
    // [slide:select-loop]
    bool run() {
        for (;;) {
            fd_set readable, writable;  // select() overwrites them with the ready subset: rebuilt each time
            int max_fd = watch(readable, writable);
            timeval pause{};
            int ready = ::select(max_fd + 1, &readable, &writable, nullptr, accept_timeout(pause));
            if (ready < 0) {
                if (errno == EINTR) continue;  // a signal: the stop pipe says whether it was ours
                log_.info("select() failed: {}", cs::errno_text());
                return false;
            }
            if (FD_ISSET(stop_fd_, &readable)) return true;
            if (FD_ISSET(listener_.get(), &readable)) accept_clients();
            for (int fd = 0; fd <= max_fd; ++fd) {  // the O(n) scan: every fd, ready or not
                Client* client = clients_.find(fd);
                if (client) serve(fd, *client, FD_ISSET(fd, &readable), FD_ISSET(fd, &writable));
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
            const Client* client = clients_.find(fd);
            if (!client) continue;
            if (client->echo.wants_read()) FD_SET(fd, &readable);  // false at the out cap: backpressure
            if (client->echo.wants_write()) FD_SET(fd, &writable);
            max_fd = std::max(max_fd, fd);
        }
        return max_fd;
    }
    // [/slide]

    // [slide:serve]
    void serve(int fd, Client& client, bool readable, bool writable) {
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

    // While accepting is paused, select() must still wake up when the pause ends.
    timeval* accept_timeout(timeval& pause) const {
        auto left = std::chrono::ceil<std::chrono::microseconds>(accept_paused_until_ - Clock::now()).count();
        if (left <= 0) return nullptr;  // no timeout: sleep until a descriptor is ready
        pause.tv_sec = left / 1'000'000;
        pause.tv_usec = left % 1'000'000;
        return &pause;
    }

    cs::Fd listener_;
    int stop_fd_;
    select_lesson::ClientTable clients_;
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
    std::optional<select_lesson::StopPipe> stop;
    try {
        stop.emplace();  // from here on, SIGINT/SIGTERM make stop->read_fd() readable
    } catch (const std::system_error& error) {
        log.info("cannot install the stop signals: {}", error.what());
        return cs::kExitStartup;
    }
    ::signal(SIGPIPE, SIG_IGN);  // belt and braces: EchoConnection already sends with MSG_NOSIGNAL
    cs::announce_listening(listener);
    log.info("listening on {}, one thread, select() over at most {} descriptors",
             cs::local_endpoint(listener.get()), FD_SETSIZE);

    SelectServer server(std::move(listener), stop->read_fd(), out_cap, options.max_conns, log);
    bool stopped_by_signal = server.run();
    log.info("{}; closing {} connections and exiting", stopped_by_signal ? "stop signal received" : "giving up",
             server.open_clients());
    return stopped_by_signal ? cs::kExitOk : cs::kExitStartup;
}
