// 01-iterative/rio.hpp — robust I/O in the style of CS:APP's RIO, unbuffered layer, in C++20.
// New here: a read or write may move fewer bytes than asked (a short count), and a signal may
//   interrupt a blocked call (EINTR). These functions retry both, so the echo loop never has to.
// Errors are values, not exceptions: -1 with errno set, because a per-connection error must
//   close that connection and nothing else. (The buffered LineReader is in common/rio.hpp.)
// Used from 02 on through cs_common (lesson01_io); namespace cs, like the rest of the shared code.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <sys/types.h>

namespace cs {

// Reads until `out` is full or EOF. Returns the byte count (less than out.size() only at EOF),
// or -1 with errno set. Retries EINTR and short counts.
ssize_t readn(int fd, std::span<std::byte> out);

// One read(), retried after EINTR: whatever the kernel has now (at least one byte), 0 at EOF, or
// -1 with errno set. What an echo needs: it never waits for more than the peer has sent.
ssize_t read_some(int fd, std::span<std::byte> out);

// Writes all of `in`. Returns in.size(), or -1 with errno set (EPIPE, ECONNRESET, ...).
ssize_t writen(int fd, std::span<const std::byte> in);

// Convenience for tests and text: the bytes of a string, without copying.
inline std::span<const std::byte> as_bytes(std::string_view text) {
    return std::as_bytes(std::span<const char>(text.data(), text.size()));
}

}  // namespace cs
