// tests/support/server_process.cpp — fork/exec a server in its own process group, read its
// readiness line, drain its output, and always kill the group at the end.
#include "tests/support/server_process.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <poll.h>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

namespace cs::test {

std::string ExitStatus::describe() const {
    if (signal != 0) return fmt::format("killed by signal {} ({})", signal, ::strsignal(signal));
    return fmt::format("exit code {}", code);
}

// Reads one pipe until EOF on a thread of its own, so the server never blocks on a full pipe.
class OutputDrain {
public:
    explicit OutputDrain(int fd) : fd_(fd), thread_([this] { run(); }) {}
    ~OutputDrain() {
        stop_ = true;
        thread_.join();
        ::close(fd_);
    }

    std::string text() const {
        std::lock_guard lock(mutex_);
        return text_;
    }

    template <class Predicate>
    bool wait_for(Predicate done, std::chrono::milliseconds timeout) const {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return done(text_, eof_); });
    }

private:
    void run() {
        char chunk[4096];
        while (!stop_) {
            pollfd readable{fd_, POLLIN, 0};
            int ready = ::poll(&readable, 1, 50);  // wake up now and then to notice stop_
            if (ready <= 0) continue;
            ssize_t n = ::read(fd_, chunk, sizeof chunk);
            if (n < 0 && errno == EINTR) continue;
            std::lock_guard lock(mutex_);
            if (n <= 0) {
                eof_ = true;
                changed_.notify_all();
                return;
            }
            text_.append(chunk, static_cast<std::size_t>(n));
            changed_.notify_all();
        }
    }

    int fd_;
    std::atomic<bool> stop_{false};
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    std::string text_;
    bool eof_ = false;
    std::thread thread_;
};

namespace {

struct Spawned {
    pid_t pid;
    int out_fd;
    int err_fd;
};

void reset_signals_in_child() {
    // Ignored signals stay ignored across exec(): the test process ignores SIGPIPE, and the
    // server must not inherit that (a server that dies of SIGPIPE must be seen dying).
    struct sigaction defaults {};
    defaults.sa_handler = SIG_DFL;
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2}) ::sigaction(sig, &defaults, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

// Every descriptor above stderr. close_range() (Linux 5.11) in one call; else one fcntl() per
// possible descriptor. Both are plain system calls, safe between fork() and exec().
void mark_inherited_descriptors_close_on_exec() {
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    int highest = limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > 65536 ? 65536 : static_cast<int>(limit.rlim_cur);
    for (int fd = 3; fd < highest; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

Spawned spawn(const std::string& binary, const std::vector<std::string>& args, std::optional<rlim_t> nofile,
              const std::vector<int>& pass_fds = {}) {
    std::vector<std::string> argv_storage{binary};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : argv_storage) argv.push_back(arg.data());
    argv.push_back(nullptr);

    int out[2], err[2], exec_error[2];
    if (::pipe2(out, O_CLOEXEC) < 0 || ::pipe2(err, O_CLOEXEC) < 0 || ::pipe2(exec_error, O_CLOEXEC) < 0) {
        throw std::runtime_error(fmt::format("pipe2(): {}", std::strerror(errno)));
    }
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(fmt::format("fork(): {}", std::strerror(errno)));
    if (pid == 0) {
        // Child: only async-signal-safe calls until exec (the test process has threads).
        ::setpgid(0, 0);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        ::dup2(devnull, STDIN_FILENO);
        ::dup2(out[1], STDOUT_FILENO);
        ::dup2(err[1], STDERR_FILENO);
        // Whatever the test runner left open without close-on-exec (a CI agent's pipes, a shell's
        // redirections) must not reach the server: under RLIMIT_NOFILE = 32 each one is a client
        // fewer, and a descriptor count would start from the runner's habits. Marked close-on-exec
        // rather than closed, so exec_error[1] still reports a failed exec.
        mark_inherited_descriptors_close_on_exec();
        for (int fd : pass_fds) ::fcntl(fd, F_SETFD, 0);  // but these on purpose (systemd's LISTEN_FDS)
        if (nofile) {
            rlimit limit{*nofile, *nofile};
            ::setrlimit(RLIMIT_NOFILE, &limit);
        }
        reset_signals_in_child();
        ::execv(binary.c_str(), argv.data());
        int error = errno;
        [[maybe_unused]] ssize_t ignored = ::write(exec_error[1], &error, sizeof error);
        ::_exit(127);
    }
    ::setpgid(pid, pid);  // also here, so the group exists before we might signal it
    ::close(devnull);
    ::close(out[1]);
    ::close(err[1]);
    ::close(exec_error[1]);
    int error = 0;
    ssize_t n = ::read(exec_error[0], &error, sizeof error);  // EOF (0) means exec succeeded
    ::close(exec_error[0]);
    if (n == static_cast<ssize_t>(sizeof error)) {
        ::waitpid(pid, nullptr, 0);
        ::close(out[0]);
        ::close(err[0]);
        throw std::runtime_error(fmt::format("cannot run {}: {}", binary, std::strerror(error)));
    }
    return {pid, out[0], err[0]};
}

ExitStatus decode(int status) {
    if (WIFSIGNALED(status)) return {-1, WTERMSIG(status)};
    return {WEXITSTATUS(status), 0};
}

std::optional<ExitStatus> wait_pid(pid_t pid, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid) return decode(status);
        if (done < 0 && errno != EINTR) return ExitStatus{};  // not our child any more
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(2ms);  // polling a state with a deadline, not waiting for luck
    }
}

bool has_flag(const std::vector<std::string>& args, std::string_view flag) {
    for (const auto& arg : args) {
        if (arg == flag || arg.starts_with(std::string(flag) + "=")) return true;
    }
    return false;
}

}  // namespace

ServerProcess ServerProcess::start(const Launch& launch) {
    std::vector<std::string> args = launch.args;
    if (launch.add_port_zero && !has_flag(args, "--port")) {
        args.insert(args.end(), {"--port", "0"});
    }
    Spawned spawned = spawn(launch.binary, args, launch.nofile_limit, launch.pass_fds);
    ServerProcess server;
    server.pid_ = spawned.pid;
    server.out_ = std::make_unique<OutputDrain>(spawned.out_fd);
    server.err_ = std::make_unique<OutputDrain>(spawned.err_fd);

    bool got_line = server.out_->wait_for(
        [](const std::string& text, bool eof) { return eof || text.find('\n') != std::string::npos; },
        launch.ready_timeout);
    std::string out = server.out_->text();
    std::size_t newline = out.find('\n');
    std::string first_line = newline == std::string::npos ? out : out.substr(0, newline);
    constexpr std::string_view kPrefix = "listening on ";
    std::size_t colon = first_line.rfind(':');
    if (!got_line || newline == std::string::npos || !first_line.starts_with(kPrefix) || colon == std::string::npos) {
        std::string why =
            !got_line ? fmt::format("no listening line within {} ms", launch.ready_timeout.count())
                      : fmt::format("first stdout line was '{}', expected 'listening on HOST:PORT'", first_line);
        // Give stderr a moment to arrive so the failure message can show it.
        server.err_->wait_for([](const std::string&, bool eof) { return eof; }, 200ms);
        throw std::runtime_error(fmt::format("{} {}: {}\nserver stderr:\n{}", launch.binary, fmt::join(args, " "), why,
                                             server.err_->text()));
    }
    server.listening_line_ = first_line;
    server.host_ = first_line.substr(kPrefix.size(), colon - kPrefix.size());
    if (server.host_.starts_with('[')) server.host_ = server.host_.substr(1, server.host_.size() - 2);
    server.port_ = static_cast<std::uint16_t>(std::stoi(first_line.substr(colon + 1)));
    return server;
}

ServerProcess::ServerProcess(ServerProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), exit_(other.exit_), port_(other.port_), host_(std::move(other.host_)),
      listening_line_(std::move(other.listening_line_)), out_(std::move(other.out_)), err_(std::move(other.err_)) {}

ServerProcess::~ServerProcess() {
    if (pid_ <= 0) return;
    // ECHO_SERVER_GRACEFUL_STOP=1 (the valgrind run): SIGTERM first, so the server exits by
    // itself and a checker wrapped around it can report leaks; SIGKILL after 3 s regardless.
    if (const char* graceful = std::getenv("ECHO_SERVER_GRACEFUL_STOP"); graceful && *graceful == '1' && !exit_) {
        ::kill(pid_, SIGTERM);
        exit_ = wait_pid(pid_, 3s);
    }
    ::kill(-pid_, SIGKILL);  // the whole group: the server and every child it forked
    if (!exit_) ::waitpid(pid_, nullptr, 0);
    // Reap the group's orphans that were re-parented to us (the test binary is a subreaper).
    siginfo_t info{};
    while (::waitid(P_PGID, static_cast<id_t>(pid_), &info, WEXITED) == 0 || errno == EINTR) {
    }
}

std::string ServerProcess::stdout_text() const { return out_->text(); }
std::string ServerProcess::stderr_text() const { return err_->text(); }

bool ServerProcess::wait_for_stderr(std::string_view needle, std::chrono::milliseconds timeout) const {
    return err_->wait_for([&](const std::string& text, bool) { return text.find(needle) != std::string::npos; },
                          timeout);
}

void ServerProcess::signal(int sig) const { ::kill(pid_, sig); }

std::optional<ExitStatus> ServerProcess::wait_exit(std::chrono::milliseconds timeout) {
    if (!exit_) exit_ = wait_pid(pid_, timeout);
    return exit_;
}

bool ServerProcess::running() { return !wait_exit(0ms).has_value(); }

RunResult run_to_exit(const std::string& binary, const std::vector<std::string>& args,
                      std::chrono::milliseconds timeout) {
    Spawned spawned = spawn(binary, args, std::nullopt);
    OutputDrain out(spawned.out_fd);
    OutputDrain err(spawned.err_fd);
    RunResult result;
    auto status = wait_pid(spawned.pid, timeout);
    if (!status) {
        result.timed_out = true;
        ::kill(-spawned.pid, SIGKILL);
        status = wait_pid(spawned.pid, 5s);
    }
    ::kill(-spawned.pid, SIGKILL);  // anything it left behind in its group
    auto at_eof = [](const std::string&, bool eof) { return eof; };
    out.wait_for(at_eof, 1s);
    err.wait_for(at_eof, 1s);
    result.status = status.value_or(ExitStatus{});
    result.out = out.text();
    result.err = err.text();
    return result;
}

}  // namespace cs::test
