// Cryptographically strong random bytes for hot paths (SCRAM nonces, cancel keys).
//
// OpenSSL's RAND_bytes costs several microseconds a call in OpenSSL 3 (DRBG
// lookup, locks, fork check), which is most of the per-login cost of a small
// request such as an 18-byte nonce. RandomBytes draws from a per-thread buffer
// that RAND_bytes refills in 256-byte chunks, so one RAND_bytes call serves
// about ten logins. Bytes are handed out once and wiped from the buffer; a
// fork invalidates every thread's buffer (pthread_atfork), so a child never
// repeats its parent's bytes. Thread-safe: each thread has its own buffer.
#pragma once

#include <cstddef>

namespace tusk {

/// Fills `out` with `n` random bytes from OpenSSL's DRBG (RAND_bytes) through
/// this thread's buffer. Returns false, with `out` zeroed, when the DRBG
/// fails (no entropy); callers must then refuse the operation.
bool RandomBytes(void* out, size_t n);

}  // namespace tusk
