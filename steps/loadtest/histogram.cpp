#include "steps/loadtest/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

namespace slipway::steps::loadtest {

namespace {

// Rank of the q-th percentile among `count` samples: ceil(q/100 * count), at least 1.
std::uint64_t RankOf(double q, std::uint64_t count) {
  if (q <= 0) return 1;
  if (q >= 100) return count;
  auto rank = static_cast<std::uint64_t>(std::ceil(q / 100.0 * static_cast<double>(count) - 1e-9));
  return std::clamp<std::uint64_t>(rank, 1, count);
}

std::int64_t Clamp(std::int64_t v, std::int64_t lo, std::int64_t hi) { return std::max(lo, std::min(hi, v)); }

}  // namespace

void Histogram::Merge(const Histogram& other) {
  if (other.count_ == 0) return;
  for (std::uint32_t i = other.lo_; i <= other.hi_; ++i) counts_[i] += other.counts_[i];
  if (count_ == 0 || other.min_ < min_) min_ = other.min_;
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
  lo_ = std::min(lo_, other.lo_);
  hi_ = std::max(hi_, other.hi_);
}

void Histogram::Merge(const SparseHistogram& other) {
  if (other.count == 0) return;
  for (const auto& [i, c] : other.buckets) {
    counts_[i] += c;
    lo_ = std::min(lo_, i);
    hi_ = std::max(hi_, i);
  }
  if (count_ == 0 || other.min < min_) min_ = other.min;
  max_ = std::max(max_, other.max);
  count_ += other.count;
  sum_ += other.sum;
}

void Histogram::Reset() {
  if (lo_ <= hi_) std::fill(counts_.begin() + lo_, counts_.begin() + hi_ + 1, 0);
  count_ = 0;
  min_ = max_ = 0;
  sum_ = 0;
  lo_ = Buckets::kCount;
  hi_ = 0;
}

std::int64_t Histogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  std::uint64_t rank = RankOf(q, count_);
  if (rank >= count_) return max_;  // the largest sample is known exactly
  std::uint64_t seen = 0;
  for (std::uint32_t i = lo_; i <= hi_; ++i) {
    seen += counts_[i];
    if (seen >= rank) return i == Buckets::kCount - 1 ? max_ : Clamp(Buckets::Representative(i), min_, max_);
  }
  return max_;
}

SparseHistogram Histogram::ToSparse() const {
  SparseHistogram s;
  s.count = count_;
  s.min = Min();
  s.max = max_;
  s.sum = sum_;
  for (std::uint32_t i = lo_; i <= hi_ && count_ > 0; ++i)
    if (counts_[i]) s.buckets.emplace_back(i, counts_[i]);
  return s;
}

void SparseHistogram::Merge(const SparseHistogram& other) {
  if (other.count == 0) return;
  if (count == 0) {
    *this = other;
    return;
  }
  std::vector<std::pair<std::uint32_t, std::uint64_t>> out;
  out.reserve(buckets.size() + other.buckets.size());
  std::size_t a = 0, b = 0;
  while (a < buckets.size() || b < other.buckets.size()) {
    if (b == other.buckets.size() || (a < buckets.size() && buckets[a].first < other.buckets[b].first)) {
      out.push_back(buckets[a++]);
    } else if (a == buckets.size() || other.buckets[b].first < buckets[a].first) {
      out.push_back(other.buckets[b++]);
    } else {
      out.emplace_back(buckets[a].first, buckets[a].second + other.buckets[b].second);
      ++a;
      ++b;
    }
  }
  buckets = std::move(out);
  min = std::min(min, other.min);
  max = std::max(max, other.max);
  count += other.count;
  sum += other.sum;
}

std::int64_t SparseHistogram::Percentile(double q) const {
  if (count == 0) return 0;
  std::uint64_t rank = RankOf(q, count);
  if (rank >= count) return max;
  std::uint64_t seen = 0;
  for (const auto& [i, c] : buckets) {
    seen += c;
    if (seen >= rank) return i == Buckets::kCount - 1 ? max : Clamp(Buckets::Representative(i), min, max);
  }
  return max;
}

nlohmann::json SparseHistogram::ToJson() const {
  // "index:count" pairs, each index the gap from the previous one: a long run's per-second series
  // stays a few bytes per bucket instead of a JSON array node per number.
  std::string b;
  b.reserve(buckets.size() * 8);
  std::uint32_t prev = 0;
  for (const auto& [i, c] : buckets) {
    if (!b.empty()) b += ',';
    b += std::to_string(i - prev);
    b += ':';
    b += std::to_string(c);
    prev = i;
  }
  return {{"scheme", Buckets::kScheme}, {"count", count}, {"min_ns", min},
          {"max_ns", max},              {"sum_ns", sum},  {"buckets", std::move(b)}};
}

Expected<SparseHistogram> SparseHistogram::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Fail("histogram: expected an object");
  if (j.value("scheme", "") != Buckets::kScheme)
    return Fail(std::string("histogram: unknown scheme (expected \"") + Buckets::kScheme + "\")");
  SparseHistogram h;
  try {
    h.count = j.at("count").get<std::uint64_t>();
    h.min = j.at("min_ns").get<std::int64_t>();
    h.max = j.at("max_ns").get<std::int64_t>();
    h.sum = j.at("sum_ns").get<std::uint64_t>();
    const std::string text = j.at("buckets").get<std::string>();
    std::uint64_t total = 0;
    std::uint64_t index = 0;
    const char* p = text.c_str();
    while (*p) {
      char* end = nullptr;
      std::uint64_t gap = std::strtoull(p, &end, 10);
      if (end == p || *end != ':') return Fail("histogram.buckets: expected \"gap:count,...\" pairs");
      p = end + 1;
      std::uint64_t c = std::strtoull(p, &end, 10);
      if (end == p || (*end != ',' && *end != '\0')) return Fail("histogram.buckets: expected \"gap:count,...\" pairs");
      p = *end == ',' ? end + 1 : end;
      if ((!h.buckets.empty() && gap == 0) || index + gap >= Buckets::kCount)
        return Fail("histogram.buckets: index " + std::to_string(index + gap) + " out of range or out of order");
      index += gap;
      total += c;
      h.buckets.emplace_back(static_cast<std::uint32_t>(index), c);
    }
    if (total != h.count) return Fail("histogram: bucket counts add up to " + std::to_string(total) +
                                      ", not count " + std::to_string(h.count));
  } catch (const nlohmann::json::exception& e) {
    return Fail(std::string("histogram: ") + e.what());
  }
  return h;
}

}  // namespace slipway::steps::loadtest
