// bench/load/pingpong.cpp — the request/response state machine.
#include "bench/load/pingpong.hpp"

#include <fmt/format.h>

namespace cs::bench {

using boost::system::error_code;

PingPong::PingPong(Worker& worker, std::uint64_t id, bool paced)
    : worker_(worker), id_(id), paced_(paced), socket_(worker.io()), pacer_(worker.io()),
      checker_(worker.pattern(), id) {}

void PingPong::start() {
    socket_.async_connect(worker_.server(), [this](const error_code& error) { on_connected(error); });
}

void PingPong::ready_once() {
    if (counted_ready_) return;
    counted_ready_ = true;
    worker_.mark_ready();
}

void PingPong::on_connected(const error_code& error) {
    worker_.connect_done();
    if (state_ == State::kDone) return;  // given up at the connect deadline
    if (error) return fail(fmt::format("connect(): {}", error.message()));
    ++worker_.tally().connections;
    error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);  // a 64-byte request must not wait for Nagle
    socket_.non_blocking(true, ignored);               // read_some() below returns would_block, never sleeps
    state_ = State::kRunning;
    ready_once();
    if (paced_) {
        const LoadOptions& options = worker_.options();
        interval_ =
            std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.conns / options.rate));
        // Spread the connections' first requests over one interval instead of sending in bursts.
        next_planned_ = Clock::now() + interval_ * static_cast<long>(id_ % options.conns) / options.conns;
        pace();
    } else {
        Clock::time_point now = Clock::now();
        for (int i = 0; i < worker_.options().depth; ++i) send_request(now);
        flush();
    }
    wait_readable();
}

void PingPong::send_request(Clock::time_point origin) {
    origins_.push_back(origin);
    queued_.push_back(as_buffer(worker_.pattern().body(id_, sent_)));
    queued_.push_back(as_buffer(Pattern::newline()));
    ++sent_;
    ++worker_.tally().sent;
}

// [slide:batched-write]
void PingPong::flush() {
    if (write_in_flight_ || queued_.empty()) return;
    std::swap(queued_, writing_);  // everything queued so far leaves in one gather write
    write_in_flight_ = true;
    asio::async_write(socket_, writing_, [this](const error_code& error, std::size_t) { on_written(error); });
}
// [/slide]

void PingPong::on_written(const error_code& error) {
    write_in_flight_ = false;
    writing_.clear();
    if (state_ == State::kDone) return;
    if (error) return fail(fmt::format("write(): {}", error.message()));
    flush();
    half_close_when_written();
}

void PingPong::half_close_when_written() {
    if (state_ != State::kDraining || write_in_flight_ || !queued_.empty() || half_closed_) return;
    if (!worker_.timeline().drain_allowed()) return;  // on_tick() tries again
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);  // our EOF: the server echoes the rest, then closes
    half_closed_ = true;
}

// Open loop: send every request whose planned time has come, then sleep until the next one.
void PingPong::pace() {
    Clock::time_point now = Clock::now();
    while (next_planned_ <= now) {
        if (worker_.timeline().window_over(next_planned_)) return begin_drain();
        send_request(next_planned_);  // latency will be measured from the plan, not from now
        // The generator's own lateness is in that latency too; reported apart so it can be judged.
        if (worker_.timeline().in_window(next_planned_)) {
            worker_.tally().send_lag.record(
                static_cast<std::uint64_t>(nanoseconds_between(next_planned_, now).count()));
        }
        next_planned_ += interval_;
    }
    flush();
    pacer_.expires_at(next_planned_);
    pacer_.async_wait([this](const error_code& error) {
        if (!error && state_ == State::kRunning) pace();
    });
}

void PingPong::wait_readable() {
    socket_.async_wait(tcp::socket::wait_read, [this](const error_code& error) {
        if (!error && state_ != State::kDone) on_readable();
    });
}

// Asio's reactor is edge-triggered: read until would_block before waiting again.
void PingPong::on_readable() {
    std::span<std::byte> scratch = worker_.scratch();
    for (;;) {
        error_code error;
        std::size_t n = socket_.read_some(asio::buffer(scratch.data(), scratch.size()), error);
        if (error == asio::error::would_block) break;
        if (error == asio::error::eof) return on_eof();
        if (error) return fail(fmt::format("read(): {}", error.message()));
        EchoChecker::Outcome outcome = checker_.consume(scratch.first(n), sent_);
        if (outcome.mismatch) return fail("wrong echo: " + checker_.describe_mismatch());
        complete(outcome.completed, Clock::now());
        if (state_ == State::kDone) return;
    }
    flush();  // the replacements for every echo of this wake-up, in one write
    wait_readable();
}

void PingPong::complete(std::uint64_t count, Clock::time_point now) {
    Tally& tally = worker_.tally();
    const Timeline& timeline = worker_.timeline();
    for (std::uint64_t i = 0; i < count; ++i) {
        Clock::time_point origin = origins_.front();
        origins_.pop_front();
        ++tally.echoed;
        if (timeline.in_window(now)) {
            ++tally.requests;
            tally.latency.record(static_cast<std::uint64_t>(nanoseconds_between(origin, now).count()));
            if (!served_) ++tally.served;
            served_ = true;
        }
        if (state_ == State::kRunning && !paced_ && !timeline.window_over(now)) send_request(now);
    }
    if (state_ == State::kRunning && timeline.window_over(now)) begin_drain();
}

void PingPong::begin_drain() {
    if (state_ != State::kRunning) return;
    state_ = State::kDraining;
    pacer_.cancel();
    if (paced_) charge_the_waiting();
    flush();
    half_close_when_written();  // now, or when the write in flight completes
}

// [slide:no-coordinated-omission]
// Open loop: a request still unanswered when the window closes has waited at least this long.
// Recorded now, so a server that never answers some clients (01 with 50 of them) cannot keep
// their wait out of the percentiles. (Their echoes, if they come later, are not recorded again.)
void PingPong::charge_the_waiting() {
    Tally& tally = worker_.tally();
    Clock::time_point end = worker_.timeline().end();
    for (Clock::time_point origin : origins_) {
        if (origin >= end) continue;
        tally.latency.record(static_cast<std::uint64_t>(nanoseconds_between(origin, end).count()));
        ++tally.censored;
    }
}
// [/slide]

void PingPong::on_eof() {
    if (state_ != State::kDraining || !origins_.empty()) {
        return fail(fmt::format("the server closed the connection with {} requests unanswered ({} bytes of the next)",
                                origins_.size(), checker_.partial_bytes()));
    }
    close();
}

void PingPong::on_tick(Clock::time_point now) {
    const Timeline& timeline = worker_.timeline();
    if (state_ == State::kConnecting && now >= timeline.connect_deadline()) {
        ++worker_.tally().connect_timeouts;
        ready_once();
        return close();
    }
    if (state_ == State::kRunning && timeline.window_over(now)) begin_drain();
    if (state_ == State::kDraining) half_close_when_written();
    if (state_ == State::kDraining && now >= timeline.end() + worker_.timeout()) give_up(now);
}

void PingPong::give_up(Clock::time_point) {
    if (origins_.empty()) {
        return fail("the server kept the connection open after our EOF and the full echo");
    }
    worker_.tally().timed_out += origins_.size();
    origins_.clear();
    close();
}

void PingPong::fail(std::string what) {
    worker_.tally().error(fmt::format("connection {}: {}", id_, what));
    worker_.tally().lost += origins_.size();
    origins_.clear();
    ready_once();
    close();
}

void PingPong::close() {
    state_ = State::kDone;
    pacer_.cancel();
    error_code ignored;
    socket_.close(ignored);  // pending operations complete with operation_aborted and see kDone
}

}  // namespace cs::bench
