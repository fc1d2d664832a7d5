// common/log.cpp — formatting the line prefix, and writing each line with one write(2) that
// taught in: 01-iterative
// never waits.
//
// Why not the other ways to keep a slow reader from stopping the server:
// - A writer thread with a bounded queue: 02 and 06 fork single-threaded children, and a thread
//   started before fork() does not exist in the child. One mechanism for every lesson is simpler.
// - O_NONBLOCK on descriptor 2 as inherited: the flag belongs to the open file description, which
//   the server shares with the shell or terminal that started it (`2>&1 | less`, an interactive
//   shell). The shell would then get EAGAIN on its own writes and break.
// What we do instead depends on what stderr is (make_stderr_nonblocking()):
// - a regular file (or block device): write(2) to it never waits for a reader. Used as is.
// - a socket (systemd's journal stream): send(MSG_DONTWAIT) is non-blocking for this call alone.
// - a pipe, FIFO, terminal or other device: opening /proc/self/fd/2 gives a *new* open file
//   description of the same pipe or terminal, ours alone, so it may be O_NONBLOCK. It replaces
//   descriptor 2, so every write to stderr in the server (CLI11's usage text too) stops waiting.
// - if that open fails (no /proc, another user's pipe, a pipe whose reader is gone: ENXIO), we
//   ask poll() for room first. That can still wait if another writer fills the pipe between the
//   two calls: best effort, and the one case left.
#include "common/log.hpp"

#include "common/net.hpp"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <fcntl.h>
#include <new>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cs {
namespace {

enum class Sink { kWrite, kSend, kPollThenWrite };

// Both are set once by make_stderr_nonblocking(), before any thread exists, and only read after.
Sink stderr_sink = Sink::kWrite;
std::atomic<std::uint64_t> dropped_here{0};
std::atomic<std::uint64_t>* dropped = &dropped_here;

// A lock-free atomic works the same in memory that several processes map (no hidden lock).
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

void share_dropped_counter() {
    void* page =
        ::mmap(nullptr, sizeof(std::atomic<std::uint64_t>), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) return;  // then each process counts its own drops: still a count
    dropped = new (page) std::atomic<std::uint64_t>{0};
}

// True when the whole line went out. A line of at most PIPE_BUF bytes is written to a pipe
// whole or not at all, so a line that cannot be written now leaves no half line behind.
bool write_now(std::string_view line) {
    auto wrote = [&](ssize_t n) { return n == static_cast<ssize_t>(line.size()); };
    switch (stderr_sink) {
        case Sink::kSend: return wrote(::send(STDERR_FILENO, line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL));
        case Sink::kPollThenWrite: {
            pollfd room{STDERR_FILENO, POLLOUT, 0};
            if (::poll(&room, 1, 0) != 1 || (room.revents & POLLOUT) == 0) return false;
            return wrote(::write(STDERR_FILENO, line.data(), line.size()));
        }
        case Sink::kWrite: break;
    }
    // EAGAIN (no room), EPIPE (no reader), EINTR: all mean "not now"; no retry, never a wait.
    return wrote(::write(STDERR_FILENO, line.data(), line.size()));
}

}  // namespace

void make_stderr_nonblocking() {
    share_dropped_counter();
    struct stat what {};
    if (::fstat(STDERR_FILENO, &what) < 0) return;
    if (S_ISREG(what.st_mode) || S_ISBLK(what.st_mode)) return;  // a file never makes a writer wait
    if (S_ISSOCK(what.st_mode)) {
        stderr_sink = Sink::kSend;  // a socket cannot be reopened through /proc (ENXIO)
        return;
    }
    int own = ::open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (own < 0) {
        stderr_sink = Sink::kPollThenWrite;
        return;
    }
    // Descriptor 2 now names our own description. Not close-on-exec, as it was: 06 exec()s itself.
    if (::dup2(own, STDERR_FILENO) < 0) stderr_sink = Sink::kPollThenWrite;
    ::close(own);
}

std::uint64_t dropped_log_lines() noexcept { return dropped->load(std::memory_order_relaxed); }

void Log::write_line(std::string_view message) const {
    std::string line = thread_ids_ ? fmt::format("[{} {}:{}] {}", lesson_, ::getpid(), ::gettid(), message)
                                   : fmt::format("[{} {}] {}", lesson_, ::getpid(), message);
    if (line.size() > PIPE_BUF - 1) line.resize(PIPE_BUF - 1);  // a longer line could be torn
    line += '\n';
    // Logging must never stop a server: a line that cannot go out now is dropped and counted.
    if (!write_now(line)) dropped->fetch_add(1, std::memory_order_relaxed);
}

void announce_listening(const Fd& listener) { announce_listening(local_endpoint(listener.get())); }

void announce_listening(const std::string& endpoint) {
    fmt::print("listening on {}\n", endpoint);
    std::fflush(stdout);  // stdout is a pipe under test: without the flush the line sits in a buffer
}

}  // namespace cs
