#pragma once
#include <filesystem>
#include <functional>
#include <string>

#include "pipeline/error.h"

namespace slipway::pipeline {

/// Test hook: called at "written" (temp file written and fsynced, not yet renamed) and "renamed";
/// returning false simulates a crash at that point (the function stops and reports failure).
using FaultHook = std::function<bool(const char* point)>;

/// Replaces `path` with `content` atomically: write a temp file beside it, fsync, rename over,
/// fsync the directory. With `keep_backup`, the previous file is kept as `<path>.bak` (via a hard
/// link, so `path` always exists). `mode` is the new file's permission bits.
Expected<void> WriteFileAtomically(const std::filesystem::path& path, const std::string& content,
                                   unsigned mode = 0600, bool keep_backup = false, const FaultHook& fault = {});

/// fsync of a directory, so a rename in it is durable.
Expected<void> SyncDirectory(const std::filesystem::path& dir);

}  // namespace slipway::pipeline
