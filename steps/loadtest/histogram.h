#pragma once
// Latency histograms: log-linear buckets (HDR-style) over integer nanoseconds.
//
// Format of the buckets ("loglinear-ns-7"): a value v < 256 ns has its own bucket (index v). Above that,
// with e = floor(log2 v) and shift = e - 7, the index is shift * 128 + (v >> shift): every power of two is
// split into 128 equal sub-buckets, so a bucket is at most 1/128 of its lower bound wide and its midpoint
// is within 0.4 % of any value in it (well inside the 1 % required from 1 us to 60 s). Values at or above
// 2^40 ns (about 18 minutes) land in the last bucket. count/min/max/sum are kept exactly beside the buckets.
// Merging adds bucket counts, so merged percentiles equal those of one histogram fed all the samples.

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/error.h"

namespace slipway::steps::loadtest {

/// Shared bucket arithmetic of Histogram and SparseHistogram.
struct Buckets {
  static constexpr int kSubBits = 7;
  static constexpr std::uint32_t kSubCount = 1u << kSubBits;  // 128
  static constexpr int kMaxExponent = 39;                     // values < 2^40 ns are resolved
  static constexpr std::uint32_t kCount = (kMaxExponent - kSubBits + 2) * kSubCount;  // 4352
  static constexpr const char* kScheme = "loglinear-ns-7";

  /// Bucket index of a value in nanoseconds (negative values count as 0, huge ones clamp to the last).
  static std::uint32_t IndexOf(std::int64_t ns) {
    if (ns < 0) ns = 0;
    auto v = static_cast<std::uint64_t>(ns);
    if (v < 2 * kSubCount) return static_cast<std::uint32_t>(v);
    int e = 63 - __builtin_clzll(v);
    if (e > kMaxExponent) return kCount - 1;
    int shift = e - kSubBits;
    return static_cast<std::uint32_t>(shift) * kSubCount + static_cast<std::uint32_t>(v >> shift);
  }
  /// Smallest value that maps to bucket `index`.
  static std::int64_t LowerBound(std::uint32_t index) {
    if (index < 2 * kSubCount) return index;
    std::uint32_t shift = index / kSubCount - 1;
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(index - shift * kSubCount) << shift);
  }
  /// Width of bucket `index` in nanoseconds.
  static std::int64_t Width(std::uint32_t index) {
    if (index < 2 * kSubCount) return 1;
    return std::int64_t{1} << (index / kSubCount - 1);
  }
  /// The value reported for samples in bucket `index`: its midpoint.
  static std::int64_t Representative(std::uint32_t index) { return LowerBound(index) + (Width(index) - 1) / 2; }
};

class SparseHistogram;

/// A fixed-size histogram for recording on the hot path: Record() never allocates.
class Histogram {
 public:
  Histogram() { counts_.fill(0); }

  /// Adds one sample (nanoseconds).
  void Record(std::int64_t ns) {
    if (ns < 0) ns = 0;
    std::uint32_t i = Buckets::IndexOf(ns);
    ++counts_[i];
    if (count_ == 0 || ns < min_) min_ = ns;
    if (ns > max_) max_ = ns;
    ++count_;
    sum_ += static_cast<std::uint64_t>(ns);
    if (i < lo_) lo_ = i;
    if (i > hi_) hi_ = i;
  }
  /// Adds every sample of `other`.
  void Merge(const Histogram& other);
  /// Adds every sample of a sparse histogram.
  void Merge(const SparseHistogram& other);
  /// Forgets all samples (cheap: clears only the touched range).
  void Reset();

  std::uint64_t Count() const { return count_; }
  std::int64_t Min() const { return count_ ? min_ : 0; }
  std::int64_t Max() const { return max_; }
  double Mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
  std::uint64_t Sum() const { return sum_; }
  /// The q-th percentile (0 < q <= 100) in nanoseconds: the representative of the bucket holding the
  /// ceil(q% * count)-th smallest sample, clamped to [Min, Max] (exactly Max for the largest sample or
  /// the overflow bucket); 0 when empty.
  std::int64_t Percentile(double q) const;
  std::uint64_t BucketCount(std::uint32_t index) const { return counts_[index]; }

  /// The non-empty buckets as a sparse histogram (for JSON and for per-second series).
  SparseHistogram ToSparse() const;
  bool operator==(const Histogram& o) const {
    return count_ == o.count_ && min_ == o.min_ && max_ == o.max_ && sum_ == o.sum_ && counts_ == o.counts_;
  }

 private:
  friend class SparseHistogram;
  std::array<std::uint64_t, Buckets::kCount> counts_;
  std::uint64_t count_ = 0;
  std::int64_t min_ = 0;
  std::int64_t max_ = 0;
  std::uint64_t sum_ = 0;
  std::uint32_t lo_ = Buckets::kCount;  // touched index range, so Reset and ToSparse scan little
  std::uint32_t hi_ = 0;
};

/// The non-empty buckets of a histogram, sorted by index; what the summary JSON carries.
class SparseHistogram {
 public:
  /// (bucket index, count) pairs, index ascending.
  std::vector<std::pair<std::uint32_t, std::uint64_t>> buckets;
  std::uint64_t count = 0;
  std::int64_t min = 0;
  std::int64_t max = 0;
  std::uint64_t sum = 0;

  /// Adds every sample of `other` (a merge of the two sorted bucket lists).
  void Merge(const SparseHistogram& other);
  /// Same definition as Histogram::Percentile.
  std::int64_t Percentile(double q) const;
  double Mean() const { return count ? static_cast<double>(sum) / static_cast<double>(count) : 0.0; }

  /// {"scheme": "loglinear-ns-7", "count", "min_ns", "max_ns", "sum_ns", "buckets": "gap:count,..."}
  /// where each gap is the bucket index minus the previous bucket's (the first is the index itself).
  nlohmann::json ToJson() const;
  /// Inverse of ToJson; fails naming what is wrong (unknown scheme, unsorted or out-of-range index,
  /// counts that do not add up).
  static Expected<SparseHistogram> FromJson(const nlohmann::json& j);
  bool operator==(const SparseHistogram& o) const = default;
};

}  // namespace slipway::steps::loadtest
