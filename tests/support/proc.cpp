// tests/support/proc.cpp — parsing /proc/<pid>/{fd,stat,status}.
#include "tests/support/proc.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace cs::test {
namespace {

namespace fs = std::filesystem;

long status_field(pid_t pid, const std::string& field) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
    }
    return -1;
}

// /proc/<pid>/stat: "pid (comm) state ppid ...". comm may hold spaces and ')', so the fields
// are read after the last ')'.
bool read_stat(pid_t pid, ProcessInfo& info, std::vector<std::string>* rest = nullptr) {
    std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(file, text)) return false;
    std::size_t close_paren = text.rfind(')');
    if (close_paren == std::string::npos) return false;
    std::istringstream fields(text.substr(close_paren + 2));
    info.pid = pid;
    fields >> info.state >> info.ppid;
    if (rest) {
        std::string field;
        while (fields >> field) rest->push_back(field);
    }
    return true;
}

}  // namespace

int open_fd_count(pid_t pid) {
    std::error_code error;
    fs::directory_iterator entries("/proc/" + std::to_string(pid) + "/fd", error);
    if (error) return -1;
    return static_cast<int>(std::distance(entries, fs::directory_iterator{}));
}

int thread_count(pid_t pid) { return static_cast<int>(status_field(pid, "Threads")); }
long rss_kib(pid_t pid) { return status_field(pid, "VmRSS"); }

long cpu_ticks(pid_t pid) {
    ProcessInfo info;
    std::vector<std::string> rest;  // after state and ppid: pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    if (!read_stat(pid, info, &rest) || rest.size() < 11) return -1;
    return std::stol(rest[9]) + std::stol(rest[10]);
}

std::vector<ProcessInfo> children_of(pid_t pid) {
    std::vector<ProcessInfo> children;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator("/proc", error)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
        ProcessInfo info;
        if (read_stat(static_cast<pid_t>(std::stol(name)), info) && info.ppid == pid) children.push_back(info);
    }
    return children;
}

std::vector<pid_t> descendants_of(pid_t pid) {
    std::vector<pid_t> found;
    std::vector<pid_t> frontier{pid};
    while (!frontier.empty()) {
        pid_t parent = frontier.back();
        frontier.pop_back();
        for (const auto& child : children_of(parent)) {
            found.push_back(child.pid);
            frontier.push_back(child.pid);
        }
    }
    return found;
}

int zombie_children(pid_t pid) {
    auto children = children_of(pid);
    return static_cast<int>(std::count_if(children.begin(), children.end(), [](auto& c) { return c.state == 'Z'; }));
}

int live_children(pid_t pid) {
    auto children = children_of(pid);
    return static_cast<int>(std::count_if(children.begin(), children.end(), [](auto& c) { return c.state != 'Z'; }));
}

int live_processes_in_group(pid_t pgid) {
    int live = 0;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator("/proc", error)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
        ProcessInfo info;
        std::vector<std::string> rest;  // after state and ppid: pgrp ...
        if (read_stat(static_cast<pid_t>(std::stol(name)), info, &rest) && !rest.empty() &&
            std::stol(rest[0]) == pgid && info.state != 'Z') {
            ++live;
        }
    }
    return live;
}

int tree_open_fd_count(pid_t pid) {
    int total = std::max(0, open_fd_count(pid));
    for (pid_t child : descendants_of(pid)) total += std::max(0, open_fd_count(child));
    return total;
}

}  // namespace cs::test
