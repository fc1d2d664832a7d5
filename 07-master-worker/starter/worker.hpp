// 07-master-worker/starter/worker.hpp — one worker process of YOUR master-worker server (lesson 07 starter).
// Done for you, in worker.cpp: the worker's event loop, 05's level-triggered epoll loop over one
// listener and its connections, with a graceful stop. Two TODOs wait there for the accept lock.
// Owner: the worker process, single-threaded; the master never calls anything here.
#pragma once

#include "common/fd.hpp"
#include "common/log.hpp"

#include <chrono>
#include <pthread.h>

namespace master_worker_starter {

enum class LockMode { kNone, kExclusive, kMutex };  // --accept-lock: who wakes for a new connection

struct WorkerSetup {
    int slot = 0;     // 0 .. workers-1: the master's name for this worker
    cs::Fd listener;  // the listening socket this worker accepts from
    cs::Fd channel;   // this worker's end of its channel to the master
    LockMode lock_mode = LockMode::kExclusive;
    pthread_mutex_t* accept_mutex = nullptr;  // --accept-lock mutex: in memory every worker shares
    std::chrono::milliseconds grace{5000};    // on SIGTERM: how long busy connections may still take
};

// The signal dispositions of a fresh worker (call first thing after fork(), or after exec()):
// SIGTERM starts a graceful stop; SIGINT, SIGHUP, SIGPIPE are ignored (the master decides); the
// signal mask the master left blocked is replaced.
void reset_signals_for_worker();

// Serves until a SIGTERM (or the master's death: EOF on the channel) and the end of its open
// connections. Writes one byte on the channel once it accepts: the master counts it ready.
// Returns the worker's exit code.
int run_worker(WorkerSetup setup, const cs::Log& log);

}  // namespace master_worker_starter
