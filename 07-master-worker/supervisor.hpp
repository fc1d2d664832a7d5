// 07-master-worker/supervisor.hpp — the master's side: starting, reaping and replacing workers, talking
// to them over their channels, rolling restarts (SIGHUP) and the binary upgrade (SIGUSR2).
//
// The master never serves a client. It is driven by main.cpp's loop: a signal handler only sets a
// flag, and the loop calls the matching method here once it is awake (see main.cpp).
// Owner: the master process, single-threaded. A forked worker drops all of it (become_worker()).
#pragma once

#include "accept_lock.hpp"
#include "channel.hpp"
#include "common/contract.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"
#include "share.hpp"

#include <chrono>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/types.h>
#include <vector>

namespace lesson07 {

using Clock = std::chrono::steady_clock;

// The environment variable through which a new master (SIGUSR2) tells the old one it is ready.
inline constexpr const char* kReadyFdVariable = "ECHO_MASTER_WORKER_READY_FD";
inline constexpr int kWorkerChannelFd = 3;  // where a pass-mode worker finds its channel after exec()

// execvp() of our own command line; never returns (exit 127 when the exec fails).
[[noreturn]] void exec_self(std::vector<std::string> argv, const cs::Log& log);

struct MasterOptions {
    int workers = 1;
    Share share = Share::kInherit;
    LockMode lock_mode = LockMode::kExclusive;
    std::chrono::milliseconds grace{5000};
    std::size_t max_conns = 1000;                                // per worker: passed on to each
    std::chrono::seconds idle_timeout{cs::kDefaultIdleTimeout};  // passed on to each worker
    std::vector<std::string> argv;  // our own command line: to exec workers (pass) and a new master
};

class Master {
public:
    Master(MasterOptions options, cs::Fd port_socket, std::optional<AcceptLock> lock, cs::Fd ready_fd,
           const cs::Log& log);

    void start();          // the first generation of workers
    void reap_children();  // SIGCHLD
    void stop();           // SIGTERM, SIGINT; a second one closes connections at once
    void reload();         // SIGHUP
    void report_stats();   // SIGUSR1
    void upgrade();        // SIGUSR2

    std::vector<pollfd> poll_set() const;  // worker channels and the upgrade pipe
    void on_readable();                    // after poll: read what the channels say
    void on_time(Clock::time_point now);   // deadlines: SIGKILL for stragglers
    int timeout_ms(Clock::time_point now) const;

    bool finished() const noexcept { return stopping_ && workers_.empty(); }
    int finish();  // prints the exit table; returns the exit code

private:
    struct Worker {
        pid_t pid = -1;
        int slot = 0;
        int generation = 0;
        cs::Fd channel;  // the master's end
        bool ready = false;
        bool stopping = false;  // told to stop, so its exit is expected
        bool killed = false;
        Clock::time_point kill_at;         // stopping: SIGKILL if still alive by then
        std::optional<Counters> counters;  // its last words (kStats), for the table at exit
    };
    struct Row {
        int slot;
        pid_t pid;
        std::optional<Counters> counters;
    };
    struct Upgrade {
        pid_t pid;
        cs::Fd ready_pipe;
        bool ready = false;
    };

    void spawn(int slot);
    [[noreturn]] void become_worker(int slot, Channel channel);
    [[noreturn]] void exec_worker(const cs::Fd& channel);
    [[noreturn]] void exec_new_master(int ready_fd);
    void read_channel(Worker& worker);
    void on_ready(Worker& worker);
    void on_worker_exit(Worker worker, int status);
    void tell_stop(Worker& worker, std::chrono::milliseconds grace);
    void read_upgrade_pipe();
    void print_table(const char* when, const std::vector<Row>& rows) const;

    MasterOptions options_;
    cs::Fd port_socket_;
    std::optional<AcceptLock> lock_;
    cs::Fd ready_fd_;  // set when we are a new master: tell the old one once our workers are ready
    const cs::Log& log_;
    std::vector<Worker> workers_;
    int generation_ = 0;
    int early_deaths_ = 0;  // workers in a row that died before they were ready
    int respawns_ = 0;      // workers started to replace one that died (SIGUSR1 reports it)
    bool announced_ = false;
    bool reloading_ = false;
    bool stopping_ = false;
    int exit_code_ = 0;
    std::optional<Upgrade> upgrade_;
    std::vector<Row> final_rows_;
};

}  // namespace lesson07
