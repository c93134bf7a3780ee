// The tuner: derives PostgreSQL parameters from a budget; see tuning.h and
// docs/tuning.md for the formulas and the memory-safety rule.
#include "postgres/tuning.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "common/strings.h"

namespace tusk::postgres {
namespace {

using config::Profile;
using config::Storage;

constexpr uint64_t kKB = 1ull << 10;
constexpr uint64_t kMB = 1ull << 20;
constexpr uint64_t kGB = 1ull << 30;
constexpr uint64_t kMinBudget = 64 * kMB;
constexpr uint64_t kWorkMemFloor = 64 * kKB;        // PostgreSQL's minimum work_mem
constexpr uint64_t kSharedBuffersFloor = 16 * kMB;  // lowest shrink of shared_buffers
constexpr uint64_t kVacuumTidLimit = kGB;  // VACUUM uses at most 1GB for dead tuples (PG15)
constexpr uint64_t kHugePagesFrom = 8 * kGB;

uint64_t SatAdd(uint64_t a, uint64_t b) {
  return a > std::numeric_limits<uint64_t>::max() - b ? std::numeric_limits<uint64_t>::max()
                                                      : a + b;
}

uint64_t SatMul(uint64_t a, uint64_t b) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) {
    return std::numeric_limits<uint64_t>::max();
  }
  return a * b;
}

uint64_t FloorTo(uint64_t bytes, uint64_t unit) { return bytes / unit * unit; }

std::string Bytes(uint64_t bytes) { return FormatPgBytes(bytes); }

// Whole MB for messages: rounded up (`up`) or down, e.g. "1843MB".
std::string WholeMB(uint64_t bytes, bool up) {
  uint64_t mb = bytes / kMB + (up && bytes % kMB != 0 ? 1 : 0);
  return std::to_string(mb) + "MB";
}

std::string ProfileName(Profile p) {
  switch (p) {
    case Profile::kOltp:
      return "oltp";
    case Profile::kOlap:
      return "olap";
    case Profile::kTiny:
      return "tiny";
  }
  return "oltp";
}

std::string Unquote(std::string_view v) {
  std::string t = Trim(v);
  if (t.size() >= 2 && t.front() == '\'' && t.back() == '\'') t = t.substr(1, t.size() - 2);
  return Trim(t);
}

std::optional<int> ParseInt(std::string_view v) {
  std::string t = Unquote(v);
  int out = 0;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
  if (ec != std::errc() || ptr != t.data() + t.size()) return std::nullopt;
  return out;
}

// Accumulates settings and warnings; resolves the effective value of a
// parameter (override when readable, else derived).
class Builder {
 public:
  explicit Builder(const TuningInput& in) : in_(in) {}

  const std::string* Override(const std::string& name) const {
    auto it = in_.overrides.find(name);
    return it == in_.overrides.end() ? nullptr : &it->second;
  }

  // Effective bytes of a memory GUC: a readable override wins over `derived`.
  uint64_t EffectiveBytes(const std::string& name, uint64_t derived) {
    const std::string* o = Override(name);
    if (!o) return derived;
    if (auto b = ParseGucBytes(name, Unquote(*o))) return *b;
    Warn(name, *o, "a size");
    return derived;
  }

  // Effective value of an integer GUC: a readable, positive override wins.
  int EffectiveInt(const std::string& name, int derived) {
    const std::string* o = Override(name);
    if (!o) return derived;
    if (auto v = ParseInt(*o); v && *v >= 0) return *v;
    Warn(name, *o, "a non-negative integer");
    return derived;
  }

  void Add(const std::string& name, std::string value, std::string formula) {
    result_.settings.push_back({name, std::move(value), std::move(formula), false});
  }
  void Warning(std::string w) { result_.warnings.push_back(std::move(w)); }

  TuningResult Finish() {
    // Overrides win; the rest pass through.
    for (const auto& entry : in_.overrides) {
      const std::string& name = entry.first;
      const std::string& value = entry.second;
      auto it = std::find_if(result_.settings.begin(), result_.settings.end(),
                             [&](const Setting& s) { return s.name == name; });
      if (it == result_.settings.end()) {
        result_.settings.push_back({name, value, "explicit", true});
      } else {
        *it = {name, value, "explicit", true};
      }
    }
    std::sort(result_.settings.begin(), result_.settings.end(),
              [](const Setting& a, const Setting& b) { return a.name < b.name; });
    return std::move(result_);
  }

 private:
  void Warn(const std::string& name, const std::string& value, const char* what) {
    result_.warnings.push_back("parameters: " + name + " = '" + value + "' is not " + what +
                               " the tuner can read; derived value used for the memory rule");
  }

  const TuningInput& in_;
  TuningResult result_;
};

}  // namespace

std::string TuningResult::Get(const std::string& name) const {
  for (const auto& s : settings)
    if (s.name == name) return s.value;
  return "";
}

std::optional<uint64_t> ParseGucBytes(std::string_view name, std::string_view value) {
  std::string v = Trim(value);
  if (v.empty()) return std::nullopt;
  bool plain = std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
  auto bytes = ParseBytes(v);
  if (!bytes || !plain) return bytes;
  uint64_t unit = kKB;
  if (name == "shared_buffers" || name == "effective_cache_size" || name == "wal_buffers" ||
      name == "temp_buffers") {
    unit = 8 * kKB;
  } else if (name == "min_wal_size" || name == "max_wal_size") {
    unit = kMB;
  }
  if (*bytes > std::numeric_limits<uint64_t>::max() / unit) return std::nullopt;
  return *bytes * unit;
}

uint64_t SortingSessions(Profile profile, int max_connections, int cpus, int max_parallel_workers) {
  uint64_t n = static_cast<uint64_t>(std::max(max_connections, 1));
  uint64_t c = static_cast<uint64_t>(std::max(cpus, 1));
  if (profile == Profile::kOlap) {
    return std::min(n, 2 * c) + static_cast<uint64_t>(std::max(max_parallel_workers, 0));
  }
  return (n + 1) / 2;
}

TuningResult Tune(const TuningInput& input) {
  Builder b(input);
  const Profile profile = input.profile;
  const std::string pname = ProfileName(profile);
  const bool ssd = input.storage == Storage::kSsd;

  uint64_t budget = input.memory_bytes;
  if (budget < kMinBudget) {
    b.Warning("memory: budget " + Bytes(budget) + " is below the 64MB minimum; tuning for 64MB");
    budget = kMinBudget;
  }
  const std::string B = Bytes(budget);
  const int cpus = std::max(input.cpus, 1);
  const std::string C = std::to_string(cpus);
  const int given_conns = std::max(input.max_connections, 1);
  const int conns = std::max(b.EffectiveInt("max_connections", given_conns), 1);

  // --- Connections ---------------------------------------------------------
  b.Add("max_connections", std::to_string(input.max_connections), "as given");

  // --- Memory (PGTune; PostgreSQL docs §20.4.1) ----------------------------
  uint64_t sb = std::max<uint64_t>(FloorTo(budget / 4, kMB), kMB);
  std::string sb_formula = "25% of budget " + B;

  uint64_t ecs = profile == Profile::kTiny ? budget / 2 : budget / 4 * 3;
  b.Add("effective_cache_size", Bytes(FloorTo(ecs, kMB)),
        (profile == Profile::kTiny ? "50% of budget " : "75% of budget ") + B);

  uint64_t mwm_cap = profile == Profile::kTiny ? 256 * kMB : 2 * kGB;
  uint64_t mwm_raw = profile == Profile::kOlap ? budget / 8 : budget / 16;
  uint64_t mwm = std::max(std::min(FloorTo(mwm_raw, kMB), mwm_cap), kMB);
  b.Add("maintenance_work_mem", Bytes(mwm),
        std::string(profile == Profile::kOlap ? "1/8" : "1/16") + " of budget " + B + ", cap " +
            Bytes(mwm_cap));
  const uint64_t eff_mwm = b.EffectiveBytes("maintenance_work_mem", mwm);

  int avw = 2;
  if (profile == Profile::kOltp) avw = std::clamp(cpus / 2, 3, 8);
  if (profile == Profile::kOlap) avw = std::clamp(cpus / 4, 3, 6);
  b.Add("autovacuum_max_workers", std::to_string(avw),
        profile == Profile::kTiny   ? "tiny: 2"
        : profile == Profile::kOltp ? "cpus " + C + " / 2, within 3..8"
                                    : "cpus " + C + " / 4, within 3..6");
  const int eff_avw = b.EffectiveInt("autovacuum_max_workers", avw);

  // All autovacuum workers together get at most 3/16 of the budget.
  const uint64_t per_worker = budget / 16 * 3 / static_cast<uint64_t>(std::max(eff_avw, 3));
  uint64_t avwm = std::max(std::min({FloorTo(per_worker, kMB), eff_mwm, kVacuumTidLimit}), kMB);
  b.Add("autovacuum_work_mem", Bytes(avwm),
        "min(3/16 of budget " + B + " / max(3, " + std::to_string(eff_avw) +
            " workers), maintenance_work_mem " + Bytes(eff_mwm) + ", 1GB)");
  uint64_t eff_avwm = avwm;
  if (const std::string* o = b.Override("autovacuum_work_mem"); o && ParseInt(*o) == -1) {
    eff_avwm = eff_mwm;  // -1: autovacuum uses maintenance_work_mem
  } else {
    eff_avwm = b.EffectiveBytes("autovacuum_work_mem", avwm);
  }

  // --- Parallelism (PGTune) ------------------------------------------------
  int mpw = profile == Profile::kTiny ? std::min(cpus, 2) : cpus;
  b.Add("max_parallel_workers", std::to_string(mpw),
        profile == Profile::kTiny ? "min(cpus " + C + ", 2)" : "cpus " + C);
  const int eff_mpw = b.EffectiveInt("max_parallel_workers", mpw);
  b.Add("max_worker_processes", std::to_string(std::max(8, eff_mpw + 4)),
        "max(8, max_parallel_workers " + std::to_string(eff_mpw) + " + 4)");
  int gather = 0, maint = 0;
  std::string gather_f, maint_f;
  switch (profile) {
    case Profile::kOltp:
      gather = std::min(2, cpus / 2), gather_f = "min(2, cpus " + C + " / 2)";
      maint = std::min(4, cpus / 2), maint_f = "min(4, cpus " + C + " / 2)";
      break;
    case Profile::kOlap:
      gather = std::max(1, cpus / 2), gather_f = "max(1, cpus " + C + " / 2)";
      maint = std::min(8, std::max(1, cpus / 2)), maint_f = "min(8, max(1, cpus " + C + " / 2))";
      break;
    case Profile::kTiny:
      gather = std::min(1, cpus / 2), gather_f = "min(1, cpus " + C + " / 2)";
      maint = std::min(1, cpus / 2), maint_f = "min(1, cpus " + C + " / 2)";
      break;
  }
  b.Add("max_parallel_workers_per_gather", std::to_string(gather), gather_f);
  b.Add("max_parallel_maintenance_workers", std::to_string(maint), maint_f);

  // --- work_mem from the memory rule ---------------------------------------
  const uint64_t limit = budget / 10 * 9 + budget % 10 * 9 / 10;  // floor(90% of budget)
  const uint64_t sessions = SortingSessions(profile, conns, cpus, eff_mpw);
  const std::string sessions_f =
      profile == Profile::kOlap ? "min(" + std::to_string(conns) + " connections, 2 × cpus " + C +
                                      ") + " + std::to_string(eff_mpw) + " parallel workers"
                                : "ceil(" + std::to_string(conns) + " connections / 2)";
  const bool sb_overridden = b.Override("shared_buffers") != nullptr;
  uint64_t eff_sb = b.EffectiveBytes("shared_buffers", sb);
  const uint64_t vacuum_mem = SatMul(static_cast<uint64_t>(eff_avw), eff_avwm);
  auto fixed = [&] { return SatAdd(SatAdd(eff_sb, eff_mwm), vacuum_mem); };
  const uint64_t wm_cap = profile == Profile::kOlap   ? 2 * kGB
                          : profile == Profile::kOltp ? 256 * kMB
                                                      : 64 * kMB;
  uint64_t per = limit > fixed() ? (limit - fixed()) / (2 * sessions) : 0;
  uint64_t wm = per >= kMB ? FloorTo(per, kMB) : FloorTo(per, kWorkMemFloor);
  wm = std::min(wm, wm_cap);
  std::string wm_formula = "(90% of " + B + " - shared_buffers " + Bytes(eff_sb) +
                           " - maintenance_work_mem " + Bytes(eff_mwm) + " - " +
                           std::to_string(eff_avw) + " × autovacuum_work_mem " + Bytes(eff_avwm) +
                           ") / (2 × " + std::to_string(sessions) + " = " + sessions_f + "), cap " +
                           Bytes(wm_cap);
  if (wm < kWorkMemFloor) {
    wm = kWorkMemFloor;
    wm_formula = "64kB (PostgreSQL's minimum): " + std::to_string(sessions) +
                 " sorting sessions leave no room";
    // Make room by shrinking shared_buffers, unless the user chose it.
    uint64_t need = SatAdd(SatAdd(eff_mwm, vacuum_mem), SatMul(2 * sessions, wm));
    if (!sb_overridden && need < limit) {
      uint64_t shrunk = std::max(FloorTo(limit - need, kMB), kSharedBuffersFloor);
      if (shrunk < sb) {
        b.Warning("memory: " + std::to_string(conns) + " connections leave work_mem at its 64kB " +
                  "minimum; shared_buffers reduced from " + Bytes(sb) + " to " + Bytes(shrunk) +
                  " to stay within 90% of the " + B + " budget");
        sb_formula = "90% of " + B + " - maintenance_work_mem - autovacuum - 2 × " +
                     std::to_string(sessions) + " × work_mem 64kB (reduced from 25%)";
        sb = shrunk;
        eff_sb = sb;
      }
    }
  }
  b.Add("shared_buffers", Bytes(sb), sb_formula);
  b.Add("work_mem", Bytes(wm), wm_formula);
  const uint64_t eff_wm = b.EffectiveBytes("work_mem", wm);

  // --- Memory-safety rule check ---------------------------------------------
  const uint64_t total = SatAdd(fixed(), SatMul(SatMul(2, sessions), eff_wm));
  if (total > limit) {
    b.Warning("memory: shared_buffers " + Bytes(eff_sb) + " + 2 × " + std::to_string(sessions) +
              " sorting sessions × work_mem " + Bytes(eff_wm) + " + maintenance_work_mem " +
              Bytes(eff_mwm) + " + " + std::to_string(eff_avw) + " × autovacuum_work_mem " +
              Bytes(eff_avwm) + " = " + WholeMB(total, true) + " exceeds 90% of the " + B +
              " budget (" + WholeMB(limit, false) + ")");
  }

  // --- Derived from shared_buffers (docs §20.5.1, §20.4.1) -------------------
  uint64_t wal_buffers = std::clamp(FloorTo(eff_sb / 32, 8 * kKB), 64 * kKB, 16 * kMB);
  b.Add("wal_buffers", Bytes(wal_buffers),
        "1/32 of shared_buffers " + Bytes(eff_sb) + ", within 64kB..16MB");
  bool huge = eff_sb >= kHugePagesFrom;
  b.Add("huge_pages", huge ? "try" : "off",
        "shared_buffers " + Bytes(eff_sb) + (huge ? " >= 8GB" : " < 8GB"));

  // --- WAL and checkpoints (PGTune) ------------------------------------------
  uint64_t max_wal = 0;
  std::string wal_f;
  switch (profile) {
    case Profile::kOltp:
      max_wal = std::clamp(SatMul(budget, 2), 2 * kGB, 8 * kGB);
      wal_f = "2 × budget " + B + ", within 2GB..8GB";
      break;
    case Profile::kOlap:
      max_wal = std::clamp(SatMul(budget, 4), 4 * kGB, 16 * kGB);
      wal_f = "4 × budget " + B + ", within 4GB..16GB";
      break;
    case Profile::kTiny:
      max_wal = std::clamp(budget, 256 * kMB, kGB);
      wal_f = "budget " + B + ", within 256MB..1GB";
      break;
  }
  max_wal = FloorTo(max_wal, kMB);
  b.Add("max_wal_size", Bytes(max_wal), wal_f);
  b.Add("min_wal_size", Bytes(FloorTo(max_wal / 4, kMB)),
        "max_wal_size " + Bytes(max_wal) + " / 4");
  b.Add("checkpoint_completion_target", "0.9", "PGTune; PostgreSQL 15 default");

  // --- Planner / I/O (PGTune) ------------------------------------------------
  b.Add("random_page_cost", ssd ? "1.1" : "4", ssd ? "ssd" : "hdd");
  b.Add("effective_io_concurrency", ssd ? "200" : "2", ssd ? "ssd" : "hdd");

  // --- Autovacuum, locks, timeouts (Pigsty-style templates) --------------------
  const char* vsf = profile == Profile::kOltp ? "0.05" : profile == Profile::kOlap ? "0.1" : "0.2";
  const char* asf = profile == Profile::kOltp ? "0.02" : profile == Profile::kOlap ? "0.05" : "0.1";
  b.Add("autovacuum_vacuum_scale_factor", vsf, pname + " profile");
  b.Add("autovacuum_analyze_scale_factor", asf, pname + " profile");
  const char* locks = profile == Profile::kOltp ? "128" : profile == Profile::kOlap ? "256" : "64";
  b.Add("max_locks_per_transaction", locks, pname + " profile");
  if (profile == Profile::kOltp) {
    b.Add("idle_in_transaction_session_timeout", "10min", "oltp profile");
  }
  return b.Finish();
}

std::string ExplainTuning(const TuningResult& result) {
  size_t name_w = 4, value_w = 5;
  for (const auto& s : result.settings) {
    name_w = std::max(name_w, s.name.size());
    value_w = std::max(value_w, s.value.size());
  }
  auto row = [&](const std::string& n, const std::string& v, const std::string& f) {
    std::string line = n + std::string(name_w - n.size() + 2, ' ') + v +
                       std::string(value_w - v.size() + 2, ' ') + f;
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line + "\n";
  };
  std::string out = row("name", "value", "formula");
  for (const auto& s : result.settings) out += row(s.name, s.value, s.formula);
  for (const auto& w : result.warnings) out += "warning: " + w + "\n";
  return out;
}

}  // namespace tusk::postgres
