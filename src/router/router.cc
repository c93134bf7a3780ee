// RunRouter: process entry point (placeholder until the event loop lands).
#include "router/router.h"

#include <cstdio>

namespace tusk::router {

int RunRouter(const std::string& spec_path) {
  std::fprintf(stderr, "tusk router: not implemented yet (spec %s)\n", spec_path.c_str());
  return 1;
}

}  // namespace tusk::router
