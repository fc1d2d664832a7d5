// common/exit_status.hpp — a waitpid() status in words, for a log line: "exit 1", "killed by
// signal 9 (Killed)".
// taught in: 02-process
// 02's children.cpp shows it where its reaper logs each child; the masters of 06 and 07 log their
// workers' ends the same way. Without WUNTRACED, waitpid() only reports children that exited or
// were killed, so those are the two cases.
#pragma once

#include <cstring>
#include <fmt/format.h>
#include <string>
#include <sys/wait.h>

namespace cs {

inline std::string describe_exit(int status) {
    if (WIFSIGNALED(status))
        return fmt::format("killed by signal {} ({})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
    return fmt::format("exit {}", WEXITSTATUS(status));
}

}  // namespace cs
