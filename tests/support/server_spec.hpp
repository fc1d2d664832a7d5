// tests/support/server_spec.hpp — which server binary a test suite runs, and what it can do.
//
// The binary comes from CMake (the lesson's own target) unless ECHO_SERVER names another one:
//   ECHO_SERVER=/path/to/student/echo-select ctest -L select
// ECHO_SERVER_ARGS adds arguments (split on spaces), e.g. ECHO_SERVER_ARGS="--share reuseport".
#pragma once

#include "tests/support/server_process.hpp"

#include <cctype>
#include <ostream>
#include <string>
#include <vector>

namespace cs::test {

struct ServerSpec {
    std::string name;               // test-name suffix: "iterative", "prefork_reuseport"
    std::string binary;             // default path (the CMake target)
    std::vector<std::string> args;  // extra arguments for this variant
    bool concurrent = true;         // serves several clients at once (false only for 01)
    bool threads = false;           // has threads: log lines show tids, TSan applies
    std::string optional_feature;   // e.g. "--pool": skipped when the server's --help does not list it
};

// GoogleTest prints a test's parameter with this instead of a byte dump.
inline void PrintTo(const ServerSpec& spec, std::ostream* out) { *out << spec.name; }

// The spec with ECHO_SERVER / ECHO_SERVER_ARGS applied.
ServerSpec resolved(const ServerSpec& spec);

// Starts the server of `spec` (logs on: they help when a test fails) with extra arguments.
ServerProcess start_server(const ServerSpec& spec, std::vector<std::string> extra_args = {},
                           std::optional<rlim_t> nofile_limit = std::nullopt);

// True when `--help` lists `option` as an option of its own (not inside a longer one).
inline bool offers_option(const ServerSpec& spec, const std::string& option) {
    RunResult help = run_to_exit(resolved(spec).binary, {"--help"});
    const std::string text = help.out + help.err;
    for (auto at = text.find(option); at != std::string::npos; at = text.find(option, at + 1)) {
        char after = at + option.size() < text.size() ? text[at + option.size()] : ' ';
        bool before_ok = at == 0 || std::isspace(static_cast<unsigned char>(text[at - 1])) || text[at - 1] == ',';
        if (before_ok && !std::isalnum(static_cast<unsigned char>(after)) && after != '-') return true;
    }
    return false;
}

}  // namespace cs::test
