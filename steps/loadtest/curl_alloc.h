#pragma once
// Internal: libcurl's memory functions for the load-test engine. libcurl allocates and frees ~60
// small blocks per HTTP request; glibc's per-thread cache is too shallow for that churn at tens of
// thousands of requests per second, so blocks are recycled through per-thread free lists instead.

namespace slipway::steps::loadtest::internal {

/// curl_global_init with the free-list allocator, once per process. When something else in the process
/// initialised libcurl first, libcurl keeps its own allocator (curl_global_init_mem is then a no-op),
/// which is correct, only slower.
void InitCurlWithFreeLists();

}  // namespace slipway::steps::loadtest::internal
