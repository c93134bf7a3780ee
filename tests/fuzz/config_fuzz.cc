// libFuzzer target for the tusk.yaml loader: any input must load or fail with
// a Status, never crash, hang or throw. Build (from the repo root):
//   clang++ -std=c++20 -g -fsanitize=fuzzer,address -Isrc tests/fuzz/config_fuzz.cc \
//     src/config/*.cc src/common/*.cc -lyaml-cpp -o /tmp/config_fuzz
//   /tmp/config_fuzz -max_total_time=20
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "../support/fake_environment.h"
#include "config/loader.h"

namespace {

const tusk::test::FakeEnvironment& Env() {
  static const tusk::test::FakeEnvironment* env = [] {
    auto* e = new tusk::test::FakeEnvironment();
    e->vars = {{"PORT", "5433"}, {"PW", "secret"}, {"EMPTY", ""}, {"NAME", "svc"}};
    e->readable_files = {"/cfg/init.sql", "/cfg/pw"};
    e->rotational_dirs = {"/cfg/hdd"};
    return e;
  }();
  return *env;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  tusk::Result<tusk::config::Config> r =
      tusk::config::LoadConfigText(text, "fuzz.yaml", "/cfg", Env());
  // A successful load must hold final values only.
  if (r.ok()) {
    for (const auto& inst : r->instances) {
      if (inst.memory_bytes == 0 || inst.cpus <= 0 || inst.data_dir.empty() || inst.hba.empty() ||
          inst.data_dir[0] != '/') {
        std::abort();
      }
    }
  } else if (r.status().message().empty()) {
    std::abort();
  }
  return 0;
}
