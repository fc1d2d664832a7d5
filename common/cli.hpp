// common/cli.hpp — the command line every server shares (the server contract).
// taught in: 01-iterative
//
//   --host ADDR   address to listen on (default 127.0.0.1: only this machine can connect;
//                 pass 0.0.0.0 on purpose for a classroom demo)
//   --port N      default 9000 + lesson number; 0 asks the kernel for a free port
//   --quiet       no per-connection log lines
//   --help        usage on stdout, exit 0
//   --version     "<program> <version>" on stdout, exit 0
// A lesson adds its own options with add_flag()/add_int()/add_size() before parse().
// Usage errors print one line plus the usage on stderr and make parse() return kExitUsage.
// Numbers are decimal, whatever C says: CLI11 reads integers as C literals (strtoll base 0), where
// "010" is 8 and "0x10" is 16, and no one who types --port 010 means port 8. An empty --host is a
// usage error: the resolver reads "" as every interface, which an unset shell variable
// ("--host $ADDR") must not turn a loopback-only server into.
//
// CLI11 is header-only and costs seconds of compile time per file that includes it, so this
// header only names CLI::App; the few files that need more than the adders below (06's share
// modes) include <CLI/CLI.hpp> themselves and use app().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

namespace CLI {
class App;
class Validator;
}  // namespace CLI

namespace cs {

// Exit codes of every server (documented in the top README).
inline constexpr int kExitOk = 0;       // normal end, including SIGINT/SIGTERM and --help
inline constexpr int kExitStartup = 1;  // could not start: cannot listen, bad environment
inline constexpr int kExitUsage = 2;    // bad command line

struct ServerOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    bool quiet = false;
    int max_conns = 0;     // only meaningful where the lesson calls add_max_conns()
    int idle_timeout = 0;  // seconds; 0 = never; only where the lesson calls add_idle_timeout()
};

// Parses argv with any CLI11 parser, the servers' and the tools' alike: adds --version, prints
// --help and --version on stdout (exit 0), a usage error as one line plus the usage on stderr
// (exit 2). Returns the exit code when main() should return at once, nothing to go on.
std::optional<int> parse_command_line(CLI::App& app, const std::string& program, int argc, char** argv);

// For lesson options the adders below do not cover (06's own); using them needs <CLI/CLI.hpp>.
// As a transform(), decimal_integer() runs before any other check, so a range check sees "10", not "010".
const CLI::Validator& decimal_integer();  // digits only, leading zeros ignored: "010" is 10, "0x10" an error
const CLI::Validator& decimal_number();   // digits and at most one '.': no sign, exponent, hex, inf or nan

class CommandLine {
public:
    // program: "echo-iterative"; default_port: 9000 + lesson number.
    CommandLine(std::string program, std::string description, std::uint16_t default_port);
    ~CommandLine();
    CommandLine(const CommandLine&) = delete;
    CommandLine& operator=(const CommandLine&) = delete;

    // A lesson's own options. Each shows its default in --help; a value out of range is a usage error.
    void add_flag(const std::string& name, bool& value, const std::string& help);
    void add_int(const std::string& name, int& value, const std::string& help, int min, int max);
    void add_size(const std::string& name, std::size_t& value, const std::string& help);  // >= 1

    // Adds --max-conns N (connections served at once; over it, new ones are closed politely).
    void add_max_conns(int default_value);

    // Adds --idle-timeout SECONDS (a connection that sends nothing for that long is closed; 0: never).
    void add_idle_timeout(int default_seconds);

    // The CLI11 parser itself, for option kinds the adders above do not cover (include <CLI/CLI.hpp>).
    CLI::App& app() noexcept { return *app_; }

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
    std::unique_ptr<CLI::App> app_;
    ServerOptions options_;
    int port_ = 0;
};

}  // namespace cs
