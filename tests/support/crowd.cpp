// tests/support/crowd.cpp — the crowd as Asio coroutines on one io_context.
#include "tests/support/crowd.hpp"

#include <boost/asio.hpp>
#include <fmt/format.h>

namespace cs::test {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

struct Crowd {
    const CrowdOptions& options;
    tcp::endpoint server;
    asio::steady_timer release;  // cancelled when every client is done: the held ones then close
    CrowdResult result;

    void finish_one() {
        if (result.echoed + result.failed < result.clients) return;
        if (options.while_all_held) options.while_all_held();
        // Not cancel(): it wakes only the waits already pending, and the client finishing last
        // starts its wait after this. An expired timer completes that wait (and any later) at once.
        release.expires_at(asio::steady_timer::time_point::min());
    }

    void fail(const std::string& why) {
        if (result.first_error.empty()) result.first_error = why;
        ++result.failed;
        finish_one();
    }
};

asio::awaitable<void> one_client(Crowd& crowd, int index) {
    tcp::socket socket(co_await asio::this_coro::executor);
    std::string message = fmt::format("client {:05} {}", index, crowd.options.message);
    try {
        co_await socket.async_connect(crowd.server, asio::use_awaitable);
        ++crowd.result.connected;
        co_await asio::async_write(socket, asio::buffer(message), asio::use_awaitable);
        std::string echo(message.size(), '\0');
        co_await asio::async_read(socket, asio::buffer(echo), asio::use_awaitable);
        if (echo != message) {
            crowd.fail(fmt::format("client {}: echo differs", index));
            co_return;
        }
    } catch (const std::exception& error) {
        crowd.fail(fmt::format("client {}: {}", index, error.what()));
        co_return;
    }
    ++crowd.result.echoed;
    crowd.finish_one();
    if (crowd.options.hold_until_all_done) {
        boost::system::error_code ignored;  // operation_aborted is the wake-up we want
        co_await crowd.release.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
}

}  // namespace

CrowdResult run_crowd(std::uint16_t port, const CrowdOptions& options) {
    asio::io_context io(1);
    Crowd crowd{options,
                tcp::endpoint(asio::ip::make_address(options.host), port),
                asio::steady_timer(io, asio::steady_timer::time_point::max()),
                {}};
    crowd.result.clients = options.clients;
    for (int i = 0; i < options.clients; ++i) asio::co_spawn(io, one_client(crowd, i), asio::detached);

    asio::steady_timer deadline(io, options.deadline);
    deadline.async_wait([&](boost::system::error_code error) {
        if (!error) io.stop();  // stragglers count as failed below
    });
    // The deadline timer is the last piece of work once every client returned; cancel it then.
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            boost::system::error_code ignored;
            co_await crowd.release.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
            deadline.cancel();
        },
        asio::detached);
    io.run();

    int unfinished = crowd.result.clients - crowd.result.echoed - crowd.result.failed;
    if (unfinished > 0) {
        crowd.result.failed += unfinished;
        if (crowd.result.first_error.empty()) {
            crowd.result.first_error =
                fmt::format("{} clients unfinished after {} ms", unfinished, options.deadline.count());
        }
    }
    return crowd.result;
}

}  // namespace cs::test
