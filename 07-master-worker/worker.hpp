// 07-master-worker/worker.hpp — one worker process: an epoll loop over the listener, its channel to the
// master, and its connections (the byte rules are 04-select/echo_connection.hpp's, as in 04 and 05).
//
// Graceful stop (kStop from the master, SIGTERM, or the master gone): stop watching the listener, accept
// what is already queued for us, close the listener; then close every connection that is idle —
// nothing left to echo and silent for kIdleAfter — and give the busy ones until the grace
// deadline, as nginx closes idle keep-alive connections at once and lets requests in flight end.
// Separately, while serving: a connection silent for --idle-timeout is closed (the same rule as 04
// and 05), and a worker holding --max-conns connections stops accepting until one closes.
#pragma once

#include "accept_lock.hpp"
#include "common/contract.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"
#include "share.hpp"

#include <chrono>
#include <cstddef>

namespace lesson07 {

struct WorkerSetup {
    int slot = 0;
    Share share = Share::kInherit;
    LockMode lock_mode = LockMode::kExclusive;
    std::chrono::milliseconds grace{5000};  // for a SIGTERM sent to this worker (kStop brings its own)
    std::size_t max_conns = 1000;           // --max-conns, this worker's own cap
    std::chrono::seconds idle_timeout{cs::kDefaultIdleTimeout};  // --idle-timeout; 0: never
    cs::Fd channel;                                              // this worker's end
    cs::Fd port_socket;          // inherit, pass: the listener itself; reuseport: the master's bound socket
    AcceptLock* lock = nullptr;  // mutex mode only
};

// Runs until stopped; returns the process exit code.
int run_worker(WorkerSetup setup, const cs::Log& log);

// A pass-mode worker started by exec(): waits for its slot and listening socket on the channel,
// then runs. `setup` holds what the command line says (lock mode, grace, limits). Returns the exit code.
int run_exec_worker(int channel_fd, WorkerSetup setup, const cs::Log& log);

// Signal dispositions for a fresh child of the master (call first thing after fork()): SIGTERM
// (stop) and SIGUSR1 (print your stats line) set flags and stay blocked except inside
// epoll_pwait(), as the master's signals do around ppoll(); SIGPIPE is ignored; SIGINT, SIGHUP,
// SIGUSR2 are ignored, because a terminal's Ctrl-C reaches the whole process group and those are
// the master's to act on.
void reset_signals_for_worker();

}  // namespace lesson07
