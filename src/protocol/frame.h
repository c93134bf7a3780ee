// Incremental framing of the PostgreSQL v3 byte stream.
//
// After the untyped startup packet, every message in both directions is
// [1 byte type][int32 length including itself][length - 4 bytes body]
// (PostgreSQL docs, Protocol §55.7). ScanFrame looks at the front of a
// receive buffer and says whether a complete message is there, how long it
// is, or why the stream is broken. It never trusts the length field: lengths
// below 4 or above the caller's cap are errors. Pure, never throws.
#pragma once

#include <cstdint>
#include <string_view>

namespace tusk::protocol {

/// Outcome of looking at the front of a buffer.
enum class FrameStatus {
  kNeedMore,  ///< fewer than 5 bytes, or the body is not complete yet
  kComplete,  ///< a whole message: `size` bytes starting at buf[0]
  kBadLength  ///< length field < 4 or > max_message_bytes: protocol violation (08P01)
};

/// What ScanFrame found.
struct Frame {
  FrameStatus status = FrameStatus::kNeedMore;
  char type = 0;            ///< valid once 5 bytes were seen (kComplete, and kNeedMore with header)
  uint32_t length = 0;      ///< the length field (body + 4); valid when the header was seen
  bool has_header = false;  ///< at least 5 bytes were available
  /// Total bytes of the message including the type byte (length + 1).
  uint64_t size() const { return uint64_t{length} + 1; }
  /// The message body (after type and length) when kComplete.
  std::string_view body;
};

/// Examines the front of `buf`. `max_message_bytes` caps the length field.
Frame ScanFrame(std::string_view buf, uint32_t max_message_bytes);

}  // namespace tusk::protocol
