// RandomBytes: the per-thread buffer over RAND_bytes (common/random.h).
#include "common/random.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <set>
#include <string>
#include <thread>

namespace tusk {
namespace {

std::string Draw(size_t n) {
  std::string s(n, '\0');
  EXPECT_TRUE(RandomBytes(s.data(), n));
  return s;
}

// Many small draws cross several refills of the 256-byte buffer; none repeats
// and none is all zero (the failure value).
TEST(RandomBytesTest, SmallDrawsAreDistinctAcrossRefills) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    std::string s = Draw(18);
    EXPECT_NE(s, std::string(18, '\0'));
    EXPECT_TRUE(seen.insert(s).second) << "draw " << i << " repeated";
  }
}

// Requests larger than half the buffer go straight to RAND_bytes.
TEST(RandomBytesTest, LargeDrawsWork) {
  std::string a = Draw(4096), b = Draw(4096);
  EXPECT_NE(a, b);
  EXPECT_NE(a, std::string(4096, '\0'));
}

TEST(RandomBytesTest, ThreadsDrawDifferentBytes) {
  std::string mine = Draw(32), theirs;
  std::thread([&] { theirs = Draw(32); }).join();
  EXPECT_NE(mine, theirs);
}

// After fork the child must not hand out the bytes still buffered in the
// parent: both draw right after the fork and compare through a pipe.
TEST(RandomBytesTest, ForkedChildDoesNotRepeatParentBytes) {
  Draw(8);  // fill this thread's buffer
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    unsigned char b[32];
    bool ok = RandomBytes(b, sizeof b);
    ssize_t w = write(fds[1], b, sizeof b);
    _exit(ok && w == static_cast<ssize_t>(sizeof b) ? 0 : 1);
  }
  std::string parent = Draw(32);
  std::string child(32, '\0');
  ASSERT_EQ(read(fds[0], child.data(), child.size()), 32);
  int status = 0;
  waitpid(pid, &status, 0);
  close(fds[0]);
  close(fds[1]);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(parent, child);
}

}  // namespace
}  // namespace tusk
