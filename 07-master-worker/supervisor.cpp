// 07-master-worker/supervisor.cpp — fork, exec, waitpid and the channels, seen from the master.
#include "supervisor.hpp"

#include "common/net.hpp"
#include "worker.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace lesson07 {
namespace {

using namespace std::chrono_literals;

constexpr int kMaxEarlyDeaths = 5;  // workers in a row dead before ready: broken, stop fork-bombing
constexpr auto kKillMargin = 1s;    // past the grace period, a stopping worker gets SIGKILL

std::string describe(int status) {
    if (WIFEXITED(status)) return fmt::format("exit {}", WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        return fmt::format("killed by signal {} ({}){}", WTERMSIG(status), ::strsignal(WTERMSIG(status)),
                           WCOREDUMP(status) ? ", core dumped" : "");
    }
    return fmt::format("status {:#x}", status);
}

}  // namespace

void exec_self(std::vector<std::string> argv, const cs::Log& log) {
    std::vector<char*> pointers;
    for (auto& arg : argv) pointers.push_back(arg.data());
    pointers.push_back(nullptr);
    // argv[0], not /proc/self/exe: after an upgrade on disk the path names the new binary, while
    // /proc/self/exe still names the (deleted) file we were started from. execvp() searches PATH
    // when argv[0] has no slash, as the shell did when it started us.
    ::execvp(pointers[0], pointers.data());
    log.info("execvp({}) failed: {}", argv[0], cs::errno_text());
    ::_exit(127);
}

Master::Master(MasterOptions options, cs::Fd port_socket, std::optional<AcceptLock> lock, cs::Fd ready_fd,
               const cs::Log& log)
    : options_(std::move(options)), port_socket_(std::move(port_socket)), lock_(std::move(lock)),
      ready_fd_(std::move(ready_fd)), log_(log) {}

void Master::start() {
    log_.info("master: starting {} workers (share {}, accept-lock {})", options_.workers, share_name(options_.share),
              lock_mode_name(options_.lock_mode));
    for (int slot = 0; slot < options_.workers; ++slot) spawn(slot);
}

void Master::spawn(int slot) {
    Channel channel;
    try {
        channel = make_channel();
    } catch (const std::system_error& error) {
        log_.info("master: cannot start worker {}: {}", slot, error.what());  // what(): "socketpair(): <reason>"
        ++early_deaths_;
        return;
    }
    // [slide:spawn]
    pid_t pid = ::fork();
    if (pid < 0) {
        log_.info("master: fork() failed: {}", cs::errno_text());
        ++early_deaths_;
        return;
    }
    if (pid == 0) become_worker(slot, std::move(channel));  // never returns
    // The worker's end belongs to the worker. Kept open here, it would also keep the channel
    // alive after the worker died, and the master's read would never see EOF.
    channel.worker_end.reset();
    cs::set_nonblocking(channel.master_end.get());
    if (options_.share == Share::kPass) {
        // The exec'd worker inherited nothing: send it the listening socket (and the lock's memory).
        std::vector<int> fds{port_socket_.get()};
        if (lock_) fds.push_back(lock_->memory_fd());
        if (!send_message(channel.master_end.get(), {.command = Command::kListener, .slot = slot}, fds)) {
            log_.info("master: sendmsg() to worker {} failed: {}", slot, cs::errno_text());
        }
    }
    workers_.push_back({.pid = pid, .slot = slot, .generation = generation_, .channel = std::move(channel.master_end)});
    // [/slide]
    log_.info("master: started worker {} (pid {})", slot, pid);
}

void Master::become_worker(int slot, Channel channel) {
    reset_signals_for_worker();
    // This child is a copy of the master, holding the master's end of its own channel and of every
    // other worker's (and the upgrade pipe). Close them all: a master end left open in a worker
    // keeps that channel alive after the master died, and its worker would never read EOF.
    channel.master_end.reset();
    workers_.clear();
    upgrade_.reset();
    ready_fd_.reset();
    if (options_.share == Share::kPass) exec_worker(channel.worker_end);
    WorkerSetup setup{.slot = slot,
                      .share = options_.share,
                      .lock_mode = options_.lock_mode,
                      .grace = options_.grace,
                      .max_conns = options_.max_conns,
                      .idle_timeout = options_.idle_timeout,
                      .channel = std::move(channel.worker_end),
                      .port_socket = std::move(port_socket_),
                      .lock = lock_ ? &*lock_ : nullptr};
    // _exit, not exit (02 says why): the master's atexit handlers and stdio buffers are not ours to run.
    ::_exit(run_worker(std::move(setup), log_));
}

void Master::exec_worker(const cs::Fd& channel) {
    // Everything else we hold is close-on-exec; the channel is the one descriptor that crosses.
    if (!place_fd_for_exec(channel.get(), kWorkerChannelFd)) {
        log_.info("master: dup2() for a new worker failed: {}", cs::errno_text());
        ::_exit(127);
    }
    std::vector<std::string> argv = options_.argv;
    argv.insert(argv.end(), {"--worker-channel", std::to_string(kWorkerChannelFd)});
    exec_self(std::move(argv), log_);
}

void Master::reap_children() {
    for (;;) {
        int status = 0;
        pid_t pid = ::waitpid(-1, &status, WNOHANG);  // loop: one SIGCHLD may stand for many exits
        if (pid <= 0) return;                         // 0: none finished yet; -1 (ECHILD): no children
        if (upgrade_ && pid == upgrade_->pid) {
            log_.info("master: new master (pid {}) {}{}", pid, describe(status),
                      upgrade_->ready ? "" : " before it was ready; upgrade abandoned, still serving");
            upgrade_.reset();
            continue;
        }
        auto found = std::find_if(workers_.begin(), workers_.end(), [&](const Worker& w) { return w.pid == pid; });
        if (found == workers_.end()) continue;
        Worker worker = std::move(*found);
        workers_.erase(found);
        on_worker_exit(std::move(worker), status);
    }
}

void Master::on_worker_exit(Worker worker, int status) {
    read_channel(worker);  // its last words (the final counters) may still wait in the channel
    if (worker.stopping) {
        log_.info("master: worker {} (pid {}) exited: {}", worker.slot, worker.pid, describe(status));
        if (stopping_) final_rows_.push_back({worker.slot, worker.pid, worker.counters});
        return;
    }
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;  // e.g. a SIGTERM sent to this worker alone
    log_.info("master: worker {} (pid {}) {}: {}", worker.slot, worker.pid, clean ? "exited on its own" : "died",
              describe(status));
    if (stopping_ || worker.generation != generation_) return;  // newer workers already took over
    early_deaths_ = worker.ready ? 0 : early_deaths_ + 1;
    if (early_deaths_ >= kMaxEarlyDeaths) {
        log_.info("master: {} workers in a row died before they were ready; giving up", early_deaths_);
        exit_code_ = 1;
        stop();
        return;
    }
    ++respawns_;
    spawn(worker.slot);  // replaced at once: a fork() takes about a millisecond
}

void Master::read_channel(Worker& worker) {
    Message message;
    while (worker.channel) {
        int got = receive_message(worker.channel.get(), message);
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (got <= 0) {  // EOF: the worker is gone; SIGCHLD tells us how it ended
            worker.channel.reset();
            return;
        }
        if (message.command == Command::kReady) on_ready(worker);
        if (message.command == Command::kStats) worker.counters = message.counters;
    }
}

void Master::on_ready(Worker& worker) {
    worker.ready = true;
    early_deaths_ = 0;
    log_.info("master: worker {} (pid {}) ready", worker.slot, worker.pid);
    auto ready_now = std::count_if(workers_.begin(), workers_.end(),
                                   [&](const Worker& w) { return w.ready && w.generation == generation_; });
    if (ready_now < options_.workers) return;
    if (!announced_) {
        announced_ = true;
        cs::announce_listening(port_socket_);  // the readiness line, only once every worker can serve
        if (ready_fd_) {
            [[maybe_unused]] ssize_t ignored = ::write(ready_fd_.get(), "R", 1);  // the old master may now stop
            ready_fd_.reset();
        }
    }
    if (reloading_) {
        // Every new worker is ready: now the old ones stop accepting and finish their connections.
        // The listening socket itself never closed, so no client was refused in between.
        reloading_ = false;
        log_.info("master: reload: {} new workers ready; old workers stop gracefully", options_.workers);
        for (auto& old : workers_) {
            if (old.generation < generation_ && !old.stopping) tell_stop(old, options_.grace);
        }
    }
}

void Master::tell_stop(Worker& worker, std::chrono::milliseconds grace) {
    worker.stopping = true;
    worker.kill_at = Clock::now() + grace + kKillMargin;
    if (worker.channel) send_message(worker.channel.get(), {.command = Command::kStop, .grace_ms = grace.count()});
}

void Master::stop() {
    bool again = stopping_;
    stopping_ = true;
    std::chrono::milliseconds grace = again ? 0ms : options_.grace;  // a second signal: no more waiting
    log_.info("master: {}",
              again ? "stop signal again: workers close every connection now"
                    : fmt::format("stopping: workers finish their connections within {} ms", options_.grace.count()));
    for (auto& worker : workers_) tell_stop(worker, grace);
}

void Master::reload() {
    if (stopping_ || reloading_) {
        log_.info("master: SIGHUP ignored: {}", stopping_ ? "stopping" : "a reload is still in progress");
        return;
    }
    reloading_ = true;
    ++generation_;
    log_.info("master: reload: starting {} new workers", options_.workers);
    for (int slot = 0; slot < options_.workers; ++slot) spawn(slot);
}

// SIGUSR1: the master prints its own line and passes the signal on; each worker prints its own
// (it knows its counts; asking over the channel would mean waiting for N replies). kill() never
// blocks, so a storm of SIGUSR1 costs the master N system calls each, and changes nothing else.
void Master::report_stats() {
    log_.stats("stats: master: {} workers alive, {} respawns", workers_.size(), respawns_);
    for (const auto& worker : workers_) ::kill(worker.pid, SIGUSR1);
}

std::vector<pollfd> Master::poll_set() const {
    std::vector<pollfd> fds;
    for (const auto& worker : workers_) {
        if (worker.channel) fds.push_back({worker.channel.get(), POLLIN, 0});
    }
    if (upgrade_ && upgrade_->ready_pipe) fds.push_back({upgrade_->ready_pipe.get(), POLLIN, 0});
    return fds;
}

void Master::on_readable() {
    // Reading a quiet channel costs one EAGAIN; with a handful of workers that is simpler than
    // mapping poll results back to workers. on_ready() never adds or removes workers.
    for (auto& worker : workers_) read_channel(worker);
    if (upgrade_ && upgrade_->ready_pipe) read_upgrade_pipe();
}

void Master::on_time(Clock::time_point now) {
    for (auto& worker : workers_) {
        if (worker.stopping && !worker.killed && now >= worker.kill_at) {
            log_.info("master: worker {} (pid {}) outlived its grace period; SIGKILL", worker.slot, worker.pid);
            ::kill(worker.pid, SIGKILL);
            worker.killed = true;
        }
    }
}

int Master::timeout_ms(Clock::time_point now) const {
    std::optional<Clock::time_point> next;
    for (const auto& worker : workers_) {
        if (worker.stopping && !worker.killed) next = next ? std::min(*next, worker.kill_at) : worker.kill_at;
    }
    if (!next) return -1;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*next - now).count() + 1;
    return static_cast<int>(std::clamp<long>(ms, 0, 60'000));
}

void Master::print_table(const char* when, const std::vector<Row>& rows) const {
    log_.info("worker table {} (share {}, accept-lock {}):", when, share_name(options_.share),
              lock_mode_name(options_.lock_mode));
    log_.info("{:>8} {:>8} {:>10} {:>14} {:>10} {:>6}", "worker", "pid", "accepted", "empty-wakeups", "lock-busy",
              "open");
    Counters total;
    for (const auto& row : rows) {
        if (!row.counters) {
            log_.info("{:>8} {:>8} {:>10} {:>14} {:>10} {:>6}", row.slot, row.pid, "-", "-", "-", "-");
            continue;
        }
        const Counters& c = *row.counters;
        log_.info("{:>8} {:>8} {:>10} {:>14} {:>10} {:>6}", row.slot, row.pid, c.accepted, c.empty_wakeups, c.lock_busy,
                  c.open);
        total.accepted += c.accepted;
        total.empty_wakeups += c.empty_wakeups;
        total.lock_busy += c.lock_busy;
        total.open += c.open;
    }
    log_.info("{:>8} {:>8} {:>10} {:>14} {:>10} {:>6}", "total", "", total.accepted, total.empty_wakeups,
              total.lock_busy, total.open);
}

int Master::finish() {
    std::sort(final_rows_.begin(), final_rows_.end(), [](const Row& a, const Row& b) { return a.slot < b.slot; });
    print_table("at exit", final_rows_);
    log_.info("master: exiting ({})", exit_code_);
    return exit_code_;
}

}  // namespace lesson07
