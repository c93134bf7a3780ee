// SharedState: pool registry, backend health, cancel keys.
#include "router/shared_state.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "common/random.h"

namespace tusk::router {

void RouterLog(const std::string& msg) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
  std::fprintf(stderr, "%s tusk router: %s\n", ts, msg.c_str());
  std::fflush(stderr);
}

bool Settings::IsAdmin(const std::string& role) const {
  return std::find(spec.admin_roles.begin(), spec.admin_roles.end(), role) !=
         spec.admin_roles.end();
}

std::shared_ptr<Pool> SharedState::GetPool(const PoolKey& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pools_.find(key);
  if (it != pools_.end()) return it->second;
  // Spread pools over workers round-robin in creation order.
  int home = workers.empty() ? 0 : static_cast<int>(pools_.size() % workers.size());
  auto pool = std::make_shared<Pool>(key, settings()->spec.pool_size, home);
  pool->set_paused(PausedLocked(key.database));
  pools_.emplace(key, pool);
  return pool;
}

bool SharedState::PausedLocked(const std::string& database) const {
  return (paused_all_ && resumed_dbs_.count(database) == 0) || paused_dbs_.count(database) > 0;
}

void SharedState::SetPaused(const std::string& database, bool paused) {
  std::lock_guard<std::mutex> lock(mu_);
  if (database.empty()) {
    paused_all_ = paused;
    paused_dbs_.clear();
    resumed_dbs_.clear();
  } else if (paused) {
    paused_dbs_.insert(database);
    resumed_dbs_.erase(database);
  } else {
    paused_dbs_.erase(database);
    if (paused_all_) resumed_dbs_.insert(database);
  }
  for (const auto& [key, pool] : pools_) pool->set_paused(PausedLocked(key.database));
}

std::vector<std::shared_ptr<Pool>> SharedState::Pools() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<Pool>> out;
  for (const auto& [k, p] : pools_) out.push_back(p);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a->key().database, a->key().role, a->key().readonly) <
           std::tie(b->key().database, b->key().role, b->key().readonly);
  });
  return out;
}

void SharedState::ResizePools(int pool_size) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [k, p] : pools_) p->set_pool_size(pool_size);
}

std::shared_ptr<BackendHealth> SharedState::Health(const Backend& b) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& h : health_) {
    if (h->backend == b) return h;
  }
  auto h = std::make_shared<BackendHealth>();
  h->backend = b;
  health_.push_back(h);
  return h;
}

std::pair<int32_t, int32_t> SharedState::RegisterCancel(CancelTarget target) {
  int32_t key = 0;
  RandomBytes(&key, sizeof key);  // zero on DRBG failure: cancel still needs pid and key
  std::lock_guard<std::mutex> lock(mu_);
  int32_t pid;
  do {
    pid = next_pid_++;
    if (next_pid_ > 0x7ffffff0) next_pid_ = 1000;
  } while (cancel_.count(pid) > 0);
  cancel_[pid] = CancelEntry{key, target};
  return {pid, key};
}

std::string SharedState::NewMockSecret() {
  std::string secret(32, '\0');
  if (!RandomBytes(secret.data(), secret.size())) std::abort();  // no entropy: refuse to run
  return secret;
}

std::string SharedState::MockScramSalt(const std::string& user) const {
  return HmacSha256(mock_secret_, user).substr(0, kScramSaltBytes);
}

void SharedState::UnregisterCancel(int32_t pid) {
  std::lock_guard<std::mutex> lock(mu_);
  cancel_.erase(pid);
}

bool SharedState::LookupCancel(int32_t pid, int32_t key, CancelTarget* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cancel_.find(pid);
  if (it == cancel_.end() || it->second.key != key) return false;
  *out = it->second.target;
  return true;
}

}  // namespace tusk::router
