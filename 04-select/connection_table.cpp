// 04-select/connection_table.cpp — slots by fd, and closing clients with a log line.
#include "04-select/connection_table.hpp"

#include "common/net.hpp"

#include <algorithm>

namespace lesson04 {

Connection& ConnectionTable::add(cs::Fd socket, std::size_t out_cap, std::string peer) {
    int fd = socket.get();
    slots_[fd] = std::make_unique<Connection>(std::move(socket), out_cap, std::move(peer));
    highest_fd_ = std::max(highest_fd_, fd);
    ++open_;
    return *slots_[fd];
}

int ConnectionTable::oldest() const noexcept {
    int oldest = -1;
    for (int fd = 0; fd <= highest_fd_; ++fd) {
        if (slots_[fd] && (oldest < 0 || slots_[fd]->last_active < slots_[oldest]->last_active)) oldest = fd;
    }
    return oldest;
}

void ConnectionTable::remove(int fd) {
    const Connection& conn = *slots_[fd];
    if (conn.echo.error() != 0) {
        log_.conn("{}() failed: {}; closing fd {} ({}, {} bytes echoed)", conn.echo.failed_call(),
                  cs::errno_text(conn.echo.error()), fd, conn.peer, conn.echo.bytes_echoed());
    } else {
        log_.conn("{} closed (fd {}, {} bytes echoed)", conn.peer, fd, conn.echo.bytes_echoed());
    }
    erase(fd);
}

void ConnectionTable::remove_idle(int fd, std::chrono::seconds idle) {
    const Connection& conn = *slots_[fd];
    log_.conn("{} idle for {} s, closing (fd {}, {} bytes echoed)", conn.peer, idle.count(), fd,
              conn.echo.bytes_echoed());
    erase(fd);
}

void ConnectionTable::erase(int fd) {
    --open_;
    slots_[fd].reset();  // destroys the state, then closes fd (EchoConnection owns the socket)
    while (highest_fd_ >= 0 && !slots_[highest_fd_]) --highest_fd_;  // select()'s nfds shrinks with it
}

}  // namespace lesson04
