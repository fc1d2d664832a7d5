// common/rio.hpp — robust I/O in the style of CS:APP's RIO package, written for C++20.
// taught in: 01-iterative
//
// Two layers:
//  * readn()/read_some()/writen(): unbuffered, for blocking descriptors. 01 shows them, so they
//    live in 01-iterative/rio.hpp (included here); they retry short counts and EINTR.
//  * LineReader: a per-connection buffered reader with readline(), read_lines() and readn().
//    It is deliberately non-copyable and non-movable: the bytes it has buffered belong to one
//    connection, and a copy of the reader is a copy of those bytes that one of the two owners
//    will never see. (Passing the reader by value is exactly how the textbook select() server
//    loses pipelined lines.)
//
// Errors are values, not exceptions: functions return -1 and leave errno set, because a
// per-connection error must close that connection and nothing else.
#pragma once

#include "01-iterative/rio.hpp"

#include <cstddef>
#include <memory>
#include <span>
#include <sys/types.h>

namespace cs {

// One per connection; owned by whoever serves that connection (one thread or process).
class LineReader {
public:
    static constexpr std::size_t kDefaultCapacity = 8192;

    explicit LineReader(int fd, std::size_t capacity = kDefaultCapacity);
    LineReader(const LineReader&) = delete;
    LineReader& operator=(const LineReader&) = delete;
    LineReader(LineReader&&) = delete;
    LineReader& operator=(LineReader&&) = delete;

    // Copies one line, '\n' included, into `out`. A line longer than `out` comes back in
    // out.size() pieces (nothing is truncated or dropped); the bytes after the last '\n' come
    // back at EOF. Returns the byte count, 0 at EOF, -1 on error with errno set.
    ssize_t readline(std::span<std::byte> out);

    // Like readline(), but returns every complete line that one read() brought in, in one
    // piece, so a server can answer pipelined lines with one write() instead of one per line.
    // Without any '\n' in a full buffer it returns what it has, as readline() does.
    ssize_t read_lines(std::span<std::byte> out);

    // Reads exactly out.size() bytes (fewer only at EOF), through the buffer.
    ssize_t readn(std::span<std::byte> out);

    // Bytes read from the descriptor but not yet handed out.
    std::size_t buffered() const noexcept { return end_ - begin_; }

private:
    std::span<const std::byte> pending() const noexcept;
    std::size_t take(std::span<std::byte> out, std::size_t count) noexcept;
    ssize_t fill();  // one read() into the free space: >0 bytes, 0 at EOF, -1 on error

    int fd_;
    std::size_t capacity_;
    // Not a std::vector: that would zero every byte, making all of it resident at once, and an
    // idle client of 03 would cost the whole buffer instead of the page its one line touched.
    std::unique_ptr<std::byte[]> buffer_;
    std::size_t begin_ = 0;  // first unread byte
    std::size_t end_ = 0;    // one past the last buffered byte
};

}  // namespace cs
