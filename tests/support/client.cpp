// tests/support/client.cpp — connect, send, read with deadlines (poll), half-close, reset.
#include "tests/support/client.hpp"

#include "common/net.hpp"
#include "common/rio.hpp"

#include <cerrno>
#include <fmt/format.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <stdexcept>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace cs::test {
namespace {

std::string preview(const std::string& bytes) {
    std::string shown = bytes.substr(0, 40);
    for (char& c : shown) {
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '.';
    }
    return bytes.size() > 40 ? shown + "..." : shown;
}

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::max<long>(0, left.count()));
}

}  // namespace

Client Client::connect(std::uint16_t port, const std::string& host) { return Client(connect_tcp(host, port)); }

Client Client::connect_with_receive_buffer(std::uint16_t port, int bytes) {
    Fd socket{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (!socket) throw std::runtime_error(fmt::format("socket(): {}", errno_text()));
    ::setsockopt(socket.get(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    sockaddr_in server{};
    server.sin_family = AF_INET;
    server.sin_port = htons(port);
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    while (::connect(socket.get(), reinterpret_cast<sockaddr*>(&server), sizeof server) < 0) {
        if (errno != EINTR) throw std::runtime_error(fmt::format("connect(): {}", errno_text()));
    }
    return Client(std::move(socket));
}

void Client::send(std::string_view bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        // MSG_NOSIGNAL: a server that closed on us must fail this test, not kill the test binary.
        ssize_t n = ::send(fd_.get(), bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(fmt::format("send(): {} after {} of {} bytes", errno_text(), done, bytes.size()));
        }
        done += static_cast<std::size_t>(n);
    }
}

bool Client::send_within(std::string_view bytes, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::send(fd_.get(), bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            throw std::runtime_error(fmt::format("send(): {} after {} of {} bytes", errno_text(), done, bytes.size()));
        }
        pollfd writable{fd_.get(), POLLOUT, 0};
        if (::poll(&writable, 1, remaining_ms(deadline)) == 0) return false;
    }
    return true;
}

std::string Client::read_exact(std::size_t count, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string got;
    got.reserve(count);
    char chunk[65536];
    while (got.size() < count) {
        pollfd readable{fd_.get(), POLLIN, 0};
        int ready = ::poll(&readable, 1, remaining_ms(deadline));
        if (ready == 0) {
            throw std::runtime_error(fmt::format("timed out after {} ms: expected {} bytes, got {} ('{}')",
                                                 timeout.count(), count, got.size(), preview(got)));
        }
        if (ready < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(fmt::format("poll(): {}", errno_text()));
        }
        ssize_t n = ::recv(fd_.get(), chunk, std::min(sizeof chunk, count - got.size()), 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(
                fmt::format("recv(): {} after {} of {} bytes ('{}')", errno_text(), got.size(), count, preview(got)));
        }
        if (n == 0) {
            throw std::runtime_error(
                fmt::format("expected {} bytes, got {} ('{}') before EOF", count, got.size(), preview(got)));
        }
        got.append(chunk, static_cast<std::size_t>(n));
    }
    return got;
}

std::string Client::read_to_eof(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string got;
    char chunk[65536];
    for (;;) {
        pollfd readable{fd_.get(), POLLIN, 0};
        int ready = ::poll(&readable, 1, remaining_ms(deadline));
        if (ready == 0) {
            throw std::runtime_error(fmt::format("timed out after {} ms waiting for EOF; got {} bytes ('{}')",
                                                 timeout.count(), got.size(), preview(got)));
        }
        if (ready < 0 && errno == EINTR) continue;
        ssize_t n = ::recv(fd_.get(), chunk, sizeof chunk, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(fmt::format("recv(): {} after {} bytes", errno_text(), got.size()));
        }
        if (n == 0) return got;
        got.append(chunk, static_cast<std::size_t>(n));
    }
}

bool Client::readable_within(std::chrono::milliseconds timeout) const {
    pollfd readable{fd_.get(), POLLIN, 0};
    return ::poll(&readable, 1, static_cast<int>(timeout.count())) > 0;
}

void Client::expect_echo(std::string_view bytes, std::chrono::milliseconds timeout) {
    send(bytes);
    std::string got = read_exact(bytes.size(), timeout);
    if (got != bytes) {
        throw std::runtime_error(
            fmt::format("echo differs: sent '{}', got '{}'", preview(std::string(bytes)), preview(got)));
    }
}

void Client::shutdown_write() { ::shutdown(fd_.get(), SHUT_WR); }

long Client::unsent_bytes() const {
    int bytes = 0;
    if (::ioctl(fd_.get(), SIOCOUTQNSD, &bytes) < 0) return -1;
    return bytes;
}

int Client::tcp_state() const {
    tcp_info info{};
    socklen_t length = sizeof info;
    if (::getsockopt(fd_.get(), IPPROTO_TCP, TCP_INFO, &info, &length) < 0) return -1;
    return info.tcpi_state;
}

void Client::reset() {
    linger abort_on_close{1, 0};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    fd_.reset();
}

std::string echo_large(Client& client, const std::string& payload, std::chrono::milliseconds timeout) {
    std::string send_error;
    std::thread sender([&] {
        try {
            client.send(payload);
        } catch (const std::exception& error) {
            send_error = error.what();
        }
    });
    std::string got;
    std::string read_error;
    try {
        got = client.read_exact(payload.size(), timeout);
    } catch (const std::exception& error) {
        read_error = error.what();
        ::shutdown(client.fd(), SHUT_RDWR);  // unblock the sender so the thread can be joined
    }
    sender.join();
    if (!read_error.empty()) throw std::runtime_error(read_error + (send_error.empty() ? "" : "; " + send_error));
    return got;
}

std::string pattern_bytes(std::size_t count, unsigned seed) {
    std::string bytes(count, '\0');
    std::uint32_t state = seed * 2654435761u + 1;
    for (std::size_t i = 0; i < count; ++i) {
        state = state * 1664525u + 1013904223u;  // a tiny LCG: fast, deterministic, every byte value
        char c = static_cast<char>(state >> 24);
        bytes[i] = c == '\n' ? '\0' : c;
    }
    return bytes;
}

}  // namespace cs::test
