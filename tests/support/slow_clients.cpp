// tests/support/slow_clients.cpp — the slow crowd and the probe as Asio coroutines on one io_context.
#include "tests/support/slow_clients.hpp"

#include <algorithm>
#include <boost/asio.hpp>
#include <fmt/format.h>

namespace cs::test {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Run {
    const SlowClientsOptions& options;
    tcp::endpoint server;
    Clock::time_point dribble_end;     // set once every slow client has connected (or given up)
    asio::steady_timer all_connected;  // expires (completes its waits) when the crowd is in
    asio::steady_timer deadline;       // bounds the whole run; cancelled when every coroutine ended
    int connect_attempts_done = 0;
    int running = 0;  // coroutines not finished yet: the slow clients and the probe
    SlowClientsResult result;

    void finished_one() {
        if (--running == 0) deadline.cancel();  // nothing left to wait for: io.run() returns
    }

    void fail(const std::string& why) {
        if (result.first_error.empty()) result.first_error = why;
        ++result.slow_failed;
    }
    void connect_attempt_done() {
        if (++connect_attempts_done < options.slow_clients) return;
        dribble_end = Clock::now() + options.duration;
        all_connected.expires_at(asio::steady_timer::time_point::min());  // see crowd.cpp: not cancel()
    }
};

asio::awaitable<void> wait_until_all_connected(Run& run) {
    boost::system::error_code ignored;
    co_await run.all_connected.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

asio::awaitable<void> dribble(Run& run, int index) {
    auto executor = co_await asio::this_coro::executor;
    tcp::socket socket(executor);
    try {
        co_await socket.async_connect(run.server, asio::use_awaitable);
        ++run.result.slow_connected;
    } catch (const std::exception& error) {
        run.fail(fmt::format("slow client {}: connect: {}", index, error.what()));
        run.connect_attempt_done();
        co_return;
    }
    run.connect_attempt_done();
    co_await wait_until_all_connected(run);
    asio::steady_timer pace(executor);
    // Spread the first bytes over one interval, so bytes arrive all the time, not in bursts.
    pace.expires_after(run.options.byte_every * index / std::max(1, run.options.slow_clients));
    try {
        for (char byte = 'a'; Clock::now() < run.dribble_end; byte = byte == 'z' ? 'a' : static_cast<char>(byte + 1)) {
            co_await pace.async_wait(asio::use_awaitable);
            pace.expires_after(run.options.byte_every);
            co_await asio::async_write(socket, asio::buffer(&byte, 1), asio::use_awaitable);
            char echo = 0;
            co_await asio::async_read(socket, asio::buffer(&echo, 1), asio::use_awaitable);
            if (echo != byte) throw std::runtime_error("wrong byte echoed");
            ++run.result.slow_bytes_echoed;
        }
    } catch (const std::exception& error) {
        run.fail(fmt::format("slow client {}: {}", index, error.what()));
    }
}

asio::awaitable<void> slow_client(Run& run, int index) {
    co_await dribble(run, index);
    run.finished_one();
}

// The normal client: a 64-byte line, echoed and timed, again and again while the slow ones dribble.
asio::awaitable<void> probe(Run& run) {
    auto executor = co_await asio::this_coro::executor;
    co_await wait_until_all_connected(run);
    tcp::socket socket(executor);
    co_await socket.async_connect(run.server, asio::use_awaitable);
    socket.set_option(tcp::no_delay(true));
    const std::string line = std::string(63, 'p') + "\n";
    std::string echo(line.size(), '\0');
    asio::steady_timer pause(executor);
    while (Clock::now() < run.dribble_end) {
        auto start = Clock::now();
        co_await asio::async_write(socket, asio::buffer(line), asio::use_awaitable);
        co_await asio::async_read(socket, asio::buffer(echo), asio::use_awaitable);
        if (echo != line) throw std::runtime_error("the normal client's echo differs");
        run.result.round_trips_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
        pause.expires_after(run.options.probe_pause);
        co_await pause.async_wait(asio::use_awaitable);
    }
}

}  // namespace

double SlowClientsResult::percentile_ms(double p) const {
    if (round_trips_ms.empty()) return 0;
    auto at = static_cast<std::size_t>(p * static_cast<double>(round_trips_ms.size() - 1));
    return round_trips_ms[at];
}

std::string SlowClientsResult::summary() const {
    return fmt::format(
        "{} slow clients connected ({} failed), {} slow bytes echoed; normal client: {} round trips, "
        "p50 {:.2f} ms, p99 {:.2f} ms, max {:.2f} ms",
        slow_connected, slow_failed, slow_bytes_echoed, round_trips_ms.size(), percentile_ms(0.5), percentile_ms(0.99),
        max_ms());
}

SlowClientsResult run_slow_clients(std::uint16_t port, const SlowClientsOptions& options) {
    asio::io_context io(1);
    // Bounded: 10 s to connect, the dribble, and 5 s for the last echoes; then whatever is left is stopped.
    Run run{options,
            tcp::endpoint(asio::ip::make_address(options.host), port),
            Clock::time_point::max(),
            asio::steady_timer(io, asio::steady_timer::time_point::max()),
            asio::steady_timer(io, 10s + options.duration + 5s),
            0,
            options.slow_clients + 1,
            {}};
    run.deadline.async_wait([&](boost::system::error_code error) {
        if (!error) io.stop();
    });
    for (int i = 0; i < options.slow_clients; ++i) asio::co_spawn(io, slow_client(run, i), asio::detached);
    std::string probe_error;
    asio::co_spawn(io, probe(run), [&](std::exception_ptr error) {
        if (error) {
            try {
                std::rethrow_exception(error);
            } catch (const std::exception& e) {
                probe_error = e.what();
            }
        }
        run.finished_one();
    });
    io.run();
    if (!probe_error.empty()) run.result.first_error = "normal client: " + probe_error;
    std::sort(run.result.round_trips_ms.begin(), run.result.round_trips_ms.end());
    return run.result;
}

}  // namespace cs::test
