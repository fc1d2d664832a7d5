// 06-prefork/master.cpp — fork, waitpid and kill, seen from the master: 02's fork and reaping,
// for long-lived workers that are started once and replaced when they die.
#include "master.hpp"

#include "common/net.hpp"

#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>

namespace lesson06 {
namespace {

using namespace std::chrono_literals;

constexpr int kMaxEarlyDeaths = 5;  // workers in a row dead before ready: broken, stop fork-bombing
constexpr auto kKillMargin = 1s;    // past the grace period, a stopping worker gets SIGKILL

std::string describe(int status) {
    if (WIFEXITED(status)) return fmt::format("exit {}", WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return fmt::format("killed by signal {} ({})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
    return fmt::format("status {:#x}", status);
}

}  // namespace

Master::Master(MasterOptions options, cs::Fd port_socket, const cs::Log& log)
    : options_(std::move(options)), port_socket_(std::move(port_socket)), log_(log) {
    for (int slot = 0; slot < options_.workers; ++slot) workers_.push_back({.slot = slot});
}

void Master::start() {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC | O_NONBLOCK) < 0) throw std::system_error(errno, std::generic_category(), "pipe2()");
    ready_read_ = cs::Fd{ends[0]};
    ready_write_ = cs::Fd{ends[1]};
    for (Worker& worker : workers_) spawn(worker);
}

// [slide:spawn]
void Master::spawn(Worker& worker) {
    pid_t pid = ::fork();
    if (pid < 0) {
        log_.info("master: fork() failed: {}; worker {} is not replaced", cs::errno_text(), worker.slot);
        return;
    }
    if (pid == 0) become_worker(worker);  // never returns
    worker = {.slot = worker.slot, .pid = pid, .ready = false};
    log_.info("master: started worker {} (pid {})", worker.slot, pid);
}

// In the child. It inherited every descriptor of the master; it keeps the listener and the
// write end of the ready pipe, and in reuseport mode opens a listener of its own on the port.
void Master::become_worker(const Worker& worker) {
    ready_read_.reset();
    cs::Fd listener = std::move(port_socket_);
    // [todo:1 a listener of its own with SO_REUSEPORT | tests: ReuseportModeFourWorkersHaveFourDifferentListeners, ReuseportSpreadsSixtyFourClientsOverAtLeastThreeOfFourWorkers]
    //? --share reuseport: the master's socket is bound but never listens (it holds the port). Open
    //? this worker's own listener on the same port with cs::listen_tcp(... .reuse_port = true ...):
    //? the kernel then spreads new connections over the workers' listeners.
    if (options_.reuseport) {
        std::uint16_t port = cs::local_port(listener.get());
        listener.reset();  // the master's socket only holds the port
        try {
            listener = cs::listen_tcp({.host = options_.host, .port = port, .reuse_port = true, .nonblocking = true});
        } catch (const std::system_error& error) {
            log_.info("worker {}: {}", worker.slot, error.what());
            ::_exit(1);
        }
    }
    // [/todo]
    WorkerSetup setup = options_.worker;
    setup.slot = worker.slot;
    setup.ready_fd = ready_write_.release();
    run_worker(std::move(listener), setup, log_);
}
// [/slide]

// [slide:reap]
// 02's rule: one SIGCHLD may stand for several exits, so reap until there is none left.
void Master::reap_children() {
    int status = 0;
    pid_t pid;
    // [todo:2 reap every child and replace it | tests: KilledWorkerIsReplacedWithinOneSecondAndOtherClientsKeepTheirConnections, SigtermToOneWorkerReplacesItGracefully]
    //? waitpid(-1, &status, WNOHANG) until it returns 0 or -1: signals do not queue. For each pid,
    //? find its Worker and call on_exit(worker, status), which logs it and spawns a replacement.
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
        for (Worker& worker : workers_) {
            if (worker.pid == pid) on_exit(worker, status);
        }
    }
    //| while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
    //|     for (Worker& worker : workers_) {
    //|         if (worker.pid == pid) worker.pid = 0;  // reaped, but never replaced
    //|     }
    //| }
    // [/todo]
    if (stopping_ && alive() == 0 && exit_code_ < 0) exit_code_ = 0;
}
// [/slide]

void Master::on_exit(Worker& worker, int status) {
    bool was_ready = worker.ready;
    pid_t pid = worker.pid;
    worker.pid = 0;
    if (stopping_) return log_.info("master: worker {} (pid {}) exited: {}", worker.slot, pid, describe(status));
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    log_.info("master: worker {} (pid {}) {}: {}", worker.slot, pid, clean ? "exited on its own" : "died",
              describe(status));
    if (!was_ready && ++early_deaths_ >= kMaxEarlyDeaths) return give_up();
    ++respawns_;
    spawn(worker);
}

void Master::give_up() {
    log_.info("master: {} workers in a row died before they were ready; giving up", kMaxEarlyDeaths);
    for (Worker& worker : workers_) {
        if (worker.pid > 0) ::kill(worker.pid, SIGKILL);
    }
    stopping_ = true;
    exit_code_ = 1;
}

void Master::read_ready() {
    unsigned char slots[64];
    ssize_t count;
    while ((count = ::read(ready_read_.get(), slots, sizeof slots)) > 0) {
        for (ssize_t i = 0; i < count; ++i) {
            if (slots[i] >= workers_.size() || workers_[slots[i]].pid == 0) continue;  // died since
            Worker& worker = workers_[slots[i]];
            worker.ready = true;
            early_deaths_ = 0;
            log_.info("master: worker {} (pid {}) ready", worker.slot, worker.pid);
        }
    }
    bool all_ready = true;
    for (const Worker& worker : workers_) all_ready = all_ready && worker.ready;
    if (all_ready && !announced_ && !stopping_) {
        announced_ = true;
        cs::announce_listening(port_socket_);  // the contract's line, once every worker serves
    }
}

void Master::stop() {
    if (stopping_) {  // a second SIGTERM: no more waiting
        log_.info("master: stopping now");
        kill_at_ = Clock::now();
        return;
    }
    stopping_ = true;
    kill_at_ = Clock::now() + options_.worker.grace + kKillMargin;
    // [todo:3 stop gracefully: SIGTERM, then SIGKILL past the grace | tests: SigtermDuringASixteenMiBTransferDeliversEveryByteThenEof]
    //? Send each live worker SIGTERM: it finishes its connections within --grace. on_time() sends
    //? SIGKILL to whoever is still there at kill_at_.
    log_.info("master: stopping; SIGTERM to {} worker(s)", alive());
    for (const Worker& worker : workers_) {
        if (worker.pid > 0) ::kill(worker.pid, SIGTERM);
    }
    //| for (const Worker& worker : workers_) {
    //|     if (worker.pid > 0) ::kill(worker.pid, SIGKILL);  // no grace: connections are cut
    //| }
    // [/todo]
    if (alive() == 0) exit_code_ = 0;
}

void Master::on_time(Clock::time_point now) {
    if (!stopping_ || exit_code_ >= 0 || now < kill_at_) return;
    for (const Worker& worker : workers_) {
        if (worker.pid > 0) {
            log_.info("master: worker {} (pid {}) is past its grace period; SIGKILL", worker.slot, worker.pid);
            ::kill(worker.pid, SIGKILL);
        }
    }
    kill_at_ = now + kKillMargin;  // reaped on the SIGCHLD that follows
}

int Master::timeout_ms(Clock::time_point now) const {
    if (!stopping_ || exit_code_ >= 0) return -1;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(kill_at_ - now).count();
    return static_cast<int>(std::max<long long>(0, left) + 1);
}

void Master::report_stats() const {
    log_.stats("stats: master: {} workers alive, {} respawns", alive(), respawns_);
    for (const Worker& worker : workers_) {
        if (worker.pid > 0) ::kill(worker.pid, SIGUSR1);
    }
}

int Master::alive() const {
    int count = 0;
    for (const Worker& worker : workers_) count += worker.pid > 0 ? 1 : 0;
    return count;
}

}  // namespace lesson06
