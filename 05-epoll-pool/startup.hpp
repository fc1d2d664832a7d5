// 05-epoll-pool/startup.hpp — what main() sets up before the loops run: the descriptor limit, the listeners.
#pragma once

#include "common/cli.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"

#include <vector>

namespace lesson05 {

// Raises RLIMIT_NOFILE (soft) to the hard limit and logs what it did: every connection is a
// descriptor, and the usual soft limit of 1024 would stop us long before 10,000 clients.
void raise_nofile_limit(const cs::Log& log);

// `count` non-blocking listeners on options.host:options.port (SO_REUSEPORT when count > 1).
// Throws std::system_error naming the call, like cs::listen_tcp.
std::vector<cs::Fd> open_listeners(const cs::ServerOptions& options, int count);

}  // namespace lesson05
