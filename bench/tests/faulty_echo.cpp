// bench/tests/faulty_echo.cpp — a deliberately broken echo server: the fixture that proves
// echo-load notices a wrong echo instead of reporting a number. Built for tests, never installed.
//   --fault drop   leaves out one byte in every --every bytes
//   --fault swap   swaps two neighbouring bytes once in every --every bytes
//   --fault stall  echoes the first --every bytes of a connection, then holds it in silence
// One client at a time, blocking I/O: the simplest server that can be wrong in these ways.
#include "common/cli.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/net.hpp"
#include "common/rio.hpp"

#include <CLI/CLI.hpp>
#include <csignal>
#include <map>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

enum class Fault { kDrop, kSwap, kStall };

struct Faults {
    Fault fault = Fault::kDrop;
    std::uint64_t every = 1000;
};

// Applies the fault to one chunk; `seen` counts the connection's bytes before this chunk.
std::vector<char> damage(const char* data, std::size_t n, std::uint64_t seen, const Faults& f) {
    std::vector<char> out;
    for (std::size_t i = 0; i < n; ++i) {
        std::uint64_t index = seen + i;
        if (f.fault == Fault::kDrop && index % f.every == f.every - 1) continue;  // lost
        if (f.fault == Fault::kStall && index >= f.every) break;                  // never sent
        out.push_back(data[i]);
    }
    if (f.fault == Fault::kSwap) {
        for (std::size_t i = 0; i + 1 < out.size(); ++i) {
            if ((seen + i) % f.every == f.every - 2) std::swap(out[i], out[i + 1]);  // reordered
        }
    }
    return out;
}

void serve(int connfd, const Faults& faults) {
    char chunk[16384];
    std::uint64_t seen = 0;
    for (;;) {
        ssize_t n = ::read(connfd, chunk, sizeof chunk);
        if (n <= 0) return;
        std::vector<char> out = damage(chunk, static_cast<std::size_t>(n), seen, faults);
        seen += static_cast<std::uint64_t>(n);
        if (cs::writen(connfd, std::as_bytes(std::span(out))) < 0) return;
        if (faults.fault == Fault::kStall && seen >= faults.every) ::pause();  // silent until killed
    }
}

}  // namespace

int main(int argc, char** argv) {
    cs::CommandLine cli("faulty-echo", "A broken echo server (test fixture for echo-load).", 0);
    Faults faults;
    std::map<std::string, Fault> names{{"drop", Fault::kDrop}, {"swap", Fault::kSwap}, {"stall", Fault::kStall}};
    cli.app().add_option("--fault", faults.fault, "drop | swap | stall")->transform(CLI::CheckedTransformer(names));
    cli.app().add_option("--every", faults.every, "Bytes between two faults")->check(CLI::Range(2, 1 << 30));
    if (auto exit_code = cli.parse(argc, argv)) return *exit_code;
    cs::Fd listener;
    try {
        listener = cs::listen_tcp({.host = cli.options().host, .port = cli.options().port});
    } catch (const std::system_error& error) {
        cli.report_listen_error(error);
        return cs::kExitStartup;
    }
    ::signal(SIGPIPE, SIG_IGN);
    cs::announce_listening(listener);
    for (;;) {
        cs::Fd conn{::accept(listener.get(), nullptr, nullptr)};
        if (conn) serve(conn.get(), faults);
    }
}
