// Tune: derive PostgreSQL parameters from a memory budget, CPUs, storage,
// max_connections and a profile (oltp | olap | tiny). Pure; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/model.h"

namespace tusk::postgres {

/// Inputs of the tuner. memory_bytes is the budget for this instance (bytes).
struct TuningInput {
  uint64_t memory_bytes = 0;
  int cpus = 1;
  config::Storage storage = config::Storage::kSsd;
  int max_connections = 100;
  config::Profile profile = config::Profile::kOltp;
  /// Explicit `parameters:` from tusk.yaml (GUC -> value); they win over derived values.
  std::map<std::string, std::string> overrides;
};

/// One parameter as it goes into tusk.conf.
struct Setting {
  std::string name;
  std::string value;    ///< postgresql.conf syntax, e.g. "512MB", "0.9", "on"
  std::string formula;  ///< how it was derived, with inputs; "explicit" for overrides
  bool overridden = false;
};

/// The tuner's output: settings sorted by name, and memory-safety warnings.
struct TuningResult {
  std::vector<Setting> settings;
  std::vector<std::string> warnings;
  /// Value of `name`, or "" when absent.
  std::string Get(const std::string& name) const;
};

/// Derives every tuned parameter; see docs/tuning.md for the formulas.
TuningResult Tune(const TuningInput& input);

/// Human-readable table: name, value, formula (for `tusk tune --explain`).
std::string ExplainTuning(const TuningResult& result);

}  // namespace tusk::postgres
