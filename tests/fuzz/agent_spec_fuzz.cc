// libFuzzer target for agent::SpecFromJson (the agent re-reads spec.json on
// SIGHUP, so a bad file must give a Status, never an exception or a crash).
// An accepted spec must survive SpecToJson -> SpecFromJson unchanged, and a
// rejection must say why. Run through scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "agent/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  tusk::Result<tusk::agent::AgentSpec> r = tusk::agent::SpecFromJson(text);
  if (!r.ok()) {
    if (r.status().code() != tusk::Code::kInvalidArgument || r.status().message().empty()) {
      std::abort();
    }
    return 0;
  }
  std::string json = tusk::agent::SpecToJson(*r);
  tusk::Result<tusk::agent::AgentSpec> back = tusk::agent::SpecFromJson(json);
  if (!back.ok() || back->instances.size() != r->instances.size() ||
      tusk::agent::SpecToJson(*back) != json) {
    std::abort();
  }
  return 0;
}
