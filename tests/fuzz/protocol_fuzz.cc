// libFuzzer target for the PostgreSQL v3 codec (src/protocol): the input is
// decoded as a startup packet, walked as a stream of typed frames with every
// frame body handed to every Parse*, and split in halves for both SCRAM sides
// (an "@N" stands for the random nonce the other side generated).
// Nothing may crash, read out of bounds, hang or throw; a few invariants are
// checked on top. Build and run: scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/scram.h"
#include "fuzz_check.h"
#include "protocol/frame.h"
#include "protocol/messages.h"
#include "protocol/scram_exchange.h"
#include "protocol/startup.h"

namespace {

using namespace tusk::protocol;

const tusk::ScramVerifier& Verifier() {
  static const tusk::ScramVerifier* v = new tusk::ScramVerifier(
      tusk::ParseScramVerifier(tusk::ComputeScramVerifier("pencil", "fuzz-salt", 2)).value());
  return *v;
}

void FuzzStartup(std::string_view in) {
  StartupPacket p = DecodeStartup(in);
  switch (p.kind) {
    case StartupKind::kNeedMore:
      break;
    case StartupKind::kError:
      FUZZ_CHECK(p.sqlstate.size() == 5 && !p.message.empty());
      break;
    case StartupKind::kStartup:
      FUZZ_CHECK(!p.Param("user").empty() && !p.Param("database").empty());
      [[fallthrough]];
    default:
      FUZZ_CHECK(p.size >= 8 && p.size <= in.size());
      break;
  }
}

void FuzzBody(char type, std::string_view body) {
  // Parsers are tried on every body, whatever the type byte says.
  (void)type;
  if (auto m = ParseParse(body)) FUZZ_CHECK(m->query.size() < body.size());
  if (auto m = ParseBind(body)) {
    std::string out;
    AppendBind(out, m->portal, m->statement, m->rest);
    FUZZ_CHECK(out.size() == body.size() + 5 && std::string_view(out).substr(5) == body);
  }
  if (auto m = ParseTarget(body)) {
    std::string out;
    AppendTarget(out, 'D', m->kind, m->name);
    FUZZ_CHECK(std::string_view(out).substr(5) == body);
  }
  if (auto m = ParseExecute(body)) FUZZ_CHECK(m->portal.size() + 5 == body.size());
  ParseQuery(body);
  if (auto m = ParseError(body)) m->Field('M');
  ParseParameterStatus(body);
  ParseBackendKeyData(body);
  ParseReadyForQuery(body);
  if (auto m = ParseAuthentication(body)) ParseSaslMechanisms(m->payload);
  ParseSaslMechanisms(body);
  ParseSaslInitialResponse(body);
  ParsePasswordMessage(body);
  ParseCommandComplete(body);
}

void FuzzFrames(std::string_view in) {
  // A small cap too, so that kBadLength is reached without huge inputs.
  for (uint32_t cap : {kDefaultMaxMessageBytes, 64u}) {
    std::string_view rest = in;
    for (;;) {
      Frame f = ScanFrame(rest, cap);
      if (f.status != FrameStatus::kComplete) break;
      FUZZ_CHECK(f.size() <= rest.size() && f.body.size() + 5 == f.size());
      FuzzBody(f.type, f.body);
      rest.remove_prefix(f.size());
    }
  }
}

// Replaces the first "@N" in `text` with `nonce`, so that inputs can reach
// the checks behind the (random) nonce comparison.
std::string WithNonce(std::string_view text, std::string_view nonce) {
  std::string out(text);
  if (size_t at = out.find("@N"); at != std::string::npos) out.replace(at, 2, nonce);
  return out;
}

// Server: client-first = first half, client-final = second half.
void FuzzScramServer(std::string_view first, std::string_view final_half) {
  ScramServer server(Verifier());
  auto server_first = server.HandleClientFirst(first);
  if (!server_first.ok()) return;
  std::string_view nonce = *server_first;
  nonce = nonce.substr(2, nonce.find(',') - 2);  // "r=<nonce>,s=...,i=..."
  auto server_final = server.HandleClientFinal(WithNonce(final_half, nonce));
  // A made-up proof must not pass (2^-256), and a failure never yields a key.
  FUZZ_CHECK(!server_final.ok() && server.client_key().empty());
}

// Client with raw keys (no PBKDF2, so no iteration count can stall it):
// server-first = first half, server-final = second half.
void FuzzScramClient(std::string_view first, std::string_view final_half) {
  ScramClient client = ScramClient::FromKeys(std::string(32, 'c'), std::string(32, 's'));
  std::string client_first = client.ClientFirst();
  auto client_final = client.HandleServerFirst(WithNonce(first, client_first.substr(8)));
  if (!client_final.ok()) return;
  FUZZ_CHECK(client_final->starts_with("c=biws,r="));
  FUZZ_CHECK(!client.HandleServerFinal(final_half).ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  FuzzStartup(in);
  FuzzFrames(in);
  FuzzScramServer(in.substr(0, in.size() / 2), in.substr(in.size() / 2));
  FuzzScramClient(in.substr(0, in.size() / 2), in.substr(in.size() / 2));
  return 0;
}
