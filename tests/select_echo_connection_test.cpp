// tests/select_echo_connection_test.cpp — 04's non-blocking echo connection (shared by 05 and 06):
// every byte back in order, backpressure at the cap, EOF handling, no buffer while idle.
#include "04-select/echo_connection.hpp"
#include "common/net.hpp"
#include "common/rio.hpp"

#include <array>
#include <gtest/gtest.h>
#include <sys/socket.h>

namespace cs {
namespace {

using lesson04::EchoConnection;

struct Peers {
    Fd client;
    EchoConnection server;
};

Peers make_peers(std::size_t out_cap, int buffer_bytes = 0) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) throw std::runtime_error("socketpair");
    if (buffer_bytes > 0) {
        for (int fd : fds) {
            ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof buffer_bytes);
            ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof buffer_bytes);
        }
    }
    set_nonblocking(fds[1]);
    return {Fd(fds[0]), EchoConnection(Fd(fds[1]), out_cap)};
}

std::array<std::byte, 65536> scratch;

TEST(EchoConnection, EchoesWhatItReadsAndHoldsNoBufferWhenIdle) {
    Peers peers = make_peers(EchoConnection::kDefaultOutCap);
    ASSERT_EQ(writen(peers.client.get(), as_bytes("hello\nworld")), 11);
    auto outcome = peers.server.on_readable(scratch);
    EXPECT_EQ(outcome.status, EchoConnection::Status::kOpen);
    EXPECT_TRUE(outcome.drained);
    EXPECT_FALSE(peers.server.wants_write());
    std::string echo(11, '\0');
    EXPECT_EQ(readn(peers.client.get(), std::as_writable_bytes(std::span(echo))), 11);
    EXPECT_EQ(echo, "hello\nworld");
    EXPECT_EQ(peers.server.bytes_echoed(), 11u);
}

TEST(EchoConnection, StopsReadingAtTheCapAndEchoesEverythingInOrderOnceTheClientReads) {
    constexpr std::size_t kCap = 64 * 1024;
    Peers peers = make_peers(kCap, 16 * 1024);
    std::string sent;
    std::string received;
    for (int round = 0; round < 200 && sent.size() < 4u << 20; ++round) {
        // The client sends without reading until its send buffer is full.
        std::string chunk(8192, static_cast<char>('a' + round % 26));
        while (::send(peers.client.get(), chunk.data(), chunk.size(), MSG_DONTWAIT) > 0) sent += chunk;
        peers.server.on_readable(scratch);
        EXPECT_LE(peers.server.pending_bytes(), kCap + scratch.size()) << "backpressure did not hold";
        if (!peers.server.wants_read()) {
            EXPECT_GE(peers.server.pending_bytes(), kCap);
        }
        // Now the client reads a little; the server flushes.
        char buffer[32768];
        ssize_t n = ::recv(peers.client.get(), buffer, sizeof buffer, MSG_DONTWAIT);
        if (n > 0) received.append(buffer, static_cast<std::size_t>(n));
        peers.server.on_writable();
    }
    // Drain everything.
    ::shutdown(peers.client.get(), SHUT_WR);
    for (int i = 0; i < 100000 && peers.server.on_readable(scratch).status == EchoConnection::Status::kOpen; ++i) {
        peers.server.on_writable();
        char buffer[65536];
        ssize_t n = ::recv(peers.client.get(), buffer, sizeof buffer, MSG_DONTWAIT);
        if (n > 0) received.append(buffer, static_cast<std::size_t>(n));
    }
    for (;;) {
        char buffer[65536];
        ssize_t n = ::recv(peers.client.get(), buffer, sizeof buffer, MSG_DONTWAIT);
        if (n <= 0) break;
        received.append(buffer, static_cast<std::size_t>(n));
    }
    EXPECT_EQ(received.size(), sent.size());
    EXPECT_TRUE(received == sent) << "bytes lost or reordered under backpressure";
}

TEST(EchoConnection, FinishesAfterPeerEofOnceEverythingIsEchoed) {
    Peers peers = make_peers(EchoConnection::kDefaultOutCap);
    ASSERT_EQ(writen(peers.client.get(), as_bytes("tail without newline")), 20);
    ::shutdown(peers.client.get(), SHUT_WR);
    auto outcome = peers.server.on_readable(scratch);
    EXPECT_EQ(outcome.status, EchoConnection::Status::kFinished);
    EXPECT_TRUE(peers.server.peer_eof());
}

TEST(EchoConnection, ReportsResetAsFailureNamingTheCall) {
    Peers peers = make_peers(EchoConnection::kDefaultOutCap);
    peers.client.reset();
    ASSERT_EQ(peers.server.on_readable(scratch).status, EchoConnection::Status::kFinished);  // EOF first
    Peers writing = make_peers(EchoConnection::kDefaultOutCap);
    ASSERT_EQ(writen(writing.client.get(), as_bytes("x")), 1);
    writing.client.reset();  // the echo now hits a closed peer: EPIPE, never SIGPIPE
    auto outcome = writing.server.on_readable(scratch);
    ASSERT_EQ(outcome.status, EchoConnection::Status::kFailed);
    EXPECT_STREQ(writing.server.failed_call(), "send");
    EXPECT_EQ(writing.server.error(), EPIPE);
}

TEST(EchoConnection, ReadBudgetLimitsOneCallAndReportsNotDrained) {
    Peers peers = make_peers(EchoConnection::kDefaultOutCap);
    std::string data(10000, 'b');
    ASSERT_EQ(writen(peers.client.get(), as_bytes(data)), 10000);
    auto outcome = peers.server.on_readable(std::span(scratch).first(1000), 1000);
    EXPECT_FALSE(outcome.drained) << "more bytes are waiting: an edge-triggered loop must come back";
    EXPECT_EQ(peers.server.bytes_echoed(), 1000u);
}

}  // namespace
}  // namespace cs
