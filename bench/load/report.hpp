// bench/load/report.hpp — one run's numbers, as a table for people and a JSON line for scripts.
//
// A run with errors (wrong bytes, an early close, a reset) is not a measurement: the table
// says why and prints no rates or latencies, the JSON has "valid": false and nulls there.
#pragma once

#include "bench/load/proc_probe.hpp"
#include "bench/load/run.hpp"

#include <string>

namespace cs::bench {

struct RunReport {
    const LoadOptions* options = nullptr;
    Tally totals;                     // all worker tallies merged
    double window_s = 0;              // the measured window, as it really was
    bool server_sampled = false;      // --server-pid given and the process was there
    TreeSample server_before;         // before any connection
    TreeSample server_start;          // when the window opened (idle: every connection held)
    TreeSample server_end;            // when it closed
    int zombies_after = 0;            // zombie children left after the run settled
    double generator_cpu_s = 0;       // echo-load's own CPU during the window
    double generator_interval_s = 0;  // how long generator_cpu_s was measured over
    long long server_syscalls = -1;   // --count-syscalls: every system call of the tree in the window (-1: not counted)
    double syscalls_interval_s = 0;   // ... over this long

    bool valid() const noexcept { return totals.errors == 0; }
    double requests_per_s() const;
    // Echoes in an interval that is not exactly the window (a sample of /proc takes milliseconds
    // under load): the window's rate times the interval, so a per-echo figure is not a few % low.
    double requests_in(double interval_s) const;
};

std::string format_table(const RunReport& report);
std::string format_json(const RunReport& report);
const char* mode_name(Mode mode);

}  // namespace cs::bench
