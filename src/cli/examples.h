// The files under examples/, compiled into the binary for `tusk init`.
// Generated at configure time (src/cli/CMakeLists.txt); immutable; thread-safe.
#pragma once

#include <string>
#include <vector>

namespace tusk::cli {

struct ExampleFile {
  std::string path;  ///< relative to the repository root, e.g. "examples/split.yaml"
  std::string content;
};

/// Every example file (yaml and the SQL files they name).
const std::vector<ExampleFile>& ExampleFiles();

}  // namespace tusk::cli
