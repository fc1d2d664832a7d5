// 07-master-worker/upgrade.cpp — SIGUSR2: the master re-executes its binary without closing the port.
//
// The old master forks a child that execs argv[0] (a new binary, if one was installed there) with
// the port socket at descriptor 3 and LISTEN_FDS=1, LISTEN_PID=<its pid>: the systemd
// socket-activation convention, so the same code path also serves a socket from systemd. The new
// master starts its own workers on that same socket and writes one byte to the pipe named by
// ECHO_MASTER_WORKER_READY_FD once they are ready; only then do the old master and its workers stop
// gracefully. Between the two, both generations accept from one queue: nobody is refused.
// The new master stays in our process group (no setsid()), so whoever signals the group reaches it.
#include "supervisor.hpp"

#include "common/net.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <unistd.h>

namespace lesson07 {

void Master::upgrade() {
    if (stopping_ || upgrade_) {
        log_.info("master: SIGUSR2 ignored: {}", stopping_ ? "stopping" : "an upgrade is in progress");
        return;
    }
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC | O_NONBLOCK) < 0) {
        log_.info("master: pipe2() failed: {}", cs::errno_text());
        return;
    }
    cs::Fd read_end{ends[0]}, write_end{ends[1]};
    pid_t pid = ::fork();
    if (pid < 0) {
        log_.info("master: fork() failed: {}", cs::errno_text());
        return;
    }
    if (pid == 0) exec_new_master(write_end.get());  // never returns
    upgrade_ = Upgrade{pid, std::move(read_end)};
    log_.info("master: upgrade: started a new master (pid {}); waiting until it is ready", pid);
}

void Master::exec_new_master(int ready_fd) {
    struct sigaction defaults {};
    defaults.sa_handler = SIG_DFL;
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2}) ::sigaction(sig, &defaults, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);  // a blocked mask survives exec(): clear it
    // The socket goes to descriptor 3, the ready pipe to 4. Either may sit on the other's target
    // number right now, so first lift both above the range, then place them.
    int port = ::fcntl(port_socket_.get(), F_DUPFD_CLOEXEC, 10);
    int ready = ::fcntl(ready_fd, F_DUPFD_CLOEXEC, 10);
    if (port < 0 || ready < 0 || !place_fd_for_exec(port, 3) || !place_fd_for_exec(ready, 4)) ::_exit(127);
    // The systemd socket-activation convention: descriptors from 3 on, LISTEN_PID names their owner.
    ::setenv("LISTEN_FDS", "1", 1);
    ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
    ::setenv(kReadyFdVariable, "4", 1);
    exec_self(options_.argv, log_);
}

void Master::read_upgrade_pipe() {
    char byte;
    ssize_t n = ::read(upgrade_->ready_pipe.get(), &byte, 1);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    upgrade_->ready_pipe.reset();  // one byte, or EOF: either way this pipe has said all it will
    if (n == 1) {
        upgrade_->ready = true;
        log_.info("master: upgrade: new master {} is ready; stopping my workers gracefully", upgrade_->pid);
        stop();
    }
}

}  // namespace lesson07
