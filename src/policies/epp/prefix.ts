/**
 * Approximate (routing-history) prefix cache: the `approx-prefix-cache-producer` and the `prefix-cache-scorer`.
 *
 * Source: GIE v1.0 `pkg/epp/scheduling/framework/plugins/multi/prefix/{plugin.go,indexer.go}`; GIE v1.2–v1.4 and
 * GIE last / llm-d-sched May-26 `approximateprefix/{hashing.go,indexer.go}`; llm-d-router HEAD
 * `dataproducer/prefixhash/hashing.go` (docs/reference.md#endpoint-picker-scorers).
 *
 * Index: `hashToPods` (hash → pods holding it) plus one LRU of hashes per pod whose eviction removes the pod from
 * `hashToPods`. Match is a greedy walk over the request's chained block hashes that stops at the first hash no pod
 * holds (not a per-pod longest prefix): a pod whose LRU lost a middle entry can still be credited for later blocks.
 * The index is updated in PreRequest (`onDispatch` here) for the primary target and the target of a profile named
 * `prefill`, before the engine has computed anything. It is updated in place, never copied.
 *
 * Score: `matchBlocks_e / totalBlocks` (0 when the request has no block); HEAD's optional
 * `score = w·min(1, matchBlocks·blockSize/scale)² + (1−w)·matchBlocks/totalBlocks` with `matchLengthWeight` w
 * (default 0, in [0, 1]) and `matchLengthScaleTokens` (default 8192).
 *
 * Variants (`variant`, a gatelab parameter; inferred as `v1.0` when the v1.0-only `hashBlockSize` is given):
 * - `v1.0`: blocks of 64 characters of templated text = 16 tokens at 4 characters per token (§8.4), at most 256
 *   blocks, LRU 31,250 entries per server, full blocks only, no auto-tuning.
 * - `v1.4+` (default): `blockSizeTokens` 16, 256 blocks, `lruCapacityPerServer` 31,250, `autoTune` true (block size =
 *   the engine's `cache_config_info.block_size`, LRU capacity = the target's `num_gpu_blocks`), and the final
 *   partial block is hashed too (GIE v1.5+ / llm-d; `hashPartialBlock`, a gatelab parameter).
 * Character block sizes (`hashBlockSize` v1.0, `blockSize` v1.1–v1.3) are converted at 4 characters per token.
 * `maxPrefixTokensToMatch` (HEAD 131,072) overrides `maxPrefixBlocksToMatch`; 0 for both means unlimited.
 */
import { z } from "zod";
import { ownContentBlock, promptBlockHashes, segmentTokens } from "../../sim/hash.ts";
import type { Request } from "../../sim/request.ts";
import { clamp01, partialTailHashInto } from "../common.ts";
import { LruHolderIndex } from "../indexes/lru-holder-index.ts";
import type { EndpointView, RouterInit, RoutingContext } from "../types.ts";
import type { Cycle, Plugin, PrefixMatch, PrefixMatchProvider, Scorer } from "./framework.ts";
import { nonNegInt, posInt, unit } from "./params.ts";
import { columnsOf } from "./scorers.ts";
import { DEFAULT_EPP_VARIANT, type EppVariantName } from "./variants.ts";

/** Characters per token used to convert character block sizes (llm-d's estimate; §1.2, §8.4). */
export const CHARS_PER_TOKEN = 4;

/** Producer parameters (also accepted on `prefix-cache-scorer`, as GIE ≤ v1.4 had them there). */
export const prefixProducerShape = {
  variant: z.enum(["v1.0", "v1.4+", "router"]).optional(),
  hashBlockSize: posInt.optional(),
  blockSize: posInt.optional(),
  blockSizeTokens: posInt.optional(),
  maxPrefixBlocksToMatch: nonNegInt.optional(),
  maxPrefixTokensToMatch: nonNegInt.optional(),
  lruCapacityPerServer: posInt.optional(),
  autoTune: z.boolean().optional(),
  hashPartialBlock: z.boolean().optional(),
};
export const PREFIX_PRODUCER_KEYS: readonly string[] = Object.keys(prefixProducerShape);

export const prefixProducerParams = z.strictObject(prefixProducerShape);
export type PrefixProducerParams = z.output<typeof prefixProducerParams>;

export const prefixScorerParams = z.strictObject({
  ...prefixProducerShape,
  matchLengthWeight: unit.default(0),
  matchLengthScaleTokens: posInt.default(8192),
  // llm-d-router (ebab6879) pkg/epp/framework/plugins/scheduling/scorer/prefix/plugin.go: the producer whose
  // PrefixCacheMatchInfo the scorer reads (default the approximate producer), e.g. precise-prefix-cache-producer.
  prefixMatchInfoProducerName: z.string().min(1).optional(),
  // The older llm-d-inference-scheduler form (llm-d-kv-cache-manager benchmarking/37-capacity/README.md L147):
  // `mode: cache_tracking` scores from the KV-event index with `indexerConfig.tokenProcessorConfig`; `estimate` is
  // the approximate index.
  mode: z.enum(["estimate", "cache_tracking"]).optional(),
  indexerConfig: z.record(z.string(), z.unknown()).optional(),
});
export type PrefixScorerParams = z.output<typeof prefixScorerParams>;

export interface PrefixSettings {
  readonly variant: "v1.0" | "v1.4+" | "router";
  readonly blockSizeTokens: number;
  /** Max blocks per request (Infinity: unlimited). */
  readonly maxBlocks: number;
  readonly lruCapacityPerServer: number;
  readonly autoTune: boolean;
  readonly hashPartialBlock: boolean;
}

/**
 * Resolves producer parameters to settings, with the router variant's defaults and the engine facts in `init`.
 *
 * Today's router (`llm-d-router-2026-08`; llm-d/llm-d-router `pkg/epp/framework/plugins/requestcontrol/dataproducer/
 * approximateprefix/{types.go L99–L132, plugin.go}` at `ebab6879`): `blockSizeTokens` 16, `autoTune` true (the
 * block size is the engine's `cache_config_info.block_size`, LRU capacity its `num_gpu_blocks`), then a floor of
 * 64 tokens whatever the source (`minBlockSizeTokens`, plugin.go L44–L52, L344–L357: vLLM's 16 becomes 64);
 * the deprecated `blockSize` is read as tokens into `blockSizeTokens` when that is left at its default
 * (plugin.go L386–L399); match cap `maxPrefixTokensToMatch` 131,072 tokens → ⌊131072 / block⌋ blocks, else
 * `maxPrefixBlocksToMatch` 2048, both 0 → unlimited (plugin.go L367–L376); every prompt is cut into blocks with the
 * last one partial, so a prompt shorter than a block still gets one hash (prefixhash/hashing.go L114–L146).
 * `gie-r1.5`: the v1.4+ settings below (engine block size, no floor, 256 blocks, partial tail hashed after a full
 * block, character `blockSize`). `gie-v1.0`: the v1.0 settings. The gatelab parameter `variant` overrides.
 */
export function resolvePrefixSettings(
  p: PrefixProducerParams,
  init: RouterInit,
  router: EppVariantName = DEFAULT_EPP_VARIANT,
): PrefixSettings {
  const variant =
    p.variant ??
    (p.hashBlockSize !== undefined || router === "gie-v1.0" ? "v1.0" : router === "gie-r1.5" ? "v1.4+" : "router");
  if (variant === "router") {
    const autoTune = p.autoTune ?? true;
    let block = p.blockSizeTokens ?? p.blockSize ?? 16;
    if (autoTune && init.blockSize > 0) block = init.blockSize;
    block = Math.max(MIN_BLOCK_TOKENS, block);
    const tokens = p.maxPrefixTokensToMatch ?? 131_072;
    const blocks = p.maxPrefixBlocksToMatch ?? 2048;
    const maxBlocks = tokens > 0 ? Math.floor(tokens / block) : blocks === 0 ? Number.POSITIVE_INFINITY : blocks;
    return {
      variant,
      blockSizeTokens: block,
      maxBlocks,
      lruCapacityPerServer: p.lruCapacityPerServer ?? 31_250,
      autoTune,
      hashPartialBlock: p.hashPartialBlock ?? true,
    };
  }
  const v10 = variant === "v1.0";
  const autoTune = p.autoTune ?? !v10;
  const chars = p.blockSize ?? p.hashBlockSize;
  let block = p.blockSizeTokens ?? (chars !== undefined ? Math.max(1, Math.round(chars / CHARS_PER_TOKEN)) : 16);
  if (autoTune && init.blockSize > 0) block = init.blockSize;
  let maxBlocks: number;
  if (p.maxPrefixTokensToMatch !== undefined && p.maxPrefixTokensToMatch > 0) {
    maxBlocks = Math.max(1, Math.floor(p.maxPrefixTokensToMatch / block));
  } else if (p.maxPrefixBlocksToMatch !== undefined) {
    maxBlocks = p.maxPrefixBlocksToMatch === 0 ? Number.POSITIVE_INFINITY : p.maxPrefixBlocksToMatch;
  } else if (p.maxPrefixTokensToMatch === 0) {
    maxBlocks = Number.POSITIVE_INFINITY;
  } else {
    maxBlocks = 256;
  }
  return {
    variant,
    blockSizeTokens: block,
    maxBlocks,
    lruCapacityPerServer: p.lruCapacityPerServer ?? 31_250,
    autoTune,
    hashPartialBlock: p.hashPartialBlock ?? !v10,
  };
}

/** llm-d-router's floor on the approximate index's block size (plugin.go L52, `minBlockSizeTokens`). */
export const MIN_BLOCK_TOKENS = 64;

export class ApproxPrefixProducer implements Plugin, PrefixMatchProvider {
  readonly type = "approx-prefix-cache-producer";
  readonly name: string;
  readonly settings: PrefixSettings;
  private readonly numGpuBlocks: readonly number[];
  /** hash → replicas whose LRU holds it, and per replica its hashes in LRU order (one table). */
  private readonly index: LruHolderIndex;
  // Per-cycle cache.
  private cycleId = -1;
  private reqId = -1;
  private hashBuf = new Float64Array(64);
  private nHashes = 0;
  /** `hashBuf[own..nHashes)` are the request's own (`LruHolderIndex.insert`); `nHashes` when none or not allowed. */
  private own = 0;
  /** Whether hashes of a request's own content may stay out of the index (`RouterInit.singleDispatch`). */
  private readonly ownContent: boolean;
  private readonly matchBlocks: Int32Array;
  private readonly result: { matchBlocks: Int32Array; totalBlocks: number; blockSize: number; noMatch: boolean };
  /** Whether `matchBlocks` holds a nonzero entry (the last walk matched a block): cleared before the next walk. */
  private dirty = false;

  constructor(name: string, settings: PrefixSettings, init: RouterInit) {
    this.name = name;
    this.settings = settings;
    this.numGpuBlocks = init.numGpuBlocks;
    this.ownContent = init.singleDispatch === true;
    // Sized from the LRUs' capacities up front (the KV cache's blocks when auto-tuned), so that a long run does not
    // rehash the index as it fills; at most 2^20 holdings here (32 MB of entries), beyond that it grows.
    let holdings = 0;
    for (let r = 0; r < init.replicas; r++) holdings += this.capacity(r);
    this.index = new LruHolderIndex(init.replicas, Math.min(holdings, 1 << 20));
    this.matchBlocks = new Int32Array(init.replicas);
    this.result = {
      matchBlocks: this.matchBlocks,
      totalBlocks: 0,
      blockSize: settings.blockSizeTokens,
      noMatch: true,
    };
  }

  /** Number of hashes the index holds for `replica` (for tests and reports). */
  size(replica: number): number {
    return this.index.size(replica);
  }

  /** Pods holding `hash` (for tests). */
  holders(hash: number): readonly number[] {
    return this.index.holders(hash);
  }

  match(cycle: Cycle): PrefixMatch {
    if (cycle.id === this.cycleId) return this.result;
    this.cycleId = cycle.id;
    this.loadHashes(cycle.req, cycle.ctx);
    // Only a walk that matched wrote counts: after one that did not, the counts are still all 0.
    if (this.dirty) this.matchBlocks.fill(0);
    // The request's own hashes are in no holder list (see `own`): the walk would stop at the first of them.
    const walked = this.index.walk(this.hashBuf, this.own, this.matchBlocks);
    this.dirty = walked > 0;
    this.result.noMatch = walked === 0;
    this.result.totalBlocks = this.nHashes;
    return this.result;
  }

  onDispatch(req: Request, replica: number, _now: number, cycle: Cycle | undefined): void {
    if (cycle === undefined || cycle.req.id !== req.id) {
      this.cycleId = -1;
      this.loadHashes(req, undefined);
    } else if (this.reqId !== req.id) {
      this.loadHashes(req, cycle.ctx);
    }
    this.insert(replica);
    if (cycle !== undefined && cycle.prefill >= 0 && cycle.prefill !== replica) this.insert(cycle.prefill);
  }

  /** Adds the loaded hashes to `replica`'s LRU (refreshing recency; may evict). */
  private insert(replica: number): void {
    if (!(replica >= 0 && replica < this.matchBlocks.length)) return;
    this.index.insert(this.hashBuf, this.nHashes, replica, this.capacity(replica), this.own);
  }

  /** LRU capacity of `replica`: its `num_gpu_blocks` when auto-tuned, else `lruCapacityPerServer`. */
  private capacity(replica: number): number {
    const gpuBlocks = this.numGpuBlocks[replica] ?? 0;
    return this.settings.autoTune && gpuBlocks > 0 ? gpuBlocks : this.settings.lruCapacityPerServer;
  }

  /**
   * Loads the request's hashes (capped at `maxBlocks`, plus the partial tail when configured) into the buffer, from
   * the routing context's (or, with none, computed here). Only `hashBuf[0..own)` is ever read (the walk, the
   * insertion), so the request's own hashes, which stay out of the index, are neither asked for nor computed.
   */
  private loadHashes(req: Request, ctx: RoutingContext | undefined): void {
    const s = this.settings;
    const bs = s.blockSizeTokens;
    const tokens = segmentTokens(req.prompt);
    const total = Math.floor(tokens / bs);
    const nFull = Math.min(total, s.maxBlocks);
    // v1.4+: the tail after at least one full block; today's router: every prompt's last partial block (there is one
    // when tokens remain after the full blocks).
    const tailOk = s.variant === "router" ? nFull >= 0 : nFull >= 1;
    const tail = s.hashPartialBlock && tailOk && nFull === total && nFull < s.maxBlocks && tokens > nFull * bs;
    const n = tail ? nFull + 1 : nFull;
    this.nHashes = n;
    // From the block holding the request's own content on, every hash (the partial tail's too: it chains from the
    // last full block and mixes the tail's content) is one only this request has.
    const own = this.ownContent ? Math.min(n, ownContentBlock(req.prompt, bs)) : n;
    this.own = own;
    this.reqId = req.id;
    if (this.hashBuf.length < nFull + 1) this.hashBuf = new Float64Array(Math.max(nFull + 1, this.hashBuf.length * 2));
    const buf = this.hashBuf;
    const fill = own < nFull ? own : nFull;
    if (fill > 0) {
      const hashes =
        ctx === undefined
          ? promptBlockHashes(req, bs, fill)
          : ctx.promptHashPrefix !== undefined
            ? ctx.promptHashPrefix(bs, fill)
            : ctx.promptHashes(bs);
      if (hashes.length === fill) buf.set(hashes);
      else for (let i = 0; i < fill; i++) buf[i] = hashes[i]!;
    }
    if (tail && own > nFull) partialTailHashInto(req.prompt, bs, nFull, buf, nFull);
  }
}

export class PrefixCacheScorer implements Scorer {
  readonly type = "prefix-cache-scorer";
  readonly name: string;
  private readonly provider: PrefixMatchProvider;
  private readonly w: number;
  private readonly scale: number;

  constructor(name: string, params: PrefixScorerParams, provider: PrefixMatchProvider) {
    this.name = name;
    this.provider = provider;
    this.w = params.matchLengthWeight;
    this.scale = params.matchLengthScaleTokens;
  }

  score(cycle: Cycle, eps: readonly EndpointView[], out: Float64Array): void {
    const m = this.provider.match(cycle);
    const total = m.totalBlocks;
    for (let i = 0; i < eps.length; i++) {
      const mb = m.matchBlocks[eps[i]!.index]!;
      const ratio = total > 0 ? mb / total : 0;
      if (this.w > 0) {
        const len = Math.min(1, (mb * m.blockSize) / this.scale);
        out[i] = this.w * len * len + (1 - this.w) * ratio;
      } else {
        out[i] = ratio;
      }
    }
  }

  skips(cycle: Cycle, weight: number): boolean {
    // No candidate matched: each term below is clamp01(0, −0 or NaN) · weight = ±0, which leaves every total as it is.
    return this.provider.match(cycle).noMatch === true && Number.isFinite(weight);
  }

  addWeighted(cycle: Cycle, eps: readonly EndpointView[], totals: Float64Array, weight: number): void {
    if (this.skips(cycle, weight)) return;
    const m = this.provider.match(cycle);
    const total = m.totalBlocks;
    const matched = m.matchBlocks;
    const index = columnsOf(cycle, eps)?.index;
    for (let i = 0; i < eps.length; i++) {
      const mb = matched[index !== undefined ? index[i]! : eps[i]!.index]!;
      const ratio = total > 0 ? mb / total : 0;
      let s: number;
      if (this.w > 0) {
        const len = Math.min(1, (mb * m.blockSize) / this.scale);
        s = this.w * len * len + (1 - this.w) * ratio;
      } else {
        s = ratio;
      }
      totals[i]! += clamp01(s) * weight;
    }
  }
}
