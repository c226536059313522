/**
 * llm-d `precise-prefix-cache-scorer`: a block index fed by the replicas' KV events (BlockStored / BlockRemoved),
 * as llm-d-kv-cache's `kvcache.Indexer` is fed over ZMQ. The engine delivers `KvEvent`s to `onKvEvent` after the
 * scenario's `gateway.kv_event_delay_ms`; between a dispatch and the events it causes the index is blind (the "blind
 * spot", docs/reference.md#signals-and-freshness), unless `speculativeIndexing` writes predicted entries at routing time that
 * live `speculativeTTL` (default "2s") unless confirmed.
 *
 * Source: llm-d-inference-scheduler `pkg/plugins/scorer/precise_prefix_cache.go` (v0.3 → May-26), llm-d-router HEAD
 * (docs/reference.md#endpoint-picker-scorers). Raw score per pod = the longest prefix of the request's blocks that the pod holds
 * (consecutive from block 0). Normalisation (`normalization`, a gatelab parameter naming the two behaviours):
 * `absolute` (HEAD, default) = `min(1, raw/totalBlocks)`; `minmax` (llm-d v0.3–v0.7) = `(raw − min)/(max − min)` over
 * the pods with raw > 0, all equal → 1, pods without a hit → 0.
 * Block size: `tokenProcessorConfig.blockSize` must equal the engine's; default = the engine's block size. A
 * different value hashes differently and never matches (as in a misconfigured deployment).
 * `indexerConfig` and `kvEventsConfig` are deployment wiring (tokenizer pools, ZMQ endpoints): accepted, ignored.
 * The scorer also publishes a coarse match (1/1 when raw > 0) for `no-hit-lru-scorer`.
 */
import { z } from "zod";
import { promptBlockHashes } from "../../sim/hash.ts";
import type { Request } from "../../sim/request.ts";
import { CountedHolderIndex, kvIndexCapacity } from "../indexes/holder-index.ts";
import type { EndpointView, KvEvent, KvView, RouterInit } from "../types.ts";
import type { Cycle, PrefixMatch, PrefixMatchProvider, Scorer } from "./framework.ts";
import { anything, duration, posInt } from "./params.ts";

export const preciseParams = z.strictObject({
  tokenProcessorConfig: z
    .strictObject({ blockSize: posInt.optional(), blockSizeTokens: posInt.optional(), hashSeed: z.string().optional() })
    .optional(),
  indexerConfig: anything.optional(),
  kvEventsConfig: anything.optional(),
  speculativeIndexing: z.boolean().default(false),
  speculativeTTL: duration.prefault("2s"),
  normalization: z.enum(["absolute", "minmax"]).default("absolute"),
});
export type PreciseParams = z.output<typeof preciseParams>;

export class PrecisePrefixCacheScorer implements Scorer, PrefixMatchProvider {
  readonly type: string = "precise-prefix-cache-scorer";
  readonly name: string;
  readonly wantsKvEvents = true;
  readonly blockSize: number;
  private readonly minmax: boolean;
  private readonly speculative: boolean;
  private readonly specTtl: number;
  /**
   * hash → replicas holding a block with it (one count per stored block: duplicates are counted); built at the first
   * event (sized from the replicas' KV blocks), never when the engine's `KvView` answers instead.
   */
  private idx: CountedHolderIndex | undefined;
  private readonly indexCapacity: number;
  private readonly replicas: number;
  /** The engine's view of the KV caches as of the delivered events (`attachKvView`), read instead of `index`. */
  private view: KvView | undefined;
  /** What the view's prefetch loads returned (kept so that they are not optimised away). */
  private kept = 0;
  /** Speculative entries: hash → (replica → expiry time). */
  private readonly spec = new Map<number, Map<number, number>>();
  private readonly raw: Int32Array;
  private readonly coarse: Int32Array;
  private readonly coarseResult: { matchBlocks: Int32Array; totalBlocks: number; blockSize: number };
  private readonly fullResult: { matchBlocks: Int32Array; totalBlocks: number; blockSize: number };
  private cycleId = -1;
  private hashes: Float64Array = new Float64Array(0);
  private reqId = -1;
  /** Scratch: candidate replicas still matching (longest-prefix walk). */
  private reps: Int32Array;

  constructor(name: string, params: PreciseParams, init: RouterInit) {
    this.name = name;
    this.blockSize =
      params.tokenProcessorConfig?.blockSizeTokens ?? params.tokenProcessorConfig?.blockSize ?? init.blockSize;
    this.minmax = params.normalization === "minmax";
    this.speculative = params.speculativeIndexing;
    this.specTtl = params.speculativeTTL;
    this.raw = new Int32Array(init.replicas);
    this.coarse = new Int32Array(init.replicas);
    this.coarseResult = { matchBlocks: this.coarse, totalBlocks: 1, blockSize: this.blockSize };
    this.fullResult = { matchBlocks: this.raw, totalBlocks: 0, blockSize: this.blockSize };
    this.replicas = init.replicas;
    this.indexCapacity = kvIndexCapacity(init.numGpuBlocks);
    this.reps = new Int32Array(Math.max(1, init.replicas));
  }

  private get index(): CountedHolderIndex {
    if (this.idx === undefined) this.idx = new CountedHolderIndex(this.replicas, this.indexCapacity);
    return this.idx;
  }

  /** Reads the engine's view instead of indexing events, unless speculative entries need the index. */
  attachKvView(view: KvView): boolean {
    if (this.speculative) return false;
    this.view = view;
    return true;
  }

  onKvEvent(ev: KvEvent): void {
    if (this.view !== undefined) return;
    if (ev.kind === "stored") {
      this.index.add(ev.hash, ev.replica);
      if (this.speculative) this.spec.get(ev.hash)?.delete(ev.replica);
    } else {
      this.index.remove(ev.hash, ev.replica);
    }
  }

  prefetchKvEvents(hashes: Float64Array, from: number, to: number): number {
    return this.view !== undefined ? 0 : this.index.prefetch(hashes, from, to);
  }

  /** Whether the index (confirmed or live speculative entry) says `replica` holds `hash`. */
  holds(hash: number, replica: number, now: number): boolean {
    if (this.index.holds(hash, replica)) return true;
    if (!this.speculative) return false;
    const exp = this.spec.get(hash)?.get(replica);
    return exp !== undefined && exp > now;
  }

  /** Computes raw longest-prefix counts for the candidates of `cycle` (cached per cycle). */
  private compute(cycle: Cycle, eps: readonly EndpointView[]): void {
    if (cycle.id === this.cycleId) return;
    this.cycleId = cycle.id;
    this.hashes = cycle.ctx.promptHashes(this.blockSize);
    this.reqId = cycle.req.id;
    const raw = this.raw;
    const now = cycle.ctx.now;
    raw.fill(0);
    if (this.reps.length < eps.length) this.reps = new Int32Array(eps.length);
    const reps = this.reps;
    for (let i = 0; i < eps.length; i++) reps[i] = eps[i]!.index;
    const view = this.view;
    if (view !== undefined) {
      // Each candidate's cache (its first probe loaded for all at once), as of the delivered events.
      const n = this.hashes.length;
      if (n === 0) return;
      this.kept += view.prefetch(this.hashes, reps, eps.length);
      for (let i = 0; i < eps.length; i++) raw[reps[i]!] = view.heldPrefix(reps[i]!, this.hashes, n);
      return;
    }
    if (!this.speculative) {
      // One index probe per block for all candidates.
      this.index.prefixRuns(this.hashes, this.hashes.length, reps, eps.length, raw);
      return;
    }
    let alive = eps.length;
    for (let b = 0; b < this.hashes.length && alive > 0; b++) {
      const h = this.hashes[b]!;
      for (let j = 0; j < alive; ) {
        const r = reps[j]!;
        if (this.holds(h, r, now)) {
          raw[r]!++;
          j++;
        } else reps[j] = reps[--alive]!;
      }
    }
  }

  score(cycle: Cycle, eps: readonly EndpointView[], out: Float64Array): void {
    this.compute(cycle, eps);
    const raw = this.raw;
    const total = this.hashes.length;
    if (!this.minmax) {
      for (let i = 0; i < eps.length; i++) out[i] = total > 0 ? Math.min(1, raw[eps[i]!.index]! / total) : 0;
      return;
    }
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const ep of eps) {
      const v = raw[ep.index]!;
      if (v <= 0) continue;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    for (let i = 0; i < eps.length; i++) {
      const v = raw[eps[i]!.index]!;
      out[i] = v <= 0 ? 0 : hi === lo ? 1 : (v - lo) / (hi - lo);
    }
  }

  /** The match in blocks: longest held prefix per endpoint of the request's blocks (the producer form). */
  protected fullMatch(cycle: Cycle): PrefixMatch {
    this.compute(cycle, cycle.ctx.endpoints);
    this.fullResult.totalBlocks = this.hashes.length;
    return this.fullResult;
  }

  /** Coarse match for `no-hit-lru-scorer`: 1 of 1 block when the pod has any hit (the legacy scorer form). */
  match(cycle: Cycle): PrefixMatch {
    this.compute(cycle, cycle.ctx.endpoints);
    this.coarse.fill(0);
    for (const ep of cycle.ctx.endpoints) this.coarse[ep.index] = this.raw[ep.index]! > 0 ? 1 : 0;
    return this.coarseResult;
  }

  onDispatch(req: Request, replica: number, now: number, cycle: Cycle | undefined): void {
    if (!this.speculative) return;
    const hashes =
      cycle !== undefined && cycle.req.id === req.id && this.reqId === req.id
        ? this.hashes
        : promptBlockHashes(req, this.blockSize);
    const exp = now + this.specTtl;
    for (const h of hashes) {
      if (this.index.holds(h, replica)) continue;
      let m = this.spec.get(h);
      if (m === undefined) {
        m = new Map();
        this.spec.set(h, m);
      }
      m.set(replica, exp);
    }
    // Drop expired speculative entries now and then (bounded work: only while they are at the front).
    if (this.spec.size > 4096) {
      for (const [h, m] of this.spec) {
        for (const [r, e] of m) if (e <= now) m.delete(r);
        if (m.size === 0) this.spec.delete(h);
        else break;
      }
    }
  }
}

/**
 * llm-d-router's current form, `precise-prefix-cache-producer` (llm-d/llm-d-router `pkg/epp/framework/plugins/
 * requestcontrol/dataproducer/preciseprefixcache/producer.go` at `ebab6879`, registered in `cmd/epp/runner/
 * runner.go` L634): the same KV-event-fed index, publishing the per-endpoint match (longest held prefix in blocks,
 * of the request's blocks) as `PrefixCacheMatchInfo`, which `prefix-cache-scorer` with `prefixMatchInfoProducerName`
 * (and `no-hit-lru-scorer`) read instead of the approximate producer's. Parameters as the legacy scorer's.
 */
export class PrecisePrefixProducer extends PrecisePrefixCacheScorer {
  override readonly type = "precise-prefix-cache-producer";

  override match(cycle: Cycle): PrefixMatch {
    return this.fullMatch(cycle);
  }
}
