// STUB: replaced by the tuner implementation.
#include "postgres/tuning.h"

namespace tusk::postgres {
std::string TuningResult::Get(const std::string& name) const {
  for (const auto& s : settings)
    if (s.name == name) return s.value;
  return "";
}
TuningResult Tune(const TuningInput&) { return {}; }
std::string ExplainTuning(const TuningResult&) { return ""; }
}  // namespace tusk::postgres
