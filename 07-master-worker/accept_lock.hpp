// 07-master-worker/accept_lock.hpp — how N workers watch one listening socket (--accept-lock).
//
//   none       every worker's epoll watches the listener: each new connection wakes them all, one
//              wins accept(), the others find nothing (the thundering herd; counted as empty wake-ups)
//   exclusive  EPOLLEXCLUSIVE: the kernel wakes one waiting worker (sometimes a few) per event
//   rearm      exclusive, and each worker leaves and rejoins the wait queue every 16 accepts, as
//              nginx does: without that the first worker to wait takes most connections
//   mutex      nginx's accept_mutex: only the worker holding a lock watches the listener; the
//              others retry the lock now and then (counted as lock_busy)
// The mutex is a robust, process-shared pthread mutex in shared memory (a memfd): if a worker is
// killed while holding it, the kernel marks it "owner died" and the next try_lock() takes it over,
// so the death of one worker never stops the others from accepting.
// Owner: the master creates it before forking; forked workers inherit the mapping, exec'd ones
// (pass mode) map the memfd they receive. Each worker uses it from its one thread only.
#pragma once

#include "common/fd.hpp"

#include <pthread.h>
#include <utility>

namespace lesson07 {

enum class LockMode { kNone, kExclusive, kRearm, kMutex };

const char* lock_mode_name(LockMode mode);

class AcceptLock {
public:
    enum class Try {
        kAcquired,   // we hold it now
        kRecovered,  // we hold it now, taken over from a worker that died holding it
        kBusy,       // another worker holds it
    };

    static AcceptLock create();               // master; throws std::system_error naming the call
    static AcceptLock attach(cs::Fd memory);  // exec'd worker; throws std::system_error

    AcceptLock(AcceptLock&& other) noexcept;
    AcceptLock& operator=(AcceptLock&&) = delete;
    AcceptLock(const AcceptLock&) = delete;
    ~AcceptLock();

    Try try_lock() noexcept;  // never blocks: a worker must keep serving its connections
    void unlock() noexcept;
    int memory_fd() const noexcept { return memory_.get(); }  // to send to an exec'd worker

private:
    AcceptLock(cs::Fd memory, pthread_mutex_t* mutex) : memory_(std::move(memory)), mutex_(mutex) {}

    cs::Fd memory_;
    pthread_mutex_t* mutex_ = nullptr;  // in the shared mapping
};

}  // namespace lesson07
