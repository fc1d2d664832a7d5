// tests/support/test_main.cpp — GoogleTest's main, plus what every test binary needs first.
#include <csignal>
#include <gtest/gtest.h>

int main(int argc, char** argv) {
    // Test clients write to servers that may have closed: a failed send must fail the test,
    // not kill the test binary. (Servers started by the tests get SIGPIPE back at its default.)
    std::signal(SIGPIPE, SIG_IGN);
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
