// 07-master-worker/share.hpp — three ways for N processes to serve one port (--share).
//
//   inherit    the master listens, then forks: a descriptor survives fork(), so every worker holds
//              the very same socket (one inode in every /proc/<pid>/fd) and one accept queue
//   reuseport  every worker opens a listener of its own with SO_REUSEPORT (N inodes, N queues);
//              the kernel spreads new connections over them by a hash of the 4-tuple.
//              Caveat: closing one of these listeners resets the connections queued on it.
//   pass       workers are fork+exec'd, so they inherit nothing but their channel; the master
//              sends them the listening socket over it (SCM_RIGHTS), as nginx's channels can
// The master's "port socket" is the listener in inherit and pass modes; in reuseport mode it is
// a socket bound with SO_REUSEPORT but never listening: it holds the port (and learns it for
// --port 0) and receives no connections, since only listening sockets are offered SYNs.
#pragma once

#include "common/fd.hpp"

#include <cstdint>
#include <string>

namespace lesson07 {

enum class Share { kInherit, kReusePort, kPass };

const char* share_name(Share share);

// The master's port socket (see above). Throws std::system_error naming the failed call.
cs::Fd open_port_socket(Share share, const std::string& host, std::uint16_t port);

// A socket handed over by the systemd socket-activation convention (LISTEN_PID = our pid,
// LISTEN_FDS >= 1: the socket is descriptor 3), which is also how our own SIGUSR2 upgrade hands
// the port to the new master. Empty when there is none. Throws when it cannot be used.
cs::Fd take_inherited_socket(Share share);

// reuseport: a worker's own listener, on the address the master's port socket is bound to.
cs::Fd open_own_listener(const cs::Fd& port_socket);

// Moves descriptor `fd` to number `target` in a child about to exec(), without close-on-exec.
// Returns false (errno set) on failure.
bool place_fd_for_exec(int fd, int target);

}  // namespace lesson07
