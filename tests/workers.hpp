// tests/workers.hpp — what the 06-prefork and 07-master-worker suites both need to see processes
// sharing a port: /proc (a process's name, whether it is alive, its sockets), /proc/net/tcp (who
// listens, which worker owns a client's connection), and a client loop that connects, echoes one
// line and closes, as fast as it goes, on a thread of its own.
#pragma once

#include "common/net.hpp"
#include "tests/support/client.hpp"
#include "tests/support/server_process.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace cs::test::workers {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

template <class Predicate>
bool eventually(Predicate done, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(5ms);  // polling /proc with a deadline: there is no event to wait for
    }
    return true;
}

std::string comm_of(pid_t pid) {
    std::ifstream file("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    std::getline(file, name);
    return name;
}

// Alive and not a zombie: an orphan's zombie may wait a while for init to reap it.
bool alive(pid_t pid) {
    std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(file, text)) return false;
    std::size_t close_paren = text.rfind(')');
    return close_paren != std::string::npos && close_paren + 2 < text.size() && text[close_paren + 2] != 'Z';
}

std::set<unsigned long> socket_inodes(pid_t pid) {
    std::set<unsigned long> inodes;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error)) {
        std::string target = fs::read_symlink(entry.path(), error).string();
        if (target.rfind("socket:[", 0) == 0) inodes.insert(std::stoul(target.substr(8)));
    }
    return inodes;
}

struct TcpEntry {
    std::uint16_t local_port;
    std::uint16_t remote_port;
    int state;  // 0x0A LISTEN, 0x01 ESTABLISHED
    unsigned long inode;
};

std::vector<TcpEntry> tcp_table() {
    std::vector<TcpEntry> entries;
    for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream file(path);
        std::string line;
        std::getline(file, line);  // header
        while (std::getline(file, line)) {
            std::istringstream fields(line);
            std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout;
            unsigned long inode = 0;
            fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
            auto port = [](const std::string& address) {
                return static_cast<std::uint16_t>(std::stoul(address.substr(address.rfind(':') + 1), nullptr, 16));
            };
            entries.push_back({port(local), port(remote), static_cast<int>(std::stoul(state, nullptr, 16)), inode});
        }
    }
    return entries;
}

std::set<unsigned long> listening_inodes(std::uint16_t port) {
    std::set<unsigned long> inodes;
    for (const auto& entry : tcp_table()) {
        if (entry.state == 0x0A && entry.local_port == port) inodes.insert(entry.inode);
    }
    return inodes;
}

// The worker holding the server side of `client`'s connection, or 0.
pid_t owner_of(const Client& client, std::uint16_t server_port, const std::vector<pid_t>& workers) {
    std::uint16_t client_port = local_port(client.fd());
    for (const auto& entry : tcp_table()) {
        if (entry.local_port != server_port || entry.remote_port != client_port || entry.inode == 0) continue;
        for (pid_t worker : workers) {
            if (socket_inodes(worker).count(entry.inode)) return worker;
        }
    }
    return 0;
}

class ClientLoop {
public:
    // Runs `limit` connections, or until stop() when limit is 0.
    ClientLoop(std::uint16_t port, int limit) : thread_([this, port, limit] { run(port, limit); }) {}
    ~ClientLoop() { join(); }

    int done() const { return done_.load(); }
    void stop() { stop_ = true; }
    void join() {
        if (thread_.joinable()) thread_.join();
    }
    int failures() const { return failures_; }  // after join()
    const std::string& first_error() const { return first_error_; }
    bool wait_for(int connections, std::chrono::milliseconds timeout) const {
        return eventually([&] { return done_.load() >= connections; }, timeout);
    }

private:
    void run(std::uint16_t port, int limit) {
        auto deadline = std::chrono::steady_clock::now() + 60s;  // bounded, whatever happens
        for (int i = 0; (limit == 0 || i < limit) && !stop_ && std::chrono::steady_clock::now() < deadline; ++i) {
            try {
                Client client = Client::connect(port);
                client.expect_echo("connection " + std::to_string(i) + "\n", 3s);
            } catch (const std::exception& error) {
                if (failures_++ == 0) first_error_ = fmt::format("connection {}: {}", i, error.what());
            }
            ++done_;
        }
    }

    std::atomic<int> done_{0};
    std::atomic<bool> stop_{false};
    int failures_ = 0;
    std::string first_error_;
    std::thread thread_;
};

// 06's exercise 3 and 07's exercise 6 (a full worker leaves new clients to the others), with one
// worker and --max-conns 3: a fourth client waits in the backlog, no echo and no EOF, until one of
// the three leaves; then it is served, and the other two still are.
inline void expect_the_fourth_client_waits_for_a_place(const ServerProcess& server) {
    std::vector<Client> held;
    for (int i = 0; i < 3; ++i) {
        held.push_back(Client::connect(server.port()));
        held.back().expect_echo("held\n");
    }
    Client extra = Client::connect(server.port());  // the kernel completes the handshake: it waits in the backlog
    extra.send("my turn?\n");
    EXPECT_FALSE(extra.readable_within(500ms)) << "over the cap a worker leaves the client queued: no echo, no EOF";
    EXPECT_TRUE(server.wait_for_stderr("--max-conns 3 reached", 1s)) << server.stderr_text();
    held.front().close();
    EXPECT_EQ(extra.read_exact(9, 2s), "my turn?\n") << "served once a place is free";
    for (std::size_t i = 1; i < held.size(); ++i) held[i].expect_echo("still served\n");
}

}  // namespace cs::test::workers
