// tests/support/test_main.cpp — GoogleTest's main, plus what every test binary needs first.
#include <csignal>
#include <gtest/gtest.h>
#include <sys/prctl.h>

int main(int argc, char** argv) {
    // Test clients write to servers that may have closed: a failed send must fail the test,
    // not kill the test binary. (Servers started by the tests get SIGPIPE back at its default.)
    std::signal(SIGPIPE, SIG_IGN);
    // Orphans of a killed server (a fork server's children) are re-parented to us instead of to
    // PID 1, which in some sandboxes never reaps them; ServerProcess reaps them when it ends.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
