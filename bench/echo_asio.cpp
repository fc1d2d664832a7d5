// bench/echo_asio.cpp — the reference: a single-threaded Boost.Asio echo server, set up fairly.
// What it shows: Asio's callback echo pattern (read some, write it all back, read again) with
//   the settings a fair comparison needs: TCP_NODELAY, a 64 KiB buffer, io_context(1).
// Why it exists: every benchmark number is divided by this server's number from the same run.
//   Asio's tutorial echo (1 KiB buffer, Nagle on) is far slower on large messages, and a weak
//   reference would flatter the lessons.
// Run: build/bin/echo-asio --port 9010     Load it: build/bin/echo-load --port 9010
//   Stats: kill -USR1 $(pgrep -n echo-asio) prints "stats: N open, M accepted", as every lesson does.
#include "common/cli.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/net.hpp"

#include <array>
#include <boost/asio.hpp>
#include <csignal>
#include <memory>
#include <sys/socket.h>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

constexpr std::uint16_t kDefaultPort = 9010;
constexpr std::size_t kBufferSize = std::size_t{64} * 1024;  // one read can take a whole 64 KiB socket buffer

// What SIGUSR1 reports. Owner: the io_context's one thread, so plain counters do. It must outlive
// the io_context: destroying that destroys the pending handlers, and with them the last sessions.
struct Stats {
    std::uint64_t open = 0;      // sessions alive now
    std::uint64_t accepted = 0;  // since start
};

// One client. The pending read or write handler holds a shared_ptr to the session: the session
// lives exactly as long as an operation on it is outstanding (Asio's own examples do the same).
// Owner: the io_context's one thread.
class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket socket, Stats& stats, const cs::Log& log)
        : socket_(std::move(socket)), stats_(stats), log_(log) {
        ++stats_.open;
    }
    ~Session() { --stats_.open; }
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    void start() {
        error_code ignored;
        socket_.set_option(tcp::no_delay(true), ignored);  // small echoes leave at once, as in our servers
        peer_ = cs::peer_endpoint(socket_.native_handle());
        log_.conn("{} connected (fd {})", peer_, socket_.native_handle());
        read();
    }

private:
    // [slide:asio-echo]
    void read() {
        socket_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](error_code error, std::size_t n) {
            if (error) return self->finish(error);  // asio::error::eof: the client is done sending
            self->write(n);
        });
    }

    void write(std::size_t n) {
        // async_write sends all n bytes (looping over short writes) before we read again: at most
        // one operation in each direction, exactly like the blocking read-then-write loop of 01.
        asio::async_write(socket_, asio::buffer(buffer_, n),
                          [self = shared_from_this()](error_code error, std::size_t sent) {
                              if (error) return self->finish(error);
                              self->echoed_ += sent;
                              self->read();
                          });
    }
    // [/slide]

    void finish(const error_code& error) {
        int fd = socket_.native_handle();
        if (error == asio::error::eof) {
            log_.conn("{} closed (fd {}, {} bytes echoed)", peer_, fd, echoed_);
        } else {
            log_.conn("{} failed: {}; closing fd {} ({} bytes echoed)", peer_, error.message(), fd, echoed_);
        }
        // Nothing else to do: when this handler returns, the last shared_ptr goes and the socket closes.
    }

    tcp::socket socket_;
    Stats& stats_;
    const cs::Log& log_;
    std::string peer_;
    std::uint64_t echoed_ = 0;
    std::array<char, kBufferSize> buffer_;
};

class Server {
public:
    Server(asio::io_context& io, tcp::acceptor acceptor, Stats& stats, const cs::Log& log)
        : acceptor_(std::move(acceptor)), retry_(io), stats_(stats), log_(log) {}

    void accept() {
        acceptor_.async_accept([this](error_code error, tcp::socket socket) {
            if (error == asio::error::operation_aborted) return;  // stopping
            if (error) return pause_then_accept(error);
            ++stats_.accepted;
            std::make_shared<Session>(std::move(socket), stats_, log_)->start();
            accept();
        });
    }

private:
    // Out of descriptors (EMFILE) or memory: accepting again at once would fail again at once.
    // Wait 100 ms instead of spinning; the queued clients wait in the backlog meanwhile.
    void pause_then_accept(const error_code& error) {
        log_.info("accept() failed: {}", error.message());
        retry_.expires_after(std::chrono::milliseconds(100));
        retry_.async_wait([this](error_code timer_error) {
            if (!timer_error) accept();
        });
    }

    tcp::acceptor acceptor_;
    asio::steady_timer retry_;
    Stats& stats_;
    const cs::Log& log_;
};

// SIGUSR1 arrives as a completion too: Asio's own handler only records it, and this runs on the
// loop, where logging is allowed. Each wait takes one signal; wait again for the next one.
void print_stats_on_sigusr1(asio::signal_set& signals, const Stats& stats, const cs::Log& log) {
    signals.async_wait([&signals, &stats, &log](error_code error, int) {
        if (error) return;  // operation_aborted: stopping
        log.stats("stats: {} open, {} accepted", stats.open, stats.accepted);
        print_stats_on_sigusr1(signals, stats, log);
    });
}

// The listening socket comes from our own listen_tcp(), so echo-asio binds, reports errors and
// uses the backlog exactly as the lessons do; Asio only takes the descriptor over.
tcp::acceptor adopt_listener(asio::io_context& io, cs::Fd listener) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length);
    tcp protocol = address.ss_family == AF_INET6 ? tcp::v6() : tcp::v4();
    return tcp::acceptor(io, protocol, listener.release());
}

// Runs until SIGINT/SIGTERM. Asio reports set-up failures (adopting the socket, registering
// the signals) by throwing; main() turns them into the contract's one line and exit code 1.
int serve(cs::Fd listener, const cs::Log& log) {
    Stats stats;
    asio::io_context io(1);  // concurrency hint 1: one thread runs everything, as in our event loops
    // SIGINT/SIGTERM arrive as an ordinary completion on the loop: no code runs in a signal handler.
    // Registered before the listening line: a client may signal us the moment it reads that line.
    asio::signal_set stop_signals(io, SIGINT, SIGTERM);
    stop_signals.async_wait([&](error_code, int) { io.stop(); });
    // SIGUSR1 is registered before the listening line too (its default action would kill us); one
    // that comes before the first async_wait is kept by Asio and completes that wait.
    asio::signal_set stats_signal(io, SIGUSR1);

    cs::announce_listening(listener);  // clients that connect from now on wait in the backlog
    log.info("listening on {}, one thread, Boost.Asio", cs::local_endpoint(listener.get()));
    Server server(io, adopt_listener(io, std::move(listener)), stats, log);
    print_stats_on_sigusr1(stats_signal, stats, log);
    server.accept();
    io.run();
    log.info("stop signal received; exiting");
    return cs::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
    cs::CommandLine cli("echo-asio", "Reference echo server: single-threaded Boost.Asio, set up fairly.", kDefaultPort);
    if (auto exit_code = cli.parse(argc, argv)) return *exit_code;
    const cs::ServerOptions& options = cli.options();
    cs::Log log("echo-asio");
    log.set_quiet(options.quiet);

    cs::Fd listener;
    try {
        listener = cs::listen_tcp({.host = options.host, .port = options.port});
    } catch (const std::system_error& error) {
        cli.report_listen_error(error);
        return cs::kExitStartup;
    }
    // Asio sends with MSG_NOSIGNAL on Linux already; ignoring SIGPIPE says so where readers look.
    ::signal(SIGPIPE, SIG_IGN);
    try {
        return serve(std::move(listener), log);
    } catch (const std::exception& error) {
        log.info("{}; exiting", error.what());
        return cs::kExitStartup;
    }
}
