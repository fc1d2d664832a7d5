// bench/tests/histogram_test.cpp — the latency histogram: exact where promised, at most 1/64
// high elsewhere, never low, and mergeable.
#include "bench/load/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <gtest/gtest.h>
#include <random>
#include <vector>

namespace cs::bench {
namespace {

// The exact rank statistic that Histogram::percentile() approximates.
std::uint64_t exact_percentile(std::vector<std::uint64_t> values, double percent) {
    std::sort(values.begin(), values.end());
    auto rank = static_cast<std::size_t>(std::ceil(percent / 100.0 * static_cast<double>(values.size())));
    return values[std::max<std::size_t>(rank, 1) - 1];
}

TEST(Histogram, EmptyReportsZeroEverywhere) {
    Histogram h;
    EXPECT_EQ(h.count(), 0u);
    EXPECT_EQ(h.percentile(50), 0u);
    EXPECT_EQ(h.percentile(100), 0u);
    EXPECT_EQ(h.min(), 0u);
    EXPECT_EQ(h.max(), 0u);
}

TEST(Histogram, ValuesBelowSixtyFourAreExact) {
    Histogram h;
    for (std::uint64_t v = 1; v <= 63; ++v) h.record(v);
    EXPECT_EQ(h.percentile(50), 32u);
    EXPECT_EQ(h.percentile(10), 7u);
    EXPECT_EQ(h.min(), 1u);
    EXPECT_EQ(h.max(), 63u);
}

TEST(Histogram, EveryValueLandsInABucketThatContainsIt) {
    std::mt19937_64 random(42);
    for (int i = 0; i < 100'000; ++i) {
        std::uint64_t v = random() >> (random() % 64);
        std::size_t b = Histogram::bucket_of(v);
        ASSERT_LT(b, Histogram::kBuckets);
        ASSERT_LE(Histogram::bucket_low(b), v);
        ASSERT_GE(Histogram::bucket_high(b), v);
    }
    EXPECT_EQ(Histogram::bucket_of(UINT64_MAX), Histogram::kBuckets - 1);
    EXPECT_EQ(Histogram::bucket_high(Histogram::kBuckets - 1), UINT64_MAX);
}

TEST(Histogram, BucketsAreAtMostOneSixtyFourthOfTheirValueWide) {
    for (std::size_t b = Histogram::kSubBuckets; b < Histogram::kBuckets; ++b) {
        double low = static_cast<double>(Histogram::bucket_low(b));
        double width = static_cast<double>(Histogram::bucket_high(b)) - low + 1;
        ASSERT_LE(width / low, 1.0 / 64.0 + 1e-12) << "bucket " << b;
    }
}

TEST(Histogram, PercentilesOfSpreadValuesAreNeverLowAndAtMostOnePointSixPercentHigh) {
    std::mt19937_64 random(7);
    std::lognormal_distribution<double> latency(std::log(50'000.0), 1.0);  // ~50 us, long tail
    std::vector<std::uint64_t> values;
    Histogram h;
    for (int i = 0; i < 200'000; ++i) {
        auto v = static_cast<std::uint64_t>(latency(random));
        values.push_back(v);
        h.record(v);
    }
    for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 99.99}) {
        double exact = static_cast<double>(exact_percentile(values, p));
        double reported = static_cast<double>(h.percentile(p));
        EXPECT_GE(reported, exact) << "p" << p;
        EXPECT_LE(reported, exact * (1 + 1.0 / 64)) << "p" << p;
    }
}

TEST(Histogram, ATailOfOneInAThousandShowsAtPointNineNineNineButNotAtNinetyNine) {
    Histogram h;
    for (int i = 0; i < 998; ++i) h.record(1'000);
    h.record(1'000'000);
    h.record(1'000'000);
    EXPECT_LE(h.percentile(99), 1'016u);
    EXPECT_GE(h.percentile(99.9), 1'000'000u);
    EXPECT_EQ(h.percentile(100), 1'000'000u);
}

TEST(Histogram, PercentileNeverExceedsTheLargestValueRecorded) {
    Histogram h;
    h.record(1'000'001);  // the top of its bucket is higher than this
    EXPECT_EQ(h.percentile(50), 1'000'001u);
    EXPECT_EQ(h.max(), 1'000'001u);
}

TEST(Histogram, MergingEqualsRecordingEverythingInOne) {
    std::mt19937_64 random(3);
    Histogram a, b, all;
    for (int i = 0; i < 10'000; ++i) {
        std::uint64_t v = random() % 10'000'000;
        (i % 3 == 0 ? a : b).record(v);
        all.record(v);
    }
    a.merge(b);
    EXPECT_EQ(a.count(), all.count());
    EXPECT_EQ(a.min(), all.min());
    EXPECT_EQ(a.max(), all.max());
    EXPECT_DOUBLE_EQ(a.mean(), all.mean());
    for (double p : {50.0, 99.0, 99.9}) EXPECT_EQ(a.percentile(p), all.percentile(p));
}

TEST(Histogram, MeanIsExactEvenForHugeValues) {
    Histogram h;
    h.record(UINT64_MAX);
    h.record(UINT64_MAX);
    EXPECT_DOUBLE_EQ(h.mean(), static_cast<double>(UINT64_MAX));
}

}  // namespace
}  // namespace cs::bench
