/**
 * llm-d's `inflight-load-producer` (router-local token load per endpoint) and `token-load-scorer`.
 *
 * Source: llm-d-router HEAD `dataproducer/inflightload/*`, `scorer/tokenload/*`, `token_estimator.go`
 * (docs/reference.md#endpoint-picker-scorers). HEAD default (`addEstimatedOutputTokens: false`): at PreRequest the target's
 * `Tokens` grows by the request's uncached input on that endpoint (`input − matchBlocks·blockSize`, from the
 * approximate prefix producer) and that share is released at the first response chunk, so `Tokens` ≈ prefill work
 * still pending. With `addEstimatedOutputTokens: true` it also adds the output estimate `round(input × 1.5)`
 * (`OutputRatio` 1.5; capped by `maxEstimatedOutputTokens` when > 0, a stand-in for the request's `max_tokens`) and
 * holds that part until the end of the stream. The simulator's `outputTokens` is never read: a gateway does not
 * know it. Input tokens = the request's prompt tokens (the real estimator uses bytes/4).
 * Request counts are the engine's fresh `LocalLoad.inFlight`.
 *
 * `token-load-scorer`: `load_e = Tokens_e + uncached_e` (HEAD lookahead); score 1 when load ≤ 0, else
 * `1 − min(load, T)/T` with `queueThresholdTokens` T = 4,194,304 (128 requests × 32 k).
 */
import { z } from "zod";
import type { Request } from "../../sim/request.ts";
import { RequestRows } from "../indexes/request-rows.ts";
import type { EndpointView, RouterInit } from "../types.ts";
import type { Cycle, InflightTokens, Plugin, PrefixMatchProvider, Scorer } from "./framework.ts";
import { nonNegInt, posInt } from "./params.ts";

export const OUTPUT_RATIO = 1.5;

export const inflightParams = z.strictObject({
  addEstimatedOutputTokens: z.boolean().default(false),
  maxEstimatedOutputTokens: nonNegInt.default(0),
});
export type InflightParams = z.output<typeof inflightParams>;

export const tokenLoadParams = z.strictObject({ queueThresholdTokens: posInt.default(4_194_304) });

export class InflightLoadProducer implements Plugin, InflightTokens {
  readonly type = "inflight-load-producer";
  readonly name: string;
  private readonly load: Float64Array;
  /** Tokens in flight per replica (`tokens(r)` as an array). */
  readonly loads: Float64Array;
  /** Per request in flight: [replica, tokens released at the first chunk, tokens released at the end]. */
  private readonly held = new RequestRows(3);
  private readonly prefix: PrefixMatchProvider;
  private readonly addOutput: boolean;
  private readonly maxOutput: number;

  constructor(name: string, params: InflightParams, init: RouterInit, prefix: PrefixMatchProvider) {
    this.name = name;
    this.load = new Float64Array(init.replicas);
    this.loads = this.load;
    this.prefix = prefix;
    this.addOutput = params.addEstimatedOutputTokens;
    this.maxOutput = params.maxEstimatedOutputTokens;
  }

  tokens(replica: number): number {
    return this.load[replica] ?? 0;
  }

  uncached(cycle: Cycle, replica: number): number {
    const m = this.prefix.match(cycle);
    return Math.max(0, cycle.req.inputTokens - m.matchBlocks[replica]! * m.blockSize);
  }

  onDispatch(req: Request, replica: number, _now: number, cycle: Cycle | undefined): void {
    const first = cycle !== undefined && cycle.req.id === req.id ? this.uncached(cycle, replica) : req.inputTokens;
    let end = 0;
    if (this.addOutput) {
      end = Math.round(req.inputTokens * OUTPUT_RATIO);
      if (this.maxOutput > 0) end = Math.min(end, this.maxOutput);
    }
    this.release(req.id);
    this.load[replica]! += first + end;
    const o = this.held.open(req.id);
    const d = this.held.data;
    d[o] = replica;
    d[o + 1] = first;
    d[o + 2] = end;
  }

  onFirstToken(req: Request): void {
    const o = this.held.find(req.id);
    if (o < 0) return;
    const d = this.held.data;
    this.load[d[o]!]! -= d[o + 1]!;
    d[o + 1] = 0;
  }

  onComplete(req: Request): void {
    this.release(req.id);
  }

  private release(id: number): void {
    const o = this.held.find(id);
    if (o < 0) return;
    const d = this.held.data;
    const r = d[o]!;
    this.load[r]! -= d[o + 1]! + d[o + 2]!;
    if (this.load[r]! < 1e-9) this.load[r] = 0;
    this.held.close(id);
  }
}

export class TokenLoadScorer implements Scorer {
  readonly type = "token-load-scorer";
  readonly name: string;
  private readonly producer: InflightTokens;
  private readonly t: number;

  constructor(name: string, params: { queueThresholdTokens: number }, producer: InflightTokens) {
    this.name = name;
    this.producer = producer;
    this.t = params.queueThresholdTokens;
  }

  score(cycle: Cycle, eps: readonly EndpointView[], out: Float64Array): void {
    for (let i = 0; i < eps.length; i++) {
      const r = eps[i]!.index;
      const load = (this.producer.loads[r] ?? 0) + this.producer.uncached(cycle, r);
      out[i] = load <= 0 ? 1 : 1 - Math.min(load, this.t) / this.t;
    }
  }
}
