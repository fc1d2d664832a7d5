// tests/exercise.hpp — the checks of the lesson READMEs' exercises.
//
// An exercise that builds something adds an option to the server; its README names the option and
// the check. A check runs only when the server's --help lists that option: the reference skips it
// (the exercise is not done there), and a student's finished exercise turns it on. The checks are
// in the lesson's test binary, named Exercise.*, and in no rubric: they never change a grade.
//   ctest --preset default -R Exercise                                   every exercise check
//   ECHO_SERVER=path/to/your/echo-select ctest --preset default -R Exercise.Select   against your build
#pragma once

#include "tests/hardening.hpp"
#include "tests/support/client.hpp"
#include "tests/support/proc.hpp"
#include "tests/support/server_process.hpp"
#include "tests/support/server_spec.hpp"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>

namespace cs::test {

// Listening TCP sockets the process holds: its socket inodes that /proc/net/tcp{,6} lists in LISTEN.
inline int listening_sockets(pid_t pid) {
    std::set<std::string> inodes;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(fmt::format("/proc/{}/fd", pid), error)) {
        std::string target = std::filesystem::read_symlink(entry.path(), error).string();
        if (target.rfind("socket:[", 0) == 0) inodes.insert(target.substr(8, target.size() - 9));
    }
    int listening = 0;
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream in(table);
        std::string line;
        std::getline(in, line);  // the header
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
            fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
            if (state == "0A" && inodes.count(inode)) ++listening;
        }
    }
    return listening;
}

// Pipes among the process's descriptors from 3 on (0-2 are the test's own plumbing).
inline int pipes_from_fd_three(pid_t pid) {
    int pipes = 0;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(fmt::format("/proc/{}/fd", pid), error)) {
        if (std::stoi(entry.path().filename().string()) < 3) continue;
        if (std::filesystem::read_symlink(entry.path(), error).string().rfind("pipe:", 0) == 0) ++pipes;
    }
    return pipes;
}

}  // namespace cs::test

#define SKIP_UNTIL_THE_EXERCISE_ADDS(spec, option)    \
    if (!::cs::test::offers_option((spec), (option))) \
    GTEST_SKIP() << "exercise not done yet: " << (option) << " is not in the server's --help"

namespace cs::test::exercise {

// 04's exercise 1, 05's exercise 3: out of descriptors, the reserved-fd trick answers every client at
// once (accept, close) where pause_accepting() leaves the extra ones waiting in the backlog.
inline void expect_every_client_answered_out_of_descriptors(const ServerSpec& spec, std::vector<std::string> args) {
    constexpr int kClients = 80;  // more than 64 descriptors hold
    args.push_back("--quiet");
    ServerProcess server = start_server(spec, args, rlim_t{64});
    hardening::Senders crowd = hardening::connect_and_send(server.port(), kClients);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    int answered = 0;  // an echo or the end of the connection: anything but silence in the backlog
    for (Client& client : crowd.clients) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (client.readable_within(std::max(left, std::chrono::milliseconds(1)))) ++answered;
    }
    EXPECT_EQ(answered, kClients) << "with the reserved descriptor, a client that finds no descriptor is "
                                     "closed at once instead of waiting in the backlog";
    crowd.clients.clear();
    auto settled = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (open_fd_count(server.pid()) >= 32 && std::chrono::steady_clock::now() < settled) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the server closes what we closed
    }
    Client after = Client::connect(server.port());
    after.expect_echo("served once descriptors are free\n");
}

}  // namespace cs::test::exercise
