// common/fd.cpp — the one close() every descriptor in the project goes through.
// taught in: 01-iterative
#include "common/fd.hpp"

#include <unistd.h>

namespace cs {

void Fd::reset(int fd) noexcept {
    if (fd_ >= 0) {
        // Never retry close() on EINTR: on Linux the descriptor is released even then, and a
        // retry could close a descriptor another thread has just been given.
        ::close(fd_);
    }
    fd_ = fd;
}

}  // namespace cs
