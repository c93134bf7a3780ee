// RandomBytes: a per-thread buffer over RAND_bytes; see random.h.
#include "common/random.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <atomic>
#include <cstring>
#include <mutex>

namespace tusk {
namespace {

constexpr size_t kChunk = 256;

// Bumped in the child after fork(): every buffer filled before is stale there.
std::atomic<unsigned> fork_generation{0};

struct Buffer {
  unsigned char bytes[kChunk];
  size_t used = kChunk;  // bytes[used..] are unread
  unsigned generation = 0;
  ~Buffer() { OPENSSL_cleanse(bytes, sizeof bytes); }
};

thread_local Buffer buffer;

void RegisterForkHandler() {
  static std::once_flag once;
  std::call_once(once,
                 [] { pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1); }); });
}

}  // namespace

bool RandomBytes(void* out, size_t n) {
  auto* dst = static_cast<unsigned char*>(out);
  if (n > kChunk / 2) {  // large requests gain nothing from the buffer
    if (RAND_bytes(dst, static_cast<int>(n)) == 1) return true;
    std::memset(dst, 0, n);
    return false;
  }
  RegisterForkHandler();
  Buffer& b = buffer;
  unsigned gen = fork_generation.load(std::memory_order_relaxed);
  if (b.generation != gen) {
    OPENSSL_cleanse(b.bytes, sizeof b.bytes);
    b.used = kChunk;
    b.generation = gen;
  }
  if (kChunk - b.used < n) {
    if (RAND_bytes(b.bytes, kChunk) != 1) {
      b.used = kChunk;
      std::memset(dst, 0, n);
      return false;
    }
    b.used = 0;
  }
  std::memcpy(dst, b.bytes + b.used, n);
  OPENSSL_cleanse(b.bytes + b.used, n);
  b.used += n;
  return true;
}

}  // namespace tusk
