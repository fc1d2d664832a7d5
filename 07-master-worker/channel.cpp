// 07-master-worker/channel.cpp — sendmsg()/recvmsg() with SCM_RIGHTS, the way a descriptor travels.
#include "channel.hpp"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <system_error>

namespace lesson07 {

Channel make_channel() {
    int ends[2];
    // SOCK_CLOEXEC before fork(): an exec'd worker (--share pass) must not inherit the other workers'
    // channels. The one end it needs is handed over on purpose (master.cpp, exec_worker()).
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) < 0) {
        throw std::system_error(errno, std::generic_category(), "socketpair()");
    }
    return {cs::Fd{ends[0]}, cs::Fd{ends[1]}};
}

bool send_message(int fd, const Message& message, int attached) {
    iovec data{const_cast<Message*>(&message), sizeof message};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr header{};
    header.msg_iov = &data;
    header.msg_iovlen = 1;
    // [slide:send-fd]
    // [todo:1 send the listener with SCM_RIGHTS | tests: PassModeWorkersAreExecedAndReceiveTheMastersSocket, FiveHundredSlowClientsDelayNoOne]
    //? When attached >= 0, point header.msg_control at `control` (msg_controllen: CMSG_SPACE(sizeof(int))),
    //? and fill its one cmsghdr (CMSG_FIRSTHDR): level SOL_SOCKET, type SCM_RIGHTS, CMSG_LEN(sizeof(int)),
    //? the descriptor copied into CMSG_DATA with memcpy.
    if (attached >= 0) {
        // The kernel installs a new descriptor in the receiver for the same open file description: the
        // same socket, the same inode, as if it had been inherited by fork().
        header.msg_control = control;
        header.msg_controllen = sizeof control;
        cmsghdr* rights = CMSG_FIRSTHDR(&header);
        rights->cmsg_level = SOL_SOCKET;
        rights->cmsg_type = SCM_RIGHTS;
        rights->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(rights), &attached, sizeof(int));
    }
    //| (void)control, (void)attached;  // not written yet: the message goes, the descriptor does not
    // [/todo]
    // [/slide]
    ssize_t n;
    do {
        n = ::sendmsg(fd, &header, MSG_NOSIGNAL);  // MSG_NOSIGNAL: a dead peer costs EPIPE, not SIGPIPE
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(sizeof message)) return true;
    if (n >= 0) errno = EPROTO;  // a 16-byte send to a nearly idle channel is never split; if it was, give up
    return false;
}

int receive_message(int fd, Message& message, cs::Fd* attached) {
    iovec data{&message, sizeof message};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr header{};
    header.msg_iov = &data;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof control;
    ssize_t n;
    do {
        // One message, no more: a stream socket would happily hand us one and a half.
        // MSG_CMSG_CLOEXEC: a received descriptor is close-on-exec from its first instant.
        n = ::recvmsg(fd, &header, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return static_cast<int>(n);
    cs::Fd received;  // owned at once, so nothing leaks on the error paths
    cmsghdr* rights = CMSG_FIRSTHDR(&header);
    if (rights != nullptr && rights->cmsg_level == SOL_SOCKET && rights->cmsg_type == SCM_RIGHTS) {
        int fd_received;
        std::memcpy(&fd_received, CMSG_DATA(rights), sizeof fd_received);
        received = cs::Fd{fd_received};
    }
    if (n != static_cast<ssize_t>(sizeof message) || (header.msg_flags & MSG_CTRUNC)) {
        errno = EPROTO;  // a torn message, or a descriptor the kernel had to drop
        return -1;
    }
    if (attached != nullptr) *attached = std::move(received);
    return 1;
}

}  // namespace lesson07
