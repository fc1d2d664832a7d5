// 07-master-worker/channel.hpp — the master/worker channel: one socketpair per worker, fixed-size messages.
//
// As in nginx: socketpair(AF_UNIX, SOCK_STREAM), created close-on-exec before fork(); the master
// keeps one end, the worker the other. Every message is one send() of a small fixed-size struct,
// so it arrives in one piece; SCM_RIGHTS ancillary data carries descriptors along with a message
// (pass mode: the listening socket, and the accept-lock memory in mutex mode).
// The channel doubles as a liveness signal: when the master dies, the worker reads EOF.
// Owner: each end belongs to exactly one process. A forked worker must close the master's ends
// of the other workers' channels it inherited, or a dead master would never look dead.
#pragma once

#include "common/fd.hpp"

#include <cstdint>
#include <span>
#include <vector>

// The lesson's files share these declarations, so they live in a named namespace; helpers that
// one file keeps to itself stay in that file's anonymous namespace.
namespace lesson07 {

enum class Command : std::uint32_t {
    kListener = 1,  // master -> worker (pass mode): your slot, and the listening socket as SCM_RIGHTS
    kReady,         // worker -> master: I am watching the listener; count me in
    kStop,          // master -> worker: stop accepting, finish open connections within grace_ms, exit
    kStats,         // worker -> master: the counters, just before exiting (for the table at exit)
};

// What each worker counts for the thundering-herd lab.
struct Counters {
    std::uint64_t accepted = 0;       // connections accept() gave this worker
    std::uint64_t empty_wakeups = 0;  // woken for the listener, but the first accept() found nothing
    std::uint64_t lock_busy = 0;      // mutex mode: tried the accept lock while another worker held it
    std::uint64_t open = 0;           // connections open at the time of the report
};

struct Message {
    Command command{};
    std::int32_t slot = 0;      // the worker's number (0 .. workers-1)
    std::int64_t grace_ms = 0;  // kStop: how long open connections may take; 0 closes them at once
    Counters counters;          // kStats
};

struct Channel {
    cs::Fd master_end;
    cs::Fd worker_end;
};

// socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC). Throws std::system_error naming the call.
Channel make_channel();

// One message, with `fds` attached (SCM_RIGHTS). False (errno set) if the send failed.
bool send_message(int fd, const Message& message, std::span<const int> fds = {});

// Receives one message; descriptors that came with it are appended to *fds (close-on-exec).
// Returns 1 for a message, 0 at EOF (the other process is gone), -1 on error (errno; EAGAIN
// when a non-blocking channel has nothing to read).
int receive_message(int fd, Message& message, std::vector<cs::Fd>* fds = nullptr);

}  // namespace lesson07
