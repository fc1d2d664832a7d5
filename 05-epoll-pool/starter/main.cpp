// 05-epoll-pool/starter/main.cpp — YOUR echo server: epoll event loops, one per thread (lesson 05 starter).
// Done for you: the command line (--threads, --edge, --out-cap, --max-conns), one non-blocking
//   listener per loop (SO_REUSEPORT when there are several), a thread per loop, the listening line,
//   stopping on SIGINT/SIGTERM, and a loop whose epoll watches its listener and accepts until EAGAIN.
// Yours: the TODO blocks — connections in the epoll interest list, serving what epoll_wait() says
//   is ready, interest that follows each connection's state, --edge (read until EAGAIN), the
//   descriptor limit and EMFILE.
// Build: cmake --preset default && cmake --build --preset default --target echo-epoll-starter
// Grade: scripts/grade --lesson 05-epoll-pool --server build/bin/echo-epoll-starter
//   (see grading/README.md). As it is, it accepts every client and hangs up at once, and scores low.
#include "common/cli.hpp"
#include "04-select/echo_connection.hpp"
#include "common/log.hpp"
#include "common/net.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <memory>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

constexpr std::uint16_t kDefaultPort = 9005;
constexpr int kMaxEvents = 256;                                // per epoll_wait(); more wait for the next call
constexpr std::size_t kReadBudget = std::size_t{64} * 1024;  // per connection per turn: the fairness budget

struct LoopOptions {
    std::size_t out_cap = cs::EchoConnection::kDefaultOutCap;
    int max_conns = 0;  // all loops together
    bool edge = false;  // --edge: EPOLLET on the connections
};

// SIGINT/SIGTERM: the handler writes to an eventfd that every loop's epoll watches. A write() is
// async-signal-safe, and the eventfd stays readable, so every loop wakes, whichever thread the
// kernel ran the handler on and whenever the signal came.
std::atomic<int> stop_fd{-1};

void on_stop_signal(int) {
    int saved_errno = errno;
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t ignored = ::write(stop_fd.load(), &one, sizeof one);
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

void raise_nofile_limit(const cs::Log& log) {
    // TODO(6): every connection is a descriptor, and the usual soft limit (1024) stops us long
    // before 5000 clients. getrlimit(RLIMIT_NOFILE), set rlim_cur = rlim_max with setrlimit(), and
    // log "raised RLIMIT_NOFILE from OLD to NEW". Checked by: RaisesItsDescriptorLimit...
    (void)log;
}

struct Connection {
    Connection(cs::Fd socket, std::size_t out_cap, std::string peer_text)
        : echo(std::move(socket), out_cap), peer(std::move(peer_text)) {}
    cs::EchoConnection echo;
    std::string peer;            // "127.0.0.1:51234"
    std::uint32_t interest = 0;  // what epoll watches for it now: skip epoll_ctl() when unchanged
};

// One event loop: its epoll instance, its listener, its connections. One thread runs it.
class EventLoop {
public:
    EventLoop(cs::Fd listener, const LoopOptions& options, std::atomic<int>& open_total, const cs::Log& log)
        : listener_(std::move(listener)), options_(options), open_total_(open_total), log_(log) {
        epoll_ = cs::Fd{::epoll_create1(EPOLL_CLOEXEC)};
        if (!epoll_) throw std::system_error(errno, std::generic_category(), "epoll_create1()");
        // Level-triggered: both stay ready until dealt with (accept() until EAGAIN; the stop stays).
        if (!ctl(EPOLL_CTL_ADD, stop_fd.load(), EPOLLIN) || !ctl(EPOLL_CTL_ADD, listener_.get(), EPOLLIN)) {
            throw std::system_error(errno, std::generic_category(), "epoll_ctl()");
        }
    }

    const cs::Fd& listener() const noexcept { return listener_; }

    void run() {
        std::vector<epoll_event> ready(kMaxEvents);
        for (;;) {
            int count = ::epoll_wait(epoll_.get(), ready.data(), kMaxEvents, -1);
            if (count < 0) {
                if (errno == EINTR) continue;
                log_.info("epoll_wait() failed: {}", cs::errno_text());
                return;
            }
            for (int i = 0; i < count; ++i) {  // only the ready ones, however many are idle
                int fd = ready[i].data.fd;
                if (fd == stop_fd.load()) return;
                if (fd == listener_.get()) accept_clients();
                // TODO(2): else, if conns_ has a Connection for fd: serve(fd, conn, ready[i].events).
                //  * EPOLLIN, EPOLLERR or EPOLLHUP: status = conn.echo.on_readable(scratch_, kReadBudget).status
                //    (EPOLLERR/EPOLLHUP come unasked: the read() names the error);
                //  * then, still kOpen, output pending and EPOLLOUT (or ERR/HUP): conn.echo.on_writable();
                //  * not kOpen: log how it ended ("PEER closed (fd N, B bytes echoed)", or the failed
                //    call), give its --max-conns place back, and reset conns_[fd]: closing the fd
                //    also takes it out of the epoll set.
                // TODO(3): interest follows the state, after each serve(): wanted = (wants_read() ? EPOLLIN : 0)
                //  | (wants_write() ? EPOLLOUT : 0); if it differs from conn.interest: EPOLL_CTL_MOD.
                //  Level-triggered, an EPOLLOUT on a socket with room, or an EPOLLIN we refuse to read
                //  (the --out-cap), would make epoll_wait() return at once, forever.
                // TODO(4): --edge (EPOLLET on each connection, in ADD and every MOD): epoll reports new
                //  bytes ONCE. Bytes left after your reads are never reported again: read until
                //  on_readable() says drained (EAGAIN). Fair to others: rather than draining now,
                //  keep a list of connections to read again after this round of events.
            }
        }
    }

private:
    bool ctl(int op, int fd, std::uint32_t events) {
        epoll_event event{};
        event.events = events;
        event.data.fd = fd;
        return ::epoll_ctl(epoll_.get(), op, fd, &event) == 0;
    }

    void accept_clients() {
        for (;;) {  // until EAGAIN: one report may stand for many queued clients
            sockaddr_storage address{};
            socklen_t length = sizeof address;
            int fd = ::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&address), &length,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED) continue;  // that client left already
                // TODO(5): EMFILE/ENFILE, ENOMEM, ENOBUFS: accept() fails again at once while the
                // listener stays ready (level-triggered), a 100 % CPU spin. Log once, take the
                // listener out (EPOLL_CTL_DEL) for ~100 ms, and epoll_wait() with that timeout.
                return;  // EAGAIN: nobody else is queued
            }
            admit(cs::Fd{fd}, cs::endpoint_text(reinterpret_cast<sockaddr*>(&address), length));
        }
    }

    void admit(cs::Fd socket, std::string peer) {
        // TODO(1): keep the connection, by fd: conns_ grows to fd + 1 when needed (no FD_SETSIZE
        // here), conns_[fd] = std::make_unique<Connection>(std::move(socket), options_.out_cap, peer);
        // EPOLL_CTL_ADD it with EPOLLIN (| EPOLLET with --edge), and log "PEER connected (fd N)".
        // Refuse it (log "PEER refused (fd N): --max-conns N reached", let it close) when
        // open_total_ (every loop's connections) has reached options_.max_conns.
        // Checked by: every Echoes* test, MaxConnsRefusesTheExtraClient...
        log_.conn("{}: not served yet (TODO(1) in starter/main.cpp); hanging up (fd {})", peer, socket.get());
    }

    cs::Fd epoll_;
    cs::Fd listener_;
    LoopOptions options_;
    std::atomic<int>& open_total_;  // connections of all loops together, for --max-conns
    const cs::Log& log_;
    std::vector<std::unique_ptr<Connection>> conns_;                        // by fd
    std::vector<std::byte> scratch_ = std::vector<std::byte>(kReadBudget);  // one read buffer per loop
};

// `count` listeners on one port: with SO_REUSEPORT the kernel spreads new connections over them,
// one accept queue per loop. After --port 0 the others bind the port the first one got.
std::vector<cs::Fd> open_listeners(const cs::ServerOptions& options, int count) {
    std::vector<cs::Fd> listeners;
    std::uint16_t port = options.port;
    for (int i = 0; i < count; ++i) {
        listeners.push_back(cs::listen_tcp(
            {.host = options.host, .port = port, .reuse_port = count > 1, .nonblocking = true}));
        port = cs::local_port(listeners.front().get());
    }
    return listeners;
}

// One thread per loop, named so that ps -L and top -H show them; main() waits for them all.
void run_loops(std::vector<std::unique_ptr<EventLoop>>& loops) {
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < loops.size(); ++i) {
        threads.emplace_back([&loop = *loops[i]] { loop.run(); });
        std::string name = fmt::format("epoll-loop-{}", i);
        ::pthread_setname_np(threads.back().native_handle(), name.c_str());
    }
    cs::announce_listening(loops.front()->listener());  // only once every loop runs
    for (std::thread& thread : threads) thread.join();
}

}  // namespace

int main(int argc, char** argv) {
    cs::CommandLine cli("echo-epoll-starter", "Echo server: epoll event loops, one per thread (lesson 05 starter).",
                        kDefaultPort);
    cli.add_max_conns(10'000);
    LoopOptions loop_options;
    int threads = 1;
    cli.add_int("--threads", threads, "Event loops, one per thread, each with its own epoll and listener", 1, 64);
    cli.add_flag("--edge", loop_options.edge, "Edge-triggered epoll (EPOLLET) instead of level-triggered");
    cli.add_size("--out-cap", loop_options.out_cap, "Pending echo bytes per client before we stop reading from it");
    if (auto exit_code = cli.parse(argc, argv)) return *exit_code;
    const cs::ServerOptions& options = cli.options();
    loop_options.max_conns = options.max_conns;
    cs::Log log("05-epoll-pool");
    log.set_quiet(options.quiet);
    log.show_thread_ids(true);  // [05-epoll-pool PID:TID]: which loop wrote each line

    std::vector<cs::Fd> listeners;
    try {
        listeners = open_listeners(options, threads);
    } catch (const std::system_error& error) {
        cli.report_listen_error(error);
        return cs::kExitStartup;
    }
    raise_nofile_limit(log);
    cs::Fd stop{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
    stop_fd = stop.get();
    std::atomic<int> open_total{0};
    std::vector<std::unique_ptr<EventLoop>> loops;
    try {
        for (cs::Fd& listener : listeners) {
            loops.push_back(std::make_unique<EventLoop>(std::move(listener), loop_options, open_total, log));
        }
    } catch (const std::system_error& error) {
        log.info("cannot start: {}: {}", error.what(), error.code().message());
        return cs::kExitStartup;
    }
    install_signal_handlers();
    log.info("listening on {}: {} event loop(s), {}-triggered", cs::local_endpoint(loops.front()->listener().get()),
             threads, loop_options.edge ? "edge" : "level");
    run_loops(loops);
    log.info("stop signal received; exiting");
    return cs::kExitOk;
}
