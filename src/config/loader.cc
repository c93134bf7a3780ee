// STUB: replaced by the config loader implementation.
#include "config/loader.h"

namespace tusk::config {
Result<Config> LoadConfigFile(const std::string&, const Environment&) {
  return Internal("not implemented");
}
Result<Config> LoadConfigText(std::string_view, const std::string&, const std::string&,
                              const Environment&) {
  return Internal("not implemented");
}
Result<Config> EmbeddedDefault(const std::string&, std::optional<int>, const Environment&) {
  return Internal("not implemented");
}
}  // namespace tusk::config
