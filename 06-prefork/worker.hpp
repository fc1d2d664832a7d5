// 06-prefork/worker.hpp — one worker process: 05's EventLoop over a listener, until told to stop.
// The worker knows nothing of other workers and has no channel to its master: it learns to stop
// from a signal (SIGTERM from the master, SIGHUP from the kernel when the master dies) and says
// it is ready by writing its slot to the master's ready pipe.
#pragma once

#include "common/fd.hpp"
#include "common/log.hpp"

#include <chrono>

namespace lesson06 {

struct WorkerSetup {
    int slot = 0;
    int ready_fd = -1;  // the master's ready pipe: one byte, our slot, once we serve
    std::chrono::milliseconds grace{5000};
    int max_conns = 1000;  // per worker
    std::chrono::seconds idle_timeout{0};
};

// In the child, right after fork(): serves `listener` with 05's loop, then stops gracefully.
// Never returns: _exit(0) after a graceful stop, _exit(1) if it could not start.
[[noreturn]] void run_worker(cs::Fd listener, const WorkerSetup& setup, const cs::Log& log);

}  // namespace lesson06
