// Tune: derive PostgreSQL parameters from a memory budget, CPUs, storage,
// max_connections and a profile (oltp | olap | tiny). Pure; thread-safe.
//
// Sources: PGTune (shared_buffers = 25% of RAM, effective_cache_size = 75%,
// maintenance_work_mem = RAM/16 (olap RAM/8) capped at 2GB, random_page_cost,
// effective_io_concurrency, parallel workers, WAL sizes), Pigsty's oltp/olap/tiny
// templates (autovacuum and timeouts), PostgreSQL 15 docs §20.4 Resource
// Consumption and §20.5 Write Ahead Log. Formulas per profile: docs/tuning.md.
//
// Memory-safety rule (checked for every result, derived or overridden):
//
//   shared_buffers + 2 × S × work_mem + maintenance_work_mem
//     + autovacuum_max_workers × autovacuum_work_mem  ≤  90% of the budget
//
// where S is the number of sessions expected to run a sort/hash at the same time
// (SortingSessions): oltp and tiny: ceil(max_connections / 2); olap:
// min(max_connections, 2 × cpus) + max_parallel_workers. The factor 2 covers two
// sort nodes, or one hash node at PostgreSQL 15's hash_mem_multiplier 2.0. S is a
// model, not a limit PostgreSQL enforces: counting every connection would make
// work_mem uselessly small for pooled OLTP (see docs/tuning.md). work_mem is the
// slack variable: it is derived from the rule, so derived values always satisfy it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"

namespace tusk::postgres {

/// Inputs of the tuner. memory_bytes is the budget for this instance (bytes).
struct TuningInput {
  uint64_t memory_bytes = 0;  ///< bytes; budgets below 64MB are raised to 64MB (warning)
  int cpus = 1;               ///< CPUs available to the instance; < 1 counts as 1
  config::Storage storage = config::Storage::kSsd;
  int max_connections = 100;  ///< rendered as given; < 1 counts as 1
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
/// Overrides replace derived values (formula "explicit", overridden = true) and
/// are fed into the values derived from them (work_mem, autovacuum_work_mem,
/// wal_buffers, huge_pages); overrides of parameters the tuner does not derive
/// are passed through verbatim. Emits a warning when the memory rule above is
/// broken (only possible through overrides, or a budget too small for
/// max_connections), and for override values it cannot read.
TuningResult Tune(const TuningInput& input);

/// Human-readable table: name, value, formula (for `tusk tune --explain`),
/// columns aligned, followed by one "warning: ..." line per warning.
std::string ExplainTuning(const TuningResult& result);

/// Bytes of a memory GUC value such as "512MB" (binary units, via ParseBytes).
/// A plain integer is read in the GUC's own unit as PostgreSQL does (docs §20.1.1):
/// 8kB blocks for shared_buffers, effective_cache_size, wal_buffers, temp_buffers;
/// MB for min_wal_size, max_wal_size; kB for every other memory GUC (work_mem,
/// maintenance_work_mem, autovacuum_work_mem, ...). nullopt when unreadable
/// (including "-1", which means "use the default" and is resolved by the caller).
std::optional<uint64_t> ParseGucBytes(std::string_view name, std::string_view value);

/// S in the memory rule: sessions expected to run a sort/hash at the same time.
/// oltp, tiny: ceil(max_connections / 2); olap: min(max_connections, 2 × cpus) +
/// max_parallel_workers (each parallel worker has its own work_mem).
uint64_t SortingSessions(config::Profile profile, int max_connections, int cpus,
                         int max_parallel_workers);

}  // namespace tusk::postgres
