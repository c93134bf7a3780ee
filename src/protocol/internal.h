// Helpers shared by the protocol .cc files; not part of the public API.
#pragma once

#include <cstddef>
#include <string>

#include "protocol/wire.h"

namespace tusk::protocol::internal {

/// Appends a message header (type byte, int32 `body_bytes + 4`) and reserves
/// room for the body, so the caller can append it without reallocating.
/// REQUIRES: body_bytes + 4 <= INT32_MAX.
inline void AppendHeader(std::string& out, char type, size_t body_bytes) {
  out.reserve(out.size() + 5 + body_bytes);
  out.push_back(type);
  AppendInt32(out, static_cast<int32_t>(body_bytes + 4));
}

}  // namespace tusk::protocol::internal
