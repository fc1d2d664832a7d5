// tests/support/proc.cpp — parsing /proc/<pid>/{fd,stat,status,task}, and one sock_diag query.
#include "tests/support/proc.hpp"

#include "common/fd.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <filesystem>
#include <fstream>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

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

std::vector<pid_t> thread_ids(pid_t pid) {
    std::vector<pid_t> tids;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", error)) {
        tids.push_back(static_cast<pid_t>(std::stol(entry.path().filename().string())));
    }
    return tids;
}

std::uint64_t blocked_signals(pid_t pid, pid_t tid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("SigBlk:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
    }
    return 0;
}
long rss_kib(pid_t pid) { return status_field(pid, "VmRSS"); }

long cpu_ticks(pid_t pid) {
    ProcessInfo info;
    std::vector<std::string>
        rest;  // after state and ppid: pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    if (!read_stat(pid, info, &rest) || rest.size() < 11) return -1;
    return std::stol(rest[9]) + std::stol(rest[10]);
}

long tree_cpu_ticks(pid_t pid) {
    long total = std::max(0L, cpu_ticks(pid));
    for (pid_t child : descendants_of(pid)) total += std::max(0L, cpu_ticks(child));
    return total;
}

double ticks_per_second() { return static_cast<double>(::sysconf(_SC_CLK_TCK)); }

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

bool tree_holds_socket(pid_t pid, unsigned long inode) {
    const std::string target = "socket:[" + std::to_string(inode) + "]";
    std::vector<pid_t> tree = descendants_of(pid);
    tree.push_back(pid);
    for (pid_t process : tree) {
        std::error_code error;
        for (const auto& entry : fs::directory_iterator("/proc/" + std::to_string(process) + "/fd", error)) {
            std::error_code unreadable;  // the descriptor may be closed while we look
            if (fs::read_symlink(entry.path(), unreadable).string() == target) return true;
        }
    }
    return false;
}

// One exact lookup through sock_diag (what `ss` uses): the kernel finds the socket by its four-
// tuple, where reading /proc/net/tcp would walk every socket of the machine (milliseconds each).
std::optional<TcpQueues> tcp_queues(std::uint16_t local_port, std::uint16_t remote_port) {
    Fd netlink{::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)};
    if (!netlink) return std::nullopt;
    struct {
        nlmsghdr header;
        inet_diag_req_v2 request;
    } query{};
    query.header.nlmsg_len = sizeof query;
    query.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    query.header.nlmsg_flags = NLM_F_REQUEST;  // no NLM_F_DUMP: one socket, looked up by its id
    query.request.sdiag_family = AF_INET;
    query.request.sdiag_protocol = IPPROTO_TCP;
    query.request.idiag_states = ~0u;
    query.request.idiag_ext = 1 << (INET_DIAG_SKMEMINFO - 1);  // and the socket's memory counters
    query.request.id.idiag_sport = htons(local_port);
    query.request.id.idiag_dport = htons(remote_port);
    query.request.id.idiag_src[0] = htonl(INADDR_LOOPBACK);
    query.request.id.idiag_dst[0] = htonl(INADDR_LOOPBACK);
    query.request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    query.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    if (::send(netlink.get(), &query, sizeof query, 0) != static_cast<ssize_t>(sizeof query)) return std::nullopt;
    alignas(nlmsghdr) char reply[8192];
    ssize_t n = ::recv(netlink.get(), reply, sizeof reply, 0);
    const auto* header = reinterpret_cast<const nlmsghdr*>(reply);
    if (n < static_cast<ssize_t>(sizeof *header) || !NLMSG_OK(header, static_cast<unsigned>(n)) ||
        header->nlmsg_type != SOCK_DIAG_BY_FAMILY) {
        return std::nullopt;  // NLMSG_ERROR: no such socket (ENOENT)
    }
    const auto* socket = static_cast<const inet_diag_msg*>(NLMSG_DATA(header));
    // For a connected socket the kernel reports rqueue = received but unread, wqueue = unacknowledged.
    TcpQueues queues{.send = socket->idiag_wqueue, .receive = socket->idiag_rqueue, .inode = socket->idiag_inode};
    int left = static_cast<int>(header->nlmsg_len - NLMSG_LENGTH(sizeof *socket));
    for (auto* attribute = reinterpret_cast<const rtattr*>(socket + 1); RTA_OK(attribute, left);
         attribute = RTA_NEXT(attribute, left)) {
        if (attribute->rta_type != INET_DIAG_SKMEMINFO) continue;
        const auto* memory = static_cast<const std::uint32_t*>(RTA_DATA(attribute));
        queues.send_buffer = memory[SK_MEMINFO_SNDBUF];
        queues.send_queued = memory[SK_MEMINFO_WMEM_QUEUED];
    }
    return queues;
}

}  // namespace cs::test
