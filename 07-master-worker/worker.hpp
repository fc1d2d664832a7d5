// 07-master-worker/worker.hpp — one worker process: 05's EventLoop over a listener, until its channel says stop.
// 06's worker with a channel instead of signals: the worker says it is ready, takes orders (stats, stop within
// G ms) and learns that the master died (EOF), all on its end of the channel, which is the loop's stop fd.
#pragma once

#include "common/fd.hpp"
#include "common/log.hpp"

#include <chrono>

namespace lesson07 {

struct WorkerSetup {
    int slot = 0;
    bool exclusive = true;  // --accept-lock exclusive: EPOLLEXCLUSIVE on the listener
    int max_conns = 1000;   // per worker
    std::chrono::seconds idle_timeout{0};
};

// In the child, right after fork(): serves `listener` with 05's loop until the channel says stop, then stops
// gracefully. Never returns: _exit(0) after a graceful stop, _exit(1) if it could not start.
[[noreturn]] void run_worker(cs::Fd listener, cs::Fd channel, const WorkerSetup& setup, const cs::Log& log);

// --share pass: a worker exec'd by the master (--worker-channel FD) waits for its slot and the listening
// socket on the channel, then runs as above.
[[noreturn]] void run_exec_worker(int channel_fd, WorkerSetup setup, const cs::Log& log);

}  // namespace lesson07
