// common/echo.cpp — echo one connection to EOF with the RIO reader.
#include "common/echo.hpp"

#include "common/rio.hpp"

#include <array>
#include <cerrno>

namespace cs {

// [slide:echo-loop]
EchoResult echo_until_eof(int connfd) {
    EchoResult result;
    LineReader reader(connfd);               // one reader per connection, never copied
    std::array<std::byte, LineReader::kDefaultCapacity> lines;
    for (;;) {
        ssize_t n = reader.read_lines(lines);  // complete lines, a piece of a long one, or the tail at EOF
        if (n == 0) return result;             // client closed (EOF) and everything was echoed
        if (n < 0) {
            result.error = errno;
            result.failed_call = "read";
            return result;
        }
        if (writen(connfd, std::span(lines).first(static_cast<std::size_t>(n))) < 0) {
            result.error = errno;              // EPIPE or ECONNRESET: the client left without reading
            result.failed_call = "write";
            return result;
        }
        result.bytes += static_cast<std::uint64_t>(n);
    }
}
// [/slide]

}  // namespace cs
