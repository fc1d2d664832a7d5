// 07-master-worker/channel.cpp — sendmsg()/recvmsg() with SCM_RIGHTS, the way descriptors travel.
#include "channel.hpp"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <system_error>

namespace lesson07 {
namespace {

constexpr std::size_t kMaxFds = 2;  // the listening socket, and the accept-lock memory

}  // namespace

Channel make_channel() {
    int ends[2];
    // SOCK_CLOEXEC before fork(): an exec'd program (a pass-mode worker, a new master) must not
    // inherit channels that belong to someone else. The one end a child needs is handed over
    // explicitly (see supervisor.cpp).
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) < 0) {
        throw std::system_error(errno, std::generic_category(), "socketpair()");
    }
    return {cs::Fd{ends[0]}, cs::Fd{ends[1]}};
}

bool send_message(int fd, const Message& message, std::span<const int> fds) {
    iovec data{const_cast<Message*>(&message), sizeof message};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
    msghdr header{};
    header.msg_iov = &data;
    header.msg_iovlen = 1;
    // [slide:send-fd]
    if (!fds.empty() && fds.size() <= kMaxFds) {
        // The kernel installs a new descriptor in the receiver that refers to the same open file
        // description: the same socket, the same inode, as if it had been inherited by fork().
        header.msg_control = control;
        header.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
        cmsghdr* rights = CMSG_FIRSTHDR(&header);
        rights->cmsg_level = SOL_SOCKET;
        rights->cmsg_type = SCM_RIGHTS;
        rights->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(rights), fds.data(), sizeof(int) * fds.size());
    }
    // [/slide]
    for (;;) {
        // MSG_NOSIGNAL: a worker that just died must not take the master with it (SIGPIPE).
        ssize_t n = ::sendmsg(fd, &header, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return false;
        if (n == static_cast<ssize_t>(sizeof message)) return true;
        errno = EPROTO;  // a 48-byte send() to a nearly idle channel is never split; if it was, give up
        return false;
    }
}

int receive_message(int fd, Message& message, std::vector<cs::Fd>* fds) {
    iovec data{&message, sizeof message};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
    msghdr header{};
    header.msg_iov = &data;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof control;
    ssize_t n;
    do {
        // Read exactly one message: a stream socket would happily hand us one and a half.
        // MSG_CMSG_CLOEXEC: received descriptors are close-on-exec from their first instant.
        n = ::recvmsg(fd, &header, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return static_cast<int>(n);
    std::vector<cs::Fd> received;
    for (cmsghdr* c = CMSG_FIRSTHDR(&header); c != nullptr; c = CMSG_NXTHDR(&header, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
            int received_fd;
            std::memcpy(&received_fd, CMSG_DATA(c) + i * sizeof(int), sizeof received_fd);
            received.emplace_back(received_fd);  // owned at once, so nothing leaks on the error paths
        }
    }
    if (n != static_cast<ssize_t>(sizeof message) || (header.msg_flags & MSG_CTRUNC)) {
        errno = EPROTO;  // a torn message, or descriptors the kernel had to drop
        return -1;
    }
    if (fds) {
        for (auto& received_fd : received) fds->push_back(std::move(received_fd));
    }
    return 1;
}

}  // namespace lesson07
