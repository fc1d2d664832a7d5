// 01-iterative/listen.hpp — the listening socket: getaddrinfo(), socket(), setsockopt(), bind(), listen().
// New here: the textbook open_listenfd with its decisions written down: getaddrinfo (so --host takes
//   names, IPv4 and IPv6 alike), SO_REUSEADDR (restart while old connections sit in TIME_WAIT),
//   optional SO_REUSEPORT (06-prefork), a backlog of SOMAXCONN by default.
// Start-up failures throw std::system_error whose what() names the failed call ("bind()"); main
//   prints that one line and exits. Every later lesson opens its socket here (common/net.hpp).
#pragma once

#include "common/fd.hpp"

#include <cstdint>
#include <memory>
#include <netdb.h>
#include <string>
#include <sys/socket.h>

namespace cs {

struct ListenOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;    // 0: the kernel picks a free (ephemeral) port
    int backlog = SOMAXCONN;   // a small backlog drops connections when many clients arrive at once
    bool reuse_addr = true;    // SO_REUSEADDR (false: 01's --no-reuseaddr experiment)
    bool reuse_port = false;   // SO_REUSEPORT: several sockets may listen on one port
    bool nonblocking = false;  // for event loops: accept() returns EAGAIN instead of blocking
    bool listen = true;        // false: bind only, to hold the port (06's reuseport master)
};

// socket(), setsockopt(), bind() and (unless options.listen is false) listen().
Fd listen_tcp(const ListenOptions& options);

// getaddrinfo()'s list, freed by its destructor. passive: addresses to bind (an empty host means
// every local address); otherwise addresses to connect to (common/net.cpp's connect_tcp).
struct AddrInfoDeleter {
    void operator()(addrinfo* list) const noexcept { ::freeaddrinfo(list); }
};
using AddrInfoList = std::unique_ptr<addrinfo, AddrInfoDeleter>;
AddrInfoList resolve(const std::string& host, std::uint16_t port, bool passive);

// Throws std::system_error(error) whose what() is "call()": the one-line start-up error.
[[noreturn]] void throw_errno(const char* call, int error);

}  // namespace cs
