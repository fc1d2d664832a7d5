// tests/grade/contract_test.cpp — the conformance suite for ANY concurrent echo server.
//
// Each lesson's test binary runs the suite against its own server (lesson_*_test.cpp); this
// one has no server of its own: ECHO_SERVER names the binary. `scripts/grade --lesson contract
// --server PATH` grades any server written to the contract (a student's own design, or the
// broken servers in tests/broken) with every concurrency test switched on.
#include "tests/conformance.hpp"

#include <cstdlib>

namespace cs::test {
namespace {

ServerSpec any_concurrent_server() { return {.name = "contract", .binary = "", .concurrent = true}; }

INSTANTIATE_TEST_SUITE_P(Lesson, Conformance, testing::Values(any_concurrent_server()), spec_name);

// Without a server there is nothing to test: say so once instead of failing every test with
// "cannot run ''". A fatal failure in a global SetUp() skips all the tests.
class RequireEchoServer : public testing::Environment {
public:
    void SetUp() override {
        ASSERT_FALSE(resolved(any_concurrent_server()).binary.empty())
            << "test-contract has no server of its own: run it as ECHO_SERVER=/path/to/server "
               "test-contract, or through scripts/grade --lesson contract --server /path/to/server";
    }
};

[[maybe_unused]] testing::Environment* const require_echo_server =
    testing::AddGlobalTestEnvironment(new RequireEchoServer);

}  // namespace
}  // namespace cs::test
