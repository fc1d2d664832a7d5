// 07-master-worker/main.cpp — echo server run by a master that talks to its N pre-forked workers over channels.
// New here: one socketpair per worker carrying typed messages (ready, stats, stop within G ms), so the master can
//   pass the listener to exec'd workers (--share pass, SCM_RIGHTS) and swap every worker without closing the port
//   (SIGHUP); and the thundering herd, cured with EPOLLEXCLUSIVE (--accept-lock). The workers run 05's loop.
// Known limit: a connection stays with the worker that accepted it, however busy that worker gets. Last lesson.
// Run: build/bin/echo-master-worker --workers 4   Watch: ps -o pid,ppid,comm --ppid <master>; kill -HUP <master>
#include "common/cli.hpp"
#include "common/contract.hpp"
#include "common/net.hpp"
#include "common/process.hpp"
#include "master.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <map>
#include <poll.h>
#include <thread>

namespace {

constexpr std::uint16_t kDefaultPort = 9007;

// Straight into what the master and each worker are given; --grace is read in seconds.
void add_options(cs::CommandLine& cli, lesson07::MasterOptions& options, double& grace_seconds, int& channel) {
    options.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    cli.add_int("--workers", options.workers, "Worker processes (default: the number of CPUs)", 1, 256);
    CLI::App& app = cli.app();  // CLI11 itself for the options add_int() cannot express
    using lesson07::Share;
    app.add_option("--share", options.share, "How workers share the port: inherit, reuseport or pass")
        ->transform(CLI::CheckedTransformer(std::map<std::string, Share>{
            {"inherit", Share::kInherit}, {"reuseport", Share::kReusePort}, {"pass", Share::kPass}}))
        ->option_text("inherit|reuseport|pass (default: inherit)");
    app.add_option("--accept-lock", options.worker.exclusive, "Who wakes for a new connection: none or exclusive")
        ->transform(CLI::CheckedTransformer(std::map<std::string, bool>{{"none", false}, {"exclusive", true}}))
        ->option_text("none|exclusive (default: exclusive)");
    app.add_option("--grace", grace_seconds, "On SIGTERM/SIGINT/SIGHUP, seconds open connections may finish")
        ->check(cs::decimal_number())
        ->check(CLI::Range(0.0, 3600.0))
        ->capture_default_str();  // nan passes a Range
    // Per worker: a total would need a counter shared by every worker (shared memory).
    cli.add_int("--max-conns", options.worker.max_conns,
                "Connections per worker (the server holds up to workers x this); a worker at its cap closes new "
                "connections, as 05's loop does",
                1, 1'000'000);
    cli.add_idle_timeout(cs::kDefaultIdleTimeout);
    app.add_option("--worker-channel", channel, "(internal: a --share pass worker)")
        ->transform(cs::decimal_integer())
        ->group("");  // hidden from --help: only the master passes it, to the workers it exec()s
}

// The handlers only set flags. The master's signals stay blocked except inside ppoll(), which
// unblocks them atomically while the master sleeps: a signal that arrives while the master is
// busy waits, pending, and wakes the very next ppoll(). (Test a flag, then sleep, and a signal
// arriving in between would be slept through: that race is why ppoll() and sigsuspend() exist.)
volatile std::sig_atomic_t got_child = 0, got_stop = 0, got_stats = 0, got_reload = 0;

void on_signal(int sig) {
    if (sig == SIGCHLD) got_child = 1;
    else if (sig == SIGUSR1) got_stats = 1;
    else if (sig == SIGHUP) got_reload = 1;
    else got_stop = 1;  // SIGTERM, SIGINT
}

bool take(volatile std::sig_atomic_t& flag) {  // race-free: signals are blocked outside ppoll()
    bool was_set = flag != 0;
    flag = 0;
    return was_set;
}

sigset_t install_master_signals() {
    sigset_t ours;
    sigemptyset(&ours);
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGUSR1, SIGHUP}) {
        sigaddset(&ours, sig);
        ::sigaction(sig, &action, nullptr);
    }
    sigset_t while_asleep;
    ::sigprocmask(SIG_BLOCK, &ours, &while_asleep);
    for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGUSR1, SIGHUP}) sigdelset(&while_asleep, sig);
    return while_asleep;  // the mask for ppoll(): ours unblocked, whatever else was blocked stays so
}

// [slide:master-loop]
int run_master(lesson07::Master& master, const sigset_t& while_asleep) {
    master.start();
    for (;;) {
        // Stop before reaping: after a SIGTERM to the whole group, the workers' exits are then
        // expected ones, not deaths to replace.
        if (take(got_stop)) master.stop();
        if (take(got_child)) master.reap_children();
        if (take(got_reload)) master.reload();
        if (take(got_stats)) master.report_stats();
        master.on_time(lesson07::Clock::now());
        if (master.finished()) return master.exit_code();
        std::vector<pollfd> channels = master.poll_set();
        int timeout = master.timeout_ms(lesson07::Clock::now());
        timespec wait{timeout / 1000, (timeout % 1000) * 1'000'000L};
        // The one place signals are delivered: -1/EINTR after a handler ran, > 0 when a channel speaks.
        if (::ppoll(channels.data(), channels.size(), timeout < 0 ? nullptr : &wait, &while_asleep) > 0) {
            master.read_channels();
        }
    }
}
// [/slide]

// inherit, pass: one listening socket, made before fork(). reuseport: the master binds (without
// listen()) to hold the port and learn it for --port 0; each worker opens a listener of its own.
cs::Fd open_port(const cs::ServerOptions& server, bool reuseport) {
    return cs::listen_tcp(
        {.host = server.host, .port = server.port, .reuse_port = reuseport, .nonblocking = true, .listen = !reuseport});
}

int serve(int argc, char** argv) {
    cs::CommandLine cli("echo-master-worker",
                        "Echo server: a master and pre-forked workers talking over channels (lesson 07).",
                        kDefaultPort);
    lesson07::MasterOptions options;
    double grace_seconds = 5;
    int channel = -1;
    add_options(cli, options, grace_seconds, channel);
    if (auto exit_code = cli.parse(argc, argv)) return *exit_code;
    cs::Log log("07-master-worker");
    log.set_quiet(cli.options().quiet);
    options.worker.idle_timeout = std::chrono::seconds(cli.options().idle_timeout);
    if (channel >= 0) lesson07::run_exec_worker(channel, options.worker, log);  // --share pass: never returns
    cs::Fd port;
    try {
        port = open_port(cli.options(), options.share == lesson07::Share::kReusePort);
    } catch (const std::system_error& error) {
        cli.report_listen_error(error);
        return cs::kExitStartup;
    }
    options.host = cli.options().host;
    options.grace = std::chrono::milliseconds(static_cast<long>(grace_seconds * 1000));
    options.argv.assign(argv, argv + argc);
    lesson07::Master master(options, std::move(port), log);
    sigset_t while_asleep = install_master_signals();  // before the first fork: no SIGCHLD is missed
    return run_master(master, while_asleep);
}

}  // namespace

int main(int argc, char** argv) {
    cs::prepare_process();  // first: descriptors 0-2 open, SIGPIPE ignored, stderr never blocks
    try {
        return serve(argc, argv);
    } catch (const std::exception& error) {  // out of memory, or a bug: one line, not a terminate()
        std::fprintf(stderr, "echo-master-worker: %s\n", error.what());
        return cs::kExitStartup;
    }
}
