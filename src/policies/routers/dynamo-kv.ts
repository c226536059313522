/**
 * dynamo-kv: NVIDIA Dynamo's KV-aware router, classic cost formula (the one its docs still document).
 *
 * Source: ai-dynamo/dynamo `docs/router/kv_cache_routing.md`, `lib/kv-router/src/scheduling/{config.rs,selector.rs}`
 * (docs/reference.md#other-routers). For each candidate worker w:
 * ```
 * overlap_w        = cached prefix blocks of the request on w   (from KV events, engine block size B)
 * prefill_blocks_w = (tokens still to prefill on w + ISL − overlap_w·B) / B
 * decode_blocks_w  = active KV blocks on w (predicted by the router)
 * cost_w = overlapScoreWeight · prefill_blocks_w + decode_blocks_w
 * temperature = 0: argmin cost; ties → smaller radix-tree size (blocks indexed for w), then uniform random
 * temperature > 0: P(w) ∝ exp(−(cost_w − min)/((max − min)·T)); all costs equal → uniform
 * ```
 * Defaults: `overlapScoreWeight` 1.0 (`--kv-overlap-score-weight`), `temperature` 0.0 (`router_temperature`), KV
 * events on (`useKvEvents`), `routerTtlSecs` 120 (`--no-kv-events` mode: the router assumes blocks it routed stay
 * cached that long), `busyThreshold` unset (when set, a worker whose active blocks exceed that fraction of its
 * `num_gpu_blocks` is excluded; all excluded → 503).
 * Router-local prediction (Dynamo's `ActiveSequences`): at dispatch the worker's pending prefill grows by the
 * request's uncached tokens (released at the first token) and its active blocks by ⌈ISL/B⌉ (released at completion).
 * Simplification: the blocks a request grows while decoding are not added (the router here does not see tokens
 * stream), and the 2026 cost (`selector/default.rs`: credit decay, host/disk tiers, router queue) is not modelled.
 * Trace: `scores` = cost (lower wins); `breakdown` = overlap blocks, prefill blocks, decode blocks.
 */
import { z } from "zod";
import { promptBlockHashes } from "../../sim/hash.ts";
import type { Request } from "../../sim/request.ts";
import { NO_CANDIDATES, picked } from "../common.ts";
import { ExpiringSet } from "../indexes/expiring-set.ts";
import { CountedHolderIndex, kvIndexCapacity } from "../indexes/holder-index.ts";
import { RequestRows } from "../indexes/request-rows.ts";
import type { EndpointView, KvEvent, RouteResult, Router, RouterInit, RoutingContext } from "../types.ts";

export const dynamoKvParams = z.strictObject({
  overlapScoreWeight: z.number().min(0).default(1),
  temperature: z.number().min(0).default(0),
  useKvEvents: z.boolean().default(true),
  routerTtlSecs: z.number().positive().default(120),
  busyThreshold: z.number().gt(0).max(1).optional(),
});
export type DynamoKvParams = z.output<typeof dynamoKvParams>;

export class DynamoKvRouter implements Router {
  readonly name = "dynamo-kv";
  readonly wantsKvEvents: boolean;
  private readonly p: DynamoKvParams;
  private readonly bs: number;
  private readonly numGpuBlocks: readonly number[];
  private readonly trace: boolean;
  /** KV-event index: hash → workers holding a block with it (duplicate stores counted). */
  private readonly index: CountedHolderIndex;
  /** No-events mode: per worker, the hashes it was sent, each expiring `routerTtlSecs` after its last routing. */
  private readonly approx: ExpiringSet[];
  private readonly treeSize: Float64Array;
  private readonly pendingPrefill: Float64Array;
  private readonly activeBlocks: Float64Array;
  /** Per request in flight: [replica, prefill tokens, blocks]. */
  private readonly active = new RequestRows(3);
  private readonly overlap: Int32Array;
  private reps: Int32Array;
  private lastReq = -1;
  private lastHashes: Float64Array = new Float64Array(0);
  private cost = new Float64Array(8);

  constructor(init: RouterInit, params: DynamoKvParams = dynamoKvParams.parse({})) {
    this.p = params;
    this.wantsKvEvents = params.useKvEvents;
    this.bs = init.blockSize;
    this.numGpuBlocks = init.numGpuBlocks;
    this.trace = init.traceDecisions === true;
    this.index = new CountedHolderIndex(
      init.replicas,
      params.useKvEvents ? kvIndexCapacity(init.numGpuBlocks) : undefined,
    );
    this.approx = Array.from({ length: init.replicas }, () => new ExpiringSet());
    this.reps = new Int32Array(Math.max(1, init.replicas));
    this.treeSize = new Float64Array(init.replicas);
    this.pendingPrefill = new Float64Array(init.replicas);
    this.activeBlocks = new Float64Array(init.replicas);
    this.overlap = new Int32Array(init.replicas);
  }

  onKvEvent(ev: KvEvent): void {
    if (ev.kind === "stored") {
      this.index.add(ev.hash, ev.replica);
      this.treeSize[ev.replica]!++;
    } else if (this.index.remove(ev.hash, ev.replica)) {
      this.treeSize[ev.replica]!--;
    }
  }

  prefetchKvEvents(hashes: Float64Array, from: number, to: number): number {
    return this.index.prefetch(hashes, from, to);
  }

  /** No-events mode: drops `w`'s hashes last routed `routerTtlSecs` ago or more. */
  private expire(w: number, now: number): void {
    const m = this.approx[w]!;
    m.expire(now);
    this.treeSize[w] = m.size;
  }

  private overlapOf(w: number, hashes: Float64Array): number {
    let k = 0;
    const m = this.approx[w]!;
    while (k < hashes.length && m.has(hashes[k]!)) k++;
    return k;
  }

  route(req: Request, ctx: RoutingContext): RouteResult {
    let eps: readonly EndpointView[] = ctx.endpoints;
    if (eps.length === 0) return NO_CANDIDATES;
    const bt = this.p.busyThreshold;
    if (bt !== undefined) {
      eps = eps.filter((ep) => {
        const cap = this.numGpuBlocks[ep.index] ?? 0;
        return !(cap > 0 && this.activeBlocks[ep.index]! / cap > bt);
      });
      if (eps.length === 0) return { refused: true, status: 503, reason: "all workers busy (dynamo busy_threshold)" };
    }
    const n = eps.length;
    const hashes = ctx.promptHashes(this.bs);
    if (this.cost.length < n) this.cost = new Float64Array(Math.max(n, this.cost.length * 2));
    const cost = this.cost;
    const w = this.p.overlapScoreWeight;
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    if (this.p.useKvEvents) {
      // Longest cached prefix of every candidate: one index probe per block.
      if (this.reps.length < n) this.reps = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const r = eps[i]!.index;
        this.reps[i] = r;
        this.overlap[r] = 0;
      }
      this.index.prefixRuns(hashes, hashes.length, this.reps, n, this.overlap);
    }
    for (let i = 0; i < n; i++) {
      const r = eps[i]!.index;
      if (!this.p.useKvEvents) {
        this.expire(r, ctx.now);
        this.overlap[r] = this.overlapOf(r, hashes);
      }
      const ov = this.overlap[r]!;
      const prefillBlocks = (this.pendingPrefill[r]! + req.inputTokens - ov * this.bs) / this.bs;
      const c = w * prefillBlocks + this.activeBlocks[r]!;
      cost[i] = c;
      lo = Math.min(lo, c);
      hi = Math.max(hi, c);
    }
    this.lastReq = req.id;
    this.lastHashes = hashes;
    let pick = -1;
    const rng = ctx.rng;
    if (this.p.temperature > 0) {
      if (hi === lo) pick = rng.int(n);
      else {
        const denom = (hi - lo) * this.p.temperature;
        let sum = 0;
        for (let i = 0; i < n; i++) sum += Math.exp(-(cost[i]! - lo) / denom);
        let u = rng.next() * sum;
        pick = n - 1;
        for (let i = 0; i < n; i++) {
          u -= Math.exp(-(cost[i]! - lo) / denom);
          if (u < 0) {
            pick = i;
            break;
          }
        }
      }
    } else {
      let bestTree = Number.POSITIVE_INFINITY;
      let ties = 0;
      for (let i = 0; i < n; i++) {
        if (cost[i]! !== lo) continue;
        const t = this.treeSize[eps[i]!.index]!;
        if (t < bestTree) {
          bestTree = t;
          pick = i;
          ties = 1;
        } else if (t === bestTree) {
          ties++;
          if (rng.int(ties) === 0) pick = i;
        }
      }
    }
    const chosen = eps[pick]!.index;
    if (!this.trace) return picked(chosen);
    const scores = new Map<number, number>();
    const ov = new Map<number, number>();
    const pf = new Map<number, number>();
    const dec = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const r = eps[i]!.index;
      scores.set(r, cost[i]!);
      ov.set(r, this.overlap[r]!);
      pf.set(r, (this.pendingPrefill[r]! + req.inputTokens - this.overlap[r]! * this.bs) / this.bs);
      dec.set(r, this.activeBlocks[r]!);
    }
    return {
      replica: chosen,
      scores,
      breakdown: new Map([
        ["overlap_blocks", ov],
        ["prefill_blocks", pf],
        ["decode_blocks", dec],
      ]),
    };
  }

  onDispatch(req: Request, replica: number, now: number): void {
    let ov = 0;
    if (req.id === this.lastReq) ov = this.overlap[replica]!;
    const prefill = Math.max(0, req.inputTokens - ov * this.bs);
    const blocks = Math.ceil(req.inputTokens / this.bs);
    this.pendingPrefill[replica]! += prefill;
    this.activeBlocks[replica]! += blocks;
    let o = this.active.find(req.id);
    if (o < 0) o = this.active.open(req.id);
    const d = this.active.data;
    d[o] = replica;
    d[o + 1] = prefill;
    d[o + 2] = blocks;
    if (!this.p.useKvEvents) {
      const m = this.approx[replica]!;
      const exp = now + this.p.routerTtlSecs;
      const hashes = req.id === this.lastReq ? this.lastHashes : promptBlockHashes(req, this.bs);
      for (const h of hashes) m.touch(h, exp);
      this.treeSize[replica] = m.size;
    }
  }

  onFirstToken(req: Request): void {
    const o = this.active.find(req.id);
    if (o < 0) return;
    const d = this.active.data;
    this.pendingPrefill[d[o]!]! -= d[o + 1]!;
    d[o + 1] = 0;
  }

  onComplete(req: Request): void {
    const o = this.active.find(req.id);
    if (o < 0) return;
    const d = this.active.data;
    this.pendingPrefill[d[o]!]! -= d[o + 1]!;
    this.activeBlocks[d[o]!]! -= d[o + 2]!;
    this.active.close(req.id);
  }
}
