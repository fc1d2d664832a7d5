// 01-iterative/listen.cpp — getaddrinfo(), then socket(), setsockopt(), bind(), listen() on the first
// address that works, each failure named ("bind(): Address already in use").
#include "01-iterative/listen.hpp"

#include <cerrno>
#include <fmt/format.h>
#include <optional>
#include <system_error>

namespace cs {

void throw_errno(const char* call, int error) {
    throw std::system_error(error, std::generic_category(), fmt::format("{}()", call));
}

AddrInfoList resolve(const std::string& host, std::uint16_t port, bool passive) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;  // IPv4 or IPv6, whatever the host names: "::1" works as well
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    addrinfo* list = nullptr;
    std::string service = std::to_string(port);
    int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &list);
    if (rc != 0) {
        // getaddrinfo has its own error space; EINVAL is the closest errno for "no such host".
        throw std::system_error(EINVAL, std::generic_category(), fmt::format("getaddrinfo(): {}", ::gai_strerror(rc)));
    }
    return AddrInfoList(list);
}

namespace {

void enable_option(int fd, int level, int option, const char* name) {
    int on = 1;
    if (::setsockopt(fd, level, option, &on, sizeof on) < 0) {
        throw std::system_error(errno, std::generic_category(), fmt::format("setsockopt({})", name));
    }
}

// [slide:listen-on]
Fd listen_on(const addrinfo& address, const ListenOptions& options) {
    int type = address.ai_socktype | SOCK_CLOEXEC | (options.nonblocking ? SOCK_NONBLOCK : 0);
    Fd listener{::socket(address.ai_family, type, address.ai_protocol)};
    if (!listener) throw_errno("socket", errno);
    // SO_REUSEADDR: after a restart the old connections linger in TIME_WAIT for up to a minute;
    // without this option bind() fails with EADDRINUSE until they are gone. It does NOT let
    // two live servers share the port: that is SO_REUSEPORT.
    if (options.reuse_addr) enable_option(listener.get(), SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR");
    if (options.reuse_port) enable_option(listener.get(), SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT");
    if (::bind(listener.get(), address.ai_addr, address.ai_addrlen) < 0) throw_errno("bind", errno);
    // listen() makes it a listening socket: from now on the kernel completes handshakes on its own
    // and queues up to `backlog` finished connections for accept().
    if (options.listen && ::listen(listener.get(), options.backlog) < 0) throw_errno("listen", errno);
    return listener;
}
// [/slide]

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

}  // namespace cs
