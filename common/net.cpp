// common/net.cpp — connect_tcp() and endpoint names, with errors named. The listening side, and
// the resolve() used here, are 01-iterative/listen.cpp.
// taught in: 01-iterative
#include "common/net.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <system_error>

namespace cs {

Fd connect_tcp(const std::string& host, std::uint16_t port) {
    AddrInfoList list = resolve(host, port, /*passive=*/false);
    int error = 0;
    for (addrinfo* address = list.get(); address != nullptr; address = address->ai_next) {
        Fd socket{::socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC, address->ai_protocol)};
        if (!socket) {
            error = errno;
            continue;
        }
        if (::connect(socket.get(), address->ai_addr, address->ai_addrlen) == 0) return socket;
        error = errno;
    }
    throw_errno("connect", error);
}

std::string endpoint_text(const sockaddr* address, socklen_t length) {
    char host[NI_MAXHOST];
    char service[NI_MAXSERV];
    const int numeric = NI_NUMERICHOST | NI_NUMERICSERV;  // no DNS lookup: a log line must not block
    if (::getnameinfo(address, length, host, sizeof host, service, sizeof service, numeric) != 0) return "?";
    if (address->sa_family == AF_INET6) return fmt::format("[{}]:{}", host, service);
    return fmt::format("{}:{}", host, service);
}

std::string local_endpoint(int fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) < 0) return "?";
    return endpoint_text(reinterpret_cast<sockaddr*>(&address), length);
}

std::string peer_endpoint(int fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) < 0) return "?";
    return endpoint_text(reinterpret_cast<sockaddr*>(&address), length);
}

std::uint16_t local_port(int fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) < 0) return 0;
    if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
    return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
}

bool set_nonblocking(int fd, bool on) {
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0) return false;
    flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    return ::fcntl(fd, F_SETFL, flags) == 0;
}

std::string errno_text(int error) { return std::generic_category().message(error); }
std::string errno_text() { return errno_text(errno); }

}  // namespace cs
