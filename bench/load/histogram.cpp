// bench/load/histogram.cpp — bucket arithmetic with bit_width, and the percentile walk.
#include "bench/load/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace cs::bench {

// Bucket layout: [0, 64) holds the exact values 0..63. A value with its top bit at position
// e >= 6 keeps its 6 bits below the top one as the sub-bucket and drops the `e - 6` bits
// under them: that dropping is the (at most 1/64) rounding.
std::size_t Histogram::bucket_of(std::uint64_t value) noexcept {
    if (value < kSubBuckets) return static_cast<std::size_t>(value);
    int top_bit = std::bit_width(value) - 1;                    // 6..63
    int shift = top_bit - kSubBucketBits;                       // 0..57
    std::uint64_t sub_bucket = (value >> shift) - kSubBuckets;  // 0..63
    return static_cast<std::size_t>((static_cast<std::uint64_t>(shift) + 1) * kSubBuckets + sub_bucket);
}

std::uint64_t Histogram::bucket_low(std::size_t bucket) noexcept {
    if (bucket < kSubBuckets) return bucket;
    std::uint64_t shift = bucket / kSubBuckets - 1;
    std::uint64_t sub_bucket = bucket % kSubBuckets;
    return (kSubBuckets + sub_bucket) << shift;
}

std::uint64_t Histogram::bucket_high(std::size_t bucket) noexcept {
    if (bucket < kSubBuckets) return bucket;
    std::uint64_t shift = bucket / kSubBuckets - 1;
    return bucket_low(bucket) + ((std::uint64_t{1} << shift) - 1);
}

void Histogram::record(std::uint64_t value) {
    ++counts_[bucket_of(value)];
    ++count_;
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
    sum_ += value;
}

void Histogram::merge(const Histogram& other) {
    for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
    sum_ += other.sum_;
}

std::uint64_t Histogram::percentile(double percent) const {
    if (count_ == 0) return 0;
    // The rank of the value we want, 1-based: p50 of 10 values is the 5th, p99.9 of 1,000 the 999th.
    double wanted = std::ceil(std::clamp(percent, 0.0, 100.0) / 100.0 * static_cast<double>(count_));
    std::uint64_t rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(wanted));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
        seen += counts_[i];
        if (seen >= rank) return std::clamp(bucket_high(i), min_, max_);
    }
    return max_;
}

}  // namespace cs::bench
