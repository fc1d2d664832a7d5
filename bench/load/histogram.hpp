// bench/load/histogram.hpp — a log-bucketed latency histogram (the idea of HdrHistogram, small).
//
// Values (nanoseconds) below 64 are counted exactly. Above, every power of two is split into
// 64 equal sub-buckets, so a bucket is at most 1/64 (1.6 %) of its value wide, from 64 ns to
// centuries, in 3,776 counters and O(1) per record(). Percentiles report the top of the bucket
// the rank falls in (clamped to the true maximum): a reported p99 may be up to 1.6 % high,
// never low. Merging two histograms adds their counters: per-thread histograms need no lock.
//
// Owner: one thread records into it; merge after that thread has finished.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace cs::bench {

class Histogram {
public:
    static constexpr int kSubBucketBits = 6;
    static constexpr std::uint64_t kSubBuckets = std::uint64_t{1} << kSubBucketBits;  // 64
    static constexpr std::size_t kBuckets = (64 - kSubBucketBits + 1) * kSubBuckets;

    void record(std::uint64_t value);
    void merge(const Histogram& other);

    std::uint64_t count() const noexcept { return count_; }
    std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
    std::uint64_t max() const noexcept { return max_; }
    double mean() const noexcept { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_); }

    // The smallest reported value v such that at least `percent` % of the values are <= v
    // (up to the bucket width). percentile(100) is max(); an empty histogram gives 0.
    std::uint64_t percentile(double percent) const;

    // Bucket arithmetic, public for the tests: the bucket of a value, and a bucket's range.
    static std::size_t bucket_of(std::uint64_t value) noexcept;
    static std::uint64_t bucket_low(std::size_t bucket) noexcept;
    static std::uint64_t bucket_high(std::size_t bucket) noexcept;

private:
    std::array<std::uint64_t, kBuckets> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t min_ = UINT64_MAX;
    std::uint64_t max_ = 0;
    unsigned __int128 sum_ = 0;  // 2^64 ns is 584 years: a sum of many such values needs more bits
};

}  // namespace cs::bench
