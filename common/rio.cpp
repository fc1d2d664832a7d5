// common/rio.cpp — the buffered LineReader (see rio.hpp; readn/writen are in 01-iterative/rio.cpp).
// taught in: 01-iterative
#include "common/rio.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace cs {

LineReader::LineReader(int fd, std::size_t capacity)
    : fd_(fd), capacity_(std::max<std::size_t>(capacity, 1)),
      buffer_(std::make_unique_for_overwrite<std::byte[]>(capacity_)) {}

std::span<const std::byte> LineReader::pending() const noexcept {
    return std::span<const std::byte>(buffer_.get() + begin_, end_ - begin_);
}

std::size_t LineReader::take(std::span<std::byte> out, std::size_t count) noexcept {
    count = std::min({count, out.size(), buffered()});
    std::memcpy(out.data(), buffer_.get() + begin_, count);
    begin_ += count;
    if (begin_ == end_) begin_ = end_ = 0;
    return count;
}

ssize_t LineReader::fill() {
    if (begin_ > 0) {  // slide the unread bytes to the front to make room at the back
        std::memmove(buffer_.get(), buffer_.get() + begin_, buffered());
        end_ -= begin_;
        begin_ = 0;
    }
    for (;;) {
        ssize_t n = ::read(fd_, buffer_.get() + end_, capacity_ - end_);
        if (n < 0 && errno == EINTR) continue;
        if (n > 0) end_ += static_cast<std::size_t>(n);
        return n;
    }
}

ssize_t LineReader::readline(std::span<std::byte> out) {
    std::size_t copied = 0;
    while (copied < out.size()) {
        if (buffered() == 0) {
            ssize_t n = fill();
            if (n == 0) break;  // EOF: hand out the partial line, if any
            if (n < 0) return copied > 0 ? static_cast<ssize_t>(copied) : -1;
        }
        auto data = pending();
        std::size_t room = out.size() - copied;
        std::size_t scan = std::min(room, data.size());
        auto* newline = std::memchr(data.data(), '\n', scan);
        std::size_t count =
            newline ? static_cast<std::size_t>(static_cast<const std::byte*>(newline) - data.data()) + 1 : scan;
        copied += take(out.subspan(copied), count);
        if (newline) break;
    }
    return static_cast<ssize_t>(copied);
}

ssize_t LineReader::read_lines(std::span<std::byte> out) {
    if (out.empty()) return 0;
    for (;;) {
        auto data = pending().first(std::min(buffered(), out.size()));
        // The last '\n' we can hand out: everything up to it is complete lines.
        auto last_newline = std::find(data.rbegin(), data.rend(), std::byte{'\n'});
        if (last_newline != data.rend()) {
            return static_cast<ssize_t>(take(out, static_cast<std::size_t>(data.rend() - last_newline)));
        }
        bool no_room_to_wait = data.size() == out.size() || buffered() == capacity_;
        if (no_room_to_wait) return static_cast<ssize_t>(take(out, data.size()));  // over-long line: a piece
        ssize_t n = fill();
        if (n == 0) return static_cast<ssize_t>(take(out, buffered()));  // EOF: the partial line, or 0
        if (n < 0) return buffered() > 0 ? static_cast<ssize_t>(take(out, buffered())) : -1;
    }
}

ssize_t LineReader::readn(std::span<std::byte> out) {
    std::size_t copied = 0;
    while (copied < out.size()) {
        if (buffered() == 0) {
            ssize_t n = fill();
            if (n == 0) break;
            if (n < 0) return copied > 0 ? static_cast<ssize_t>(copied) : -1;
        }
        copied += take(out.subspan(copied), out.size() - copied);
    }
    return static_cast<ssize_t>(copied);
}

}  // namespace cs
