// tests/lesson_iterative_test.cpp — 01-iterative: the conformance suite, and what makes 01 01:
// one client at a time, the next one waiting in the listen backlog.
#include "tests/conformance.hpp"
#include "tests/support/client.hpp"

namespace cs::test {
namespace {

ServerSpec iterative() { return {.name = "iterative", .binary = ECHO_SERVER_DEFAULT, .concurrent = false}; }

INSTANTIATE_TEST_SUITE_P(Lesson, Conformance, testing::Values(iterative()), spec_name);

TEST(Iterative, SecondClientWaitsWhileFirstIsConnectedAndIsServedRightAfter) {
    ServerProcess server = start_server(iterative());
    Client first = Client::connect(server.port());
    first.expect_echo("first\n");

    // connect() succeeds: the kernel completes the handshake and queues us in the backlog.
    Client second = Client::connect(server.port());
    second.send("second\n");
    EXPECT_FALSE(second.readable_within(300ms)) << "an iterative server must not serve two clients at once";

    first.close();
    EXPECT_EQ(second.read_exact(7, 2s), "second\n");
}

TEST(Iterative, ServesClientsQueuedInTheBacklogInOrder) {
    ServerProcess server = start_server(iterative(), {"--quiet"});
    Client first = Client::connect(server.port());
    first.expect_echo("hold\n");
    std::vector<Client> queued;
    for (int i = 0; i < 5; ++i) {
        queued.push_back(Client::connect(server.port()));
        queued.back().send("queued " + std::to_string(i) + "\n");
    }
    first.close();
    for (int i = 0; i < 5; ++i) {
        std::string expected = "queued " + std::to_string(i) + "\n";
        EXPECT_EQ(queued[i].read_exact(expected.size(), 2s), expected);
        queued[i].close();  // the next one is served only now
    }
}

}  // namespace
}  // namespace cs::test
