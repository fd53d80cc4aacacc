#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace slipway::pipeline {

/// Incremental SHA-256 (FIPS 180-4), for fingerprints and digests.
class Sha256 {
 public:
  Sha256();
  void Update(std::string_view data);
  /// The digest as 64 lowercase hex characters. Call once.
  std::string HexDigest();

 private:
  void Block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

/// SHA-256 of `data`, hex.
std::string Sha256Hex(std::string_view data);

}  // namespace slipway::pipeline
