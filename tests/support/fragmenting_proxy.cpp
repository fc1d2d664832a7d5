// tests/support/fragmenting_proxy.cpp — accept, connect upstream, pump both ways in small segments.
#include "tests/support/fragmenting_proxy.hpp"

#include "common/net.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <random>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace cs::test {
namespace {

// Waits until `fd` is readable or the stop pipe is; false means stop.
bool wait_readable(int fd, int stop_fd) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    for (;;) {
        int ready = ::poll(fds, 2, -1);
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0 || (fds[1].revents & POLLIN)) return false;
        return true;
    }
}

bool send_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

void no_delay(int fd) {
    int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

}  // namespace

FragmentingProxy::FragmentingProxy(std::uint16_t upstream_port, Options options)
    : upstream_port_(upstream_port), options_(options) {
    listener_ = listen_tcp({.host = "127.0.0.1", .port = 0});
    port_ = local_port(listener_.get());
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) < 0) throw std::runtime_error("pipe2() failed");
    stop_read_.reset(pipe_fds[0]);
    stop_write_.reset(pipe_fds[1]);
    acceptor_ = std::thread([this] { accept_loop(); });
}

FragmentingProxy::~FragmentingProxy() {
    stopping_ = true;
    [[maybe_unused]] ssize_t ignored = ::write(stop_write_.get(), "x", 1);
    acceptor_.join();
    for (auto& pump_thread : pumps_) pump_thread.join();
}

void FragmentingProxy::accept_loop() {
    unsigned connection = 0;
    while (wait_readable(listener_.get(), stop_read_.get())) {
        int client = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) continue;
        Fd upstream;
        try {
            upstream = connect_tcp("127.0.0.1", upstream_port_);
        } catch (const std::exception&) {
            ::close(client);  // the server refused: the client sees EOF, as it would directly
            continue;
        }
        no_delay(client);
        no_delay(upstream.get());
        int client_fd = client;
        int upstream_fd = upstream.get();
        std::lock_guard lock(mutex_);
        sockets_.push_back(std::make_unique<Fd>(client));
        sockets_.push_back(std::make_unique<Fd>(std::move(upstream)));
        unsigned seed = options_.seed + 2 * connection++;
        pumps_.emplace_back([=, this] { pump(client_fd, upstream_fd, seed); });
        pumps_.emplace_back([=, this] { pump(upstream_fd, client_fd, seed + 1); });
    }
}

void FragmentingProxy::pump(int from, int to, unsigned seed) {
    std::minstd_rand random(seed);
    std::uniform_int_distribution<std::size_t> segment_size(1, std::max<std::size_t>(1, options_.max_segment));
    char buffer[65536];
    while (wait_readable(from, stop_read_.get())) {
        ssize_t n = ::recv(from, buffer, sizeof buffer, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // EOF or error: pass the half-close on
        for (std::size_t offset = 0; offset < static_cast<std::size_t>(n) && !stopping_;) {
            std::size_t size = std::min(segment_size(random), static_cast<std::size_t>(n) - offset);
            if (!send_all(to, buffer + offset, size)) return;
            offset += size;
            std::this_thread::sleep_for(options_.pause);  // so segments really travel apart
        }
    }
    ::shutdown(to, SHUT_WR);
}

}  // namespace cs::test
