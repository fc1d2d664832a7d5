// common/net.hpp — opening listening and connected TCP sockets, and naming endpoints.
// taught in: 01-iterative
//
// listen_tcp() is the textbook open_listenfd with the decisions written down:
// getaddrinfo (so IPv4 and IPv6 both work), SO_REUSEADDR (see net.cpp for TIME_WAIT),
// optional SO_REUSEPORT (06-prefork), a backlog of SOMAXCONN by default.
// Start-up failures throw std::system_error whose what() names the failed call ("bind()").
#pragma once

#include "common/fd.hpp"

#include <cstdint>
#include <string>
#include <sys/socket.h>

namespace cs {

struct ListenOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;    // 0: the kernel picks a free (ephemeral) port
    int backlog = SOMAXCONN;   // a small backlog drops connections when many clients arrive at once
    bool reuse_port = false;   // SO_REUSEPORT: several sockets may listen on one port
    bool nonblocking = false;  // for event loops: accept() returns EAGAIN instead of blocking
    bool listen = true;        // false: bind only, to hold the port (06's reuseport master)
};

// socket(), setsockopt(), bind() and (unless options.listen is false) listen().
Fd listen_tcp(const ListenOptions& options);

// A blocking connected socket. Throws std::system_error naming the call on failure.
Fd connect_tcp(const std::string& host, std::uint16_t port);

// "127.0.0.1:9001" or "[::1]:9001".
std::string endpoint_text(const sockaddr* address, socklen_t length);
std::string local_endpoint(int fd);  // getsockname(), as text
std::string peer_endpoint(int fd);   // getpeername(), as text; "?" when the peer is gone
std::uint16_t local_port(int fd);

// Sets or clears O_NONBLOCK. Returns false (errno set) on failure.
bool set_nonblocking(int fd, bool on = true);

// "Address already in use": the text of an errno value, for log lines.
std::string errno_text(int error);
std::string errno_text();  // of the current errno

}  // namespace cs
