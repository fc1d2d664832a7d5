// 07-master-worker/starter/share.hpp — three ways for N processes to serve one port (--share), YOURS to
// finish in share.cpp (lesson 07 starter):
//   inherit    the master listens, then forks: every worker holds the very same socket
//   reuseport  every worker opens a listener of its own with SO_REUSEPORT; the master only holds
//              the port (bound, never listening)
//   pass       workers are fork+exec'd and inherit nothing but their channel; the master sends
//              them the listening socket over it (SCM_RIGHTS)
#pragma once

#include "07-master-worker/starter/worker.hpp"
#include "common/cli.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"

#include <string>
#include <vector>

namespace master_worker_starter {

enum class Share { kInherit, kReusePort, kPass };

inline constexpr int kChannelFd = 3;  // pass mode: where an exec'd worker finds its channel

// The master's port socket. Throws std::system_error naming the failed call.
cs::Fd open_port_socket(Share share, const cs::ServerOptions& options);

// reuseport: a worker's own listener on the port socket's address. Throws std::system_error.
cs::Fd open_own_listener(const cs::Fd& port_socket);

// pass: the listening socket over a channel, with the worker's slot as the one byte of data.
bool send_socket(int channel, int fd, int slot);  // false (errno set) on failure
cs::Fd receive_socket(int channel, int& slot);    // empty on failure

// A pass-mode worker, exec'd by the master with --worker-channel: it inherited nothing but its
// channel, and receives its slot and the listening socket there. Returns the exit code.
int run_exec_worker(int channel_fd, LockMode lock_mode, std::chrono::milliseconds grace, const cs::Log& log);

// execvp() of our own command line (argv[0] as we were started): how pass mode starts a worker.
[[noreturn]] void exec_self(std::vector<std::string> argv, const cs::Log& log);

}  // namespace master_worker_starter
