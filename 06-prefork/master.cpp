// 06-prefork/master.cpp — fork, waitpid and kill, seen from the master: 02's fork and reaping,
// for long-lived workers that are started once and replaced when they die.
#include "master.hpp"

#include "common/exit_status.hpp"
#include "common/net.hpp"

#include <algorithm>
#include <csignal>
#include <fcntl.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>
#include <utility>

namespace lesson06 {
namespace {

using namespace std::chrono_literals;

constexpr int kMaxEarlyDeaths = 5;   // failed starts in a row, no worker serving: broken, give up
constexpr auto kKillMargin = 1s;     // past the grace period, a stopping worker gets SIGKILL
constexpr auto kFirstRetry = 100ms;  // a failed start is tried again after 0.1 s, 0.2, 0.4, ...

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
    if (pid < 0) {  // EAGAIN: the process limit; ENOMEM
        log_.info("master: fork() failed for worker {}: {}", worker.slot, cs::errno_text());
        return start_failed(worker);
    }
    if (pid == 0) become_worker(worker);  // never returns
    worker.pid = pid;
    worker.ready = false;
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
    pid_t pid = std::exchange(worker.pid, 0);
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    const char* how = stopping_ ? "exited" : clean ? "exited on its own" : "died";
    log_.info("master: worker {} (pid {}) {}: {}", worker.slot, pid, how, cs::describe_exit(status));
    if (stopping_) return;
    if (!worker.ready) return start_failed(worker);
    ++respawns_;
    spawn(worker);  // it served: replace it at once
}

// fork() failed, or the worker died before it was ready. At once again would fork-bomb a broken
// setup, never again would leave the slot empty after a passing shortage (processes, descriptors):
// so later, each time twice as late, and give up only when starts keep failing and no one serves.
void Master::start_failed(Worker& worker) {
    if (++early_deaths_ >= kMaxEarlyDeaths && serving() == 0) return give_up();
    auto delay = kFirstRetry * (1 << std::min(early_deaths_ - 1, 5));  // at most 3.2 s
    retry_at_ = Clock::now() + delay;
    log_.info("master: worker {} did not start ({} in a row); next try in {} ms", worker.slot, early_deaths_,
              delay.count());
}

void Master::give_up() {
    log_.info("master: {} worker starts in a row failed and no worker serves; giving up", early_deaths_);
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
    if (serving() > 0 && !announced_ && !stopping_) {
        announced_ = true;
        cs::announce_listening(port_socket_);  // the contract's line, once a worker serves
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
    for (Worker& worker : workers_) {
        if (!stopping_ && worker.pid == 0 && now >= retry_at_) spawn(worker);  // a failed start, tried again
    }
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
    if (exit_code_ >= 0 || (!stopping_ && alive() == options_.workers)) return -1;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>((stopping_ ? kill_at_ : retry_at_) - now).count();
    return static_cast<int>(std::max<long long>(0, left) + 1);
}

void Master::report_stats() const {
    log_.stats("stats: master: {} workers alive, {} respawns", alive(), respawns_);
    for (const Worker& worker : workers_) {
        if (worker.pid > 0) ::kill(worker.pid, SIGUSR1);
    }
}

int Master::alive() const {
    return static_cast<int>(std::ranges::count_if(workers_, [](const Worker& w) { return w.pid > 0; }));
}

int Master::serving() const {
    return static_cast<int>(std::ranges::count_if(workers_, [](const Worker& w) { return w.pid > 0 && w.ready; }));
}

}  // namespace lesson06
