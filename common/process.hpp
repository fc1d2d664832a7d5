// common/process.hpp — what every server does first in main(), before it writes a byte or opens
// taught in: 01-iterative
// a descriptor: make the process safe from what it was started with.
//
//   int main(int argc, char** argv) {
//       cs::prepare_process();
//       ...
//
// A server does not choose its standard descriptors or its signal dispositions; a shell, a
// supervisor or a test does. Three of their choices would otherwise corrupt or kill it:
// - SIGPIPE not ignored: the first write to a pipe nobody reads any more (a log reader gone, a
//   client gone) kills the server. A usage error already writes, so this comes first.
// - Descriptor 0, 1 or 2 closed (`>&- 2>&-`): the kernel hands out the lowest free number, so the
//   first socket becomes descriptor 1 or 2, and every log line, a write(2) to descriptor 2, lands
//   inside a client's echo or a worker's channel. Each closed one is opened on /dev/null.
// - stderr a pipe nobody reads: a blocking log line stops the server (log.hpp says what we do).
#pragma once

namespace cs {

// Ignores SIGPIPE, opens /dev/null on any closed descriptor among 0, 1 and 2, and makes writes to
// stderr non-blocking (make_stderr_nonblocking()). Call it first in main(), before any thread or
// child exists. If /dev/null cannot be opened, exits with kExitStartup (the server would not be
// safe to run).
void prepare_process();

}  // namespace cs
