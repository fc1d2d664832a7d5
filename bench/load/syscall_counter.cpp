// bench/load/syscall_counter.cpp — perf_event_open on the raw_syscalls:sys_enter tracepoint.
#include "bench/load/syscall_counter.hpp"

#include <cctype>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <linux/perf_event.h>
#include <string>
#include <sys/syscall.h>
#include <unistd.h>

namespace cs::bench {
namespace {

// The tracepoint's id, from tracefs (mounted at one of two places); -1 when not readable.
long tracepoint_id() {
    for (const char* dir : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}) {
        std::ifstream file(std::string(dir) + "/events/raw_syscalls/sys_enter/id");
        long id = -1;
        if (file >> id) return id;
    }
    return -1;
}

std::vector<pid_t> threads_of(pid_t pid) {
    std::vector<pid_t> threads;
    std::string dir = "/proc/" + std::to_string(pid) + "/task";
    if (DIR* tasks = ::opendir(dir.c_str())) {
        while (dirent* entry = ::readdir(tasks)) {
            if (std::isdigit(static_cast<unsigned char>(entry->d_name[0]))) threads.push_back(std::stoi(entry->d_name));
        }
        ::closedir(tasks);
    }
    return threads;
}

int open_counter(long id, pid_t thread) {
    perf_event_attr attr{};
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_TRACEPOINT;
    attr.config = static_cast<__u64>(id);
    attr.inherit = 1;  // children and threads created from now on add to this count when they exit
    attr.exclude_hv = 1;
    // One thread, any CPU. No glibc wrapper exists for this call.
    return static_cast<int>(::syscall(SYS_perf_event_open, &attr, thread, -1, -1, PERF_FLAG_FD_CLOEXEC));
}

}  // namespace

SyscallCounter::~SyscallCounter() {
    for (int fd : fds_) ::close(fd);
}

bool SyscallCounter::attach(const std::vector<pid_t>& processes) {
    long id = tracepoint_id();
    if (id < 0 || processes.empty()) return false;
    ok_ = true;
    for (pid_t pid : processes) {
        for (pid_t thread : threads_of(pid)) {
            int fd = open_counter(id, thread);
            if (fd < 0) {
                ok_ = false;
                continue;
            }
            fds_.push_back(fd);
        }
    }
    return ok_;
}

long long SyscallCounter::total() const {
    long long sum = 0;
    for (int fd : fds_) {
        long long value = 0;
        if (::read(fd, &value, sizeof value) == sizeof value) sum += value;
    }
    return sum;
}

}  // namespace cs::bench
