// bench/load/proc_probe.cpp — one pass over /proc: every process's parent, state and CPU times,
// then the server's tree is walked in memory and only its members' memory files are read.
// (Asking "who are the children of X?" once per tree node would rescan /proc per node: with
// 1,000 forked children that takes seconds, longer than the window it is meant to bracket.)
#include "bench/load/proc_probe.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <unordered_map>
#include <vector>

namespace cs::bench {
namespace {

struct StatFields {
    pid_t ppid = 0;
    char state = '?';
    long utime = 0, stime = 0, cutime = 0, cstime = 0;  // clock ticks
    long threads = 0;
};

// /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may contain spaces and ')', so the fields
// are counted from after the last ')'. utime is field 14 of proc(5), the 12th after "state".
bool read_stat(pid_t pid, StatFields& out) {
    std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(file, text)) return false;
    std::size_t close_paren = text.rfind(')');
    if (close_paren == std::string::npos || close_paren + 2 > text.size()) return false;
    std::istringstream fields(text.substr(close_paren + 2));
    std::vector<std::string> words;
    for (std::string word; words.size() < 18 && fields >> word;) words.push_back(word);
    if (words.size() < 18) return false;
    out.state = words[0][0];
    out.ppid = static_cast<pid_t>(std::stol(words[1]));
    out.utime = std::stol(words[11]);
    out.stime = std::stol(words[12]);
    out.cutime = std::stol(words[13]);
    out.cstime = std::stol(words[14]);
    out.threads = std::stol(words[17]);
    return true;
}

// Nanoseconds a task (thread) has run: the first field of its schedstat file; -1 if gone.
long long runtime_ns(const std::string& schedstat_path) {
    std::ifstream file(schedstat_path);
    long long ns = -1;
    file >> ns;
    return file ? ns : -1;
}

// CPU seconds of one process, its own threads only. /proc/<pid>/stat is exact to a tick and
// includes threads that have exited; the sum of the live threads' schedstat is exact to the
// nanosecond but misses exited threads. The larger of the two is off by at most one tick, and
// exact for a process whose threads are all alive (a single-threaded one, a zombie).
double own_cpu_s(pid_t pid, const StatFields& stat, double tick) {
    double ticks = static_cast<double>(stat.utime + stat.stime) / tick;
    std::string dir = "/proc/" + std::to_string(pid);
    if (stat.threads <= 1) {
        long long ns = runtime_ns(dir + "/schedstat");
        return ns >= 0 ? std::max(ticks, static_cast<double>(ns) / 1e9) : ticks;
    }
    long long total = 0;
    if (DIR* tasks = ::opendir((dir + "/task").c_str())) {
        while (dirent* entry = ::readdir(tasks)) {
            if (entry->d_name[0] == '.') continue;
            total += std::max(0LL, runtime_ns(dir + "/task/" + entry->d_name + "/schedstat"));
        }
        ::closedir(tasks);
    }
    return std::max(ticks, static_cast<double>(total) / 1e9);
}

std::unordered_map<pid_t, StatFields> every_process() {
    std::unordered_map<pid_t, StatFields> all;
    DIR* proc = ::opendir("/proc");
    if (proc == nullptr) return all;
    while (dirent* entry = ::readdir(proc)) {
        if (!std::isdigit(static_cast<unsigned char>(entry->d_name[0]))) continue;
        auto pid = static_cast<pid_t>(std::stol(entry->d_name));
        StatFields stat;
        if (read_stat(pid, stat)) all.emplace(pid, stat);  // a process may exit meanwhile: skip it
    }
    ::closedir(proc);
    return all;
}

long kib_field(const std::string& path, const std::string& field) {
    std::ifstream file(path);
    std::string line;
    while (std::getline(file, line)) {
        if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
    }
    return 0;
}

// read() and write() class calls of a process (all its threads, and the children it reaped).
long long rw_syscalls(const std::string& dir) {
    std::ifstream file(dir + "/io");
    long long total = 0;
    for (std::string line; std::getline(file, line);) {
        if (line.rfind("syscr:", 0) == 0 || line.rfind("syscw:", 0) == 0) total += std::stoll(line.substr(6));
    }
    return total;
}

}  // namespace

TreeSample sample_tree(pid_t root, bool with_memory) {
    TreeSample sample;
    std::unordered_map<pid_t, StatFields> all = every_process();
    std::unordered_multimap<pid_t, pid_t> children;
    for (const auto& [pid, stat] : all) children.emplace(stat.ppid, pid);
    if (!all.contains(root)) return sample;
    sample.taken_s = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();

    const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
    std::vector<pid_t> frontier{root};
    while (!frontier.empty()) {
        pid_t pid = frontier.back();
        frontier.pop_back();
        auto [first, last] = children.equal_range(pid);
        for (auto it = first; it != last; ++it) frontier.push_back(it->second);
        const StatFields& stat = all.at(pid);
        // A zombie still shows its own CPU times; they move into its parent's cutime when reaped.
        double children_ticks = static_cast<double>(stat.cutime + stat.cstime) / tick;
        sample.cpu_s += own_cpu_s(pid, stat, tick) + children_ticks;
        sample.user_tick_s += static_cast<double>(stat.utime + stat.cutime) / tick;
        sample.system_tick_s += static_cast<double>(stat.stime + stat.cstime) / tick;
        if (pid == root) sample.alive = stat.state != 'Z';
        if (stat.state == 'Z') {
            ++sample.zombies;
            continue;
        }
        ++sample.processes;
        std::string dir = "/proc/" + std::to_string(pid);
        sample.rw_syscalls += rw_syscalls(dir);
        if (!with_memory) continue;
        sample.rss_kib += kib_field(dir + "/status", "VmRSS");
        sample.pss_kib += kib_field(dir + "/smaps_rollup", "Pss");
    }
    return sample;
}

std::vector<pid_t> tree_pids(pid_t root) {
    std::unordered_map<pid_t, StatFields> all = every_process();
    std::unordered_multimap<pid_t, pid_t> children;
    for (const auto& [pid, stat] : all) children.emplace(stat.ppid, pid);
    std::vector<pid_t> tree;
    if (!all.contains(root)) return tree;
    std::vector<pid_t> frontier{root};
    while (!frontier.empty()) {
        pid_t pid = frontier.back();
        frontier.pop_back();
        auto [first, last] = children.equal_range(pid);
        for (auto it = first; it != last; ++it) frontier.push_back(it->second);
        if (all.at(pid).state != 'Z') tree.push_back(pid);
    }
    return tree;
}

CpuUse cpu_between(const TreeSample& start, const TreeSample& end) {
    constexpr double kEnoughTicks = 0.1;  // 10 ticks: below that the ratio is mostly rounding
    CpuUse use;
    use.total_s = end.cpu_s - start.cpu_s;
    double user = end.user_tick_s - start.user_tick_s;
    double system = end.system_tick_s - start.system_tick_s;
    if (user + system < kEnoughTicks) {  // fall back on the whole run's ratio
        user = end.user_tick_s;
        system = end.system_tick_s;
    }
    if (user + system >= kEnoughTicks) {
        use.split_known = true;
        use.user_s = use.total_s * user / (user + system);
        use.system_s = use.total_s - use.user_s;
    }
    return use;
}

double self_cpu_seconds() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    auto seconds = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace cs::bench
