// tests/support/server_process.hpp — a server binary running as a child process under test.
//
// start() forks, puts the child in a process group of its own, execs the binary with
// --port 0, and waits for the contract's readiness line "listening on HOST:PORT" on stdout
// (never a sleep). Its stdout and stderr are drained by two threads into buffers that tests
// can search. The destructor SIGKILLs the whole group (the server and any children it forked)
// and reaps the server, so no test leaves a process behind, even when an assertion fails.
// The child also gets PR_SET_PDEATHSIG, so the server dies if the test process itself dies.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace cs::test {

using namespace std::chrono_literals;

struct Launch {
    std::string binary;
    std::vector<std::string> args;       // after the binary; "--port 0" is added unless present
    std::optional<rlim_t> nofile_limit;  // RLIMIT_NOFILE for the server (soft and hard)
    std::chrono::milliseconds ready_timeout = 10s;
    bool add_port_zero = true;
    std::vector<int> pass_fds;  // descriptors the server inherits; every other one above 2 is closed
};

// How a process ended: exit code, or the signal that killed it.
struct ExitStatus {
    int code = -1;   // WEXITSTATUS, or -1 when killed by a signal
    int signal = 0;  // WTERMSIG, or 0
    std::string describe() const;
};

class OutputDrain;  // stdout/stderr collector (server_process.cpp)

class ServerProcess {
public:
    // Throws std::runtime_error (with the server's stderr) when the binary does not start or
    // does not print its listening line within launch.ready_timeout.
    static ServerProcess start(const Launch& launch);

    ServerProcess(ServerProcess&&) noexcept;
    ServerProcess& operator=(ServerProcess&&) = delete;
    ServerProcess(const ServerProcess&) = delete;
    ~ServerProcess();

    pid_t pid() const noexcept { return pid_; }
    std::uint16_t port() const noexcept { return port_; }
    const std::string& host() const noexcept { return host_; }
    const std::string& listening_line() const noexcept { return listening_line_; }

    std::string stdout_text() const;
    std::string stderr_text() const;
    // Waits until the server's stderr contains `needle`; true if it did within the timeout.
    bool wait_for_stderr(std::string_view needle, std::chrono::milliseconds timeout) const;

    void signal(int sig) const;
    // Waits for the server to exit (it has not been reaped yet). Nothing on timeout.
    std::optional<ExitStatus> wait_exit(std::chrono::milliseconds timeout);
    bool running();

private:
    ServerProcess() = default;

    pid_t pid_ = -1;
    std::optional<ExitStatus> exit_;
    std::uint16_t port_ = 0;
    std::string host_;
    std::string listening_line_;
    std::unique_ptr<OutputDrain> out_;
    std::unique_ptr<OutputDrain> err_;
};

// Runs a binary to completion (for --help, bad usage, start-up failures). A run that outlives
// the timeout is killed and reported with timed_out = true.
struct RunResult {
    ExitStatus status;
    bool timed_out = false;
    std::string out;
    std::string err;
};
RunResult run_to_exit(const std::string& binary, const std::vector<std::string>& args,
                      std::chrono::milliseconds timeout = 5s);

}  // namespace cs::test
