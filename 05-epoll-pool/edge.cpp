// 05-epoll-pool/edge.cpp — beyond 04: edge-triggered readiness (--edge) and the fairness budget.
// Edge-triggered, epoll reports a descriptor when its state changes, not while it stays ready: a
// connection whose read stopped before EAGAIN (the budget, the cap) gets no new edge for the
// bytes still waiting, so the loop itself must remember to read it again.
#include "05-epoll-pool/event_loop.hpp"

#include <sys/epoll.h>
#include <utility>

namespace lesson05 {

std::uint32_t EventLoop::edge_flag() const noexcept { return options_.edge ? EPOLLET : 0u; }

std::uint32_t EventLoop::listener_events() const noexcept {
    return EPOLLIN | edge_flag() | (options_.exclusive ? EPOLLEXCLUSIVE : 0u);
}

EventLoop::Status EventLoop::read(Connection& conn) {
    // Level-triggered, a short read is the end for now (epoll_wait() tells us when more comes);
    // edge-triggered, only EAGAIN is: an EOF that arrived with the bytes would bring no new edge.
    // [todo:3 edge-triggered: read until the socket is empty | tests: EdgeTriggeredEchoesABurstLargerThanOneReadWithNothingSentAfterIt]
    //? With --edge (options_.edge) a short read proves nothing: read until EAGAIN (ReadUntil::kEagain).
    //? Remember in conn.unread when on_readable() stopped before the socket was empty (the budget or
    //? the cap): no new edge will come for those bytes, so read_later() must.
    auto until = options_.edge ? EchoConnection::ReadUntil::kEagain : EchoConnection::ReadUntil::kShortRead;
    auto outcome = conn.echo.on_readable(scratch_, kReadBudget, until);
    conn.unread = !outcome.drained;  // stopped by the budget or the cap, not by an empty socket
    //| auto outcome = conn.echo.on_readable(scratch_, kReadBudget, EchoConnection::ReadUntil::kShortRead);
    //| conn.unread = false;
    // [/todo]
    return outcome.status;
}

// [slide:after-io]
// A connection that stopped before EAGAIN is read again next turn, after every other ready one:
// draining it now, until EAGAIN, would let one fast sender starve the whole loop.
void EventLoop::read_later(int fd, Connection& conn) {
    if (!conn.unread || !conn.echo.wants_read() || conn.queued) return;
    conn.queued = true;
    again_.push_back(fd);
}
// [/slide]

void EventLoop::read_again(Clock::time_point now) {
    for (int fd : std::exchange(again_, {})) {
        Connection* conn = connections_.find(fd);
        if (!conn || !conn->queued) continue;  // closed since (and the number perhaps reused)
        conn->queued = false;
        // bytes are waiting: the peer is anything but idle, even without a new edge
        serve(fd, *conn, true, false, now);
    }
}

}  // namespace lesson05
