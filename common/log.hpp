// common/log.hpp — one log line per event, on stderr, naming the lesson and the process.
//
//   [02-process 4712] 127.0.0.1:51234 connected (fd 4)
//   [03-thread 4711:4713] 127.0.0.1:51234 closed (fd 5, 12 bytes echoed)
//
// Each line is formatted first and handed to one write(2), so lines from different threads
// or processes never interleave mid-line. Not async-signal-safe (it allocates): never log
// from a signal handler; set a flag there and log in the main loop.
// The "listening on HOST:PORT" line goes to stdout instead: it is the contract's readiness
// signal that tests and graders wait for.
#pragma once

#include "common/fd.hpp"

#include <atomic>
#include <fmt/format.h>
#include <string>
#include <string_view>

namespace cs {

class Log {
public:
    explicit Log(std::string lesson) : lesson_(std::move(lesson)) {}

    void set_quiet(bool quiet) noexcept { quiet_ = quiet; }             // --quiet
    void show_thread_ids(bool show) noexcept { thread_ids_ = show; }   // lessons with threads

    // Start-up, shutdown, errors that are not about one connection: always printed.
    template <class... Args>
    void info(fmt::format_string<Args...> format, Args&&... args) const {
        write_line(fmt::format(format, std::forward<Args>(args)...));
    }

    // Per-connection events (connect, close, I/O errors): silenced by --quiet.
    template <class... Args>
    void conn(fmt::format_string<Args...> format, Args&&... args) const {
        if (!quiet_) write_line(fmt::format(format, std::forward<Args>(args)...));
    }

    bool quiet() const noexcept { return quiet_; }

private:
    void write_line(std::string_view message) const;

    std::string lesson_;
    std::atomic<bool> quiet_{false};
    std::atomic<bool> thread_ids_{false};
};

// Prints "listening on HOST:PORT" (the real port, even for --port 0) to stdout and flushes.
void announce_listening(const Fd& listener);

}  // namespace cs
