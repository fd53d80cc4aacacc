#include "steps/loadtest/curl_alloc.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <pthread.h>

#include <curl/curl.h>

namespace slipway::steps::loadtest::internal {

namespace {

// Every block carries a 16-byte header: its size class (or kLarge) and the size asked for.
constexpr std::size_t kHeader = 16;
constexpr std::uint32_t kLarge = 0xFFFFFFFF;
constexpr int kSmallClasses = 16;  // 32, 64, ..., 512 bytes (header included)
constexpr int kClasses = kSmallClasses + 6;  // then 1, 2, 4, 8, 16 KiB and 16 KiB + 64 (libcurl's buffer)
constexpr std::size_t kCacheBytesPerClass = 256 * 1024;  // what a thread keeps per class at most,
constexpr std::size_t kCacheBlocksPerClass = 160;           // unless fewer blocks than this: libcurl takes a
                                                            // 16 KiB buffer per transfer, one per connection

std::size_t ClassSize(int c) {
  if (c < kSmallClasses) return static_cast<std::size_t>(c + 1) * 32;
  if (c == kClasses - 1) return 16 * 1024 + 64;
  return std::size_t{1024} << (c - kSmallClasses);
}

int ClassOf(std::size_t total) {
  if (total <= 512) return static_cast<int>((total + 31) / 32) - 1;
  for (int c = kSmallClasses; c < kClasses; ++c)
    if (total <= ClassSize(c)) return c;
  return -1;
}

struct Node {
  Node* next;
};

struct Header {
  std::uint32_t cls;
  std::uint32_t pad;
  std::uint64_t size;
};

// A thread's free lists; blocks freed on a thread go to its lists whoever allocated them (every block
// comes from malloc, so any thread may hand it back to libc too). Trivially destructible, so a
// thread_local access is a plain TLS load; a pthread key empties the lists when the thread exits.
struct Cache {
  Node* head[kClasses];
  std::size_t count[kClasses];
  bool registered;  // the exit hook is installed for this thread
  bool gone;        // the thread is exiting: frees go straight to libc
};

thread_local Cache t_cache;  // zero-initialised
pthread_key_t g_exit_key;

void DrainAtExit(void* p) {
  auto* cache = static_cast<Cache*>(p);
  cache->gone = true;
  for (int c = 0; c < kClasses; ++c) {
    while (cache->head[c]) {
      Node* n = cache->head[c];
      cache->head[c] = n->next;
      std::free(n);
    }
    cache->count[c] = 0;
  }
}

void* Alloc(std::size_t n) {
  std::size_t total = n + kHeader;
  int c = ClassOf(total);
  void* raw;
  if (c >= 0 && !t_cache.gone && t_cache.head[c]) {
    Node* node = t_cache.head[c];
    t_cache.head[c] = node->next;
    --t_cache.count[c];
    raw = node;
  } else {
    raw = std::malloc(c >= 0 ? ClassSize(c) : total);
    if (!raw) return nullptr;
  }
  auto* h = static_cast<Header*>(raw);
  h->cls = c >= 0 ? static_cast<std::uint32_t>(c) : kLarge;
  h->size = n;
  return static_cast<char*>(raw) + kHeader;
}

void Free(void* p) {
  if (!p) return;
  void* raw = static_cast<char*>(p) - kHeader;
  auto* h = static_cast<Header*>(raw);
  if (h->cls != kLarge && !t_cache.gone) {
    int c = static_cast<int>(h->cls);
    if (!t_cache.registered) {
      t_cache.registered = true;
      pthread_setspecific(g_exit_key, &t_cache);
    }
    if (t_cache.count[c] < kCacheBlocksPerClass || t_cache.count[c] * ClassSize(c) < kCacheBytesPerClass) {
      auto* node = static_cast<Node*>(raw);
      node->next = t_cache.head[c];
      t_cache.head[c] = node;
      ++t_cache.count[c];
      return;
    }
  }
  std::free(raw);
}

void* Realloc(void* p, std::size_t n) {
  if (!p) return Alloc(n);
  auto* h = reinterpret_cast<Header*>(static_cast<char*>(p) - kHeader);
  if (h->cls != kLarge && n + kHeader <= ClassSize(static_cast<int>(h->cls))) {
    h->size = n;
    return p;
  }
  void* q = Alloc(n);
  if (!q) return nullptr;
  std::memcpy(q, p, h->size < n ? h->size : n);
  Free(p);
  return q;
}

void* Calloc(std::size_t count, std::size_t size) {
  if (size && count > SIZE_MAX / size) return nullptr;
  std::size_t n = count * size;
  void* p = Alloc(n);
  if (p) std::memset(p, 0, n);
  return p;
}

char* Strdup(const char* s) {
  std::size_t n = std::strlen(s) + 1;
  auto* p = static_cast<char*>(Alloc(n));
  if (p) std::memcpy(p, s, n);
  return p;
}

}  // namespace

void InitCurlWithFreeLists() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* off = std::getenv("SLIPWAY_LOADTEST_CURL_FREELISTS");
    if (off && std::strcmp(off, "0") == 0) {
      curl_global_init(CURL_GLOBAL_ALL);
      return;
    }
    pthread_key_create(&g_exit_key, &DrainAtExit);
    curl_global_init_mem(CURL_GLOBAL_ALL, &Alloc, &Free, &Realloc, &Strdup, &Calloc);
  });
}

}  // namespace slipway::steps::loadtest::internal
