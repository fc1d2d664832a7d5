// common/cli.cpp — shared option parsing with CLI11, mapped onto the contract's exit codes.
// taught in: 01-iterative
#include "common/cli.hpp"

#include "common/version.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <fmt/format.h>
#include <iostream>
#include <string_view>

namespace cs {
namespace {

bool all_digits(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// An empty address is the wildcard to getaddrinfo() and bind(): every interface, not "unset".
std::string reject_empty_host(const std::string& host) {
    return host.empty() ? "an empty address would listen on every interface; name one (0.0.0.0 for all, on purpose)"
                        : "";
}

}  // namespace

const CLI::Validator& decimal_integer() {
    static const CLI::Validator validator(
        [](std::string& text) -> std::string {
            if (text.empty() || !all_digits(text)) return fmt::format("'{}' is not a decimal integer", text);
            text.erase(0, std::min(text.find_first_not_of('0'), text.size() - 1));  // CLI11 would read 0.. as octal
            return "";
        },
        "");
    return validator;
}

const CLI::Validator& decimal_number() {
    static const CLI::Validator validator(
        [](const std::string& text) -> std::string {
            std::size_t dot = text.find('.');
            std::string digits = dot == std::string::npos ? text : text.substr(0, dot) + text.substr(dot + 1);
            if (digits.empty() || !all_digits(digits)) return fmt::format("'{}' is not a decimal number", text);
            return "";
        },
        "");
    return validator;
}

CommandLine::CommandLine(std::string program, std::string description, std::uint16_t default_port)
    : program_(std::move(program)), app_(std::make_unique<CLI::App>(std::move(description), program_)) {
    options_.port = default_port;
    port_ = default_port;
    app_->add_option("--host", options_.host, "Address to listen on (0.0.0.0 or :: for every interface)")
        ->check(reject_empty_host)
        ->capture_default_str();
    app_->add_option("--port", port_, "TCP port; 0 lets the kernel choose a free one")
        ->transform(decimal_integer())
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    app_->add_flag("--quiet", options_.quiet, "No per-connection log lines");
}

CommandLine::~CommandLine() = default;

void CommandLine::add_flag(const std::string& name, bool& value, const std::string& help) {
    app_->add_flag(name, value, help);
}

void CommandLine::add_int(const std::string& name, int& value, const std::string& help, int min, int max) {
    app_->add_option(name, value, help)
        ->transform(decimal_integer())
        ->check(CLI::Range(min, max))
        ->capture_default_str();
}

void CommandLine::add_size(const std::string& name, std::size_t& value, const std::string& help) {
    app_->add_option(name, value, help)
        ->transform(decimal_integer())
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
}

void CommandLine::add_max_conns(int default_value) {
    options_.max_conns = default_value;
    app_->add_option("--max-conns", options_.max_conns,
                     "Connections served at once; over it, new connections are closed")
        ->transform(decimal_integer())
        ->check(CLI::Range(1, 1'000'000))
        ->capture_default_str();
}

void CommandLine::add_idle_timeout(int default_seconds) {
    options_.idle_timeout = default_seconds;
    app_->add_option("--idle-timeout", options_.idle_timeout,
                     "Seconds a connection may send nothing before it is closed (0: never)")
        ->transform(decimal_integer())
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
