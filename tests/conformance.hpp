// tests/conformance.hpp — the parametrised conformance suite every lesson instantiates:
//
//   INSTANTIATE_TEST_SUITE_P(Lesson, Conformance, testing::Values(spec), cs::test::spec_name);
#pragma once

#include "tests/support/server_spec.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

namespace cs::test {

class Conformance : public testing::TestWithParam<ServerSpec> {};

std::string spec_name(const testing::TestParamInfo<ServerSpec>& info);

}  // namespace cs::test
