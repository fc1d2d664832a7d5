// tests/lesson_asio_test.cpp — echo-asio, the benchmarks' reference server (bench/echo_asio.cpp):
// every ratio in the bench table divides by it, so it is held to the same contract as the lessons.
#include "tests/conformance.hpp"

namespace cs::test {
namespace {

ServerSpec asio_reference() { return {.name = "asio", .binary = ECHO_SERVER_DEFAULT}; }

INSTANTIATE_TEST_SUITE_P(Reference, Conformance, testing::Values(asio_reference()), spec_name);

}  // namespace
}  // namespace cs::test
