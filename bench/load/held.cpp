// bench/load/held.cpp — connect, one echo, then silence until the window is over.
#include "bench/load/held.hpp"

#include <array>
#include <fmt/format.h>

namespace cs::bench {

using boost::system::error_code;

void Held::start() {
    socket_.async_connect(worker_.server(), [this](const error_code& error) { on_connected(error); });
}

void Held::ready_once() {
    if (counted_ready_) return;
    counted_ready_ = true;
    worker_.mark_ready();
}

void Held::on_connected(const error_code& error) {
    worker_.connect_done();
    if (state_ == State::kDone) return;
    if (error) return stop(fmt::format("connect(): {}", error.message()));
    ++worker_.tally().connections;
    state_ = State::kConfirming;
    std::array<asio::const_buffer, 2> message{as_buffer(worker_.pattern().body(id_, 0)), as_buffer(Pattern::newline())};
    ++worker_.tally().sent;
    asio::async_write(socket_, message, [this](const error_code& write_error, std::size_t) {
        if (state_ == State::kDone) return;
        if (write_error) return stop(fmt::format("write(): {}", write_error.message()));
        error_code ignored;
        socket_.non_blocking(true, ignored);
        wait_readable();
    });
}

void Held::wait_readable() {
    socket_.async_wait(tcp::socket::wait_read, [this](const error_code& error) {
        if (!error && state_ != State::kDone) on_readable();
    });
}

void Held::on_readable() {
    std::span<std::byte> scratch = worker_.scratch();
    for (;;) {
        error_code error;
        std::size_t n = socket_.read_some(asio::buffer(scratch.data(), scratch.size()), error);
        if (error == asio::error::would_block) return wait_readable();
        if (error == asio::error::eof) return on_eof();
        if (error) return stop(fmt::format("read(): {}", error.message()));
        if (checker_.consume(scratch.first(n), 1).mismatch) return stop("wrong echo: " + checker_.describe_mismatch());
        if (state_ == State::kConfirming && checker_.next_seq() == 1) {
            ++worker_.tally().echoed;
            state_ = State::kHolding;  // served once: from now on, quiet until the window is over
            ready_once();
        }
    }
}

void Held::on_eof() {
    if (state_ != State::kDraining) return stop("the server closed an idle connection");
    state_ = State::kDone;
    error_code ignored;
    socket_.close(ignored);
}

void Held::on_tick(Clock::time_point now) {
    const Timeline& timeline = worker_.timeline();
    if ((state_ == State::kConnecting || state_ == State::kConfirming) && now >= timeline.connect_deadline()) {
        if (state_ == State::kConnecting) ++worker_.tally().connect_timeouts;
        else ++worker_.tally().timed_out;  // connected, but its one echo never came
        ready_once();
        state_ = State::kDone;
        error_code ignored;
        socket_.close(ignored);
        return;
    }
    if (state_ == State::kHolding && timeline.window_over(now) && timeline.drain_allowed()) {
        state_ = State::kDraining;
        error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_send, ignored);
    }
    if (state_ == State::kDraining && now >= timeline.end() + worker_.timeout()) {
        stop("the server kept an idle connection open after our EOF");
    }
}

void Held::stop(std::string error) {
    worker_.tally().error(fmt::format("idle connection {}: {}", id_, error));
    if (state_ == State::kConfirming) ++worker_.tally().lost;
    ready_once();
    state_ = State::kDone;
    error_code ignored;
    socket_.close(ignored);
}

}  // namespace cs::bench
