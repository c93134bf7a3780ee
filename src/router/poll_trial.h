// PollTrial: whether polling before sleeping (BusyPoll) pays on this host
// and load, found by trying both ways in turn.
//
// Whether a worker's polls speed up a busy closed loop depends on the host:
// on one box polling gave `pgbench -S` at 10 clients 1.03x direct against
// 0.88x without; on the same box hours later 0.91x against 0.98x (the
// polls' CPU was taken from PostgreSQL and pgbench). BusyPoll's score sees
// only how soon events come, not what the polls cost the rest of the
// machine, so the loop measures it: after every kExploitUs it runs a trial
// of kTrialEpochs epochs of kEpochUs, polling allowed in half of them, in
// the order ABBA BAAB (a steady drift in load weighs on both alike), and
// counts the requests the loop completed (ReadyForQuery forwarded) per µs
// each way. Polling stays off until the next trial only when the epochs
// without it completed more per µs by more than Threshold(); a trial with
// fewer than kMinWork requests, or a tie, allows polling (BusyPoll then
// decides per wait, as without trials). A trial spends half its 320 ms the
// slower way: 160 ms in every 2.32 s, 7 % of the time. Measured in docs/benchmarks.md ("Trying
// both ways").
// Thread-safety: none; one per event loop. Pure: the caller passes the time
// and its request count.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace tusk::router {

class PollTrial {
 public:
  /// Length of one trial epoch, µs.
  static constexpr int64_t kEpochUs = 10'000;
  /// Epochs per trial (half of them with polling allowed).
  static constexpr int kTrialEpochs = 32;
  /// Time between trials during which their verdict holds, µs.
  static constexpr int64_t kExploitUs = 2'000'000;
  /// Fewest requests a trial must see to switch polling off.
  static constexpr uint64_t kMinWork = 400;
  /// How much faster (requests per µs) the epochs without polling must be
  /// at least (see Threshold()).
  static constexpr double kMargin = 0.02;

  /// Whether the loop may poll now (BusyPoll still decides whether it does).
  bool polling_allowed() const { return allowed_; }
  /// Whether a trial is running.
  bool in_trial() const { return in_trial_; }

  /// Called after every wait: `now_us` on the steady clock, `work` the
  /// loop's count of completed requests so far (never decreasing).
  void Update(int64_t now_us, uint64_t work) {
    if (!started_) {
      started_ = true;
      Begin(now_us, work);
      return;
    }
    const int64_t elapsed = now_us - start_us_;
    if (elapsed < (in_trial_ ? kEpochUs : kExploitUs)) return;
    if (!in_trial_) {
      in_trial_ = true;
      epoch_ = 0;
      with_ = without_ = Tally{};
      allowed_ = AllowedIn(0);
    } else {
      Tally& t = allowed_ ? with_ : without_;
      t.work += work - start_work_;
      t.us += elapsed;
      if (++epoch_ < kTrialEpochs) {
        allowed_ = AllowedIn(epoch_);
      } else {
        in_trial_ = false;
        allowed_ = !(with_.work + without_.work >= kMinWork &&
                     without_.Rate() > with_.Rate() * (1 + Threshold()));
      }
    }
    Begin(now_us, work);
  }

 private:
  struct Tally {
    uint64_t work = 0;  // requests completed
    int64_t us = 0;     // time, µs
    double Rate() const { return us > 0 ? static_cast<double>(work) / us : 0; }
  };
  /// The relative gain a verdict for sleeping needs: kMargin, or the
  /// standard deviation of the difference if the counts were Poisson, if
  /// larger (a loop paced by its clients' arrivals completes the same either
  /// way, and a few thousand requests differ by a few percent by chance).
  double Threshold() const {
    const double noise = std::sqrt(1.0 / std::max<uint64_t>(with_.work, 1) +
                                   1.0 / std::max<uint64_t>(without_.work, 1));
    return std::max(kMargin, noise);
  }
  /// ABBA BAAB ...: polling allowed in epochs 0, 3, 5, 6, 8, 11, ...
  static bool AllowedIn(int epoch) {
    const bool abba = (epoch & 3) == 0 || (epoch & 3) == 3;
    return abba != (((epoch >> 2) & 1) != 0);
  }
  void Begin(int64_t now_us, uint64_t work) {
    start_us_ = now_us;
    start_work_ = work;
  }

  bool started_ = false;
  bool in_trial_ = false;
  bool allowed_ = true;
  int epoch_ = 0;
  int64_t start_us_ = 0;
  uint64_t start_work_ = 0;
  Tally with_, without_;
};

}  // namespace tusk::router
