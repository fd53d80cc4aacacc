#pragma once
// Error values shared by every layer. Expected failures travel as tl::expected<T, Error>;
// exceptions from third-party libraries are caught in the adapter that calls them.

#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace slipway {

/// A position in a user's file; line and column count from 1 (yaml-cpp's marks count from 0).
struct SourceLoc {
  std::string file;
  int line = 0;
  int column = 0;
  bool Known() const { return line > 0; }
  /// "file:line:col", or just "file" when the position is unknown.
  std::string ToString() const {
    if (!Known()) return file;
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
  }
};

/// An expected failure: a message for the user and, where it came from a file, its place.
struct Error {
  std::string message;
  SourceLoc loc;

  Error() = default;
  explicit Error(std::string msg) : message(std::move(msg)) {}
  Error(std::string msg, SourceLoc where) : message(std::move(msg)), loc(std::move(where)) {}

  std::string ToString() const {
    return loc.file.empty() ? message : loc.ToString() + ": " + message;
  }
};

template <typename T>
using Expected = tl::expected<T, Error>;

inline tl::unexpected<Error> Fail(std::string message) { return tl::unexpected<Error>(Error(std::move(message))); }
inline tl::unexpected<Error> Fail(std::string message, SourceLoc loc) {
  return tl::unexpected<Error>(Error(std::move(message), std::move(loc)));
}

}  // namespace slipway
