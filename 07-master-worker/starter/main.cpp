// 07-master-worker/starter/main.cpp — YOUR echo server: a master and N pre-forked workers on one port (lesson 07 starter).
// Done for you: the command line (--workers, --share, --accept-lock, --grace), the listening socket,
//   the master's signal flags and loop, the listening line once every worker is ready, and each
//   worker's event loop with its graceful stop (worker.cpp).
// Yours: the TODO blocks — forking the workers, replacing the ones that die, stopping them all;
//   the share modes reuseport and pass; the accept lock (here and in worker.cpp).
// Build: cmake --preset default && cmake --build --preset default --target echo-master-worker-starter
// Grade: scripts/grade --lesson 07-master-worker --server build/bin/echo-master-worker-starter
//   (see grading/README.md). As it is, the master starts no worker, hangs up on every client
//   itself, and scores low.
#include "07-master-worker/starter/share.hpp"
#include "07-master-worker/starter/worker.hpp"
#include "common/cli.hpp"
#include "common/log.hpp"
#include "common/net.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using namespace master_worker_starter;

constexpr std::uint16_t kDefaultPort = 9007;

struct Options {
    int workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    Share share = Share::kInherit;
    LockMode lock_mode = LockMode::kExclusive;
    double grace_seconds = 5;
    int worker_channel = -1;  // set only in a pass-mode worker, by the master that exec'd it
};

std::chrono::milliseconds grace(const Options& options) {
    return std::chrono::milliseconds(static_cast<long>(options.grace_seconds * 1000));
}

void add_options(cs::CommandLine& cli, Options& options) {
    CLI::App& app = cli.app();
    app.add_option("--workers", options.workers, "Worker processes (default: the number of CPUs)")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    app.add_option("--share", options.share, "How workers share the port: inherit, reuseport or pass")
        ->transform(CLI::CheckedTransformer(std::map<std::string, Share>{
            {"inherit", Share::kInherit}, {"reuseport", Share::kReusePort}, {"pass", Share::kPass}}));
    app.add_option("--accept-lock", options.lock_mode, "Who wakes for a new connection: none, exclusive or mutex")
        ->transform(CLI::CheckedTransformer(std::map<std::string, LockMode>{
            {"none", LockMode::kNone}, {"exclusive", LockMode::kExclusive}, {"mutex", LockMode::kMutex}}));
    app.add_option("--grace", options.grace_seconds, "On SIGTERM, seconds open connections may still take")
        ->check(CLI::Range(0.0, 3600.0))
        ->capture_default_str();
    app.add_option("--worker-channel", options.worker_channel, "(internal: pass-mode worker)")->group("");
}

// The master's handlers only set flags. Its signals stay blocked except inside ppoll(), which
// unblocks them while the master sleeps: none can slip in between a test of a flag and the sleep.
volatile std::sig_atomic_t got_child = 0, got_stop = 0;

void on_signal(int sig) {
    if (sig == SIGCHLD) got_child = 1;
    else got_stop = 1;
}

bool take(volatile std::sig_atomic_t& flag) {  // race-free: the signals are blocked here
    bool was_set = flag != 0;
    flag = 0;
    return was_set;
}

sigset_t install_master_signals() {  // returns the mask for ppoll(): ours unblocked
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigset_t ours;
    sigemptyset(&ours);
    for (int sig : {SIGCHLD, SIGTERM, SIGINT}) {
        sigaddset(&ours, sig);
        ::sigaction(sig, &action, nullptr);
    }
    ::signal(SIGPIPE, SIG_IGN);
    sigset_t while_asleep;
    ::sigprocmask(SIG_BLOCK, &ours, &while_asleep);
    for (int sig : {SIGCHLD, SIGTERM, SIGINT}) sigdelset(&while_asleep, sig);
    return while_asleep;
}

// --accept-lock mutex: one lock all workers share, taken and given back in worker.cpp.
pthread_mutex_t* create_accept_mutex(const cs::Log& log) {
    // TODO(3b): memory every worker shares: mmap(nullptr, sizeof(pthread_mutex_t), PROT_READ |
    // PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0), before the first fork() (exec'd pass-mode
    // workers would need a memfd sent along with the socket). pthread_mutexattr_setpshared(
    // PTHREAD_PROCESS_SHARED) and pthread_mutexattr_setrobust(PTHREAD_MUTEX_ROBUST): when a worker
    // dies holding it, the next trylock says EOWNERDEAD instead of blocking everyone forever.
    log.info("master: --accept-lock mutex is not built yet (TODO(3b)); the workers go without it");
    return nullptr;
}

[[maybe_unused]] std::string describe(int status) {  // "exit 0", "killed by signal 9 (Killed)"
    if (WIFSIGNALED(status))
        return fmt::format("killed by signal {} ({})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
    return fmt::format("exit {}", WEXITSTATUS(status));
}

struct WorkerEntry {  // what the master knows of one worker
    pid_t pid = -1;
    int slot = 0;
    cs::Fd channel;         // the master's end of a socketpair; the worker holds the other
    bool stopping = false;  // told to stop: its exit is expected, not a death to replace
};

class Master {
public:
    Master(Options options, cs::Fd port_socket, pthread_mutex_t* accept_mutex, std::vector<std::string> argv,
           const cs::Log& log)
        : options_(options), port_socket_(std::move(port_socket)), accept_mutex_(accept_mutex), argv_(std::move(argv)),
          log_(log) {}

    void start() {
        for (int slot = 0; slot < options_.workers; ++slot) spawn(slot);
        wait_until_ready();
        cs::announce_listening(port_socket_);  // the readiness line: every started worker can serve
    }

    void reap() {
        // TODO(2b): loop ::waitpid(-1, &status, WNOHANG) while it returns a pid (one SIGCHLD may
        // stand for several exits), and drop that worker from workers_. Log, then:
        //  * stopping:  "master: worker S (pid P) exited: " + describe(status);
        //  * else "master: worker S (pid P) died: " + describe(status) (or "exited on its own: ",
        //    when it exited 0: someone sent it a SIGTERM), and spawn(S) at once unless stopping_.
        // Checked by: KilledWorkerIsReplacedWithinOneSecond..., SigtermToOneWorkerReplacesItGracefully.
    }

    void stop() {
        stopping_ = true;
        log_.info("master: stopping");
        // TODO(2c): kill(pid, SIGTERM) every worker and mark it stopping. Each one stops accepting,
        // finishes its connections (idle ones at once, busy ones within --grace) and exits 0;
        // reap() drops it, and run_master() returns once workers_ is empty.
    }

    bool finished() const noexcept { return stopping_ && workers_.empty(); }

    // As shipped no worker runs, so the master watches the listener itself, only to hang up on
    // clients rather than leave them waiting. Once workers run, the master never accepts.
    std::vector<pollfd> poll_set() const {
        if (workers_.empty() && !stopping_) return {{port_socket_.get(), POLLIN, 0}};
        return {};
    }

    void hang_up_on_clients() {
        for (int fd; (fd = ::accept4(port_socket_.get(), nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) {
            log_.conn("{}: no worker runs yet (TODO(2) in starter/main.cpp); hanging up (fd {})", cs::peer_endpoint(fd),
                      fd);
            ::close(fd);
        }
    }

private:
    void spawn(int slot) {
        // TODO(2a): one worker.
        //  * A channel: socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds): the master keeps
        //    one end, the worker the other (it says 'R' on it when ready; EOF tells it the master died).
        //  * pid = ::fork(). Child: close the master's end (the child is a copy: it holds both
        //    ends), then become_worker(slot, the worker's end), which never returns. -1: log it.
        //  * Parent: close the worker's end (else the worker never sees EOF when the master dies);
        //    pass mode: send_socket(master end, port socket, slot); workers_.push_back({pid, slot,
        //    master end}); log "master: started worker S (pid P)".
        log_.info("master: worker {} not started (TODO(2) in starter/main.cpp)", slot);
    }

    [[maybe_unused]] [[noreturn]] void become_worker(int slot, cs::Fd channel) {
        reset_signals_for_worker();
        // TODO(2d): this child also holds copies of the master's end of every other worker's
        // channel: close them (workers_.clear()). One copy left open anywhere, and a worker never
        // reads EOF when the master dies. Checked by: WorkersExitWithinTwoSecondsWhenTheMasterIsKilled.
        // TODO(1c): pass mode: dup2() the channel to kChannelFd (dup2 clears close-on-exec) and
        // exec_self(argv_ + "--worker-channel" "3"): the new program inherits only that channel.
        // TODO(1b): reuseport: the listener is open_own_listener(port_socket_) (catch its
        // std::system_error: log, _exit(1)); the master's socket is not the worker's to keep.
        WorkerSetup setup{.slot = slot,
                          .listener = std::move(port_socket_),
                          .channel = std::move(channel),
                          .lock_mode = options_.lock_mode,
                          .accept_mutex = accept_mutex_,
                          .grace = grace(options_)};
        ::_exit(run_worker(std::move(setup), log_));  // _exit: none of the master's clean-up runs here
    }

    // One 'R' from each worker: without this wait, a client could arrive before any worker listens
    // (reuseport: the master's socket refuses it).
    void wait_until_ready() {
        for (const WorkerEntry& worker : workers_) {
            pollfd ready{worker.channel.get(), POLLIN, 0};
            char byte = 0;
            if (::poll(&ready, 1, 5000) != 1 || ::read(worker.channel.get(), &byte, 1) != 1) {
                log_.info("master: worker {} (pid {}) did not say it was ready", worker.slot, worker.pid);
            }
        }
    }

    Options options_;
    cs::Fd port_socket_;
    pthread_mutex_t* accept_mutex_;
    std::vector<std::string> argv_;  // our own command line: pass mode execs it for each worker
    const cs::Log& log_;
    std::vector<WorkerEntry> workers_;
    bool stopping_ = false;
};

int run_master(Master& master, const sigset_t& while_asleep) {
    master.start();
    for (;;) {
        if (take(got_stop)) master.stop();  // before reaping: exits after a stop are expected ones
        if (take(got_child)) master.reap();
        if (master.finished()) return cs::kExitOk;
        std::vector<pollfd> fds = master.poll_set();
        // The one place the master's signals are delivered: ppoll() returns -1 (EINTR) after one.
        if (::ppoll(fds.data(), fds.size(), nullptr, &while_asleep) > 0) master.hang_up_on_clients();
    }
}

int serve(int argc, char** argv) {
    cs::CommandLine cli("echo-master-worker-starter",
                        "Echo server: a master and pre-forked workers sharing one port (lesson 07 starter).",
                        kDefaultPort);
    Options options;
    add_options(cli, options);
    if (auto exit_code = cli.parse(argc, argv)) return *exit_code;
    cs::Log log("07-master-worker");
    log.set_quiet(cli.options().quiet);
    if (options.worker_channel >= 0)
        return run_exec_worker(options.worker_channel, options.lock_mode, grace(options), log);

    cs::Fd port_socket;
    try {
        port_socket = open_port_socket(options.share, cli.options());
    } catch (const std::system_error& error) {
        cli.report_listen_error(error);
        return cs::kExitStartup;
    }
    pthread_mutex_t* accept_mutex = options.lock_mode == LockMode::kMutex ? create_accept_mutex(log) : nullptr;
    sigset_t while_asleep = install_master_signals();  // before the first fork(): no SIGCHLD is missed
    Master master(options, std::move(port_socket), accept_mutex, std::vector<std::string>(argv, argv + argc), log);
    return run_master(master, while_asleep);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return serve(argc, argv);
    } catch (const std::exception& error) {  // out of memory, or a bug: one line, not a terminate()
        std::fprintf(stderr, "echo-master-worker-starter: %s\n", error.what());
        return cs::kExitStartup;
    }
}
