// common/process.cpp — SIGPIPE ignored, descriptors 0-2 open, stderr non-blocking, in that order.
// taught in: 01-iterative
#include "common/process.hpp"

#include "common/cli.hpp"
#include "common/log.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

namespace cs {
namespace {

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) >= 0 || errno != EBADF; }

// open() returns the lowest free number, so filling 0, 1, 2 in order puts each /dev/null exactly
// where the hole is. O_RDWR: the same descriptor serves a reader of stdin and a writer of stdout.
void open_dev_null_on(int fd) {
    int opened = ::open("/dev/null", O_RDWR);
    if (opened == fd) return;
    if (opened < 0) {
        // stderr may be the closed one: this line may go nowhere, the exit code still tells.
        std::string line = fmt::format("{}: cannot open /dev/null for the closed descriptor {}: {}\n",
                                       program_invocation_short_name, fd, std::strerror(errno));
        [[maybe_unused]] ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
        std::exit(kExitStartup);
    }
    ::dup2(opened, fd);  // only if a lower descriptor was free after all: never leave the hole
    ::close(opened);
}

}  // namespace

void prepare_process() {
    ::signal(SIGPIPE, SIG_IGN);  // first: even the error line below is a write to a maybe broken pipe
    for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
        if (!is_open(fd)) open_dev_null_on(fd);
    }
    make_stderr_nonblocking();
}

}  // namespace cs
