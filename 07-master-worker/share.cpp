// 07-master-worker/share.cpp — opening, inheriting and re-binding the port.
#include "share.hpp"

#include "common/net.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace lesson07 {
namespace {

constexpr int kSystemdFirstFd = 3;  // SD_LISTEN_FDS_START

[[noreturn]] void fail(const char* call, int error) { throw std::system_error(error, std::generic_category(), call); }

void enable(int fd, int option, const char* call) {
    int on = 1;
    if (::setsockopt(fd, SOL_SOCKET, option, &on, sizeof on) < 0) fail(call, errno);
}

cs::Fd bind_reuseport(const sockaddr* address, socklen_t length, bool listening) {
    cs::Fd socket{::socket(address->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
    if (!socket) fail("socket()", errno);
    enable(socket.get(), SO_REUSEADDR, "setsockopt(SO_REUSEADDR)");
    // Every socket in the group must set SO_REUSEPORT before bind(), and belong to the same user;
    // a socket without it (another program) still gets EADDRINUSE, and so do we if it came first.
    enable(socket.get(), SO_REUSEPORT, "setsockopt(SO_REUSEPORT)");
    if (::bind(socket.get(), address, length) < 0) fail("bind()", errno);
    if (listening && ::listen(socket.get(), SOMAXCONN) < 0) fail("listen()", errno);
    return socket;
}

bool is_listening(int fd) {
    int listening = 0;
    socklen_t length = sizeof listening;
    return ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) == 0 && listening != 0;
}

}  // namespace

const char* share_name(Share share) {
    switch (share) {
        case Share::kInherit: return "inherit";
        case Share::kReusePort: return "reuseport";
        case Share::kPass: return "pass";
    }
    return "?";
}

cs::Fd open_port_socket(Share share, const std::string& host, std::uint16_t port) {
    // reuseport: bound with SO_REUSEPORT but never listening, so it holds the port and gets no SYNs.
    if (share == Share::kReusePort) {
        return cs::listen_tcp({.host = host, .port = port, .reuse_port = true, .nonblocking = true, .listen = false});
    }
    // Non-blocking, because workers run event loops: when several wake for one connection, the
    // losers' accept() must say EAGAIN, not sleep. O_NONBLOCK belongs to the open file
    // description, so it is shared by every process holding this socket.
    return cs::listen_tcp({.host = host, .port = port, .nonblocking = true});
}

cs::Fd take_inherited_socket(Share share) {
    const char* pid = std::getenv("LISTEN_PID");
    const char* count = std::getenv("LISTEN_FDS");
    // LISTEN_PID guards against a child that inherited the environment but not the descriptors.
    if (pid == nullptr || count == nullptr || std::atol(pid) != ::getpid() || std::atoi(count) < 1) return {};
    ::unsetenv("LISTEN_PID");  // the convention: consume them, so our own children do not try
    ::unsetenv("LISTEN_FDS");
    ::unsetenv("LISTEN_FDNAMES");
    cs::Fd socket{kSystemdFirstFd};
    struct stat info {};
    if (::fstat(socket.get(), &info) < 0 || !S_ISSOCK(info.st_mode)) fail("LISTEN_FDS: descriptor 3", ENOTSOCK);
    // Handed-over descriptors come without close-on-exec; from now on they are ours to guard.
    if (::fcntl(socket.get(), F_SETFD, FD_CLOEXEC) < 0) fail("fcntl(F_SETFD)", errno);
    if (!cs::set_nonblocking(socket.get())) fail("fcntl(O_NONBLOCK)", errno);
    if (share == Share::kReusePort) {
        // Our own upgrade hands over the bound, non-listening port socket. A listening socket
        // would queue connections that no worker ever accepts.
        if (is_listening(socket.get())) fail("LISTEN_FDS in reuseport mode (use --share inherit or pass)", EINVAL);
    } else if (!is_listening(socket.get()) && ::listen(socket.get(), SOMAXCONN) < 0) {
        fail("listen()", errno);
    }
    return socket;
}

cs::Fd open_own_listener(const cs::Fd& port_socket) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getsockname(port_socket.get(), reinterpret_cast<sockaddr*>(&address), &length) < 0)
        fail("getsockname()", errno);
    return bind_reuseport(reinterpret_cast<sockaddr*>(&address), length, /*listening=*/true);
}

bool place_fd_for_exec(int fd, int target) {
    if (fd == target) return ::fcntl(fd, F_SETFD, 0) == 0;  // dup2() onto itself would keep FD_CLOEXEC
    return ::dup2(fd, target) >= 0;                         // the copy dup2() makes has FD_CLOEXEC clear
}

}  // namespace lesson07
