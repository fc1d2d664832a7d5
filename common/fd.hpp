// common/fd.hpp — owns one file descriptor and closes it exactly once.
// taught in: 01-iterative
//
// Move-only: copying an Fd would mean two owners and a double close(), and a double close
// is worse than a leak because the second close() may hit a descriptor number the kernel has
// already handed to another connection. No implicit conversion to int: call get() and see it.
// Thread safety: none; one owner at a time, like a std::unique_ptr.
#pragma once

namespace cs {

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) noexcept : fd_(fd) {}
    ~Fd() { reset(); }

    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    Fd(Fd&& other) noexcept : fd_(other.release()) {}
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) reset(other.release());
        return *this;
    }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }

    // Gives up ownership: the caller now has to close the descriptor.
    int release() noexcept {
        int fd = fd_;
        fd_ = -1;
        return fd;
    }

    // Closes the current descriptor (if any) and owns `fd` instead.
    void reset(int fd = -1) noexcept;

private:
    int fd_ = -1;
};

}  // namespace cs
