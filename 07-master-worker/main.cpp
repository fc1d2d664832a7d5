// 07-master-worker/main.cpp — echo server run by a master and N pre-forked, event-driven workers.
// New here: many processes serving one port — a socket inherited across fork(), N sockets with
//   SO_REUSEPORT, or one passed over a socketpair (SCM_RIGHTS) — and a master that supervises them.
// Known limit: a connection stays with the worker that accepted it, however busy that worker gets;
//   the README's tables show how evenly (or not) each mode spreads them. Last lesson of the course.
// Run: build/bin/echo-master-worker --workers 4   Watch: ps -o pid,ppid,comm --ppid <master>; kill -USR1 <master>
//   (the master's stats line, then one per worker)
#include "accept_lock.hpp"
#include "common/cli.hpp"
#include "common/log.hpp"
#include "common/net.hpp"
#include "common/process.hpp"
#include "options.hpp"
#include "share.hpp"
#include "supervisor.hpp"
#include "worker.hpp"

#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <unistd.h>

namespace {

using lesson07::Clock;

constexpr std::uint16_t kDefaultPort = 9007;

// The handlers only set flags. All six signals stay blocked except inside ppoll(), which unblocks
// them atomically while the master sleeps: a signal that arrives while the master is busy waits,
// pending, and wakes the very next ppoll(). (Test a flag, then sleep, and a signal arriving in
// between would be slept through: that race is why ppoll() and sigsuspend() exist.)
volatile std::sig_atomic_t got_child = 0, got_stop = 0, got_reload = 0, got_stats = 0, got_upgrade = 0;

void on_signal(int sig) {
    switch (sig) {
        case SIGCHLD: got_child = 1; break;
        case SIGTERM:
        case SIGINT: got_stop = 1; break;
        case SIGHUP: got_reload = 1; break;
        case SIGUSR1: got_stats = 1; break;
        case SIGUSR2: got_upgrade = 1; break;
    }
}

// Reading and clearing a flag is race-free here: signals are blocked outside ppoll().
bool take(volatile std::sig_atomic_t& flag) {
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
    for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2}) {
        sigaddset(&ours, sig);
        ::sigaction(sig, &action, nullptr);
    }
    ::signal(SIGPIPE, SIG_IGN);  // a client or worker that vanished costs an EPIPE, not the master
    sigset_t while_asleep;
    ::sigprocmask(SIG_BLOCK, &ours, &while_asleep);
    for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2}) sigdelset(&while_asleep, sig);
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
        if (take(got_upgrade)) master.upgrade();
        master.on_time(Clock::now());
        if (master.finished()) return master.finish();
        std::vector<pollfd> fds = master.poll_set();
        int timeout = master.timeout_ms(Clock::now());
        timespec wait{timeout / 1000, (timeout % 1000) * 1'000'000L};
        // The one place signals are delivered: -1/EINTR after a handler ran, > 0 when a channel speaks.
        if (::ppoll(fds.data(), fds.size(), timeout < 0 ? nullptr : &wait, &while_asleep) > 0) master.on_readable();
    }
}
// [/slide]

// The new master of a SIGUSR2 upgrade tells the old one on this pipe when it is ready. Only a
// whole decimal number above stderr (2) that names an open descriptor is taken: atoi() would
// turn "x" into 0, and the master would later close its own stdin.
cs::Fd take_ready_fd(const cs::Log& log) {
    const char* value = std::getenv(lesson07::kReadyFdVariable);
    if (value == nullptr) return {};
    std::string text(value);  // a copy: unsetenv() may release what value points to
    ::unsetenv(lesson07::kReadyFdVariable);
    int fd = -1;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), fd);
    if (error != std::errc() || end != text.data() + text.size() || fd <= STDERR_FILENO ||
        ::fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        log.info("master: ignoring {}='{}': not an open descriptor above 2", lesson07::kReadyFdVariable, text);
        return {};
    }
    return cs::Fd{fd};
}

int serve(int argc, char** argv) {
    cs::CommandLine cli("echo-master-worker",
                        "Echo server: a master and pre-forked workers sharing one port (lesson 07).", kDefaultPort);
    lesson07::Options options;
    lesson07::add_options(cli, options);
    if (auto exit_code = cli.parse(argc, argv)) return *exit_code;
    cs::Log log("07-master-worker");
    log.set_quiet(cli.options().quiet);
    auto grace = std::chrono::milliseconds(static_cast<long>(options.grace_seconds * 1000));
    auto max_conns = static_cast<std::size_t>(options.max_conns);
    auto idle_timeout = std::chrono::seconds(cli.options().idle_timeout);
    if (options.worker_channel >= 0) {
        lesson07::WorkerSetup setup{
            .lock_mode = options.lock_mode, .grace = grace, .max_conns = max_conns, .idle_timeout = idle_timeout};
        return lesson07::run_exec_worker(options.worker_channel, std::move(setup), log);
    }

    if (options.share == lesson07::Share::kReusePort && options.lock_mode == lesson07::LockMode::kMutex) {
        log.info("master: --accept-lock mutex is pointless with --share reuseport (one queue per worker); using none");
        options.lock_mode = lesson07::LockMode::kNone;
    }
    cs::Fd port_socket;
    try {
        port_socket = lesson07::take_inherited_socket(options.share);  // systemd, or the master we upgrade
        if (port_socket) log.info("master: took over {} from LISTEN_FDS", cs::local_endpoint(port_socket.get()));
        else port_socket = lesson07::open_port_socket(options.share, cli.options().host, cli.options().port);
    } catch (const std::system_error& error) {
        cli.report_listen_error(error);
        return cs::kExitStartup;
    }
    std::optional<lesson07::AcceptLock> lock;
    try {
        if (options.lock_mode == lesson07::LockMode::kMutex) lock.emplace(lesson07::AcceptLock::create());
    } catch (const std::system_error& error) {
        log.info("master: cannot create the accept lock: {}", error.what());
        return cs::kExitStartup;
    }
    sigset_t while_asleep = install_master_signals();  // before the first fork: no SIGCHLD is missed
    lesson07::MasterOptions master_options{.workers = options.workers,
                                           .share = options.share,
                                           .lock_mode = options.lock_mode,
                                           .grace = grace,
                                           .max_conns = max_conns,
                                           .idle_timeout = idle_timeout,
                                           .argv = std::vector<std::string>(argv, argv + argc)};
    lesson07::Master master(std::move(master_options), std::move(port_socket), std::move(lock), take_ready_fd(log),
                            log);
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
