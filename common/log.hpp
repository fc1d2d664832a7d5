// common/log.hpp — one log line per event, on stderr, naming the lesson and the process.
// taught in: 01-iterative
//
//   [02-process 4712] 127.0.0.1:51234 connected (fd 4)
//   [03-thread 4711:4713] 127.0.0.1:51234 closed (fd 5, 12 bytes echoed)
//
// Each line is formatted first and handed to one write(2), so lines from different threads
// or processes never interleave mid-line. Not async-signal-safe (it allocates): never log
// from a signal handler; set a flag there and log in the main loop.
// The "listening on HOST:PORT" line goes to stdout instead: it is the contract's readiness
// signal that tests and graders wait for.
//
// Logging never stops a server. stderr may be a pipe that nobody reads (a supervisor that is
// busy, `2>&1 | less` left on its first page): once its ~64 KiB are full, a blocking write(2)
// waits until someone reads, and a server waiting in a log line serves no one and cannot even
// stop, because it logs on its way out. So a line is written only if it can be written *now*;
// otherwise it is dropped and counted, and the SIGUSR1 stats line says how many (Log::stats).
// make_stderr_nonblocking() (log.cpp) chooses how "now" is done for what stderr is.
#pragma once

#include "common/fd.hpp"

#include <atomic>
#include <cstdint>
#include <fmt/format.h>
#include <string>
#include <string_view>

namespace cs {

// Makes every later write to stderr return at once instead of waiting for room. Called once by
// prepare_process() (common/process.hpp), before the server starts a thread or forks a child:
// it replaces descriptor 2, which every thread and child then shares.
void make_stderr_nonblocking();

// Log lines dropped so far because stderr had no room, by this process and every process it
// forked after make_stderr_nonblocking() (one counter in shared memory: 02's children and 06's
// workers count into their parent's). A process that exec()s starts its own count.
std::uint64_t dropped_log_lines() noexcept;

class Log {
public:
    explicit Log(std::string lesson) : lesson_(std::move(lesson)) {}

    void set_quiet(bool quiet) noexcept { quiet_ = quiet; }           // --quiet
    void show_thread_ids(bool show) noexcept { thread_ids_ = show; }  // lessons with threads

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

    // The SIGUSR1 line: the lesson's "stats: ..." text, then "; N log lines dropped". Without the
    // count a reader of a log with holes could not tell a quiet server from a muzzled one.
    template <class... Args>
    void stats(fmt::format_string<Args...> format, Args&&... args) const {
        write_line(fmt::format("{}; {} log lines dropped", fmt::format(format, std::forward<Args>(args)...),
                               dropped_log_lines()));
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
// The same for an endpoint read earlier: a caller whose listener another thread now owns (05).
void announce_listening(const std::string& endpoint);

}  // namespace cs
