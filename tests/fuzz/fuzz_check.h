// Invariant check for the libFuzzer targets: FUZZ_CHECK(cond) prints the
// broken condition with its file and line to stderr (kept in the target's log
// by scripts/fuzz.sh) and aborts, which libFuzzer reports as a crash and
// saves the input for. Single-threaded, as the targets are.
#ifndef TUSK_TESTS_FUZZ_FUZZ_CHECK_H_
#define TUSK_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

namespace tusk::fuzz {

// Prints "fuzz invariant failed at FILE:LINE: CONDITION" and aborts.
[[noreturn]] inline void FailCheck(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "fuzz invariant failed at %s:%d: %s\n", file, line, condition);
  std::abort();
}

}  // namespace tusk::fuzz

#define FUZZ_CHECK(cond) \
  ((cond) ? static_cast<void>(0) : ::tusk::fuzz::FailCheck(#cond, __FILE__, __LINE__))

#endif  // TUSK_TESTS_FUZZ_FUZZ_CHECK_H_
