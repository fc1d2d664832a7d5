// common/cli.cpp — shared option parsing with CLI11, mapped onto the contract's exit codes.
#include "common/cli.hpp"

#include "common/version.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <iostream>

namespace cs {

CommandLine::CommandLine(std::string program, std::string description, std::uint16_t default_port)
    : program_(std::move(program)), app_(std::make_unique<CLI::App>(std::move(description), program_)) {
    options_.port = default_port;
    port_ = default_port;
    app_->add_option("--host", options_.host, "Address to listen on (0.0.0.0 or :: for every interface)")
        ->capture_default_str();
    app_->add_option("--port", port_, "TCP port; 0 lets the kernel choose a free one")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    app_->add_flag("--quiet", options_.quiet, "No per-connection log lines");
}

CommandLine::~CommandLine() = default;

void CommandLine::add_flag(const std::string& name, bool& value, const std::string& help) {
    app_->add_flag(name, value, help);
}

void CommandLine::add_int(const std::string& name, int& value, const std::string& help, int min, int max) {
    app_->add_option(name, value, help)->check(CLI::Range(min, max))->capture_default_str();
}

void CommandLine::add_size(const std::string& name, std::size_t& value, const std::string& help) {
    app_->add_option(name, value, help)->check(CLI::PositiveNumber)->capture_default_str();
}

void CommandLine::add_max_conns(int default_value) {
    options_.max_conns = default_value;
    app_->add_option("--max-conns", options_.max_conns,
                    "Connections served at once; over it, new connections are closed")
        ->check(CLI::Range(1, 1'000'000))
        ->capture_default_str();
}

void CommandLine::add_idle_timeout(int default_seconds) {
    options_.idle_timeout = default_seconds;
    app_->add_option("--idle-timeout", options_.idle_timeout,
                     "Seconds a connection may send nothing before it is closed (0: never)")
        ->check(CLI::Range(0, 86'400))
        ->capture_default_str();
}

std::optional<int> parse_command_line(CLI::App& app, const std::string& program, int argc, char** argv) {
    app.set_version_flag("--version", fmt::format("{} {}", program, kVersion), "Print the version and exit");
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        std::cout << app.help() << std::flush;
        return kExitOk;
    } catch (const CLI::CallForVersion& version) {
        std::cout << version.what() << '\n' << std::flush;  // CLI11 carries the version string here
        return kExitOk;
    } catch (const CLI::ParseError& error) {
        std::cerr << fmt::format("{}: {}\n", program, error.what()) << app.help() << std::flush;
        return kExitUsage;
    }
    return std::nullopt;
}

std::optional<int> CommandLine::parse(int argc, char** argv) {
    if (auto exit_code = parse_command_line(*app_, program_, argc, argv)) return exit_code;
    options_.port = static_cast<std::uint16_t>(port_);
    return std::nullopt;
}

void CommandLine::report_listen_error(const std::system_error& error) const {
    std::cerr << fmt::format("{}: cannot listen on {}:{}: {}\n", program_, options_.host, options_.port,
                             error.code().message())
              << std::flush;
}

}  // namespace cs
