// Status and Result<T>: how tusk reports failure without exceptions.
//
// A Status is ok or carries a Code and a human-readable message. Result<T>
// holds either a T or a non-ok Status. Both are plain values: copyable,
// movable, not thread-safe to mutate concurrently (like any value type).
// Exceptions are used only at the control-plane edge (config loading, CLI);
// everything below returns Status or Result<T>.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace tusk {

/// Broad failure categories; the CLI maps them to exit codes.
enum class Code {
  kOk,
  kInvalidArgument,  ///< bad input from the user (config, CLI): exit 2
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kUnavailable,  ///< a server did not answer (yet)
  kInternal,     ///< an OS call or a server failed
};

/// Outcome of an operation: ok, or a code plus a message saying where and why.
class Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  /// Returns a copy whose message is "prefix: message".
  Status Prefixed(const std::string& prefix) const {
    if (ok()) return *this;
    return Status(code_, prefix + ": " + message_);
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return Status(Code::kInvalidArgument, std::move(m));
}
inline Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
inline Status FailedPrecondition(std::string m) {
  return Status(Code::kFailedPrecondition, std::move(m));
}
inline Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
inline Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }

/// Either a value of type T or a non-ok Status.
/// REQUIRES: a Result built from a Status is built from a non-ok one.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  /// The error; Status::Ok() when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }
  /// REQUIRES: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace tusk

/// Returns early from the enclosing function when `expr` (a Status) is not ok.
#define TUSK_RETURN_IF_ERROR(expr) \
  do {                             \
    ::tusk::Status _st = (expr);   \
    if (!_st.ok()) return _st;     \
  } while (0)
