// Golden and property tests for the tuner (src/postgres/tuning.h).
#include "postgres/tuning.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "common/strings.h"

namespace tusk::postgres {
namespace {

using config::Profile;
using config::Storage;

constexpr uint64_t kMB = 1ull << 20;
constexpr uint64_t kGB = 1ull << 30;

TuningInput Input(uint64_t budget, int cpus, Storage storage, int conns, Profile profile) {
  TuningInput in;
  in.memory_bytes = budget;
  in.cpus = cpus;
  in.storage = storage;
  in.max_connections = conns;
  in.profile = profile;
  return in;
}

const Setting* Find(const TuningResult& r, const std::string& name) {
  for (const auto& s : r.settings)
    if (s.name == name) return &s;
  return nullptr;
}

uint64_t MemOf(const TuningResult& r, const std::string& name) {
  auto b = ParseGucBytes(name, r.Get(name));
  EXPECT_TRUE(b.has_value()) << name << " = '" << r.Get(name) << "'";
  return b.value_or(0);
}

int IntOf(const TuningResult& r, const std::string& name) { return std::stoi(r.Get(name)); }

// Left side of the memory rule, recomputed from the rendered settings.
uint64_t RuleTotal(const TuningResult& r, const TuningInput& in) {
  uint64_t sessions = SortingSessions(in.profile, IntOf(r, "max_connections"), in.cpus,
                                      IntOf(r, "max_parallel_workers"));
  return MemOf(r, "shared_buffers") + 2 * sessions * MemOf(r, "work_mem") +
         MemOf(r, "maintenance_work_mem") +
         static_cast<uint64_t>(IntOf(r, "autovacuum_max_workers")) *
             MemOf(r, "autovacuum_work_mem");
}

// --- Golden cases --------------------------------------------------------

TEST(TuningGolden, Oltp2GiB) {
  TuningResult r = Tune(Input(2 * kGB, 2, Storage::kSsd, 200, Profile::kOltp));
  EXPECT_EQ(r.Get("shared_buffers"), "512MB");
  EXPECT_EQ(r.Get("effective_cache_size"), "1536MB");
  EXPECT_EQ(r.Get("maintenance_work_mem"), "128MB");
  EXPECT_EQ(r.Get("work_mem"), "4MB");
  EXPECT_EQ(r.Get("autovacuum_work_mem"), "128MB");
  EXPECT_EQ(r.Get("autovacuum_max_workers"), "3");
  EXPECT_EQ(r.Get("wal_buffers"), "16MB");
  EXPECT_EQ(r.Get("min_wal_size"), "1GB");
  EXPECT_EQ(r.Get("max_wal_size"), "4GB");
  EXPECT_EQ(r.Get("checkpoint_completion_target"), "0.9");
  EXPECT_EQ(r.Get("random_page_cost"), "1.1");
  EXPECT_EQ(r.Get("effective_io_concurrency"), "200");
  EXPECT_EQ(r.Get("max_worker_processes"), "8");
  EXPECT_EQ(r.Get("max_parallel_workers"), "2");
  EXPECT_EQ(r.Get("max_parallel_workers_per_gather"), "1");
  EXPECT_EQ(r.Get("max_parallel_maintenance_workers"), "1");
  EXPECT_EQ(r.Get("autovacuum_vacuum_scale_factor"), "0.05");
  EXPECT_EQ(r.Get("autovacuum_analyze_scale_factor"), "0.02");
  EXPECT_EQ(r.Get("max_locks_per_transaction"), "128");
  EXPECT_EQ(r.Get("idle_in_transaction_session_timeout"), "10min");
  EXPECT_EQ(r.Get("huge_pages"), "off");
  EXPECT_EQ(r.Get("max_connections"), "200");
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(Find(r, "shared_buffers")->formula, "25% of budget 2GB");
  EXPECT_EQ(Find(r, "effective_cache_size")->formula, "75% of budget 2GB");
}

TEST(TuningGolden, Oltp8GiB) {
  TuningResult r = Tune(Input(8 * kGB, 4, Storage::kSsd, 200, Profile::kOltp));
  EXPECT_EQ(r.Get("shared_buffers"), "2GB");
  EXPECT_EQ(r.Get("effective_cache_size"), "6GB");
  EXPECT_EQ(r.Get("maintenance_work_mem"), "512MB");
  EXPECT_EQ(r.Get("autovacuum_work_mem"), "512MB");
  EXPECT_EQ(r.Get("work_mem"), "16MB");
  EXPECT_EQ(r.Get("wal_buffers"), "16MB");
  EXPECT_EQ(r.Get("min_wal_size"), "2GB");
  EXPECT_EQ(r.Get("max_wal_size"), "8GB");
  EXPECT_EQ(r.Get("max_parallel_workers"), "4");
  EXPECT_EQ(r.Get("max_parallel_workers_per_gather"), "2");
  EXPECT_EQ(r.Get("max_parallel_maintenance_workers"), "2");
  EXPECT_EQ(r.Get("max_worker_processes"), "8");
  EXPECT_EQ(r.Get("autovacuum_max_workers"), "3");
  EXPECT_EQ(r.Get("huge_pages"), "off");
  EXPECT_TRUE(r.warnings.empty());
}

TEST(TuningGolden, Oltp64GiB) {
  TuningResult r = Tune(Input(64 * kGB, 16, Storage::kSsd, 500, Profile::kOltp));
  EXPECT_EQ(r.Get("shared_buffers"), "16GB");
  EXPECT_EQ(r.Get("effective_cache_size"), "48GB");
  EXPECT_EQ(r.Get("maintenance_work_mem"), "2GB");  // capped
  EXPECT_EQ(r.Get("autovacuum_work_mem"), "1GB");   // VACUUM's 1GB limit
  EXPECT_EQ(r.Get("autovacuum_max_workers"), "8");
  EXPECT_EQ(r.Get("work_mem"), "64MB");
  EXPECT_EQ(r.Get("wal_buffers"), "16MB");  // capped
  EXPECT_EQ(r.Get("max_wal_size"), "8GB");
  EXPECT_EQ(r.Get("min_wal_size"), "2GB");
  EXPECT_EQ(r.Get("max_parallel_workers"), "16");
  EXPECT_EQ(r.Get("max_parallel_workers_per_gather"), "2");
  EXPECT_EQ(r.Get("max_parallel_maintenance_workers"), "4");
  EXPECT_EQ(r.Get("max_worker_processes"), "20");
  EXPECT_EQ(r.Get("huge_pages"), "try");
  EXPECT_TRUE(r.warnings.empty());
}

TEST(TuningGolden, Olap8GiBHdd) {
  TuningResult r = Tune(Input(8 * kGB, 8, Storage::kHdd, 50, Profile::kOlap));
  EXPECT_EQ(r.Get("shared_buffers"), "2GB");
  EXPECT_EQ(r.Get("effective_cache_size"), "6GB");
  EXPECT_EQ(r.Get("maintenance_work_mem"), "1GB");
  EXPECT_EQ(r.Get("autovacuum_work_mem"), "512MB");
  EXPECT_EQ(r.Get("autovacuum_max_workers"), "3");
  EXPECT_EQ(r.Get("work_mem"), "57MB");  // 24 sorting sessions: min(50, 16) + 8
  EXPECT_EQ(r.Get("min_wal_size"), "4GB");
  EXPECT_EQ(r.Get("max_wal_size"), "16GB");
  EXPECT_EQ(r.Get("random_page_cost"), "4");
  EXPECT_EQ(r.Get("effective_io_concurrency"), "2");
  EXPECT_EQ(r.Get("max_parallel_workers"), "8");
  EXPECT_EQ(r.Get("max_parallel_workers_per_gather"), "4");
  EXPECT_EQ(r.Get("max_parallel_maintenance_workers"), "4");
  EXPECT_EQ(r.Get("max_worker_processes"), "12");
  EXPECT_EQ(r.Get("autovacuum_vacuum_scale_factor"), "0.1");
  EXPECT_EQ(r.Get("autovacuum_analyze_scale_factor"), "0.05");
  EXPECT_EQ(r.Get("max_locks_per_transaction"), "256");
  EXPECT_EQ(r.Get("idle_in_transaction_session_timeout"), "");  // oltp only
  EXPECT_TRUE(r.warnings.empty());
}

TEST(TuningGolden, Tiny512MiB) {
  TuningResult r = Tune(Input(512 * kMB, 1, Storage::kSsd, 50, Profile::kTiny));
  EXPECT_EQ(r.Get("shared_buffers"), "128MB");
  EXPECT_EQ(r.Get("effective_cache_size"), "256MB");
  EXPECT_EQ(r.Get("maintenance_work_mem"), "32MB");
  EXPECT_EQ(r.Get("autovacuum_work_mem"), "32MB");
  EXPECT_EQ(r.Get("autovacuum_max_workers"), "2");
  EXPECT_EQ(r.Get("work_mem"), "4MB");
  EXPECT_EQ(r.Get("wal_buffers"), "4MB");
  EXPECT_EQ(r.Get("min_wal_size"), "128MB");
  EXPECT_EQ(r.Get("max_wal_size"), "512MB");
  EXPECT_EQ(r.Get("max_parallel_workers"), "1");
  EXPECT_EQ(r.Get("max_parallel_workers_per_gather"), "0");
  EXPECT_EQ(r.Get("max_parallel_maintenance_workers"), "0");
  EXPECT_EQ(r.Get("max_worker_processes"), "8");
  EXPECT_EQ(r.Get("autovacuum_vacuum_scale_factor"), "0.2");
  EXPECT_EQ(r.Get("autovacuum_analyze_scale_factor"), "0.1");
  EXPECT_EQ(r.Get("max_locks_per_transaction"), "64");
  EXPECT_EQ(r.Get("huge_pages"), "off");
  EXPECT_EQ(r.Get("idle_in_transaction_session_timeout"), "");
  EXPECT_TRUE(r.warnings.empty());
}

TEST(TuningGolden, Tiny256MiBKeepsThingsSmall) {
  TuningResult r = Tune(Input(256 * kMB, 1, Storage::kSsd, 20, Profile::kTiny));
  EXPECT_EQ(r.Get("shared_buffers"), "64MB");
  EXPECT_EQ(r.Get("effective_cache_size"), "128MB");
  EXPECT_EQ(r.Get("maintenance_work_mem"), "16MB");
  EXPECT_EQ(r.Get("autovacuum_work_mem"), "16MB");
  EXPECT_EQ(r.Get("work_mem"), "5MB");
  EXPECT_EQ(r.Get("wal_buffers"), "2MB");
  EXPECT_EQ(r.Get("max_wal_size"), "256MB");
  EXPECT_EQ(r.Get("min_wal_size"), "64MB");
  EXPECT_TRUE(r.warnings.empty());
}

// --- Property: derived values always satisfy the memory rule ---------------

TEST(TuningProperty, DerivedValuesSatisfyMemoryRule) {
  int cases = 0;
  for (Profile profile : {Profile::kOltp, Profile::kOlap, Profile::kTiny}) {
    for (uint64_t budget = 256 * kMB; budget <= 256 * kGB; budget *= 2) {
      for (uint64_t b : {budget, budget + budget / 2 + 12345}) {  // also odd budgets
        if (b > 256 * kGB) continue;
        for (int conns : {10, 20, 50, 100, 200, 333, 500, 1000, 2000}) {
          for (int cpus : {1, 2, 4, 16, 64}) {
            for (Storage storage : {Storage::kSsd, Storage::kHdd}) {
              TuningInput in = Input(b, cpus, storage, conns, profile);
              TuningResult r = Tune(in);
              uint64_t limit = b / 10 * 9 + b % 10 * 9 / 10;
              uint64_t total = RuleTotal(r, in);
              ASSERT_LE(total, limit) << "budget " << b << " conns " << conns << " cpus " << cpus;
              ASSERT_GE(MemOf(r, "work_mem"), 64u * 1024);
              ASSERT_GE(MemOf(r, "shared_buffers"), 16 * kMB);
              ASSERT_LE(MemOf(r, "maintenance_work_mem"), 2 * kGB);
              ASSERT_LE(MemOf(r, "autovacuum_work_mem"), 1 * kGB);
              ASSERT_LE(MemOf(r, "wal_buffers"), 16 * kMB);
              ASSERT_LE(MemOf(r, "min_wal_size"), MemOf(r, "max_wal_size"));
              ASSERT_LE(IntOf(r, "max_parallel_workers"), IntOf(r, "max_worker_processes"));
              ASSERT_TRUE(std::is_sorted(
                  r.settings.begin(), r.settings.end(),
                  [](const Setting& x, const Setting& y) { return x.name < y.name; }));
              for (const auto& w : r.warnings) {
                // The only warning derived values may produce: shared_buffers shrunk.
                ASSERT_NE(w.find("shared_buffers reduced"), std::string::npos) << w;
              }
              ++cases;
            }
          }
        }
      }
    }
  }
  EXPECT_GT(cases, 1000);
}

TEST(TuningProperty, WorkMemIsWholeMBOrMultipleOf64kB) {
  for (int conns : {10, 200, 2000}) {
    for (uint64_t b : {256 * kMB, 3 * kGB + 7, 100 * kGB}) {
      TuningResult r = Tune(Input(b, 4, Storage::kSsd, conns, Profile::kOltp));
      uint64_t wm = MemOf(r, "work_mem");
      if (wm >= kMB) {
        EXPECT_EQ(wm % kMB, 0u);
      } else {
        EXPECT_EQ(wm % (64 * 1024), 0u);
      }
    }
  }
}

TEST(TuningProperty, TooManyConnectionsShrinksSharedBuffersWithWarning) {
  TuningResult r = Tune(Input(256 * kMB, 2, Storage::kSsd, 2000, Profile::kOltp));
  EXPECT_EQ(r.Get("work_mem"), "64kB");
  EXPECT_EQ(r.Get("shared_buffers"), "41MB");
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("shared_buffers reduced from 64MB to 41MB"), std::string::npos);
}

// --- Overrides -------------------------------------------------------------

TEST(TuningOverrides, ExplicitWinsAndPassesThrough) {
  TuningInput in = Input(2 * kGB, 2, Storage::kSsd, 200, Profile::kOltp);
  in.overrides = {{"random_page_cost", "1.5"}, {"log_min_duration_statement", "250ms"}};
  TuningResult r = Tune(in);
  const Setting* rpc = Find(r, "random_page_cost");
  ASSERT_NE(rpc, nullptr);
  EXPECT_EQ(rpc->value, "1.5");
  EXPECT_EQ(rpc->formula, "explicit");
  EXPECT_TRUE(rpc->overridden);
  const Setting* pass = Find(r, "log_min_duration_statement");
  ASSERT_NE(pass, nullptr);
  EXPECT_EQ(pass->value, "250ms");
  EXPECT_EQ(pass->formula, "explicit");
  EXPECT_TRUE(pass->overridden);
  EXPECT_FALSE(Find(r, "shared_buffers")->overridden);
  EXPECT_EQ(r.Get("work_mem"), "4MB");
  EXPECT_TRUE(r.warnings.empty());
  int names = 0;
  for (const auto& s : r.settings) names += s.name == "random_page_cost";
  EXPECT_EQ(names, 1);
}

TEST(TuningOverrides, BreakingTheRuleWarnsWithNumbers) {
  TuningInput in = Input(2 * kGB, 2, Storage::kSsd, 200, Profile::kOltp);
  in.overrides = {{"shared_buffers", "1900MB"}, {"work_mem", "4MB"}};
  TuningResult r = Tune(in);
  EXPECT_EQ(r.Get("shared_buffers"), "1900MB");
  ASSERT_EQ(r.warnings.size(), 1u);
  // 1900 + 2 × 100 × 4 + 128 + 3 × 128 = 3212MB > 1843MB.
  EXPECT_EQ(r.warnings[0],
            "memory: shared_buffers 1900MB + 2 × 100 sorting sessions × work_mem 4MB + "
            "maintenance_work_mem 128MB + 3 × autovacuum_work_mem 128MB = 3212MB exceeds 90% "
            "of the 2GB budget (1843MB)");
}

TEST(TuningOverrides, DerivedValuesFollowOverriddenInputs) {
  TuningInput in = Input(2 * kGB, 2, Storage::kSsd, 200, Profile::kOltp);
  in.overrides = {{"shared_buffers", "256MB"}};
  TuningResult r = Tune(in);
  // (1843.2 - 256 - 128 - 384) / 200 = 5.376 -> 5MB.
  EXPECT_EQ(r.Get("work_mem"), "5MB");
  EXPECT_EQ(r.Get("wal_buffers"), "8MB");
  EXPECT_TRUE(r.warnings.empty());

  in.overrides = {{"shared_buffers", "16GB"}};
  in.memory_bytes = 64 * kGB;
  r = Tune(in);
  EXPECT_EQ(r.Get("huge_pages"), "try");

  in = Input(2 * kGB, 2, Storage::kSsd, 200, Profile::kOltp);
  in.overrides = {{"max_connections", "100"}};
  r = Tune(in);
  EXPECT_EQ(r.Get("max_connections"), "100");
  EXPECT_EQ(Find(r, "max_connections")->formula, "explicit");
  EXPECT_EQ(r.Get("work_mem"), "8MB");  // 819.2MB / (2 × 50)

  in.overrides = {{"autovacuum_work_mem", "-1"}, {"maintenance_work_mem", "256MB"}};
  r = Tune(in);
  // autovacuum uses maintenance_work_mem: 1843.2 - 512 - 256 - 3 × 256 = 307.2 / 200.
  EXPECT_EQ(r.Get("work_mem"), "1MB");
  EXPECT_TRUE(r.warnings.empty());
}

TEST(TuningOverrides, PlainIntegersUseTheGucUnit) {
  TuningInput in = Input(2 * kGB, 2, Storage::kSsd, 200, Profile::kOltp);
  in.overrides = {{"shared_buffers", "262144"}};  // 8kB blocks = 2GB
  TuningResult r = Tune(in);
  EXPECT_EQ(r.Get("shared_buffers"), "262144");
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_NE(r.warnings.back().find("shared_buffers 2GB"), std::string::npos) << r.warnings.back();
}

TEST(TuningOverrides, UnreadableValueWarns) {
  TuningInput in = Input(2 * kGB, 2, Storage::kSsd, 200, Profile::kOltp);
  in.overrides = {{"work_mem", "lots"}};
  TuningResult r = Tune(in);
  EXPECT_EQ(r.Get("work_mem"), "lots");
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("work_mem = 'lots'"), std::string::npos);
}

TEST(ParseGucBytes, Units) {
  EXPECT_EQ(ParseGucBytes("shared_buffers", "16384"), 128 * kMB);
  EXPECT_EQ(ParseGucBytes("effective_cache_size", "1"), 8192u);
  EXPECT_EQ(ParseGucBytes("wal_buffers", "2048"), 16 * kMB);
  EXPECT_EQ(ParseGucBytes("work_mem", "4096"), 4 * kMB);
  EXPECT_EQ(ParseGucBytes("maintenance_work_mem", "1024"), kMB);
  EXPECT_EQ(ParseGucBytes("max_wal_size", "1024"), kGB);
  EXPECT_EQ(ParseGucBytes("shared_buffers", "512MB"), 512 * kMB);
  EXPECT_EQ(ParseGucBytes("work_mem", "64kB"), 64u * 1024);
  EXPECT_FALSE(ParseGucBytes("work_mem", "-1").has_value());
  EXPECT_FALSE(ParseGucBytes("work_mem", "").has_value());
  EXPECT_FALSE(ParseGucBytes("work_mem", "1.5GB").has_value());
}

TEST(SortingSessions, PerProfile) {
  EXPECT_EQ(SortingSessions(Profile::kOltp, 200, 2, 2), 100u);
  EXPECT_EQ(SortingSessions(Profile::kOltp, 201, 2, 2), 101u);
  EXPECT_EQ(SortingSessions(Profile::kTiny, 1, 1, 1), 1u);
  EXPECT_EQ(SortingSessions(Profile::kOlap, 50, 8, 8), 24u);
  EXPECT_EQ(SortingSessions(Profile::kOlap, 5, 8, 8), 13u);
}

// --- Inputs out of range, explain ------------------------------------------

TEST(Tuning, TinyBudgetIsRaisedWithWarning) {
  TuningResult r = Tune(Input(0, 0, Storage::kSsd, 10, Profile::kTiny));
  EXPECT_EQ(r.Get("shared_buffers"), "16MB");
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_NE(r.warnings[0].find("below the 64MB minimum"), std::string::npos);
}

TEST(Tuning, ExplainPrintsAlignedTable) {
  TuningInput in = Input(2 * kGB, 2, Storage::kSsd, 200, Profile::kOltp);
  in.overrides = {{"shared_buffers", "1900MB"}};
  TuningResult r = Tune(in);
  std::string text = ExplainTuning(r);
  auto lines = SplitTrimmed(text, '\n');
  ASSERT_EQ(lines.size(), r.settings.size() + 1 + r.warnings.size());
  EXPECT_EQ(lines[0].rfind("name", 0), 0u);
  size_t value_col = lines[0].find("value");
  size_t formula_col = lines[0].find("formula");
  for (size_t i = 0; i < r.settings.size(); ++i) {
    const std::string& line = lines[i + 1];
    EXPECT_EQ(line.rfind(r.settings[i].name, 0), 0u) << line;
    EXPECT_EQ(line.substr(value_col, r.settings[i].value.size()), r.settings[i].value) << line;
    EXPECT_EQ(line.substr(formula_col, r.settings[i].formula.size()), r.settings[i].formula)
        << line;
  }
  EXPECT_NE(text.find("shared_buffers                       1900MB  explicit"), std::string::npos)
      << text;
  EXPECT_NE(text.find("warning: memory: shared_buffers 1900MB"), std::string::npos);
}

}  // namespace
}  // namespace tusk::postgres
