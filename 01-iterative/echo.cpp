// 01-iterative/echo.cpp — echo one connection to EOF with read_some() and writen(), and the idle timeout.
// 02 and 03 run it unchanged in each child or thread (through lesson01_io).
#include "01-iterative/echo.hpp"

#include "01-iterative/rio.hpp"

#include <cerrno>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <span>
#include <sys/socket.h>
#include <sys/time.h>

namespace cs {

namespace {

// 64 KiB, not RIO's 8 KiB default: fewer system calls per byte, and fewer small writes for Nagle's
// algorithm to hold back. A write under the MSS that finds data of ours still unacknowledged waits
// for an ACK, and the client, busy only reading, delays its ACKs by ~40 ms; a 64 KiB write ends
// in such a piece too, so set_no_delay() turns Nagle off as well (1 MiB echoes on 03: 0.36x
// echo-asio at p99 43 ms with Nagle, 1.14x at p99 1.2 ms without). The buffer is on the heap
// because 03's threads may run on stacks as small as 64 KiB.
constexpr std::size_t kEchoChunk = 64UL * 1024;

}  // namespace

bool set_idle_timeout(int connfd, int seconds) {
    if (seconds == 0) return true;
    // The timeout is per call, not per connection: each read() or write() may wait this long.
    // A signal still interrupts such a call with EINTR (never restarted: the timeout would be
    // wrong), and RIO retries it with the full timeout again.
    timeval limit{.tv_sec = seconds, .tv_usec = 0};
    return ::setsockopt(connfd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit) == 0 &&
           ::setsockopt(connfd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit) == 0;
}

bool set_no_delay(int connfd) {
    int one = 1;
    return ::setsockopt(connfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0;
}

// [todo:1 the echo loop | tests: EchoesOneLine, EchoesBytesWithoutNewlineBeforeHalfClose, EchoesEightMiBLine, ClosesConnectionAfterClientEofAndFullEcho, SurvivesClientThatClosesWithoutReading, EchoesPartialLineWhenClientHalfCloses]
//? Read what the client sent with read_some() (rio.hpp) into a kEchoChunk buffer, and writen() all
//? of it back, until read_some() returns 0 (EOF). Never wait for a '\n' (RFC 862). On -1, fill in
//? the EchoResult (echo.hpp): EAGAIN means the idle timeout ran out (idle, not an error).
//? Count the bytes echoed. One client's error ends that client only: never exit().
namespace {

// On a blocking socket, EAGAIN can only mean that SO_RCVTIMEO or SO_SNDTIMEO ran out.
void record_failure(EchoResult& result, const char* call) {
    result.idle = errno == EAGAIN || errno == EWOULDBLOCK;
    result.error = result.idle ? 0 : errno;
    result.failed_call = call;
}

}  // namespace

// [slide:echo-loop]
EchoResult echo_until_eof(int connfd) {
    EchoResult result;
    auto buffer = std::make_unique_for_overwrite<std::byte[]>(kEchoChunk);
    for (;;) {
        // Whatever one read() brings, a line or not: an echo never waits for a '\n' (RFC 862).
        ssize_t n = read_some(connfd, {buffer.get(), kEchoChunk});
        if (n == 0) return result;  // client closed (EOF) and everything was echoed
        if (n < 0) {                // ECONNRESET, or EAGAIN: the idle timeout ran out
            record_failure(result, "read");
            return result;
        }
        // writen: a short count is normal on a socket; it sends the rest, and retries EINTR.
        if (writen(connfd, std::span(buffer.get(), static_cast<std::size_t>(n))) < 0) {
            record_failure(result, "write");  // EPIPE or ECONNRESET: the client left without reading
            return result;
        }
        result.bytes += static_cast<std::uint64_t>(n);
    }
}
// [/slide]
//| EchoResult echo_until_eof(int connfd) {
//|     (void)connfd;  // not served yet: the client is hung up on at once
//|     return {};
//| }
// [/todo]

}  // namespace cs
