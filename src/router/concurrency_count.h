// ConcurrencyCount: how many of a pool's open transactions count against
// `concurrency_limit` at one instant, and when the first of them stops
// counting (the time to look again).
//
// A transaction counts while a query of it runs, for at most kQueryUs, and
// while it sits idle between queries, for at most kIdleUs. A query that runs
// longer waits on something other than the CPUs (a lock held elsewhere, I/O,
// pg_sleep) or is a long report; a client idle in its transaction longer than
// that is busy elsewhere. Holding new transactions back behind either would
// only leave PostgreSQL idle, and could hold the transaction that would end
// the wait. Pure: times are passed in (µs, one clock).
// Thread-safety: none needed; a value type used on one worker's thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

namespace tusk::router {

class ConcurrencyCount {
 public:
  static constexpr int64_t kQueryUs = 100000;  ///< a running query counts this long, µs
  static constexpr int64_t kIdleUs = 100000;   ///< an idle transaction counts this long, µs

  explicit ConcurrencyCount(int64_t now_us) : now_us_(now_us) {}

  /// Adds one server connection holding a transaction (or a pipelined
  /// request): `busy_since_us` is when its oldest unanswered message was
  /// sent (0: none), `idle_in_transaction` whether it waits for its client
  /// inside a transaction, `answered_us` when its last ReadyForQuery came.
  void Add(int64_t busy_since_us, bool idle_in_transaction, int64_t answered_us) {
    int64_t until;
    if (busy_since_us != 0) {
      until = busy_since_us + kQueryUs;
    } else if (idle_in_transaction) {
      until = answered_us + kIdleUs;
    } else {
      return;  // nothing runs and no transaction is open: it is being released
    }
    if (until <= now_us_) return;
    ++counted_;
    first_expiry_us_ = std::min(first_expiry_us_, until);
  }

  /// Transactions that count now.
  int counted() const { return counted_; }
  /// When the first counted one stops counting (µs); INT64_MAX when none counts.
  int64_t first_expiry_us() const { return first_expiry_us_; }

 private:
  int64_t now_us_;
  int counted_ = 0;
  int64_t first_expiry_us_ = std::numeric_limits<int64_t>::max();
};

}  // namespace tusk::router
