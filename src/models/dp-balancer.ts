/**
 * vLLM's internal data-parallel load balancer: how a pod running `--data-parallel-size N` engine ranks behind one API
 * port picks the rank for a request that names none (no `data_parallel_rank`, no X-Data-Parallel-Endpoint sidecar
 * hop). Source: vllm-project/vllm `vllm/v1/engine/core_client.py` at commit 00080ee13c7a,
 * `DPLBAsyncMPClient.get_core_engine_for_request` (one API server: `client_count` 1, `client_index` 0, so the scan
 * starts at `eng_start_index` 0):
 *
 * - the client keeps `lb_engines`, per rank `[waiting, running, kv_cache_usage]`, a snapshot the DP coordinator
 *   publishes ("stats updates from the coordinator (which happen every 100ms)", same file), and an exact count of its
 *   own unfinished requests per rank (`engine_inflight`);
 * - score(rank) = max(client_count × inflight, waiting + running), plus waiting × 6 × max(0, kv_cache_usage − 0.5)
 *   when waiting > 0 (a queue on a KV-bound rank drains slowly);
 * - ranks are scanned from `eng_start_index`, the first strictly lowest score wins; the chosen rank's snapshot
 *   `waiting` grows by `client_count` (until the next snapshot), `eng_start_index` rotates by one, and the rank's
 *   in-flight count grows by one (it falls when the request finishes).
 *
 * Earlier vLLM releases scored `waiting × 4 + running` with a fixed scan start (same method); gatelab follows the
 * newer code. The snapshot here is taken lazily: at a pick, if the last one is 100 ms old or more, the ranks' current
 * queue, batch and KV usage replace it (the real coordinator publishes on its own 100 ms clock).
 *
 * Allocation-free per pick: typed arrays sized once per pod.
 */

import type { Replica } from "./replica.ts";

/** Period of the DP coordinator's stats snapshots, seconds (core_client.py comment: "every 100ms"). */
export const DP_STATS_INTERVAL_S = 0.1;

/** One pod's balancer over its ranks, replicas `first … first + size − 1`. */
export class DpBalancer {
  readonly first: number;
  readonly size: number;
  private snapTime = Number.NEGATIVE_INFINITY;
  private readonly waiting: Float64Array;
  private readonly running: Float64Array;
  private readonly kvUsage: Float64Array;
  private readonly inflight: Int32Array;
  private start = 0;

  constructor(first: number, size: number) {
    this.first = first;
    this.size = size;
    this.waiting = new Float64Array(size);
    this.running = new Float64Array(size);
    this.kvUsage = new Float64Array(size);
    this.inflight = new Int32Array(size);
  }

  /** Replaces the snapshot with the ranks' state at `now` (their fast-forward stretches settled first). */
  snapshot(replicas: readonly Replica[], now: number, pushedAt: number): void {
    for (let i = 0; i < this.size; i++) {
      const r = replicas[this.first + i]!;
      r.settle(now, pushedAt);
      this.waiting[i] = r.numWaiting;
      this.running[i] = r.numRunning;
      this.kvUsage[i] = r.kv.usage;
    }
    this.snapTime = now;
  }

  /** Sets one rank's snapshot directly (tests: a hand-built coordinator snapshot). */
  setSnapshot(rank: number, waiting: number, running: number, kvUsage: number, now: number): void {
    this.waiting[rank] = waiting;
    this.running[rank] = running;
    this.kvUsage[rank] = kvUsage;
    this.snapTime = now;
  }

  /** Rank (0-based) the balancer picks from its current snapshot and in-flight counts; records the pick. */
  pickRank(): number {
    const n = this.size;
    let best = 0;
    let min = Number.MAX_SAFE_INTEGER; // sys.maxsize
    for (let i = 0; i < n; i++) {
      const idx = (this.start + i) % n;
      const w = this.waiting[idx]!;
      let score = Math.max(this.inflight[idx]!, w + this.running[idx]!);
      if (w > 0) score += w * 6 * Math.max(0, this.kvUsage[idx]! - 0.5);
      if (score < min) {
        min = score;
        best = idx;
      }
    }
    this.waiting[best]! += 1;
    this.start = (this.start + 1) % n;
    this.inflight[best]!++;
    return best;
  }

  /** The replica index that runs a request arriving at `now` (refreshing a snapshot 100 ms old or more first). */
  pick(replicas: readonly Replica[], now: number, pushedAt: number): number {
    if (now - this.snapTime >= DP_STATS_INTERVAL_S) this.snapshot(replicas, now, pushedAt);
    return this.first + this.pickRank();
  }

  /** A request the balancer sent to replica `replica` finished (completed or rejected). */
  done(replica: number): void {
    this.inflight[replica - this.first]!--;
  }

  /** This client's unfinished requests on rank `rank` (tests). */
  inFlight(rank: number): number {
    return this.inflight[rank]!;
  }
}
