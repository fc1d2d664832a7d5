// bench/load/lean_pingpong.cpp — the epoll ping-pong loop: one read, one writev per echo.
#include "bench/load/lean_pingpong.hpp"

#include <cerrno>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

namespace cs::bench {
namespace {

constexpr int kMaxEvents = 256;
constexpr int kTickMs = 20;  // deadlines (end of window, give-up) are checked this often, as in Worker

std::string errno_text(int error) { return std::strerror(error); }

}  // namespace

EpollPingPong::EpollPingPong(const LoadOptions& options, const Pattern& pattern, const Timeline& timeline,
                             Shared& shared, tcp::endpoint server)
    : options_(options), pattern_(pattern), timeline_(timeline), shared_(shared), server_(std::move(server)),
      timeout_(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.timeout_s))),
      epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1()");
}

EpollPingPong::~EpollPingPong() {
    for (Conn& c : conns_) {
        if (c.fd >= 0) ::close(c.fd);
    }
    ::close(epoll_fd_);
}

void EpollPingPong::add(std::uint64_t id) { conns_.emplace_back(pattern_, id); }

// A blocking connect bounded by the connect deadline (SO_SNDTIMEO bounds connect() on Linux).
void EpollPingPong::connect(Conn& c) {
    c.fd = ::socket(server_.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.fd < 0) return fail(c, fmt::format("socket(): {}", errno_text(errno)));
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(timeline_.connect_deadline() - Clock::now());
    timeval limit{.tv_sec = 0, .tv_usec = 1000};
    if (left.count() > 1000) limit = {.tv_sec = left.count() / 1'000'000, .tv_usec = left.count() % 1'000'000};
    ::setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    int rc;
    do {
        rc = ::connect(c.fd, server_.data(), static_cast<socklen_t>(server_.size()));
    } while (rc < 0 && errno == EINTR);
    if (rc < 0 && (errno == EINPROGRESS || errno == EAGAIN)) {
        ++tally_.connect_timeouts;
        return close(c);
    }
    if (rc < 0) return fail(c, fmt::format("connect(): {}", errno_text(errno)));
    ++tally_.connections;
    int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // a 64-byte request must not wait for Nagle
    ::fcntl(c.fd, F_SETFL, ::fcntl(c.fd, F_GETFL) | O_NONBLOCK);
    epoll_event event{.events = EPOLLIN, .data = {.ptr = &c}};
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &event);
    c.origins.resize(static_cast<std::size_t>(options_.depth));
    Clock::time_point now = Clock::now();
    for (int i = 0; i < options_.depth; ++i) send_request(c, now);
    flush(c);
}

void EpollPingPong::send_request(Conn& c, Clock::time_point now) {
    c.origins[(c.first + c.in_flight) % c.origins.size()] = now;
    ++c.in_flight;
    // writev() only reads through these pointers; iovec has no const version.
    if (auto whole = pattern_.whole(c.id, c.sent); !whole.empty()) {
        c.out.push_back({const_cast<std::byte*>(whole.data()), whole.size()});
    } else {
        auto body = pattern_.body(c.id, c.sent);
        auto newline = Pattern::newline();
        c.out.push_back({const_cast<std::byte*>(body.data()), body.size()});
        c.out.push_back({const_cast<std::byte*>(newline.data()), newline.size()});
    }
    ++c.sent;
    ++tally_.sent;
}

// Everything queued leaves in one writev(); what the socket does not take waits for EPOLLOUT.
void EpollPingPong::flush(Conn& c) {
    while (c.out_done < c.out.size() && !c.waiting_writable) {
        int count = static_cast<int>(std::min<std::size_t>(c.out.size() - c.out_done, IOV_MAX));
        ssize_t n = ::writev(c.fd, c.out.data() + c.out_done, count);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return set_events(c, true);
        if (n < 0) return fail(c, fmt::format("write(): {}", errno_text(errno)));
        auto left = static_cast<std::size_t>(n);
        while (left > 0 && left >= c.out[c.out_done].iov_len) left -= c.out[c.out_done++].iov_len;
        if (left > 0) {  // partly written iovec: keep its tail
            iovec& rest = c.out[c.out_done];
            rest.iov_base = static_cast<char*>(rest.iov_base) + left;
            rest.iov_len -= left;
        }
    }
    if (c.out_done == c.out.size()) {
        c.out.clear();
        c.out_done = 0;
        if (c.waiting_writable) set_events(c, false);
        half_close_when_written(c);
    }
}

void EpollPingPong::set_events(Conn& c, bool writable) {
    c.waiting_writable = writable;
    epoll_event event{.events = EPOLLIN | (writable ? EPOLLOUT : 0u), .data = {.ptr = &c}};
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &event);
}

// One read per wake-up: a read that leaves bytes behind is reported again by epoll.
void EpollPingPong::on_readable(Conn& c) {
    ssize_t n = ::read(c.fd, scratch_.data(), scratch_.size());
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n < 0) return fail(c, fmt::format("read(): {}", errno_text(errno)));
    if (n == 0) return on_eof(c);
    EchoChecker::Outcome outcome = c.checker.consume(std::span(scratch_).first(static_cast<std::size_t>(n)), c.sent);
    if (outcome.mismatch) return fail(c, "wrong echo: " + c.checker.describe_mismatch());
    complete(c, outcome.completed, Clock::now());
    if (c.state != State::kDone) flush(c);  // the replacements for every echo of this read, in one write
}

void EpollPingPong::complete(Conn& c, std::uint64_t count, Clock::time_point now) {
    const bool counted = timeline_.in_window(now);
    const bool over = timeline_.window_over(now);
    for (std::uint64_t i = 0; i < count; ++i) {
        Clock::time_point origin = c.origins[c.first];
        c.first = (c.first + 1) % c.origins.size();
        --c.in_flight;
        ++tally_.echoed;
        if (counted) {
            ++tally_.requests;
            tally_.latency.record(static_cast<std::uint64_t>(nanoseconds_between(origin, now).count()));
            if (!c.served) ++tally_.served;
            c.served = true;
        }
        if (c.state == State::kRunning && !over) send_request(c, now);
    }
    if (over) begin_drain(c);
}

void EpollPingPong::begin_drain(Conn& c) {
    if (c.state != State::kRunning) return;
    c.state = State::kDraining;
    half_close_when_written(c);
}

// Our EOF, once the main thread has sampled the server (see Timeline::allow_drain).
void EpollPingPong::half_close_when_written(Conn& c) {
    if (c.state != State::kDraining || c.out_done < c.out.size() || c.half_closed) return;
    if (!timeline_.drain_allowed()) return;  // tick() tries again
    ::shutdown(c.fd, SHUT_WR);
    c.half_closed = true;
}

void EpollPingPong::on_eof(Conn& c) {
    if (c.state != State::kDraining || c.in_flight > 0) {
        return fail(c, fmt::format("the server closed the connection with {} requests unanswered "
                                   "({} bytes of the next)",
                                   c.in_flight, c.checker.partial_bytes()));
    }
    close(c);
}

void EpollPingPong::tick(Clock::time_point now) {
    for (Conn& c : conns_) {
        if (c.state == State::kDone) continue;
        if (c.state == State::kRunning && timeline_.window_over(now)) begin_drain(c);
        if (c.state == State::kDraining) half_close_when_written(c);
        if (c.state == State::kDraining && now >= timeline_.end() + timeout_) give_up(c);
    }
}

void EpollPingPong::give_up(Conn& c) {
    if (c.in_flight == 0) return fail(c, "the server kept the connection open after our EOF and the full echo");
    tally_.timed_out += c.in_flight;
    c.in_flight = 0;
    close(c);
}

void EpollPingPong::fail(Conn& c, const std::string& what) {
    tally_.error(fmt::format("connection {}: {}", c.id, what));
    tally_.lost += c.in_flight;
    c.in_flight = 0;
    close(c);
}

void EpollPingPong::close(Conn& c) {
    if (c.state == State::kDone) return;
    c.state = State::kDone;
    --open_;
    if (c.fd >= 0) ::close(c.fd);  // also leaves the epoll set
    c.fd = -1;
}

void EpollPingPong::run() {
    open_ = conns_.size();
    for (Conn& c : conns_) {  // conns_ no longer grows: the pointers in epoll stay valid
        connect(c);
        shared_.unready.fetch_sub(1);
    }
    // The ticks come from a periodic timerfd in the epoll set, not from an epoll_wait timeout:
    // a timeout arms and cancels a kernel timer on every wait, a cost the floor server does not pay.
    int ticker = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    itimerspec every{.it_interval = {0, kTickMs * 1'000'000L}, .it_value = {0, kTickMs * 1'000'000L}};
    ::timerfd_settime(ticker, 0, &every, nullptr);
    epoll_event tick_event{.events = EPOLLIN, .data = {.ptr = nullptr}};
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, ticker, &tick_event);
    epoll_event events[kMaxEvents];
    while (open_ > 0) {
        int ready = ::epoll_wait(epoll_fd_, events, kMaxEvents, -1);
        for (int i = 0; i < ready; ++i) {
            if (events[i].data.ptr == nullptr) {
                std::uint64_t expirations = 0;
                [[maybe_unused]] ssize_t n = ::read(ticker, &expirations, sizeof expirations);
                tick(Clock::now());
                continue;
            }
            Conn& c = *static_cast<Conn*>(events[i].data.ptr);
            if (c.state == State::kDone) continue;
            if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
            if (c.state != State::kDone && (events[i].events & EPOLLOUT)) {
                c.waiting_writable = false;
                flush(c);
                if (!c.waiting_writable && c.fd >= 0) set_events(c, false);
            }
        }
    }
    ::close(ticker);
}

}  // namespace cs::bench
