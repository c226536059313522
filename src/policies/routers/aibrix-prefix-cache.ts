/**
 * aibrix-prefix-cache: AIBrix gateway's `prefix-cache` routing strategy.
 *
 * Source: vllm-project/aibrix @ e3e10f9e `pkg/plugins/gateway/algorithms/prefix_cache.go`,
 * `pkg/utils/prefixcacheindexer/hash.go` (docs/reference.md#other-routers).
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
import { promptBlockHashes } from "../../sim/hash.ts";
import { NumMap } from "../../sim/num-map.ts";
import type { Request } from "../../sim/request.ts";
import { meanPlusStd, NO_CANDIDATES, picked, shuffleIndices } from "../common.ts";
import { StampLru } from "../indexes/stamp-lru.ts";
import type { RouteResult, Router, RouterInit, RoutingContext } from "../types.ts";

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
  /** hash → slot; a slot's entry is a list of (pod, last access) nodes starting at `slotHead[slot]`. */
  private readonly table = new NumMap();
  private slotHead = new Int32Array(64).fill(-1);
  private nSlots = 0;
  private freeSlots = new Int32Array(64);
  private nFreeSlots = 0;
  private nodePod = new Int32Array(64);
  private nodeTime = new Float64Array(64);
  private nodeNext = new Int32Array(64);
  private nNodes = 0;
  private freeNode = -1;
  /** Recency of the table's hashes (the 200,000-entry LRU). */
  private readonly lru = new StampLru();
  private readonly pct: Float64Array;
  private perm = new Int32Array(16);
  private dead = new Uint8Array(16);
  private lastReq = -1;
  private lastHashes: Float64Array = new Float64Array(0);
  /** Scratch: candidate replicas (after the imbalance gate), matched replicas, candidate flags (trace). */
  private cands: Int32Array;
  private matched: Int32Array;
  private readonly isCand: Uint8Array;

  constructor(init: RouterInit, params: AibrixParams = aibrixParams.parse({})) {
    this.p = params;
    this.trace = init.traceDecisions === true;
    this.pct = new Float64Array(init.replicas);
    this.cands = new Int32Array(Math.max(1, init.replicas));
    this.matched = new Int32Array(Math.max(1, init.replicas));
    this.isCand = new Uint8Array(init.replicas);
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
    if (this.cands.length < eps.length) {
      this.cands = new Int32Array(eps.length);
      this.matched = new Int32Array(eps.length);
    }
    const cands = this.cands;
    let nc = 0;
    const gate = hi - lo > this.p.imbalanceGap;
    for (const ep of eps) if (!gate || running[ep.index] === lo) cands[nc++] = ep.index;
    const hashes = ctx.promptHashes(this.p.blockSizeTokens);
    this.lastReq = req.id;
    this.lastHashes = hashes;
    const n = hashes.length;
    const pct = this.pct;
    for (let i = 0; i < nc; i++) pct[cands[i]!] = 0;
    const minTime = ctx.now - this.p.ttlSecs;
    if (n > 0) {
      let alive = nc;
      const dead = this.dead.length >= nc ? this.dead.fill(0, 0, nc) : (this.dead = new Uint8Array(nc));
      for (let b = 0; b < n && alive > 0; b++) {
        const slot = this.table.get(hashes[b]!);
        for (let i = 0; i < nc; i++) {
          if (dead[i]) continue;
          const r = cands[i]!;
          if (slot >= 0 && this.lastAccess(slot, r) >= minTime) pct[r] = ((b + 1) * 100) / n;
          else {
            dead[i] = 1;
            alive--;
          }
        }
      }
    }
    const matched = this.matched;
    let m = 0;
    for (let i = 0; i < nc; i++) if (pct[cands[i]!]! > 0) matched[m++] = cands[i]!;
    let pick = -1;
    if (m > 0) {
      if (this.perm.length < m) this.perm = new Int32Array(Math.max(m, this.perm.length * 2));
      shuffleIndices(ctx.rng, this.perm, m);
      const limit = meanPlusStd(eps, running, this.p.stdFactor);
      // First in (match% desc, running asc) order, ties in shuffled order (a stable sort of the shuffled list), among
      // the pods with running ≤ limit: one pass.
      let bestPct = Number.NEGATIVE_INFINITY;
      let bestRun = Number.POSITIVE_INFINITY;
      for (let k = 0; k < m; k++) {
        const r = matched[this.perm[k]!]!;
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
      for (let i = 0; i < nc; i++) {
        const r = cands[i]!;
        const k = running[r]!;
        if (k < best) {
          best = k;
          pick = r;
          ties = 1;
        } else if (k === best) {
          ties++;
          if (ctx.rng.int(ties) === 0) pick = r;
        }
      }
    }
    if (!this.trace) return picked(pick);
    for (let i = 0; i < nc; i++) this.isCand[cands[i]!] = 1;
    const scores = new Map<number, number>();
    const run = new Map<number, number>();
    for (const ep of eps) {
      scores.set(ep.index, this.isCand[ep.index] === 1 ? pct[ep.index]! : 0);
      run.set(ep.index, running[ep.index]!);
    }
    for (let i = 0; i < nc; i++) this.isCand[cands[i]!] = 0;
    return { replica: pick, scores, breakdown: new Map([["running", run]]) };
  }

  onDispatch(req: Request, replica: number, now: number): void {
    const hashes = req.id === this.lastReq ? this.lastHashes : promptBlockHashes(req, this.p.blockSizeTokens);
    const table = this.table;
    for (let b = 0; b < hashes.length; b++) {
      const h = hashes[b]!;
      if (this.lru.touch(h)) {
        const slot = this.newSlot();
        this.slotHead[slot] = this.newNode(replica, now, -1);
        table.set(h, slot);
      } else {
        // The pod's node in the entry: refresh its time, or add it.
        const slot = table.get(h);
        let k = this.slotHead[slot]!;
        let last = -1;
        while (k >= 0 && this.nodePod[k] !== replica) {
          last = k;
          k = this.nodeNext[k]!;
        }
        if (k >= 0) this.nodeTime[k] = now;
        else {
          const node = this.newNode(replica, now, -1);
          if (last >= 0) this.nodeNext[last] = node;
          else this.slotHead[slot] = node;
        }
      }
    }
    while (this.lru.size > this.p.tableSize) {
      const h = this.lru.evict();
      const slot = table.get(h);
      table.delete(h);
      this.freeEntry(slot);
    }
  }

  /** Last access of `replica` to the entry in `slot` (−∞ when the entry has no node for it). */
  private lastAccess(slot: number, replica: number): number {
    for (let k = this.slotHead[slot]!; k >= 0; k = this.nodeNext[k]!) {
      if (this.nodePod[k] === replica) return this.nodeTime[k]!;
    }
    return Number.NEGATIVE_INFINITY;
  }

  private newSlot(): number {
    if (this.nFreeSlots > 0) return this.freeSlots[--this.nFreeSlots]!;
    if (this.nSlots === this.slotHead.length) {
      const h = new Int32Array(this.nSlots * 2).fill(-1);
      h.set(this.slotHead);
      this.slotHead = h;
    }
    return this.nSlots++;
  }

  private newNode(pod: number, time: number, next: number): number {
    let k = this.freeNode;
    if (k >= 0) this.freeNode = this.nodeNext[k]!;
    else {
      if (this.nNodes === this.nodePod.length) {
        const cap = this.nNodes * 2;
        const pods = new Int32Array(cap);
        const times = new Float64Array(cap);
        const nexts = new Int32Array(cap);
        pods.set(this.nodePod);
        times.set(this.nodeTime);
        nexts.set(this.nodeNext);
        this.nodePod = pods;
        this.nodeTime = times;
        this.nodeNext = nexts;
      }
      k = this.nNodes++;
    }
    this.nodePod[k] = pod;
    this.nodeTime[k] = time;
    this.nodeNext[k] = next;
    return k;
  }

  /** Frees the entry in `slot` (its nodes and the slot). */
  private freeEntry(slot: number): void {
    let k = this.slotHead[slot]!;
    while (k >= 0) {
      const next = this.nodeNext[k]!;
      this.nodeNext[k] = this.freeNode;
      this.freeNode = k;
      k = next;
    }
    this.slotHead[slot] = -1;
    if (this.nFreeSlots === this.freeSlots.length) {
      const f = new Int32Array(this.freeSlots.length * 2);
      f.set(this.freeSlots);
      this.freeSlots = f;
    }
    this.freeSlots[this.nFreeSlots++] = slot;
  }
}
