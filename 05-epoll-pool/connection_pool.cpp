// 05-epoll-pool/connection_pool.cpp — admission against --max-conns, slots by fd, the activity list,
// closing with a log line.
#include "05-epoll-pool/connection_pool.hpp"

#include "common/net.hpp"

#include <algorithm>

namespace lesson05 {

bool ConnectionPool::reserve() {
    // fetch_add first, then check: two loops admitting at once cannot both take the last place.
    if (open_total_.fetch_add(1, std::memory_order_relaxed) < max_conns_) return true;
    open_total_.fetch_sub(1, std::memory_order_relaxed);
    return false;
}

Connection& ConnectionPool::add(cs::Fd socket, std::size_t out_cap, std::string peer) {
    auto fd = static_cast<std::size_t>(socket.get());
    if (fd >= slots_.size()) slots_.resize(std::max(fd + 1, slots_.size() * 2));  // grows with the fd numbers
    slots_[fd] = std::make_unique<Connection>(std::move(socket), out_cap, std::move(peer));
    slots_[fd]->last_active = Clock::now();
    link_newest(static_cast<int>(fd));
    open_.fetch_add(1, std::memory_order_relaxed);
    return *slots_[fd];
}

void ConnectionPool::remove(int fd) {
    const Connection& conn = *slots_[fd];
    if (conn.echo.error() != 0) {
        log_.conn("{}() failed: {}; closing fd {} ({}, {} bytes echoed)", conn.echo.failed_call(),
                  cs::errno_text(conn.echo.error()), fd, conn.peer, conn.echo.bytes_echoed());
    } else {
        log_.conn("{} closed (fd {}, {} bytes echoed)", conn.peer, fd, conn.echo.bytes_echoed());
    }
    erase(fd);
}

void ConnectionPool::remove_idle(int fd, std::chrono::seconds idle) {
    const Connection& conn = *slots_[fd];
    log_.conn("{} idle for {} s, closing (fd {}, {} bytes echoed)", conn.peer, idle.count(), fd,
              conn.echo.bytes_echoed());
    erase(fd);
}

void ConnectionPool::erase(int fd) {
    unreserve();  // first: another loop may be admitting a client right now
    open_.fetch_sub(1, std::memory_order_relaxed);
    unlink(fd);
    // Destroys the state, then closes fd. close() also takes fd off every epoll interest list,
    // because no other descriptor (dup(), fork()) refers to this socket; with one that did, the
    // kernel would keep reporting events for a number we no longer own: EPOLL_CTL_DEL first, then.
    slots_[fd].reset();
}

void ConnectionPool::touch(int fd, Clock::time_point now) {
    slots_[fd]->last_active = now;
    if (fd == newest_) return;  // the common case for a busy client: nothing to move
    unlink(fd);
    link_newest(fd);
}

void ConnectionPool::link_newest(int fd) {
    Connection& conn = *slots_[fd];
    conn.older = newest_;
    conn.newer = -1;
    if (newest_ >= 0) slots_[newest_]->newer = fd;
    else oldest_ = fd;  // the list was empty
    newest_ = fd;
}

void ConnectionPool::unlink(int fd) {
    Connection& conn = *slots_[fd];
    if (conn.older >= 0) slots_[conn.older]->newer = conn.newer;
    else oldest_ = conn.newer;
    if (conn.newer >= 0) slots_[conn.newer]->older = conn.older;
    else newest_ = conn.older;
}

}  // namespace lesson05
