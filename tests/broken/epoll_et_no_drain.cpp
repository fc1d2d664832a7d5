// tests/broken/epoll_et_no_drain.cpp — BROKEN ON PURPOSE: a grader fixture, not a lesson.
// An edge-triggered epoll echo server that reads at most one buffer (4 KiB) per readiness
// event. Edge-triggered epoll reports a socket once when new bytes arrive, not while bytes
// are waiting: whatever is left after that one read is stranded until the client sends again.
// The one bug: not draining to EAGAIN in edge-triggered mode. Must be caught by
// Conformance.EchoesBinaryDataWithNulAndCarriageReturn and Conformance.EchoesEightMiBLine
// (any burst larger than 4 KiB), and by 05-epoll-pool's own tests (expected.toml).
#include "tests/broken/fixture.hpp"

#include "04-select/echo_connection.hpp"
#include "common/net.hpp"

#include <array>
#include <cerrno>
#include <map>
#include <memory>
#include <sys/epoll.h>
#include <sys/socket.h>

namespace {

constexpr int kMaxEvents = 64;
constexpr std::size_t kReadBudget = 4096;

struct Client {
    std::unique_ptr<lesson04::EchoConnection> conn;
    std::string peer;
};

void accept_client(const cs::Fd& listener, int epfd, std::map<int, Client>& clients, const cs::Log& log) {
    int connfd = ::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (connfd < 0) return;  // EAGAIN, EINTR, ECONNABORTED, or the stop handler's shutdown()
    std::string peer = cs::broken::log_connected(log, connfd);
    // Edge-triggered for input and output; write interest is harmless here: it fires once per edge.
    epoll_event event{.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data = {.fd = connfd}};
    if (::epoll_ctl(epfd, EPOLL_CTL_ADD, connfd, &event) < 0) {
        ::close(connfd);
        return;
    }
    clients.emplace(connfd, Client{std::make_unique<lesson04::EchoConnection>(cs::Fd{connfd}), peer});
}

// Returns false once the connection is finished or failed.
// [slide:the-bug]
bool on_event(Client& client, std::uint32_t events, std::span<std::byte> scratch) {
    using Status = lesson04::EchoConnection::Status;
    Status status = Status::kOpen;
    if (events & EPOLLOUT) status = client.conn->on_writable();
    if (status == Status::kOpen && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        // BUG: one buffer per edge, and `drained` is ignored. Must read until EAGAIN.
        status = client.conn->on_readable(scratch, kReadBudget).status;
    }
    return status == Status::kOpen;
}
// [/slide]

void serve(const cs::Fd& listener, const cs::Log& log) {
    cs::Fd epoll{::epoll_create1(EPOLL_CLOEXEC)};
    epoll_event listen_event{.events = EPOLLIN, .data = {.fd = listener.get()}};  // level-triggered
    ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, listener.get(), &listen_event);
    std::map<int, Client> clients;  // by descriptor
    std::array<std::byte, kReadBudget> scratch;
    std::array<epoll_event, kMaxEvents> events;
    while (!cs::broken::stop_requested()) {
        int ready = ::epoll_wait(epoll.get(), events.data(), kMaxEvents, -1);
        for (int i = 0; i < ready; ++i) {
            int fd = events[i].data.fd;
            if (fd == listener.get()) {
                accept_client(listener, epoll.get(), clients, log);
                continue;
            }
            auto it = clients.find(fd);
            if (it == clients.end() || on_event(it->second, events[i].events, scratch)) continue;
            const lesson04::EchoConnection& conn = *it->second.conn;
            cs::broken::log_finished(
                log, fd, it->second.peer,
                {.bytes = conn.bytes_echoed(), .error = conn.error(), .failed_call = conn.failed_call()});
            clients.erase(it);  // closing the descriptor also removes it from the epoll set
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    cs::broken::run_fixture(argc, argv,
                            {.program = "echo-broken-epoll-et-no-drain",
                             .description = "BROKEN edge-triggered epoll echo server: one read per edge",
                             .log_name = "broken-epoll-et-no-drain"},
                            serve);
}
