// common/net.hpp — listening (as 01 taught it) and connected TCP sockets, and naming endpoints.
// taught in: 01-iterative
//
// listen_tcp() and ListenOptions live in 01-iterative/listen.hpp, included here, where 01 shows
// socket(), setsockopt(), bind() and listen(). connect_tcp() uses the same resolve().
// Start-up failures throw std::system_error whose what() names the failed call ("bind()").
#pragma once

#include "01-iterative/listen.hpp"
#include "common/fd.hpp"

#include <cstdint>
#include <string>
#include <sys/socket.h>

namespace cs {

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
