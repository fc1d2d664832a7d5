// tests/reliability.hpp — the reliability suite (reliability_test.cpp), parametrised by the server
// it runs against; reliability_lesson.cpp instantiates it once per lesson binary.
#pragma once

#include "tests/support/server_spec.hpp"

#include <gtest/gtest.h>

namespace cs::test {

class Reliability : public testing::TestWithParam<ServerSpec> {
protected:
    ServerSpec spec() const { return resolved(GetParam()); }  // ECHO_SERVER / ECHO_SERVER_ARGS applied
    bool is(const char* lesson) const { return GetParam().name.starts_with(lesson); }
};

}  // namespace cs::test
