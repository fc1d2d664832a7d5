// 07-master-worker/master.cpp — 06's master with a channel per worker: fork, waitpid and kill as in 06, and what
// the channel makes possible: the listener sent to exec'd workers, stats and stop as typed messages, and a
// rolling restart in which the port never closes.
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

namespace lesson07 {
namespace {

using namespace std::chrono_literals;

constexpr int kMaxEarlyDeaths = 5;   // failed starts in a row, no worker serving: broken, give up
constexpr auto kKillMargin = 1s;     // past the grace period, a stopping worker gets SIGKILL
constexpr auto kFirstRetry = 100ms;  // a failed start is tried again after 0.1 s, 0.2, 0.4, ...
constexpr int kWorkerChannelFd = 3;  // --share pass: where an exec'd worker finds its channel

}  // namespace

Master::Master(MasterOptions options, cs::Fd port_socket, const cs::Log& log)
    : options_(std::move(options)), port_socket_(std::move(port_socket)), log_(log) {
    for (int slot = 0; slot < options_.workers; ++slot) workers_.push_back({.slot = slot});
}

void Master::start() {
    for (Worker& worker : workers_) {
        if (!spawn(worker)) start_failed(worker);
    }
}

// [slide:spawn]
bool Master::spawn(Worker& worker) {
    Channel channel;
    try {
        channel = make_channel();  // before fork(): each process keeps one end
    } catch (const std::system_error& error) {
        log_.info("master: cannot start worker {}: {}", worker.slot, error.what());  // "socketpair(): <reason>"
        return false;
    }
    pid_t pid = ::fork();
    if (pid < 0) {  // EAGAIN: the process limit; ENOMEM
        log_.info("master: fork() failed for worker {}: {}", worker.slot, cs::errno_text());
        return false;
    }
    if (pid == 0) become_worker(worker.slot, std::move(channel));  // never returns
    // The worker's end is the worker's: kept open here too, it would outlive the worker (no EOF).
    channel.worker_end.reset();
    cs::set_nonblocking(channel.master_end.get());  // the master never waits for one worker
    // --share pass: the exec'd worker inherited nothing; its listener goes over the channel.
    Message listener{.command = Command::kListener, .slot = worker.slot};
    if (options_.share == Share::kPass && !send_message(channel.master_end.get(), listener, port_socket_.get())) {
        log_.info("master: sendmsg() to worker {} failed: {}", worker.slot, cs::errno_text());  // it dies unready
    }
    worker.pid = pid;
    worker.ready = false;
    worker.channel = std::move(channel.master_end);
    log_.info("master: started worker {} (pid {})", worker.slot, pid);
    return true;
}

// In the child. It inherited every descriptor of the master: it keeps the listener and its end of its
// channel, and closes the master's ends of every channel, its own and the other workers': a copy left
// open here would keep a channel alive after the master died, and its worker would never read EOF.
void Master::become_worker(int slot, Channel channel) {
    channel.master_end.reset();
    workers_.clear();
    next_.clear();
    retired_.clear();
    if (options_.share == Share::kPass) exec_worker(slot, std::move(channel.worker_end));
    cs::Fd listener = std::move(port_socket_);
    if (options_.share == Share::kReusePort) {  // 06's: the master's socket only holds the port
        std::uint16_t port = cs::local_port(listener.get());
        listener.reset();
        try {
            listener = cs::listen_tcp({.host = options_.host, .port = port, .reuse_port = true, .nonblocking = true});
        } catch (const std::system_error& error) {
            log_.info("worker {}: {}", slot, error.what());
            ::_exit(1);
        }
    }
    WorkerSetup setup = options_.worker;
    setup.slot = slot;
    run_worker(std::move(listener), std::move(channel.worker_end), setup, log_);
}
// [/slide]

// [slide:exec-worker]
// --share pass: the worker is a new program, fork()ed and exec()ed from our own command line. It inherits
// nothing but its channel, moved to descriptor 3 (all else is close-on-exec); the listener follows on it.
void Master::exec_worker(int slot, cs::Fd channel) {
    // dup2() gives the copy no close-on-exec; a descriptor already at 3 keeps its flag: clear it by hand.
    bool placed = channel.get() == kWorkerChannelFd ? ::fcntl(kWorkerChannelFd, F_SETFD, 0) == 0
                                                    : ::dup2(channel.get(), kWorkerChannelFd) == kWorkerChannelFd;
    std::vector<std::string> args = options_.argv;
    args.insert(args.end(), {"--worker-channel", std::to_string(kWorkerChannelFd)});
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    if (placed) ::execvp(argv[0], argv.data());  // argv[0] as the shell found it: PATH when it has no slash
    log_.info("worker {}: cannot exec {}: {}", slot, args[0], cs::errno_text());
    ::_exit(127);
}
// [/slide]

// [slide:reap]
// 02's rule: one SIGCHLD may stand for several exits, so reap until there is none left. A child is a worker
// of the serving generation (replace it), of the next one (a reload that failed) or a retired one (expected).
void Master::reap_children() {
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
        auto has_pid = [pid](const Worker& worker) { return worker.pid == pid; };
        if (auto serving = std::ranges::find_if(workers_, has_pid); serving != workers_.end()) {
            on_exit(*serving, status);
        } else if (auto fresh = std::ranges::find_if(next_, has_pid); fresh != next_.end()) {
            fresh->pid = 0;  // reaped: retire() has nothing to tell it
            log_.info("master: new worker (pid {}) died before the reload completed: {}", pid,
                      cs::describe_exit(status));
            abandon_reload("a new worker died before it was ready");
        } else if (auto old = std::ranges::find_if(retired_, has_pid); old != retired_.end()) {
            log_.info("master: worker {} (pid {}) exited: {}", old->slot, pid, cs::describe_exit(status));
            retired_.erase(old);
        }
    }
    if (stopping_ && alive() == 0 && exit_code_ < 0) exit_code_ = 0;
}
// [/slide]

void Master::on_exit(Worker& worker, int status) {
    pid_t pid = std::exchange(worker.pid, 0);
    worker.channel.reset();
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    log_.info("master: worker {} (pid {}) {}: {}", worker.slot, pid, clean ? "exited on its own" : "died",
              cs::describe_exit(status));
    if (!worker.ready) return start_failed(worker);
    ++respawns_;
    if (!spawn(worker)) start_failed(worker);  // it served: replace it at once
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
    for (const auto* group : {&workers_, &next_, &retired_}) {
        for (const Worker& worker : *group) {
            if (worker.pid > 0) ::kill(worker.pid, SIGKILL);
        }
    }
    stopping_ = true;
    exit_code_ = 1;
}

// A worker's channel is readable: kReady (count it in), or EOF (it is exiting; SIGCHLD will say how).
void Master::read_channel(Worker& worker) {
    Message message;
    while (worker.channel) {
        int got = receive_message(worker.channel.get(), message);
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (got <= 0) return worker.channel.reset();  // out of the poll set: EOF would wake us forever
        if (message.command != Command::kReady) continue;
        worker.ready = true;
        early_deaths_ = 0;
        log_.info("master: worker {} (pid {}) ready", worker.slot, worker.pid);
    }
}

// [slide:read-channels]
void Master::read_channels() {
    for (Worker& worker : workers_) read_channel(worker);
    for (Worker& worker : next_) read_channel(worker);
    bool all_new_ready = std::ranges::all_of(next_, [](const Worker& worker) { return worker.ready; });
    if (!next_.empty() && all_new_ready) {
        // Every new worker serves: now the old ones stop accepting and finish their connections. With one
        // listening socket (inherit, pass) the port never closed, so no client was refused in between.
        log_.info("master: reload: {} new workers ready; old workers stop gracefully", next_.size());
        retire(workers_, options_.grace);
        workers_ = std::exchange(next_, {});
    }
    if (serving() > 0 && !announced_ && !stopping_) {
        announced_ = true;
        cs::announce_listening(port_socket_);  // the contract's line, once a worker serves
    }
}
// [/slide]

// kStop to each worker of `workers`, which then wait in retired_ to be reaped: a stopping worker finishes
// its connections within `grace` (05's finish()) and exits 0.
void Master::retire(std::vector<Worker>& workers, std::chrono::milliseconds grace) {
    for (Worker& worker : workers) {
        if (worker.pid == 0) continue;
        // a channel at EOF is a worker already on its way out: nothing to tell
        if (worker.channel) send_message(worker.channel.get(), {.command = Command::kStop, .grace_ms = grace.count()});
        retired_.push_back(std::move(worker));
    }
    workers.clear();
}

void Master::stop() {
    if (stopping_) {  // a second SIGTERM: no more waiting
        log_.info("master: stopping now");
        kill_at_ = Clock::now();
        return;
    }
    stopping_ = true;
    kill_at_ = Clock::now() + options_.grace + kKillMargin;
    log_.info("master: stopping; kStop to {} worker(s)", alive());
    retire(next_, options_.grace);
    retire(workers_, options_.grace);
    if (alive() == 0) exit_code_ = 0;
}

// [slide:reload]
// SIGHUP: a whole new generation of workers, started next to the old one (read_channels() swaps them once
// every new worker is ready).
void Master::reload() {
    if (stopping_ || !next_.empty()) {
        return log_.info("master: SIGHUP ignored: {}", stopping_ ? "stopping" : "a reload is still in progress");
    }
    log_.info("master: reload: starting {} new workers", options_.workers);
    // [todo:3 a rolling restart: the new generation first | tests: SighupWhileAClientLoopOpensFiveHundredConnectionsLosesNone]
    //? Start options_.workers new workers in next_ (slots 0..N-1) with spawn(); if one cannot start,
    //? abandon_reload(). read_channels() retires the old generation once every new worker is ready.
    for (int slot = 0; slot < options_.workers; ++slot) {
        next_.push_back({.slot = slot});
        if (!spawn(next_.back())) return abandon_reload("a new worker did not start");
    }
    //| log_.info("master: reload: not written yet; the workers serve on");
    // [/todo]
}

// All or nothing: a new worker that could not start, or died before the swap, ends the reload. The new
// workers stop, the old ones serve on, and the next SIGHUP starts afresh.
void Master::abandon_reload(const char* why) {
    log_.info("master: reload abandoned: {}; the old workers serve on", why);
    retire(next_, 0ms);
}
// [/slide]

void Master::on_time(Clock::time_point now) {
    for (Worker& worker : workers_) {  // a failed start, tried again
        if (!stopping_ && worker.pid == 0 && now >= retry_at_ && !spawn(worker)) start_failed(worker);
    }
    if (!stopping_ || exit_code_ >= 0 || now < kill_at_) return;
    for (const Worker& worker : retired_) {
        if (worker.pid > 0) {
            log_.info("master: worker {} (pid {}) is past its grace period; SIGKILL", worker.slot, worker.pid);
            ::kill(worker.pid, SIGKILL);
        }
    }
    kill_at_ = now + kKillMargin;  // reaped on the SIGCHLD that follows
}

int Master::timeout_ms(Clock::time_point now) const {
    bool empty_slot = std::ranges::any_of(workers_, [](const Worker& worker) { return worker.pid == 0; });
    if (exit_code_ >= 0 || (!stopping_ && !empty_slot)) return -1;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>((stopping_ ? kill_at_ : retry_at_) - now).count();
    return static_cast<int>(std::max<long long>(0, left) + 1);
}

// SIGUSR1: the master prints its own line and asks each worker for its line over the channel (kStats).
// The master never waits for an answer: a worker prints its own counts, with its own pid on the line.
void Master::report_stats() const {
    log_.stats("stats: master: {} workers alive, {} respawns", alive(), respawns_);
    for (const auto* group : {&workers_, &next_}) {
        for (const Worker& worker : *group) {
            if (worker.channel) send_message(worker.channel.get(), {.command = Command::kStats, .slot = worker.slot});
        }
    }
}

std::vector<pollfd> Master::poll_set() const {
    std::vector<pollfd> channels;
    for (const auto* group : {&workers_, &next_}) {
        for (const Worker& worker : *group) {
            if (worker.channel) channels.push_back({worker.channel.get(), POLLIN, 0});
        }
    }
    return channels;
}

int Master::alive() const {
    auto running = [](const Worker& worker) { return worker.pid > 0; };
    return static_cast<int>(std::ranges::count_if(workers_, running) + std::ranges::count_if(next_, running) +
                            std::ranges::count_if(retired_, running));
}

int Master::serving() const {
    return static_cast<int>(std::ranges::count_if(workers_, [](const Worker& w) { return w.pid > 0 && w.ready; }));
}

}  // namespace lesson07
