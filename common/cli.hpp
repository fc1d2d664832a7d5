// common/cli.hpp — the command line every server shares (the server contract).
//
//   --host ADDR   address to listen on (default 127.0.0.1: only this machine can connect;
//                 pass 0.0.0.0 on purpose for a classroom demo)
//   --port N      default 9000 + lesson number; 0 asks the kernel for a free port
//   --quiet       no per-connection log lines
//   --help        usage on stdout, exit 0
// A lesson adds its own options through app() before parse().
// Usage errors print one line plus the usage on stderr and make parse() return kExitUsage.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>

namespace cs {

// Exit codes of every server (documented in the top README).
inline constexpr int kExitOk = 0;       // normal end, including SIGINT/SIGTERM and --help
inline constexpr int kExitStartup = 1;  // could not start: cannot listen, bad environment
inline constexpr int kExitUsage = 2;    // bad command line

struct ServerOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    bool quiet = false;
    int max_conns = 0;  // only meaningful where the lesson calls add_max_conns()
};

class CommandLine {
public:
    // program: "echo-iterative"; default_port: 9000 + lesson number.
    CommandLine(std::string program, std::string description, std::uint16_t default_port);

    CLI::App& app() noexcept { return app_; }

    // Adds --max-conns N (connections served at once; over it, new ones are closed politely).
    void add_max_conns(int default_value);

    // Parses argv. Returns an exit code when main() should return at once (--help: 0,
    // usage error: 2), or nothing when the server should start.
    std::optional<int> parse(int argc, char** argv);

    // The contract's one start-up error line on stderr, e.g.
    // "echo-iterative: cannot listen on 127.0.0.1:9001: Address already in use".
    void report_listen_error(const std::system_error& error) const;

    const ServerOptions& options() const noexcept { return options_; }
    const std::string& program() const noexcept { return program_; }

private:
    std::string program_;
    CLI::App app_;
    ServerOptions options_;
    int port_ = 0;
};

}  // namespace cs
