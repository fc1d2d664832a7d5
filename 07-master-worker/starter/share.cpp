// 07-master-worker/starter/share.cpp — the share modes: TODO(1a), TODO(1b), TODO(1c) are yours.
#include "07-master-worker/starter/share.hpp"

#include "common/net.hpp"

#include <sys/socket.h>
#include <unistd.h>

namespace master_worker_starter {

// inherit and pass: the master's listener is THE listener, non-blocking, because workers run event
// loops: when several wake for one connection, the losers' accept() must say EAGAIN, not sleep.
cs::Fd open_port_socket(Share share, const cs::ServerOptions& options) {
    // TODO(1a): --share reuseport. Each worker opens a listener of its own (open_own_listener());
    // the master only holds the port: socket(), SO_REUSEADDR and SO_REUSEPORT (both before
    // bind()), bind() (getaddrinfo() for options.host, as common/net.cpp does) and NO listen(): a
    // socket that does not listen is offered no connection. The listening line still shows its
    // port (getsockname()), also after --port 0.
    (void)share;
    return cs::listen_tcp({.host = options.host, .port = options.port, .nonblocking = true});
}

cs::Fd open_own_listener(const cs::Fd& port_socket) {
    // TODO(1b): getsockname() of the port socket; a new socket with SO_REUSEADDR and SO_REUSEPORT,
    // bind() to that address, listen(), non-blocking, close-on-exec. Throw std::system_error naming
    // the call that failed. The kernel then spreads new connections over the workers' listeners.
    (void)port_socket;
    return {};
}

bool send_socket(int channel, int fd, int slot) {
    // TODO(1c): sendmsg() one byte (the slot) with a control message of level SOL_SOCKET, type
    // SCM_RIGHTS, holding `fd` (a buffer of CMSG_SPACE(sizeof(int)); CMSG_FIRSTHDR, CMSG_LEN,
    // CMSG_DATA). The receiver gets a new descriptor for the same socket.
    (void)channel, (void)fd, (void)slot;
    return false;
}

cs::Fd receive_socket(int channel, int& slot) {
    // TODO(1c): recvmsg() that byte with room for one descriptor (flag MSG_CMSG_CLOEXEC); the slot
    // is the byte, the descriptor is in CMSG_DATA. An empty cs::Fd when none came.
    (void)channel, (void)slot;
    return {};
}

int run_exec_worker(int channel_fd, LockMode lock_mode, std::chrono::milliseconds grace, const cs::Log& log) {
    reset_signals_for_worker();
    cs::Fd channel{channel_fd};
    int slot = 0;
    cs::Fd listener = receive_socket(channel.get(), slot);
    if (!listener) {
        log.info("worker: no listening socket from the master on fd {} (TODO(1c))", channel_fd);
        return 1;
    }
    return run_worker({.slot = slot,
                       .listener = std::move(listener),
                       .channel = std::move(channel),
                       .lock_mode = lock_mode,
                       .grace = grace},
                      log);
}

void exec_self(std::vector<std::string> argv, const cs::Log& log) {
    std::vector<char*> pointers;
    for (std::string& arg : argv) pointers.push_back(arg.data());
    pointers.push_back(nullptr);
    ::execvp(pointers[0], pointers.data());  // argv[0]: the path we were started by
    log.info("execvp({}) failed: {}", argv[0], cs::errno_text());
    ::_exit(127);
}

}  // namespace master_worker_starter
