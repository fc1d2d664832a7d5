// 01-iterative/rio.cpp — readn(), read_some() and writen(): short counts and EINTR, retried.
// (See rio.hpp for the contract.)
#include "01-iterative/rio.hpp"

#include <cerrno>
#include <unistd.h>

namespace cs {

ssize_t readn(int fd, std::span<std::byte> out) {
    std::size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ::read(fd, out.data() + done, out.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;  // a signal handler ran; nothing was read, try again
            return -1;
        }
        if (n == 0) break;  // EOF: the caller sees a short count
        done += static_cast<std::size_t>(n);
    }
    return static_cast<ssize_t>(done);
}

ssize_t read_some(int fd, std::span<std::byte> out) {
    for (;;) {
        ssize_t n = ::read(fd, out.data(), out.size());
        if (n < 0 && errno == EINTR) continue;  // a signal handler ran; nothing was read, try again
        return n;
    }
}

ssize_t writen(int fd, std::span<const std::byte> in) {
    std::size_t done = 0;
    while (done < in.size()) {
        // A blocking socket may still accept only part of a large write (a short count) when
        // a signal arrives mid-transfer; the loop sends the rest.
        ssize_t n = ::write(fd, in.data() + done, in.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        done += static_cast<std::size_t>(n);
    }
    return static_cast<ssize_t>(done);
}

}  // namespace cs
