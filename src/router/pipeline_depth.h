// PipelineDepthFor: how many requests one pipelining server connection should
// hold right now, from how many requests its pool has in flight.
//
// A fixed depth cannot suit every load. With few clients, a deep queue puts
// them all behind one backend (each request waits for the others'); with
// many, a shallow one spreads them over many backends that each sleep
// between queries. So the depth follows the demand: the requests in flight
// are spread over about kPipelineSpread servers, each queue at least 2 deep
// (the next query already waiting is the point) and at most `max_depth`
// (the spec's pipeline_depth). A queue grows past that depth only when no idle
// server is left (Worker::FeedPipeline). Measured in docs/benchmarks.md.
// Thread-safety: a pure function.
#pragma once

#include <algorithm>

namespace tusk::router {

/// Servers a pool's pipelined requests are spread over before any queue
/// grows deeper than 2 (3 measured best of 2-5 at 10 and 50 clients).
inline constexpr int kPipelineSpread = 3;

/// The queue limit per server: ceil(demand / kPipelineSpread), clamped to
/// [min(2, max_depth), max_depth]. `demand`: requests queued on the pool's
/// pipelining servers + the request being placed (>= 1). `max_depth`:
/// pipeline_depth (>= 1).
inline int PipelineDepthFor(int max_depth, int demand) {
  int depth = (demand + kPipelineSpread - 1) / kPipelineSpread;
  return std::clamp(depth, std::min(2, max_depth), max_depth);
}

}  // namespace tusk::router
