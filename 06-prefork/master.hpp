// 06-prefork/master.hpp — the master's side: forking workers, reaping and replacing them, stopping.
// The master never serves a client. It knows its workers by pid only: signals go down (SIGTERM,
// SIGUSR1), and one byte per worker comes up a shared pipe when that worker is ready.
#pragma once

#include "common/fd.hpp"
#include "common/log.hpp"
#include "worker.hpp"

#include <chrono>
#include <string>
#include <sys/types.h>
#include <vector>

namespace lesson06 {

using Clock = std::chrono::steady_clock;

struct MasterOptions {
    int workers = 1;
    bool reuseport = false;  // each worker opens its own listener; the port socket only holds the port
    std::string host;
    WorkerSetup worker;  // grace, max_conns, idle_timeout: the same for every worker
};

class Master {
public:
    // `port_socket` listens (inherit) or is only bound with SO_REUSEPORT (reuseport).
    Master(MasterOptions options, cs::Fd port_socket, const cs::Log& log);

    void start();                         // forks every worker; throws std::system_error if pipe2() fails
    void reap_children();                 // SIGCHLD: waitpid() every exited child, replace it unless stopping
    void read_ready();                    // the ready pipe is readable: mark workers ready, announce the port once
    void stop();                          // SIGTERM/SIGINT: SIGTERM to every worker; a second one: SIGKILL
    void report_stats() const;            // SIGUSR1: the master's line, then the signal passed on
    void on_time(Clock::time_point now);  // retries failed starts; past the grace period, SIGKILL
    int ready_fd() const noexcept { return ready_read_.get(); }
    int timeout_ms(Clock::time_point now) const;  // until on_time() has work; -1: none
    bool finished() const noexcept { return exit_code_ >= 0; }
    int exit_code() const noexcept { return exit_code_; }

private:
    struct Worker {
        int slot = 0;
        pid_t pid = 0;  // 0: none running in this slot
        bool ready = false;
    };

    void spawn(Worker& worker);
    [[noreturn]] void become_worker(const Worker& worker);
    void on_exit(Worker& worker, int status);
    void start_failed(Worker& worker);
    void give_up();
    int alive() const;
    int serving() const;  // alive and ready

    MasterOptions options_;
    cs::Fd port_socket_;
    cs::Fd ready_read_, ready_write_;
    const cs::Log& log_;
    std::vector<Worker> workers_;
    bool announced_ = false, stopping_ = false;
    Clock::time_point kill_at_{}, retry_at_{};  // SIGKILL for the rest; empty slots are started again
    int early_deaths_ = 0, respawns_ = 0;       // failed starts in a row: reset when a worker gets ready
    int exit_code_ = -1;
};

}  // namespace lesson06
