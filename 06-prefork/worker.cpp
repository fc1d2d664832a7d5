// 06-prefork/worker.cpp — a worker: 05's event loop, unchanged, in a process of its own.
// What is new is only around the loop: the signals a worker takes (a signalfd is the loop's stop
// fd), telling the master it is ready, learning that the master died, and _exit().
#include "worker.hpp"

#include "05-epoll-pool/event_loop.hpp"

#include <atomic>
#include <csignal>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace lesson06 {
namespace {

constexpr std::chrono::milliseconds kOrphanGrace{1000};  // master gone: finish briefly, then go

// The master's handlers and blocked mask came with fork(). The worker wants its own: SIGTERM,
// SIGINT, SIGHUP (the master died) and SIGUSR1 blocked and read from a signalfd, which is the
// stop fd of 05's loop: any of them ends run(), and the worker decides what it meant.
cs::Fd worker_signals() {
    sigset_t ours;
    sigemptyset(&ours);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&ours, sig);
    ::sigprocmask(SIG_SETMASK, &ours, nullptr);  // exactly these: SIGCHLD is the master's business
    for (int sig : {SIGCHLD, SIGUSR2}) ::signal(sig, SIG_DFL);
    return cs::Fd{::signalfd(-1, &ours, SFD_CLOEXEC | SFD_NONBLOCK)};
}

int next_signal(int signal_fd) {
    signalfd_siginfo info{};
    if (::read(signal_fd, &info, sizeof info) != static_cast<ssize_t>(sizeof info)) return 0;
    return static_cast<int>(info.ssi_signo);
}

}  // namespace

// [slide:worker]
void run_worker(cs::Fd listener, const WorkerSetup& setup, const cs::Log& log) {
    ::prctl(PR_SET_NAME, "prefork-worker");  // what `ps -o comm` and `top` show
    pid_t master = ::getppid();
    ::prctl(PR_SET_PDEATHSIG, SIGHUP);  // the kernel tells us when the master dies...
    cs::Fd signals = worker_signals();
    if (!signals || ::getppid() != master) ::_exit(1);  // ...unless it died before we asked
    std::atomic<int> open_total{0};
    lesson05::LoopOptions options{.max_conns = setup.max_conns, .idle_timeout = setup.idle_timeout};
    try {
        lesson05::EventLoop loop(std::move(listener), signals.get(), options, open_total, log);
        unsigned char slot = static_cast<unsigned char>(setup.slot);
        if (::write(setup.ready_fd, &slot, 1) != 1) ::_exit(1);  // "ready": the master counts on it
        ::close(setup.ready_fd);
        for (;;) {
            if (!loop.run()) ::_exit(cs::kExitLoopFailed);
            int sig = next_signal(signals.get());
            if (sig == SIGUSR1) {
                lesson05::LoopStats stats = loop.stats();
                log.stats("stats: worker {}: {} open, {} accepted", setup.slot, stats.open, stats.accepted);
                continue;
            }
            if (sig == 0) continue;  // another reader got it first
            if (sig == SIGHUP) log.info("worker {}: the master is gone; stopping", setup.slot);
            // [todo:4 finish what is in flight | tests: SigtermDuringASixteenMiBTransferDeliversEveryByteThenEof, WorkersExitWithinTwoSecondsWhenTheMasterIsKilled]
            //? 05's loop.finish(deadline) stops accepting and lets busy connections end: give it the
            //? grace period (setup.grace), or kOrphanGrace when the master is gone (SIGHUP).
            loop.finish(lesson05::Clock::now() + (sig == SIGHUP ? kOrphanGrace : setup.grace));
            //| (void)kOrphanGrace;  // not written yet: connections in flight are cut at once
            // [/todo]
            log.info("worker {}: exiting; {} accepted", setup.slot, loop.stats().accepted);  // bench's spread
            ::_exit(0);  // never exit(): no atexit handlers or stdio flushes that belong to the master
        }
    } catch (const std::exception& error) {
        log.info("worker {}: cannot start: {}", setup.slot, error.what());
        ::_exit(1);
    }
}
// [/slide]

}  // namespace lesson06
