// tests/broken/reader_copy.cpp — BROKEN ON PURPOSE: a grader fixture, not a lesson.
// A select() echo server that passes its per-connection reader BY VALUE. One read() may bring
// several lines; the first goes back, the rest stay buffered in the copy and die with it.
// The one bug: pipelined lines are lost. Must be caught by Conformance.EchoesPipelinedLinesSentInOneWrite
// (and by every other test that sends two lines in one write: see tests/broken/expected.toml).
#include "tests/broken/fixture.hpp"

#include "common/net.hpp"
#include "common/rio.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <sys/select.h>
#include <sys/socket.h>

namespace {

// A textbook rio_t: bytes read from one connection and not handed out yet.
struct Reader {
    int fd = -1;
    std::array<char, 8192> buffer{};
    std::size_t count = 0;
};

struct Client {
    cs::Fd socket;
    Reader reader;
    std::string peer;
};

// Hands out one line, or all it has when no newline came yet (an echo need not wait for one).
// select() said readable, so the one read() below does not block.
// [slide:the-bug]
ssize_t next_line(Reader reader, char* out) {  // BUG: a copy; must be Reader& reader
    if (reader.count == 0) {
        ssize_t n = ::read(reader.fd, reader.buffer.data(), reader.buffer.size());
        if (n <= 0) return n;
        reader.count = static_cast<std::size_t>(n);
    }
    auto* newline = static_cast<char*>(std::memchr(reader.buffer.data(), '\n', reader.count));
    std::size_t take = newline ? static_cast<std::size_t>(newline - reader.buffer.data()) + 1 : reader.count;
    std::memcpy(out, reader.buffer.data(), take);
    reader.count -= take;  // the next lines stay here... in a copy that is gone on return
    std::memmove(reader.buffer.data(), reader.buffer.data() + take, reader.count);
    return static_cast<ssize_t>(take);
}
// [/slide]

// Returns false once the connection is finished (EOF or an error).
bool echo_some(Client& client, const cs::Log& log) {
    std::array<char, 8192> line;
    ssize_t n = next_line(client.reader, line.data());
    cs::EchoResult result;
    if (n < 0) result = {.error = errno, .failed_call = "read"};
    if (n > 0 && cs::writen(client.socket.get(), std::as_bytes(std::span(line).first(n))) < 0) {
        result = {.error = errno, .failed_call = "write"};
    }
    if (n > 0 && result.error == 0) return true;
    cs::broken::log_finished(log, client.socket.get(), client.peer, result);
    return false;
}

void accept_client(const cs::Fd& listener, std::map<int, Client>& clients, const cs::Log& log) {
    int connfd = ::accept(listener.get(), nullptr, nullptr);
    if (connfd < 0) return;  // EINTR, ECONNABORTED, or the stop handler's shutdown()
    cs::Fd conn{connfd};
    if (connfd >= FD_SETSIZE) return;  // FD_SET() beyond the fd_set would write out of bounds
    std::string peer = cs::broken::log_connected(log, connfd);
    clients.emplace(connfd, Client{std::move(conn), Reader{.fd = connfd}, peer});
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
            bool open = !FD_ISSET(it->first, &readable) || echo_some(it->second, log);
            it = open ? std::next(it) : clients.erase(it);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    cs::broken::run_fixture(argc, argv,
                            {.program = "echo-broken-reader-copy",
                             .description = "BROKEN select() echo server: its reader is copied per call",
                             .log_name = "broken-reader-copy"},
                            serve);
}
