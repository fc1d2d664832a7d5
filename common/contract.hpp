// common/contract.hpp — the numbers every lesson shares, named once: the contract's defaults, the
// accept pause, the read budget of the event loops, and the exit code of a loop that failed.
// taught in: 01-iterative
// Each lesson that uses one says why at the line that does; this file only keeps them equal.
#pragma once

#include <chrono>
#include <cstddef>

namespace cs {

// --idle-timeout's default (the contract): a client silent this long is closed. 0 means never.
inline constexpr int kDefaultIdleTimeout = 300;  // seconds

// --max-conns's default where a process or thread per client is the cost (02, 03).
inline constexpr int kDefaultMaxConns = 1024;

// accept() failed with EMFILE, ENFILE, ENOMEM or ENOBUFS: it would fail again at once, so rest
// this long instead of spinning; the queued clients wait in the backlog meanwhile.
inline constexpr auto kAcceptPause = std::chrono::milliseconds(100);

// Event loops (04 on): bytes read from one client per wake-up, so no sender hogs the loop.
inline constexpr std::size_t kReadBudget = std::size_t{64} * 1024;

// The loop's own wait (select(), epoll_wait()) failed at run time with something other than
// EINTR: a bug, not a client. Distinct from kExitStartup (1): the server did start and serve.
inline constexpr int kExitLoopFailed = 3;

}  // namespace cs
