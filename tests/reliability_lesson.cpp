// tests/reliability_lesson.cpp — the reliability suite against one lesson's server; CMake compiles
// this file once per lesson with RELIABILITY_LABEL ("iterative") and ECHO_SERVER_DEFAULT (its binary).
#include "tests/reliability.hpp"

namespace cs::test {

INSTANTIATE_TEST_SUITE_P(Lesson, Reliability,
                         testing::Values(ServerSpec{.name = RELIABILITY_LABEL, .binary = ECHO_SERVER_DEFAULT}),
                         [](const testing::TestParamInfo<ServerSpec>& param) { return param.param.name; });

}  // namespace cs::test
