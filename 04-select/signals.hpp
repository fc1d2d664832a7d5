// 04-select/signals.hpp — SIGINT/SIGTERM (stop) and SIGUSR1 (stats) turned into a readable
// descriptor: the self-pipe trick.
//
// Why not just a flag set by the handler? The loop checks the flag, then calls select(); a signal
// that lands between the two sets the flag but does not wake select(), which may then sleep until
// the next client event, or forever. The handler writes one byte into a pipe as well, and the
// loop watches the pipe's read end like any socket: a signal becomes readiness, which select()
// cannot miss. (pselect() closes the same race by unblocking signals only inside the call; the
// pipe works with any waiting call. 05-epoll-pool uses signalfd, the kernel's own version.)
// The byte only wakes the loop; the flags say which signals came. The byte cannot say it alone:
// a storm of SIGUSR1 may fill the non-blocking pipe, and a stop byte that did not fit would be lost.
// Owner: main(); one per process (the handler writes to the one installed last).
#pragma once

#include "common/fd.hpp"

namespace lesson04 {

class Signals {
public:
    struct Received {
        bool stop = false;   // SIGINT or SIGTERM
        bool stats = false;  // SIGUSR1
    };

    Signals();   // pipe2() and sigaction(); throws std::system_error naming the call
    ~Signals();  // the handler stays installed but no longer writes anywhere
    Signals(const Signals&) = delete;
    Signals& operator=(const Signals&) = delete;

    int read_fd() const noexcept { return read_end_.get(); }

    // Empties the pipe and says which signals arrived since the last call (when read_fd() is readable).
    Received take();

private:
    cs::Fd read_end_;
    cs::Fd write_end_;
};

}  // namespace lesson04
