// 06-prefork/main.cpp — echo server run by a master and N pre-forked workers sharing one port.
// New here: processes made in advance — a master forks N workers once; they share one listening
//   socket (inherited across fork()) or one port (a socket each, SO_REUSEPORT), and each runs 05's
//   event loop as it is. The master serves no one: it replaces a worker that dies and stops them all.
// Known limit: the master knows its workers by pid and signals only; talking to them (passing a
//   socket, reloading, their counters) needs a channel: 07-master-worker.
// Run: build/bin/echo-prefork --workers 4   Watch: ps -o pid,ppid,comm --ppid <master>; kill -USR1 <master>
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

constexpr std::uint16_t kDefaultPort = 9006;

// Straight into what the master and each worker are given; --grace is read in seconds.
void add_options(cs::CommandLine& cli, lesson06::MasterOptions& options, double& grace_seconds) {
    options.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    cli.add_int("--workers", options.workers, "Worker processes (default: the number of CPUs)", 1, 256);
    CLI::App& app = cli.app();  // CLI11 itself for the two options add_int() cannot express
    app.add_option("--share", options.reuseport, "How workers share the port: inherit or reuseport")
        ->transform(CLI::CheckedTransformer(std::map<std::string, bool>{{"inherit", false}, {"reuseport", true}}))
        ->option_text("inherit|reuseport (default: inherit)");
    app.add_option("--grace", grace_seconds, "On SIGTERM/SIGINT, seconds open connections may finish")
        ->check(cs::decimal_number())
        ->check(CLI::Range(0.0, 3600.0))
        ->capture_default_str();  // nan passes a Range
    // Per worker: a total would need a counter shared by every worker (shared memory).
    cli.add_int("--max-conns", options.worker.max_conns,
                "Connections per worker (the server holds up to workers x this); a worker at its cap closes new "
                "connections, as 05's loop does",
                1, 1'000'000);
    cli.add_idle_timeout(cs::kDefaultIdleTimeout);
}

// The handlers only set flags. The master's signals stay blocked except inside ppoll(), which
// unblocks them atomically while the master sleeps: a signal that arrives while the master is
// busy waits, pending, and wakes the very next ppoll(). (Test a flag, then sleep, and a signal
// arriving in between would be slept through: that race is why ppoll() and sigsuspend() exist.)
volatile std::sig_atomic_t got_child = 0, got_stop = 0, got_stats = 0;

void on_signal(int sig) {
    if (sig == SIGCHLD) got_child = 1;
    else if (sig == SIGUSR1) got_stats = 1;
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
    for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGUSR1}) {
        sigaddset(&ours, sig);
        ::sigaction(sig, &action, nullptr);
    }
    sigset_t while_asleep;
    ::sigprocmask(SIG_BLOCK, &ours, &while_asleep);
    for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGUSR1}) sigdelset(&while_asleep, sig);
    return while_asleep;  // the mask for ppoll(): ours unblocked, whatever else was blocked stays so
}

// [slide:master-loop]
int run_master(lesson06::Master& master, const sigset_t& while_asleep) {
    master.start();
    for (;;) {
        // Stop before reaping: after a SIGTERM to the whole group, the workers' exits are then
        // expected ones, not deaths to replace.
        if (take(got_stop)) master.stop();
        if (take(got_child)) master.reap_children();
        if (take(got_stats)) master.report_stats();
        master.on_time(lesson06::Clock::now());
        if (master.finished()) return master.exit_code();
        pollfd ready{master.ready_fd(), POLLIN, 0};
        int timeout = master.timeout_ms(lesson06::Clock::now());
        timespec wait{timeout / 1000, (timeout % 1000) * 1'000'000L};
        // The one place signals are delivered: -1/EINTR after a handler ran, 1 when a worker is ready.
        if (::ppoll(&ready, 1, timeout < 0 ? nullptr : &wait, &while_asleep) > 0) master.read_ready();
    }
}
// [/slide]

// [slide:port]
// inherit: one listening socket, made before fork(), so every worker inherits it. reuseport: the
// master binds (without listen()) to hold the port and learn it for --port 0; each worker then
// opens a listener of its own on that port.
cs::Fd open_port(const cs::ServerOptions& server, bool reuseport) {
    return cs::listen_tcp(
        {.host = server.host, .port = server.port, .reuse_port = reuseport, .nonblocking = true, .listen = !reuseport});
}
// [/slide]

int serve(int argc, char** argv) {
    cs::CommandLine cli("echo-prefork", "Echo server: a master and pre-forked workers sharing one port (lesson 06).",
                        kDefaultPort);
    lesson06::MasterOptions options;
    double grace_seconds = 5;
    add_options(cli, options, grace_seconds);
    if (auto exit_code = cli.parse(argc, argv)) return *exit_code;
    cs::Log log("06-prefork");
    log.set_quiet(cli.options().quiet);
    cs::Fd port;
    try {
        port = open_port(cli.options(), options.reuseport);
    } catch (const std::system_error& error) {
        cli.report_listen_error(error);
        return cs::kExitStartup;
    }
    options.host = cli.options().host;
    options.worker.grace = std::chrono::milliseconds(static_cast<long>(grace_seconds * 1000));
    options.worker.idle_timeout = std::chrono::seconds(cli.options().idle_timeout);
    lesson06::Master master(options, std::move(port), log);
    sigset_t while_asleep = install_master_signals();  // before the first fork: no SIGCHLD is missed
    return run_master(master, while_asleep);
}

}  // namespace

int main(int argc, char** argv) {
    cs::prepare_process();  // first: descriptors 0-2 open, SIGPIPE ignored, stderr never blocks
    try {
        return serve(argc, argv);
    } catch (const std::exception& error) {  // out of memory, or a bug: one line, not a terminate()
        std::fprintf(stderr, "echo-prefork: %s\n", error.what());
        return cs::kExitStartup;
    }
}
