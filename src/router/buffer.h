// Buffer: a byte queue for one direction of one connection. Bytes are
// appended at the back and consumed from the front; the front offset is
// compacted lazily so consuming is O(1). Not synchronized (one owner thread).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tusk::router {

class Buffer {
 public:
  /// Unconsumed bytes.
  std::string_view view() const { return std::string_view(data_).substr(start_); }
  size_t size() const { return data_.size() - start_; }
  bool empty() const { return size() == 0; }

  void Append(std::string_view bytes) {
    Compact();
    data_.append(bytes);
  }
  /// The backing string, for builders that append in place (wire.h Append*).
  std::string& back() {
    Compact();
    return data_;
  }
  /// Drops `n` bytes from the front. REQUIRES: n <= size().
  void Consume(size_t n) {
    start_ += n;
    if (start_ == data_.size()) Clear();
  }
  void Clear() {
    data_.clear();
    start_ = 0;
  }
  /// Releases the memory of an empty buffer, so idle connections hold none
  /// (a busy one re-allocates per message burst, which malloc serves from
  /// its per-thread cache).
  void Shrink() {
    if (empty() && data_.capacity() > kInlineBytes) std::string().swap(data_);
  }

 private:
  static constexpr size_t kInlineBytes = 15;  // std::string's in-object capacity
  void Compact() {
    if (start_ > 0 && start_ * 2 >= data_.size()) {
      data_.erase(0, start_);
      start_ = 0;
    }
  }
  std::string data_;
  size_t start_ = 0;
};

}  // namespace tusk::router
