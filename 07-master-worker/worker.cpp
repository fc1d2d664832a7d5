// 07-master-worker/worker.cpp — a worker: 05's event loop, unchanged, in a process that takes orders from a channel.
// What is new next to 06's worker is only around the loop: the channel is the loop's stop fd (any message, or
// EOF, ends run()), and the worker reads what it was: stats, stop within G ms, or the master gone.
#include "worker.hpp"

#include "05-epoll-pool/event_loop.hpp"
#include "channel.hpp"

#include <atomic>
#include <csignal>
#include <sys/prctl.h>
#include <unistd.h>

namespace lesson07 {
namespace {

constexpr std::chrono::milliseconds kOrphanGrace{1000};  // master gone: finish briefly, then go

// The master's handlers and blocked mask came with fork(). A worker takes orders from its channel
// only: a Ctrl-C or a `kill -TERM -<pgid>` reaches the whole process group, and the master decides
// what it means (it tells each worker over its channel). So the master's signals are ignored here.
void ignore_the_masters_signals() {
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2}) ::signal(sig, SIG_IGN);
    ::signal(SIGCHLD, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);  // a blocked mask survives fork() and exec(): clear it
}

}  // namespace

// [slide:worker]
void run_worker(cs::Fd listener, cs::Fd channel, const WorkerSetup& setup, const cs::Log& log) {
    ::prctl(PR_SET_NAME, "mw-worker");  // what `ps -o comm` and `top` show
    ignore_the_masters_signals();
    std::atomic<int> open_total{0};
    lesson05::LoopOptions options{
        .max_conns = setup.max_conns, .idle_timeout = setup.idle_timeout, .exclusive = setup.exclusive};
    try {
        lesson05::EventLoop loop(std::move(listener), channel.get(), options, open_total, log);
        if (!send_message(channel.get(), {.command = Command::kReady, .slot = setup.slot})) ::_exit(1);
        for (;;) {
            if (!loop.run()) ::_exit(cs::kExitLoopFailed);
            // [todo:2 act on the master's message | tests: EchoesEveryByteThroughASigusr1Storm, SigtermToTheWholeProcessGroupStillStopsGracefully, WorkersExitWithinTwoSecondsWhenTheMasterIsKilled]
            //? run() returned: the channel is readable. receive_message() says what came: kStats (print
            //? "stats: worker S: O open, A accepted" from loop.stats() and serve on), kStop (finish within
            //? message.grace_ms), or 0 = EOF: the master is gone (finish within kOrphanGrace).
            Message message;
            int got = receive_message(channel.get(), message);
            if (got > 0 && message.command == Command::kStats) {
                lesson05::LoopStats stats = loop.stats();
                log.stats("stats: worker {}: {} open, {} accepted", setup.slot, stats.open, stats.accepted);
                continue;
            }
            if (got <= 0) log.info("worker {}: lost the master (channel EOF); stopping", setup.slot);
            auto grace = got > 0 ? std::chrono::milliseconds(message.grace_ms) : kOrphanGrace;
            loop.finish(lesson05::Clock::now() + grace);
            //| (void)kOrphanGrace;  // not written yet: any message, or EOF, stops the worker at once
            //| loop.finish(lesson05::Clock::now());
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

void run_exec_worker(int channel_fd, WorkerSetup setup, const cs::Log& log) {
    cs::Fd channel{channel_fd};
    Message message;
    cs::Fd listener;
    // Blocking: there is nothing to serve before the master's first message brings the socket.
    if (receive_message(channel.get(), message, &listener) != 1 || message.command != Command::kListener || !listener) {
        log.info("worker: no listening socket from the master on fd {}", channel_fd);
        ::_exit(1);
    }
    setup.slot = message.slot;
    run_worker(std::move(listener), std::move(channel), setup, log);  // the same socket, though nothing was inherited
}

}  // namespace lesson07
