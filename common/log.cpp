// common/log.cpp — formatting the line prefix and writing each line with a single write(2).
#include "common/log.hpp"

#include "common/net.hpp"

#include <cstdio>
#include <unistd.h>

namespace cs {

void Log::write_line(std::string_view message) const {
    std::string line = thread_ids_ ? fmt::format("[{} {}:{}] {}\n", lesson_, ::getpid(), ::gettid(), message)
                                   : fmt::format("[{} {}] {}\n", lesson_, ::getpid(), message);
    // Logging must never stop a server: a short or failed write to stderr is ignored.
    [[maybe_unused]] ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
}

void announce_listening(const Fd& listener) {
    fmt::print("listening on {}\n", local_endpoint(listener.get()));
    std::fflush(stdout);  // stdout is a pipe under test: without the flush the line sits in a buffer
}

}  // namespace cs
