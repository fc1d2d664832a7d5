// 07-master-worker/master.hpp — 06's master with a channel per worker: forking workers, reaping and replacing
// them, stopping them, and now talking to them: ready, stats and stop within G ms are messages, the listener
// travels to exec'd workers (--share pass), and a rolling restart (SIGHUP) swaps every worker without a gap.
#pragma once

#include "channel.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"
#include "worker.hpp"

#include <chrono>
#include <poll.h>
#include <string>
#include <sys/types.h>
#include <vector>

namespace lesson07 {

using Clock = std::chrono::steady_clock;

enum class Share { kInherit, kReusePort, kPass };

struct MasterOptions {
    int workers = 1;
    Share share = Share::kInherit;
    std::string host;
    std::chrono::milliseconds grace{5000};
    WorkerSetup worker;             // exclusive, max_conns, idle_timeout: the same for every worker
    std::vector<std::string> argv;  // our own command line: --share pass exec()s it for each worker
};

class Master {
public:
    // `port_socket` listens (inherit, pass) or is only bound with SO_REUSEPORT (reuseport).
    Master(MasterOptions options, cs::Fd port_socket, const cs::Log& log);

    void start();                                 // forks every worker
    void reap_children();                         // SIGCHLD: waitpid() every exited child, replace it unless stopping
    void read_channels();                         // a channel is readable: mark workers ready, announce the port once
    void stop();                                  // SIGTERM/SIGINT: kStop to every worker; a second one: SIGKILL
    void reload();                                // SIGHUP: new workers; once all are ready, kStop to the old ones
    void report_stats() const;                    // SIGUSR1: the master's line, then kStats to every worker
    void on_time(Clock::time_point now);          // retries failed starts; past the grace period, SIGKILL
    std::vector<pollfd> poll_set() const;         // the channels that may speak: ready, or EOF
    int timeout_ms(Clock::time_point now) const;  // until on_time() has work; -1: none
    bool finished() const noexcept { return exit_code_ >= 0; }
    int exit_code() const noexcept { return exit_code_; }

private:
    struct Worker {
        int slot = 0;
        pid_t pid = 0;  // 0: none running in this slot
        bool ready = false;
        cs::Fd channel;  // the master's end
    };

    bool spawn(Worker& worker);
    [[noreturn]] void become_worker(int slot, Channel channel);
    [[noreturn]] void exec_worker(int slot, cs::Fd channel);
    void on_exit(Worker& worker, int status);
    void start_failed(Worker& worker);
    void give_up();
    void read_channel(Worker& worker);
    void retire(std::vector<Worker>& workers, std::chrono::milliseconds grace);
    void abandon_reload(const char* why);
    int alive() const;
    int serving() const;  // alive and ready

    MasterOptions options_;
    cs::Fd port_socket_;
    const cs::Log& log_;
    std::vector<Worker> workers_;  // one per slot: the generation that serves
    std::vector<Worker> next_;     // SIGHUP: the generation starting up; it takes over once all are ready
    std::vector<Worker> retired_;  // told to stop (kStop), not reaped yet
    bool announced_ = false, stopping_ = false;
    Clock::time_point kill_at_{}, retry_at_{};  // SIGKILL for the rest; empty slots are started again
    int early_deaths_ = 0, respawns_ = 0;       // failed starts in a row: reset when a worker gets ready
    int exit_code_ = -1;
};

}  // namespace lesson07
