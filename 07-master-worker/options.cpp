// 07-master-worker/options.cpp — --workers, --share, --accept-lock, --grace, --max-conns with CLI11.
// Numbers are decimal only, as in common/cli.hpp: cs::decimal_integer() and cs::decimal_number().
#include "options.hpp"

#include "common/contract.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <map>
#include <thread>

namespace lesson07 {

void add_options(cs::CommandLine& cli, Options& options) {
    options.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    CLI::App& app = cli.app();
    app.add_option("--workers", options.workers, "Worker processes (default: the number of CPUs)")
        ->transform(cs::decimal_integer())
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    app.add_option("--share", options.share, "How workers share the port: inherit, reuseport or pass")
        ->transform(CLI::CheckedTransformer(std::map<std::string, Share>{
            {"inherit", Share::kInherit}, {"reuseport", Share::kReusePort}, {"pass", Share::kPass}}))
        ->option_text("inherit|reuseport|pass (default: inherit)");
    app.add_option("--accept-lock", options.lock_mode,
                   "Who wakes for a new connection: none, exclusive, rearm or mutex")
        ->transform(CLI::CheckedTransformer(std::map<std::string, LockMode>{{"none", LockMode::kNone},
                                                                            {"exclusive", LockMode::kExclusive},
                                                                            {"rearm", LockMode::kRearm},
                                                                            {"mutex", LockMode::kMutex}}))
        ->option_text("none|exclusive|rearm|mutex (default: exclusive)");
    app.add_option("--grace", options.grace_seconds, "On SIGTERM/SIGINT/SIGHUP, seconds open connections may finish")
        ->check(cs::decimal_number())
        ->check(CLI::Range(0.0, 3600.0))
        ->capture_default_str();  // nan passes a Range
    // Per worker, not in total: a total would need a counter shared by every worker (shared memory,
    // like the accept lock) and updated on every connect and close. The default stays below the
    // usual soft RLIMIT_NOFILE of 1024, so the cap, not EMFILE, is what a worker meets first.
    // Not cli.add_max_conns(): its help says "closed", and a worker over its cap does not close.
    app.add_option("--max-conns", options.max_conns,
                   "Connections per worker (the server holds up to workers x this); a worker at its cap stops "
                   "accepting and leaves new connections to the others, or in the queue")
        ->transform(cs::decimal_integer())
        ->check(CLI::Range(1, 1'000'000))
        ->capture_default_str();
    cli.add_idle_timeout(cs::kDefaultIdleTimeout);
    app.add_option("--worker-channel", options.worker_channel, "(internal: pass-mode worker)")
        ->transform(cs::decimal_integer())
        ->group("");  // hidden from --help: only the master passes it, to the workers it exec()s
}

}  // namespace lesson07
