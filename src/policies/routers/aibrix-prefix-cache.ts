/**
 * aibrix-prefix-cache: AIBrix gateway's `prefix-cache` routing strategy.
 *
 * Source: vllm-project/aibrix @ e3e10f9e `pkg/plugins/gateway/algorithms/prefix_cache.go`,
 * `pkg/utils/prefixcacheindexer/hash.go` (reference/policies.md §5.1).
 * ```
 * running_p = the gateway's own in-flight count for p
 * if max(running) − min(running) > 8: candidates = pods with the minimum count          (imbalance gate)
 * walk the request's blocks: pods holding block i and every earlier one get match% = (i+1)·100/n
 * order matched pods by match% desc, then running asc (after a random shuffle)
 * pick the first with running ≤ mean(running) + 1·stddev(running)
 * none → least-request (ties random); after routing, record every block of the request for the chosen pod
 * ```
 * Table: one LRU of 200,000 blocks (`tableSize`) for all pods; a pod's entry unused for 20 min (`ttlSecs` 1200) no
 * longer counts (the real sweep runs every second; here expiry is checked exactly at lookup).
 * Block size: AIBrix hashes `AIBRIX_PREFIX_CACHE_BLOCK_SIZE` tokens of its tokenizer (code default 4 with the
 * character tokenizer; the README recommends 128 characters, or 16 with tiktoken). gatelab's requests are in tokens,
 * so `blockSizeTokens` defaults to 16, the tiktoken recommendation. The trailing partial block is ignored.
 * mean/stddev (population) are over all candidate pods. Trace: `scores` = match% per candidate; `breakdown` = running.
 */
import { z } from "zod";
import { blockHashes } from "../../sim/hash.ts";
import { NumMap } from "../../sim/num-map.ts";
import type { Request } from "../../sim/request.ts";
import { meanPlusStd, NO_CANDIDATES, shuffleIndices } from "../common.ts";
import { StampLru } from "../indexes.ts";
import type { EndpointView, RouteResult, Router, RouterInit, RoutingContext } from "../types.ts";

export const aibrixParams = z.strictObject({
  blockSizeTokens: z.number().int().positive().default(16),
  tableSize: z.number().int().positive().default(200_000),
  ttlSecs: z.number().positive().default(1200),
  imbalanceGap: z.number().min(0).default(8),
  stdFactor: z.number().min(0).default(1),
});
export type AibrixParams = z.output<typeof aibrixParams>;

export class AibrixPrefixCacheRouter implements Router {
  readonly name = "aibrix-prefix-cache";
  private readonly p: AibrixParams;
  private readonly trace: boolean;
  /** hash → slot; `slots[slot]` = flat [pod, last access, pod, last access, …]. */
  private readonly table = new NumMap();
  private readonly slots: number[][] = [];
  private readonly freeSlots: number[] = [];
  /** Recency of the table's hashes (the 200,000-entry LRU). */
  private readonly lru = new StampLru();
  private readonly pct: Float64Array;
  private perm = new Int32Array(16);
  private dead = new Uint8Array(16);
  private lastReq = -1;
  private lastHashes: Float64Array = new Float64Array(0);
  private readonly candBuf: EndpointView[] = [];
  private readonly matchedBuf: EndpointView[] = [];

  constructor(init: RouterInit, params: AibrixParams = aibrixParams.parse({})) {
    this.p = params;
    this.trace = init.traceDecisions === true;
    this.pct = new Float64Array(init.replicas);
  }

  route(req: Request, ctx: RoutingContext): RouteResult {
    const eps = ctx.endpoints;
    if (eps.length === 0) return NO_CANDIDATES;
    const running = ctx.local.inFlight;
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const ep of eps) {
      lo = Math.min(lo, running[ep.index]!);
      hi = Math.max(hi, running[ep.index]!);
    }
    let cands: readonly EndpointView[] = eps;
    if (hi - lo > this.p.imbalanceGap) {
      const least = this.candBuf;
      least.length = 0;
      for (const ep of eps) if (running[ep.index] === lo) least.push(ep);
      cands = least;
    }
    const hashes = ctx.promptHashes(this.p.blockSizeTokens);
    this.lastReq = req.id;
    this.lastHashes = hashes;
    const n = hashes.length;
    const pct = this.pct;
    for (const ep of cands) pct[ep.index] = 0;
    const minTime = ctx.now - this.p.ttlSecs;
    if (n > 0) {
      let alive = cands.length;
      const dead =
        this.dead.length >= cands.length
          ? this.dead.fill(0, 0, cands.length)
          : (this.dead = new Uint8Array(cands.length));
      for (let b = 0; b < n && alive > 0; b++) {
        const slot = this.table.get(hashes[b]!);
        const entry = slot >= 0 ? this.slots[slot] : undefined;
        for (let i = 0; i < cands.length; i++) {
          if (dead[i]) continue;
          const r = cands[i]!.index;
          const t = entry === undefined ? undefined : lastAccess(entry, r);
          if (t !== undefined && t >= minTime) pct[r] = ((b + 1) * 100) / n;
          else {
            dead[i] = 1;
            alive--;
          }
        }
      }
    }
    const matched = this.matchedBuf;
    matched.length = 0;
    for (const ep of cands) if (pct[ep.index]! > 0) matched.push(ep);
    let pick = -1;
    if (matched.length > 0) {
      const m = matched.length;
      if (this.perm.length < m) this.perm = new Int32Array(Math.max(m, this.perm.length * 2));
      shuffleIndices(ctx.rng, this.perm, m);
      const limit = meanPlusStd(eps, running, this.p.stdFactor);
      // First in (match% desc, running asc) order, ties in shuffled order (a stable sort of the shuffled list), among
      // the pods with running ≤ limit: one pass.
      let bestPct = Number.NEGATIVE_INFINITY;
      let bestRun = Number.POSITIVE_INFINITY;
      for (let k = 0; k < m; k++) {
        const r = matched[this.perm[k]!]!.index;
        const run = running[r]!;
        if (!(run <= limit)) continue;
        const pc = pct[r]!;
        if (pc > bestPct || (pc === bestPct && run < bestRun)) {
          bestPct = pc;
          bestRun = run;
          pick = r;
        }
      }
    }
    if (pick < 0) {
      // Least running, ties uniformly at random (reservoir over the tied candidates, as `argminRandomTie`).
      let best = Number.POSITIVE_INFINITY;
      let ties = 0;
      for (const ep of cands) {
        const k = running[ep.index]!;
        if (k < best) {
          best = k;
          pick = ep.index;
          ties = 1;
        } else if (k === best) {
          ties++;
          if (ctx.rng.int(ties) === 0) pick = ep.index;
        }
      }
    }
    if (!this.trace) return { replica: pick };
    const scores = new Map<number, number>();
    const run = new Map<number, number>();
    for (const ep of eps) {
      scores.set(ep.index, cands.includes(ep) ? pct[ep.index]! : 0);
      run.set(ep.index, running[ep.index]!);
    }
    return { replica: pick, scores, breakdown: new Map([["running", run]]) };
  }

  onDispatch(req: Request, replica: number, now: number): void {
    const hashes = req.id === this.lastReq ? this.lastHashes : blockHashes(req.prompt, this.p.blockSizeTokens);
    const table = this.table;
    for (const h of hashes) {
      if (this.lru.touch(h)) {
        const slot = this.freeSlots.pop() ?? this.slots.length;
        const e = this.slots[slot];
        if (e === undefined) this.slots[slot] = [replica, now];
        else e.push(replica, now);
        table.set(h, slot);
      } else {
        const e = this.slots[table.get(h)]!;
        let k = 0;
        while (k < e.length && e[k] !== replica) k += 2;
        e[k] = replica;
        e[k + 1] = now;
      }
    }
    while (this.lru.size > this.p.tableSize) {
      const h = this.lru.evict();
      const slot = table.get(h);
      table.delete(h);
      this.slots[slot]!.length = 0;
      this.freeSlots.push(slot);
    }
  }
}

function lastAccess(entry: readonly number[], replica: number): number | undefined {
  for (let k = 0; k < entry.length; k += 2) if (entry[k] === replica) return entry[k + 1];
  return undefined;
}
