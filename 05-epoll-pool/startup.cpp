// 05-epoll-pool/startup.cpp — setrlimit() and the SO_REUSEPORT listeners.
#include "05-epoll-pool/startup.hpp"

#include "common/net.hpp"

#include <cerrno>
#include <sys/resource.h>

namespace lesson05 {

void raise_nofile_limit(const cs::Log& log) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) < 0) return;
    rlim_t before = limit.rlim_cur;
    if (before >= limit.rlim_max) {
        log.info("RLIMIT_NOFILE is {}, the hard limit already", before);
        return;
    }
    limit.rlim_cur = limit.rlim_max;  // as far as an unprivileged process may go
    if (::setrlimit(RLIMIT_NOFILE, &limit) < 0) {
        log.info("setrlimit(RLIMIT_NOFILE) failed: {}; staying at {}", cs::errno_text(), before);
        return;
    }
    log.info("raised RLIMIT_NOFILE from {} to {} (the hard limit)", before, limit.rlim_cur);
}

// [slide:reuseport]
// How connections reach the loops: each loop owns a listener on the same port (SO_REUSEPORT)
// and the kernel spreads new connections over them by a hash of the client's address and port.
// No hand-off queue, no lock, no wake-up between threads: each loop is a complete server.
// The price: the kernel balances by hash, not by load. (The other design, one acceptor handing
// fds to the loops, balances as it likes but sends every connection through a locked queue.)
// With --threads 1 the listener is a plain one, so a second server on its port fails as it should.
std::vector<cs::Fd> open_listeners(const cs::ServerOptions& options, int count) {
    cs::ListenOptions listen{.host = options.host, .port = options.port, .reuse_port = count > 1, .nonblocking = true};
    std::vector<cs::Fd> listeners;
    listeners.push_back(cs::listen_tcp(listen));
    listen.port = cs::local_port(listeners.front().get());  // --port 0: the others join the port the kernel chose
    while (static_cast<int>(listeners.size()) < count) listeners.push_back(cs::listen_tcp(listen));
    return listeners;
}
// [/slide]

}  // namespace lesson05
