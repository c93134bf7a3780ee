// libFuzzer target for router::ParseRouterSpec (the router re-reads its spec
// on SIGHUP, so a bad file must give a Status, never an exception or a
// crash). An accepted spec must render and parse back to the same text, and
// a rejection must name the spec. Run through scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "router/router_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  tusk::Result<tusk::router::RouterSpec> r = tusk::router::ParseRouterSpec(text);
  if (!r.ok()) {
    if (r.status().code() != tusk::Code::kInvalidArgument ||
        r.status().message().rfind("router spec: ", 0) != 0) {
      std::abort();
    }
    return 0;
  }
  std::string json = tusk::router::RenderRouterSpec(*r);
  tusk::Result<tusk::router::RouterSpec> back = tusk::router::ParseRouterSpec(json);
  if (!back.ok() || tusk::router::RenderRouterSpec(*back) != json) std::abort();
  return 0;
}
