// 07-master-worker/options.hpp — the lesson's command-line options, on top of the contract's.
#pragma once

#include "accept_lock.hpp"
#include "common/cli.hpp"
#include "share.hpp"

namespace lesson07 {

struct Options {
    int workers = 1;  // add_options() sets the default: the number of CPUs
    Share share = Share::kInherit;
    LockMode lock_mode = LockMode::kExclusive;
    double grace_seconds = 5;
    int max_conns = 1000;     // per worker (add_options() says why)
    int worker_channel = -1;  // set only in a pass-mode worker exec'd by the master
};

// --workers, --share, --accept-lock, --grace, --max-conns, --idle-timeout (in cli.options()), and
// the hidden --worker-channel.
void add_options(cs::CommandLine& cli, Options& options);

}  // namespace lesson07
