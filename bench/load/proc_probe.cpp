// bench/load/proc_probe.cpp — parsing /proc/<pid>/stat and smaps_rollup for a process tree.
#include "bench/load/proc_probe.hpp"

#include "tests/support/proc.hpp"

#include <sys/resource.h>
#include <unistd.h>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace cs::bench {
namespace {

struct StatFields {
    char state = '?';
    long utime = 0, stime = 0, cutime = 0, cstime = 0;  // clock ticks
};

// /proc/<pid>/stat: "pid (comm) state ..."; comm may contain spaces and ')', so the fields are
// counted from after the last ')'. utime is field 14 of proc(5), i.e. the 12th after "state".
bool read_stat(pid_t pid, StatFields& out) {
    std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(file, text)) return false;
    std::size_t close_paren = text.rfind(')');
    if (close_paren == std::string::npos) return false;
    std::istringstream fields(text.substr(close_paren + 2));
    std::vector<std::string> words;
    for (std::string word; fields >> word && words.size() < 15;) words.push_back(word);
    if (words.size() < 15) return false;
    out.state = words[0][0];
    out.utime = std::stol(words[11]);
    out.stime = std::stol(words[12]);
    out.cutime = std::stol(words[13]);
    out.cstime = std::stol(words[14]);
    return true;
}

long kib_field(const std::string& path, const std::string& field) {
    std::ifstream file(path);
    std::string line;
    while (std::getline(file, line)) {
        if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
    }
    return 0;
}

}  // namespace

TreeSample sample_tree(pid_t root) {
    TreeSample sample;
    std::vector<pid_t> tree{root};
    for (pid_t pid : cs::test::descendants_of(root)) tree.push_back(pid);
    const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
    for (pid_t pid : tree) {
        StatFields stat;
        if (!read_stat(pid, stat)) continue;  // exited between the listing and now
        if (pid == root) sample.alive = stat.state != 'Z';
        // A zombie still shows its own CPU times; they move into its parent's cutime when reaped.
        sample.user_s += static_cast<double>(stat.utime + stat.cutime) / tick;
        sample.system_s += static_cast<double>(stat.stime + stat.cstime) / tick;
        if (stat.state == 'Z') {
            ++sample.zombies;
            continue;
        }
        ++sample.processes;
        std::string dir = "/proc/" + std::to_string(pid);
        sample.rss_kib += kib_field(dir + "/status", "VmRSS");
        sample.pss_kib += kib_field(dir + "/smaps_rollup", "Pss");
    }
    return sample;
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
