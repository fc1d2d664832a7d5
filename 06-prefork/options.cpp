// 06-prefork/options.cpp — --workers, --share, --accept-lock, --grace with CLI11.
#include "options.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <map>
#include <thread>

namespace prefork {

void add_options(cs::CommandLine& cli, Options& options) {
    options.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    CLI::App& app = cli.app();
    app.add_option("--workers", options.workers, "Worker processes (default: the number of CPUs)")
        ->check(CLI::Range(1, 256))->capture_default_str();
    app.add_option("--share", options.share, "How workers share the port: inherit, reuseport or pass")
        ->transform(CLI::CheckedTransformer(
            std::map<std::string, Share>{{"inherit", Share::kInherit}, {"reuseport", Share::kReusePort},
                                         {"pass", Share::kPass}}))
        ->option_text("inherit|reuseport|pass (default: inherit)");
    app.add_option("--accept-lock", options.lock_mode, "Who wakes for a new connection: none, exclusive or mutex")
        ->transform(CLI::CheckedTransformer(
            std::map<std::string, LockMode>{{"none", LockMode::kNone}, {"exclusive", LockMode::kExclusive},
                                            {"mutex", LockMode::kMutex}}))
        ->option_text("none|exclusive|mutex (default: exclusive)");
    app.add_option("--grace", options.grace_seconds, "On SIGTERM/SIGINT/SIGHUP, seconds open connections may finish")
        ->check(CLI::Range(0.0, 3600.0))->capture_default_str();
    app.add_option("--worker-channel", options.worker_channel, "(internal: pass-mode worker)")
        ->group("");  // hidden from --help: only the master passes it, to the workers it exec()s
}

}  // namespace prefork
