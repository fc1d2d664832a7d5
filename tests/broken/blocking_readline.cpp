// tests/broken/blocking_readline.cpp — BROKEN ON PURPOSE: a grader fixture, not a lesson.
// A select() echo server with a correct per-connection reader that, once select() says a
// client is readable, calls the blocking readline(): it returns only at a newline (or EOF).
// The one bug: one client's partial line stalls every other client.
// Must be caught by Conformance.ServesAnotherClientWhileOneIsIdle.
#include "tests/broken/fixture.hpp"

#include "common/net.hpp"
#include "common/rio.hpp"

#include <array>
#include <cerrno>
#include <map>
#include <memory>
#include <sys/select.h>
#include <sys/socket.h>

namespace {

struct Client {
    cs::Fd socket;
    std::unique_ptr<cs::LineReader> reader;  // one per connection, never copied (that bug is reader_copy.cpp)
    std::string peer;
};

// Returns false once the connection is finished (EOF or an error).
// [slide:the-bug]
bool echo_lines(Client& client, const cs::Log& log) {
    std::array<std::byte, 8192> line;
    cs::EchoResult result;
    do {
        ssize_t n = client.reader->readline(line);  // BUG: blocks until '\n'; every other client waits
        if (n <= 0) {
            if (n < 0) result = {.error = errno, .failed_call = "read"};
            cs::broken::log_finished(log, client.socket.get(), client.peer, result);
            return false;
        }
        if (cs::writen(client.socket.get(), std::span(line).first(static_cast<std::size_t>(n))) < 0) {
            cs::broken::log_finished(log, client.socket.get(), client.peer, {.error = errno, .failed_call = "write"});
            return false;
        }
    } while (client.reader->buffered() > 0);  // select() cannot see bytes already in our buffer
    return true;
}
// [/slide]

void accept_client(const cs::Fd& listener, std::map<int, Client>& clients, const cs::Log& log) {
    int connfd = ::accept(listener.get(), nullptr, nullptr);
    if (connfd < 0) return;  // EINTR, ECONNABORTED, or the stop handler's shutdown()
    cs::Fd conn{connfd};
    if (connfd >= FD_SETSIZE) return;  // FD_SET() beyond the fd_set would write out of bounds
    std::string peer = cs::broken::log_connected(log, connfd);
    clients.emplace(connfd, Client{std::move(conn), std::make_unique<cs::LineReader>(connfd), peer});
}

void serve(const cs::Fd& listener, const cs::Log& log) {
    std::map<int, Client> clients;  // by descriptor
    while (!cs::broken::stop_requested()) {
        fd_set readable;
        FD_ZERO(&readable);
        FD_SET(listener.get(), &readable);
        int max_fd = listener.get();
        for (const auto& [fd, client] : clients) {
            FD_SET(fd, &readable);
            max_fd = std::max(max_fd, fd);
        }
        if (::select(max_fd + 1, &readable, nullptr, nullptr, nullptr) < 0) continue;  // EINTR
        if (FD_ISSET(listener.get(), &readable)) accept_client(listener, clients, log);
        for (auto it = clients.begin(); it != clients.end();) {
            bool open = !FD_ISSET(it->first, &readable) || echo_lines(it->second, log);
            it = open ? std::next(it) : clients.erase(it);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    cs::broken::run_fixture(argc, argv,
                            {.program = "echo-broken-blocking-readline",
                             .description = "BROKEN select() echo server: blocking readline() after select()",
                             .log_name = "broken-blocking-readline"},
                            serve);
}
