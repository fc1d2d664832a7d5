// 07-master-worker/accept_lock.cpp — a robust process-shared mutex in a memfd.
#include "accept_lock.hpp"

#include <cerrno>
#include <sys/mman.h>
#include <system_error>
#include <unistd.h>
#include <utility>

namespace lesson07 {
namespace {

[[noreturn]] void fail(const char* call, int error) { throw std::system_error(error, std::generic_category(), call); }

pthread_mutex_t* map_mutex(int memory) {
    // MAP_SHARED: every process that maps this memfd sees the same page, hence the same mutex.
    // (Memory a worker merely inherits from fork() is copy-on-write: a private copy, useless as a lock.)
    void* address = ::mmap(nullptr, sizeof(pthread_mutex_t), PROT_READ | PROT_WRITE, MAP_SHARED, memory, 0);
    if (address == MAP_FAILED) fail("mmap()", errno);
    return static_cast<pthread_mutex_t*>(address);
}

}  // namespace

const char* lock_mode_name(LockMode mode) {
    switch (mode) {
        case LockMode::kNone: return "none";
        case LockMode::kExclusive: return "exclusive";
        case LockMode::kRearm: return "rearm";
        case LockMode::kMutex: return "mutex";
    }
    return "?";
}

AcceptLock AcceptLock::create() {
    cs::Fd memory{::memfd_create("echo-master-worker-accept-lock", MFD_CLOEXEC)};
    if (!memory) fail("memfd_create()", errno);
    if (::ftruncate(memory.get(), sizeof(pthread_mutex_t)) < 0) fail("ftruncate()", errno);
    pthread_mutex_t* mutex = map_mutex(memory.get());
    pthread_mutexattr_t attributes;
    ::pthread_mutexattr_init(&attributes);
    ::pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);  // lives in shared memory
    ::pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);     // survives its holder's death
    int error = ::pthread_mutex_init(mutex, &attributes);
    ::pthread_mutexattr_destroy(&attributes);
    if (error != 0) {
        ::munmap(mutex, sizeof *mutex);
        fail("pthread_mutex_init()", error);
    }
    return AcceptLock(std::move(memory), mutex);
}

AcceptLock::Try AcceptLock::try_lock() noexcept {
    int error = ::pthread_mutex_trylock(mutex_);
    if (error == 0) return Try::kAcquired;
    if (error == EOWNERDEAD) {
        // The holder died with the lock (kill -9). We own it now; declaring it consistent is our
        // promise that the state it protects is fine (it protects nothing but the listener).
        ::pthread_mutex_consistent(mutex_);
        return Try::kRecovered;
    }
    return Try::kBusy;  // EBUSY
}

AcceptLock AcceptLock::attach(cs::Fd memory) {
    pthread_mutex_t* mutex = map_mutex(memory.get());
    return AcceptLock(std::move(memory), mutex);
}

AcceptLock::AcceptLock(AcceptLock&& other) noexcept
    : memory_(std::move(other.memory_)), mutex_(std::exchange(other.mutex_, nullptr)) {}

AcceptLock::~AcceptLock() {
    if (mutex_ != nullptr) ::munmap(mutex_, sizeof *mutex_);
}

void AcceptLock::unlock() noexcept { ::pthread_mutex_unlock(mutex_); }

}  // namespace lesson07
