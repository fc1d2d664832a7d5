// 07-master-worker/channel.hpp — the master/worker channel: one socketpair per worker, typed fixed-size messages.
// As in nginx: socketpair(AF_UNIX, SOCK_STREAM), made close-on-exec before fork(); the master keeps one end, the
// worker the other. Every message is one sendmsg() of a small fixed-size struct, so it arrives in one piece, and
// SCM_RIGHTS ancillary data can carry a descriptor with it (--share pass: the listening socket).
// The channel is also a liveness signal: when the master dies, the worker reads EOF.
// Owner: each end belongs to exactly one process; a forked worker closes the master's ends it inherited.
#pragma once

#include "common/fd.hpp"

#include <cstdint>

namespace lesson07 {

// [slide:messages]
enum class Command : std::uint32_t {
    kListener = 1,  // master -> worker (--share pass): your slot; the listening socket comes attached
    kReady,         // worker -> master: my loop watches the listener, count me in
    kStats,         // master -> worker (SIGUSR1): print your stats line
    kStop,          // master -> worker: finish your connections within grace_ms, then exit
};

struct Message {
    Command command{};
    std::int32_t slot = 0;      // the worker's number, 0 .. workers-1
    std::int64_t grace_ms = 0;  // kStop: how long open connections may take; 0 closes them at once
};
// [/slide]

struct Channel {
    cs::Fd master_end;
    cs::Fd worker_end;
};

// socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC). Throws std::system_error naming the call.
Channel make_channel();

// One message, with descriptor `attached` (SCM_RIGHTS) unless it is -1. False (errno set) if the send failed.
bool send_message(int fd, const Message& message, int attached = -1);

// One message; a descriptor that came with it goes to *attached (close-on-exec). Returns 1 for a message,
// 0 at EOF (the other process is gone), -1 on error (errno; EAGAIN: a non-blocking channel is empty).
int receive_message(int fd, Message& message, cs::Fd* attached = nullptr);

}  // namespace lesson07
