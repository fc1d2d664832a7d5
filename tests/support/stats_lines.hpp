// tests/support/stats_lines.hpp — the SIGUSR1 stats lines of the server contract, read back from a
// server's stderr as numbers:
//
//   [04-select 4711] stats: 3 open, 120 accepted                      -> open 3, accepted 120
//   [05-epoll-pool 4711:4711] stats: 5 open, 9 accepted; loop 0: 3 open, 6 accepted; loop 1: ...
//                                       -> open 5, accepted 9, "loop 0 open" 3, "loop 0 accepted" 6, ...
//   [06-prefork 4712] stats: worker 0: 3 open, 120 accepted, 0 empty wake-ups, 0 lock-busy
//                                       -> "worker 0 open" 3, "worker 0 accepted" 120, ...
//   [06-prefork 4711] stats: master: 2 workers alive, 0 respawns  -> "master workers alive" 2, ...
//
// Each "; "-separated part may start with "NAME: "; its counts are "N words, N words".
#pragma once

#include "tests/support/server_process.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <sys/types.h>
#include <vector>

namespace cs::test {

struct StatsLine {
    pid_t pid = 0;                                    // from the "[lesson PID]" or "[lesson PID:TID]" prefix
    std::map<std::string, std::uint64_t> counts;      // "open", "loop 1 accepted", "master respawns", ...
    std::uint64_t at(const std::string& name) const;  // throws std::out_of_range naming what is missing
};

// Every stats line in `text`, in order.
std::vector<StatsLine> parse_stats_lines(const std::string& text);

// Sends SIGUSR1 to the server and waits until `lines` more stats lines have appeared on its stderr
// (06: the master's and one per worker). Returns only the new ones; fewer if the timeout passed.
std::vector<StatsLine> request_stats(const ServerProcess& server, int lines = 1,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(3));

}  // namespace cs::test
