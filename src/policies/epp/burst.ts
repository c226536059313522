/**
 * `burst-prefix-cache-producer` (llm-d/llm-d-router `pkg/epp/framework/plugins/requestcontrol/dataproducer/
 * burstprefix/{README.md,plugin.go,assign.go}` at `ebab6879`, registered in `cmd/epp/runner/runner.go` L639):
 * co-locates bursts of prompt-sharing requests (the `n` samples of an RL rollout step) so the shared prompt is
 * prefilled once. Requests of one window of `windowDurationMs` with an identical prompt form a group placed on one
 * replica, up to `maxPerReplica` per replica (-1: the whole group), then the next least-loaded replica of the window;
 * with `minColocateBlocks` N > 0 a request sharing ≥ N leading blocks with a placed group joins it. It publishes
 * `PrefixCacheMatchInfo`: a full match on the assigned replica, 0 elsewhere; a request with no group gets 0
 * everywhere (other scorers decide). `prefix-cache-scorer` reads it through `prefixMatchInfoProducerName`.
 *
 * What gatelab does differently (stated in the run's notes): the real producer holds each request up to the window
 * and places the batch jointly; gatelab decides each request on arrival (no hold latency is added), so the first
 * member of a group is routed by the other scorers and the rest follow it; `balanceBy: tokens` balances by requests.
 */
import { z } from "zod";
import type { Request } from "../../sim/request.ts";
import type { EndpointView, RouterInit } from "../types.ts";
import type { Cycle, Plugin, PrefixMatch, PrefixMatchProvider } from "./framework.ts";

// README.md "Configuration" table: defaults 100 ms, -1, 64 tokens, 0, 0, 1000, requests.
export const burstParams = z.strictObject({
  windowDurationMs: z.number().int().min(1).max(10_000).default(100),
  maxPerReplica: z
    .number()
    .int()
    .refine((k) => k === -1 || k >= 1, { error: "expected -1 (unlimited) or ≥ 1" })
    .default(-1),
  blockSizeTokens: z.number().int().positive().default(64),
  maxPrefixTokensToMatch: z.number().int().min(0).default(0),
  minColocateBlocks: z.number().int().min(0).default(0),
  maxBatchSize: z
    .number()
    .int()
    .refine((k) => k === -1 || k >= 1, { error: "expected -1 (unlimited) or ≥ 1" })
    .default(1000),
  balanceBy: z.enum(["requests", "tokens"]).default("requests"),
});
export type BurstParams = z.output<typeof burstParams>;

interface Group {
  /** Replicas holding this group in the window, and how many members each got. */
  replica: number;
  count: number;
}

export class BurstPrefixProducer implements Plugin, PrefixMatchProvider {
  readonly type = "burst-prefix-cache-producer";
  readonly name: string;
  private readonly p: BurstParams;
  private readonly windowS: number;
  private windowStart = Number.NEGATIVE_INFINITY;
  private batch = 0;
  /** Group key (chained hash of the whole prompt, or of its first N blocks) → placement in this window. */
  private readonly groups = new Map<number, Group>();
  private readonly colocate = new Map<number, Group>();
  /** Group records, reused from window to window. */
  private readonly pool: Group[] = [];
  private used = 0;
  /** Members placed per replica in this window. */
  private readonly load: Int32Array;
  private readonly result: { matchBlocks: Int32Array; totalBlocks: number; blockSize: number };
  private cycleId = -1;
  /** The current request's group (undefined: no affinity) and keys, for onDispatch. */
  private cur: Group | undefined;
  private curReq = -1;
  private curKey = 0;
  private curColKey = 0;

  constructor(name: string, params: BurstParams, init: RouterInit) {
    this.name = name;
    this.p = params;
    this.windowS = params.windowDurationMs / 1000;
    this.load = new Int32Array(init.replicas);
    this.result = { matchBlocks: new Int32Array(init.replicas), totalBlocks: 0, blockSize: params.blockSizeTokens };
  }

  private leastLoaded(eps: readonly EndpointView[], except: number): number {
    let best = -1;
    for (let i = 0; i < eps.length; i++) {
      const r = eps[i]!.index;
      if (r === except) continue;
      if (best < 0 || this.load[r]! < this.load[best]!) best = r;
    }
    return best;
  }

  private group(replica: number): Group {
    let g = this.pool[this.used];
    if (g === undefined) this.pool.push((g = { replica, count: 0 }));
    this.used++;
    g.replica = replica;
    g.count = 0;
    return g;
  }

  match(cycle: Cycle): PrefixMatch {
    const res = this.result;
    if (cycle.id === this.cycleId) return res;
    this.cycleId = cycle.id;
    res.matchBlocks.fill(0);
    const now = cycle.ctx.now;
    if (now >= this.windowStart + this.windowS) {
      this.windowStart = now;
      this.batch = 0;
      this.groups.clear();
      this.colocate.clear();
      this.load.fill(0);
      this.used = 0;
    }
    this.batch++;
    this.cur = undefined;
    this.curReq = cycle.req.id;
    const hashes = cycle.ctx.promptHashes(this.p.blockSizeTokens);
    let n = hashes.length;
    if (this.p.maxPrefixTokensToMatch > 0)
      n = Math.min(n, Math.floor(this.p.maxPrefixTokensToMatch / this.p.blockSizeTokens));
    res.totalBlocks = n;
    this.curKey = 0;
    this.curColKey = 0;
    if (n === 0 || (this.p.maxBatchSize > 0 && this.batch > this.p.maxBatchSize)) return res;
    this.curKey = hashes[n - 1]!;
    const N = this.p.minColocateBlocks;
    if (N > 0 && n >= N) this.curColKey = hashes[N - 1]!;
    let g = this.groups.get(this.curKey) ?? (this.curColKey !== 0 ? this.colocate.get(this.curColKey) : undefined);
    if (g === undefined) return res;
    if (this.p.maxPerReplica > 0 && g.count >= this.p.maxPerReplica) {
      // Spill to the least-loaded replica of the window: a new placement unit for the rest of the group.
      const r = this.leastLoaded(cycle.ctx.endpoints, g.replica);
      if (r < 0) return res;
      g = this.group(r);
      this.groups.set(this.curKey, g);
    }
    this.cur = g;
    res.matchBlocks[g.replica] = n;
    return res;
  }

  onDispatch(req: Request, replica: number): void {
    if (req.id !== this.curReq || this.curKey === 0) return;
    this.load[replica]!++;
    let g = this.cur;
    if (g === undefined) {
      g = this.group(replica);
      this.groups.set(this.curKey, g);
      if (this.curColKey !== 0 && !this.colocate.has(this.curColKey)) this.colocate.set(this.curColKey, g);
    }
    if (g.replica === replica) g.count++;
    this.curReq = -1;
  }
}
