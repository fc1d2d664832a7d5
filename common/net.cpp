// common/net.cpp — socket(), setsockopt(), bind(), listen() and friends, with errors named.
// taught in: 01-iterative
#include "common/net.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <memory>
#include <optional>
#include <netdb.h>
#include <system_error>

namespace cs {
namespace {

[[noreturn]] void throw_errno(const char* call, int error) {
    throw std::system_error(error, std::generic_category(), fmt::format("{}()", call));
}

struct AddrInfoDeleter {
    void operator()(addrinfo* list) const noexcept { ::freeaddrinfo(list); }
};
using AddrInfoList = std::unique_ptr<addrinfo, AddrInfoDeleter>;

AddrInfoList resolve(const std::string& host, std::uint16_t port, bool passive) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;  // IPv4 or IPv6, whatever the host names
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    addrinfo* list = nullptr;
    std::string service = std::to_string(port);
    int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &list);
    if (rc != 0) {
        // getaddrinfo has its own error space; EINVAL is the closest errno for "no such host".
        throw std::system_error(EINVAL, std::generic_category(),
                                fmt::format("getaddrinfo(): {}", ::gai_strerror(rc)));
    }
    return AddrInfoList(list);
}

void enable_option(int fd, int level, int option, const char* name) {
    int on = 1;
    if (::setsockopt(fd, level, option, &on, sizeof on) < 0) {
        throw std::system_error(errno, std::generic_category(), fmt::format("setsockopt({})", name));
    }
}

Fd listen_on(const addrinfo& address, const ListenOptions& options) {
    int type = address.ai_socktype | SOCK_CLOEXEC | (options.nonblocking ? SOCK_NONBLOCK : 0);
    Fd listener{::socket(address.ai_family, type, address.ai_protocol)};
    if (!listener) throw_errno("socket", errno);
    // SO_REUSEADDR: after a restart the old connections linger in TIME_WAIT for up to a minute;
    // without this option bind() fails with EADDRINUSE until they are gone. It does NOT let
    // two live servers share the port: that is SO_REUSEPORT.
    enable_option(listener.get(), SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR");
    if (options.reuse_port) enable_option(listener.get(), SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT");
    if (::bind(listener.get(), address.ai_addr, address.ai_addrlen) < 0) throw_errno("bind", errno);
    if (options.listen && ::listen(listener.get(), options.backlog) < 0) throw_errno("listen", errno);
    return listener;
}

}  // namespace

Fd listen_tcp(const ListenOptions& options) {
    AddrInfoList list = resolve(options.host, options.port, /*passive=*/true);
    // Take the first address that works; remember the first error in case none does.
    std::optional<std::system_error> first_error;
    for (addrinfo* address = list.get(); address != nullptr; address = address->ai_next) {
        try {
            return listen_on(*address, options);
        } catch (const std::system_error& error) {
            if (!first_error) first_error = error;
        }
    }
    throw *first_error;  // getaddrinfo() never returns an empty list without an error
}

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
    if (::getnameinfo(address, length, host, sizeof host, service, sizeof service,
                      NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        return "?";
    }
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
