// bench/load/churn.cpp — connect, send, half-close, read to EOF, close; again.
#include "bench/load/churn.hpp"

#include <array>
#include <fmt/format.h>

namespace cs::bench {

using boost::system::error_code;

void Churner::start() {
    worker_.mark_ready();  // nothing to wait for: the warm-up starts with the first connections
    next();
}

void Churner::next() {
    Clock::time_point now = Clock::now();
    const Timeline& timeline = worker_.timeline();
    if (worker_.options().count > 0) {
        // Rounds started after the warm-up each take a ticket; when none is left, stop.
        measured_ = now >= timeline.start();
        if (measured_ && worker_.shared().tickets.fetch_sub(1) <= 0) return stop("");
    } else if (timeline.window_over(now)) {
        return stop("");
    }
    state_ = State::kConnecting;
    began_ = now;
    // A fresh id per round: consecutive connections carry different bytes.
    checker_.emplace(worker_.pattern(), id_ + rounds_ * static_cast<std::uint64_t>(worker_.options().conns));
    socket_ = tcp::socket(worker_.io());
    socket_.async_connect(worker_.server(), [this](const error_code& error) { on_connected(error); });
}

void Churner::on_connected(const error_code& error) {
    if (first_connect_) worker_.connect_done();
    first_connect_ = false;
    if (state_ == State::kDone) return;
    if (error) return stop(fmt::format("connect(): {}", error.message()));
    ++worker_.tally().connections;
    state_ = State::kExchanging;
    const std::uint64_t conn = id_ + rounds_ * static_cast<std::uint64_t>(worker_.options().conns);
    std::array<asio::const_buffer, 2> message{as_buffer(worker_.pattern().body(conn, 0)),
                                              as_buffer(Pattern::newline())};
    ++worker_.tally().sent;
    asio::async_write(socket_, message, [this](const error_code& write_error, std::size_t) {
        if (state_ == State::kDone) return;
        if (write_error) return stop(fmt::format("write(): {}", write_error.message()));
        error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_send, ignored);  // "that was all": the server echoes, then closes
        socket_.non_blocking(true, ignored);
        wait_readable();
    });
}

void Churner::wait_readable() {
    socket_.async_wait(tcp::socket::wait_read, [this](const error_code& error) {
        if (!error && state_ != State::kDone) on_readable();
    });
}

void Churner::on_readable() {
    std::span<std::byte> scratch = worker_.scratch();
    for (;;) {
        error_code error;
        std::size_t n = socket_.read_some(asio::buffer(scratch.data(), scratch.size()), error);
        if (error == asio::error::would_block) return wait_readable();
        if (error == asio::error::eof) return on_eof();
        if (error) return stop(fmt::format("read(): {}", error.message()));
        if (checker_->consume(scratch.first(n), 1).mismatch)
            return stop("wrong echo: " + checker_->describe_mismatch());
    }
}

void Churner::on_eof() {
    if (checker_->next_seq() != 1) {
        return stop(fmt::format("the server closed after {} of {} bytes", checker_->partial_bytes(),
                                worker_.pattern().message_size()));
    }
    Clock::time_point now = Clock::now();
    Tally& tally = worker_.tally();
    ++tally.echoed;
    bool counts = worker_.options().count > 0 ? measured_ : worker_.timeline().in_window(now);
    if (counts) {
        ++tally.requests;
        ++tally.served;
        tally.latency.record(static_cast<std::uint64_t>(nanoseconds_between(began_, now).count()));
        tally.last_measured = std::max(tally.last_measured, now);
    }
    error_code ignored;
    socket_.close(ignored);  // after the server's FIN: no TIME_WAIT on our side
    ++rounds_;
    state_ = State::kBetween;
    next();
}

void Churner::on_tick(Clock::time_point now) {
    if (state_ == State::kConnecting && first_connect_ && now >= worker_.timeline().connect_deadline()) {
        ++worker_.tally().connect_timeouts;
        return stop("");
    }
    if ((state_ == State::kConnecting || state_ == State::kExchanging) && now - began_ > worker_.timeout()) {
        // One stuck exchange ends this churner: against a stalled server every later one would
        // wait the full timeout too.
        if (state_ == State::kExchanging) ++worker_.tally().timed_out;
        else ++worker_.tally().connect_timeouts;
        stop("");
    }
}

void Churner::stop(std::string error) {
    if (!error.empty()) {
        worker_.tally().error(fmt::format("churn connection {}: {}", id_ + rounds_, error));
        if (state_ == State::kExchanging) ++worker_.tally().lost;
    }
    state_ = State::kDone;
    error_code ignored;
    socket_.close(ignored);
}

}  // namespace cs::bench
