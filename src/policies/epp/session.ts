/**
 * llm-d `session-affinity-scorer` and `no-hit-lru-scorer`.
 *
 * `session-affinity-scorer` (llm-d `pkg/plugins/scorer/session_affinity.go`; router HEAD;
 * docs/reference.md#endpoint-picker-scorers). The session is the request's `session` (header `x-session-token` / `x-session-id` in the real system).
 * - `strategy: encoded_endpoint_header` (default): the client echoes the pod that served its previous response; the
 *   binding is written at the end of the stream (`onComplete`). The bound pod scores 1, the others 0.
 * - `strategy: session_id` (HEAD): server-side binding made at PreRequest to whichever pod was picked, expiring
 *   `ttlSeconds` (default 300) after its last use (the real sweep runs every 10 s; here expiry is exact). An unbound
 *   session scores 0 everywhere. `ttlSeconds` is gatelab's name for the 300 s constant.
 *
 * `no-hit-lru-scorer` (llm-d; `lruSize` 1024, `prefixPluginType`/`prefixPluginName` default `prefix-cache-scorer`;
 * §2.4.10): when some candidate has a prefix hit every candidate scores 0.5; on a cold request (no hit anywhere) the
 * candidates never used for a cold request score `1 − i/(N−1)` in candidate order, and the used ones rank after them
 * by LRU position (least recently used first): `max(0, 1 − rank/(N−1))`, rank = |neverUsed| + position (position
 * counted among the candidates in the LRU). N = 1 → 1. PreRequest: a cold request moves its target (and the
 * `prefill` target) to most recent.
 */
import { z } from "zod";
import type { Request } from "../../sim/request.ts";
import type { EndpointView } from "../types.ts";
import type { Cycle, PrefixMatchProvider, Scorer } from "./framework.ts";
import { pos, posInt } from "./params.ts";

export const sessionAffinityParams = z.strictObject({
  strategy: z.enum(["encoded_endpoint_header", "session_id"]).default("encoded_endpoint_header"),
  ttlSeconds: pos.default(300),
  // Where the session id comes from (headers, attributes): gatelab requests carry their session already.
  sessionIdConfig: z.record(z.string(), z.unknown()).optional(),
});
export type SessionAffinityParams = z.output<typeof sessionAffinityParams>;

interface Binding {
  replica: number;
  lastUse: number;
}

export class SessionAffinityScorer implements Scorer {
  readonly type = "session-affinity-scorer";
  readonly name: string;
  private readonly serverSide: boolean;
  private readonly ttl: number;
  private readonly bindings = new Map<string, Binding>();

  constructor(name: string, params: SessionAffinityParams) {
    this.name = name;
    this.serverSide = params.strategy === "session_id";
    this.ttl = params.ttlSeconds;
  }

  /** The pod bound to `session` at `now`, or -1. */
  bound(session: string | undefined, now: number): number {
    if (session === undefined) return -1;
    const b = this.bindings.get(session);
    if (b === undefined) return -1;
    if (this.serverSide && now - b.lastUse > this.ttl) {
      this.bindings.delete(session);
      return -1;
    }
    return b.replica;
  }

  score(cycle: Cycle, eps: readonly EndpointView[], out: Float64Array): void {
    const target = this.bound(cycle.req.session, cycle.ctx.now);
    for (let i = 0; i < eps.length; i++) out[i] = eps[i]!.index === target ? 1 : 0;
  }

  onDispatch(req: Request, replica: number, now: number): void {
    if (this.serverSide && req.session !== undefined) this.bind(req.session, replica, now);
  }

  onComplete(req: Request, replica: number, now: number): void {
    if (!this.serverSide && req.session !== undefined) this.bind(req.session, replica, now);
  }

  private bind(session: string, replica: number, now: number): void {
    const b = this.bindings.get(session);
    if (b === undefined) this.bindings.set(session, { replica, lastUse: now });
    else {
      b.replica = replica;
      b.lastUse = now;
    }
  }
}

export const noHitLruParams = z.strictObject({
  prefixPluginType: z.enum(["prefix-cache-scorer", "precise-prefix-cache-scorer"]).default("prefix-cache-scorer"),
  prefixPluginName: z.string().optional(),
  // llm-d-router (ebab6879): the producer whose PrefixCacheMatchInfo says whether a request is cold.
  prefixMatchInfoProducerName: z.string().min(1).optional(),
  lruSize: posInt.default(1024),
});
export type NoHitLruParams = z.output<typeof noHitLruParams>;

export class NoHitLruScorer implements Scorer {
  readonly type = "no-hit-lru-scorer";
  readonly name: string;
  private readonly provider: PrefixMatchProvider;
  private readonly size: number;
  /** Pods used for cold requests, least recently used first: `lru[0..used)`. */
  private lru: Int32Array;
  private used = 0;
  private coldReq = -1;
  private readonly pos: Int32Array;

  constructor(name: string, params: NoHitLruParams, provider: PrefixMatchProvider, replicas: number) {
    this.name = name;
    this.provider = provider;
    this.size = params.lruSize;
    this.pos = new Int32Array(replicas);
    this.lru = new Int32Array(Math.max(1, Math.min(replicas, this.size)));
  }

  /** Pods in LRU order, least recent first (for tests). */
  order(): number[] {
    return Array.from(this.lru.subarray(0, this.used));
  }

  score(cycle: Cycle, eps: readonly EndpointView[], out: Float64Array): void {
    const n = eps.length;
    const m = this.provider.match(cycle);
    let cold = true;
    for (const ep of eps) {
      if (m.matchBlocks[ep.index]! > 0) {
        cold = false;
        break;
      }
    }
    this.coldReq = cold ? cycle.req.id : -1;
    if (!cold) {
      out.fill(0.5, 0, n);
      return;
    }
    if (n === 1) {
      out[0] = 1;
      return;
    }
    // Positions among the candidates present in the LRU (0 = least recently used).
    const pos = this.pos;
    for (const ep of eps) pos[ep.index] = -1;
    let p = 0;
    for (let k = 0; k < this.used; k++) {
      const r = this.lru[k]!;
      if (r < pos.length && pos[r] === -1) pos[r] = p++;
    }
    let neverUsed = 0;
    for (const ep of eps) if (pos[ep.index] === -1) neverUsed++;
    let i = 0;
    for (let k = 0; k < n; k++) {
      const r = eps[k]!.index;
      const at = pos[r]!;
      if (at === -1) out[k] = 1 - i++ / (n - 1);
      else out[k] = Math.max(0, 1 - (neverUsed + at) / (n - 1));
    }
    // Leave `pos` clean for membership tests of the next cycle.
    for (const ep of eps) pos[ep.index] = 0;
  }

  onDispatch(req: Request, replica: number, _now: number, cycle: Cycle | undefined): void {
    if (req.id !== this.coldReq) return;
    this.touch(replica);
    if (cycle !== undefined && cycle.prefill >= 0 && cycle.prefill !== replica) this.touch(cycle.prefill);
  }

  /** Moves `replica` to the most recent end (adding it), dropping the least recent beyond `lruSize`. */
  private touch(replica: number): void {
    const lru = this.lru;
    let n = this.used;
    let k = 0;
    while (k < n && lru[k] !== replica) k++;
    if (k < n) {
      lru.copyWithin(k, k + 1, n);
      n--;
    }
    if (n === lru.length) {
      const grown = new Int32Array(lru.length * 2);
      grown.set(lru);
      this.lru = grown;
    }
    this.lru[n++] = replica;
    if (n > this.size) {
      this.lru.copyWithin(0, n - this.size, n);
      n = this.size;
    }
    this.used = n;
  }
}
