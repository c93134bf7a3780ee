// ScanFrame: see frame.h.
#include "protocol/frame.h"

#include "protocol/wire.h"

namespace tusk::protocol {

Frame ScanFrame(std::string_view buf, uint32_t max_message_bytes) {
  Frame f;
  if (buf.size() < 5) return f;
  f.has_header = true;
  f.type = buf[0];
  f.length = static_cast<uint32_t>(LoadInt32(buf.data() + 1));
  if (f.length < 4 || f.length > max_message_bytes) {
    f.status = FrameStatus::kBadLength;
    return f;
  }
  if (buf.size() < f.size()) return f;
  f.status = FrameStatus::kComplete;
  f.body = buf.substr(5, f.length - 4);
  return f;
}

}  // namespace tusk::protocol
