// tests/conformance.hpp — the parametrised conformance suite every lesson instantiates:
//
//   INSTANTIATE_TEST_SUITE_P(Lesson, Conformance, testing::Values(spec), cs::test::spec_name);
#pragma once

#include "tests/support/server_spec.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

namespace cs::test {

class Conformance : public testing::TestWithParam<ServerSpec> {
protected:
    // A variant for an optional feature (03's --pool) runs only against a server that has it, so
    // a student's server without it skips those tests instead of failing them.
    void SetUp() override {
        const std::string& option = GetParam().optional_feature;
        if (!option.empty() && !offers_option(GetParam(), option)) GTEST_SKIP() << "no " << option << " in --help";
    }
};

std::string spec_name(const testing::TestParamInfo<ServerSpec>& info);

}  // namespace cs::test
