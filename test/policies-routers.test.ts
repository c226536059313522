// The routers people compare against (docs/reference.md#other-routers), on hand-built state.
import { describe, expect, it } from "vitest";
import { AibrixPrefixCacheRouter } from "../src/policies/routers/aibrix-prefix-cache.ts";
import { ConsistentHashRouter } from "../src/policies/routers/consistent-hash.ts";
import { DynamoKvRouter, dynamoKvParams } from "../src/policies/routers/dynamo-kv.ts";
import { GieV03DecisionTreeRouter } from "../src/policies/routers/gie-v03-decision-tree.ts";
import { PowerOfTwoRouter } from "../src/policies/routers/power-of-two.ts";
import { PrebleE2Router } from "../src/policies/routers/preble-e2.ts";
import { SglangCacheAwareRouter, sglangParams } from "../src/policies/routers/sglang-cache-aware.ts";
import { VllmPrefixAwareRouter } from "../src/policies/routers/vllm-prefix-aware.ts";
import { VllmSessionRouter } from "../src/policies/routers/vllm-session.ts";
import { context, endpoints, localLoad, request, routerInit } from "../src/policies/testing.ts";
import type { RouteResult, Router, RoutingDecision } from "../src/policies/types.ts";
import { blockHashes } from "../src/sim/hash.ts";
import type { Request } from "../src/sim/request.ts";
import { rngStream } from "../src/sim/rng.ts";

const pick = (r: RouteResult) => (r as RoutingDecision).replica;

function dispatch(r: Router, req: Request, replica: number, now = 0, firstToken = false): void {
  r.onDispatch?.(req, replica, now);
  if (firstToken) r.onFirstToken?.(req, replica, now);
}

describe("power-of-two", () => {
  it("the less loaded of two random candidates; never the most loaded one of three when both others are lighter", () => {
    const r = new PowerOfTwoRouter();
    const eps = endpoints(3);
    const local = localLoad(3, [9, 1, 2]);
    const rng = rngStream(5, "routing");
    const counts = [0, 0, 0];
    for (let i = 0; i < 900; i++) counts[pick(r.route(request([]), context(request([]), eps, { local, rng })))]!++;
    expect(counts[0]).toBe(0);
    // pod 1 wins every pair it is in (2 of 3 pairs), pod 2 only the pair {0, 2}.
    expect(counts[1]! / 900).toBeGreaterThan(0.6);
    expect(r.route(request([]), context(request([]), endpoints(1)))).toEqual({ replica: 0 });
  });
});

describe("dynamo-kv (classic cost)", () => {
  it("reproduces the worked example of the Dynamo docs: 18 / 10 / 11 → W2", () => {
    const r = new DynamoKvRouter(routerInit(3, { traceDecisions: true }));
    // Active blocks predicted from earlier dispatches (prefill done): 10, 5, 9 blocks of 16 tokens.
    dispatch(r, request([{ id: 901, tokens: 160 }]), 0, 0, true);
    dispatch(r, request([{ id: 902, tokens: 80 }]), 1, 0, true);
    dispatch(r, request([{ id: 903, tokens: 144 }]), 2, 0, true);
    const q = request([{ id: 77, tokens: 128 }]); // 8 blocks
    const h = blockHashes(q.prompt, 16);
    for (let b = 0; b < 3; b++) r.onKvEvent({ replica: 1, kind: "stored", hash: h[b]! });
    for (let b = 0; b < 6; b++) r.onKvEvent({ replica: 2, kind: "stored", hash: h[b]! });
    const d = r.route(q, context(q, endpoints(3))) as RoutingDecision;
    expect([...d.scores!]).toEqual([
      [0, 1 * 8 + 10],
      [1, 1 * 5 + 5],
      [2, 1 * 2 + 9],
    ]);
    expect(d.replica).toBe(1);
    expect([...d.breakdown!.get("overlap_blocks")!]).toEqual([
      [0, 0],
      [1, 3],
      [2, 6],
    ]);
  });
  it("pending prefill counts until the first token; active blocks until completion", () => {
    const r = new DynamoKvRouter(
      routerInit(2, { traceDecisions: true }),
      dynamoKvParams.parse({ overlapScoreWeight: 2 }),
    );
    const x = request([{ id: 1, tokens: 32 }]);
    dispatch(r, x, 0);
    const q = request([{ id: 2, tokens: 16 }]);
    // W0: 2·(32 + 16)/16 + 2 = 8; W1: 2·1 + 0 = 2
    expect([...(r.route(q, context(q, endpoints(2))) as RoutingDecision).scores!]).toEqual([
      [0, 8],
      [1, 2],
    ]);
    r.onFirstToken(x);
    expect((r.route(q, context(q, endpoints(2))) as RoutingDecision).scores!.get(0)).toBe(2 + 2);
    r.onComplete(x);
    expect((r.route(q, context(q, endpoints(2))) as RoutingDecision).scores!.get(0)).toBe(2);
  });
  it("equal cost → smaller tree, then random", () => {
    const r = new DynamoKvRouter(routerInit(2));
    r.onKvEvent({ replica: 0, kind: "stored", hash: 12345 });
    const q = request([{ id: 3, tokens: 16 }]);
    for (let s = 0; s < 10; s++) expect(r.route(q, context(q, endpoints(2), { seed: s }))).toEqual({ replica: 1 });
  });
  it("temperature > 0 samples; all-equal costs are uniform", () => {
    const r = new DynamoKvRouter(routerInit(2), dynamoKvParams.parse({ temperature: 1 }));
    const rng = rngStream(1, "routing");
    let ones = 0;
    for (let i = 0; i < 2000; i++) {
      const q = request([{ id: 3, tokens: 16 }]);
      ones += pick(r.route(q, context(q, endpoints(2), { rng })));
    }
    expect(ones / 2000).toBeGreaterThan(0.45);
    expect(ones / 2000).toBeLessThan(0.55);
  });
  it("without KV events the router assumes routed blocks stay cached routerTtlSecs", () => {
    const r = new DynamoKvRouter(routerInit(2, { traceDecisions: true }), dynamoKvParams.parse({ useKvEvents: false }));
    expect(r.wantsKvEvents).toBe(false);
    const a = request([{ id: 1, tokens: 64 }]);
    r.route(a, context(a, endpoints(2)));
    dispatch(r, a, 1, 0, true);
    r.onComplete(a);
    const b = request([{ id: 1, tokens: 64 }]);
    expect(
      (r.route(b, context(b, endpoints(2), { now: 100 })) as RoutingDecision).breakdown!.get("overlap_blocks")!.get(1),
    ).toBe(4);
    expect(
      (r.route(b, context(b, endpoints(2), { now: 121 })) as RoutingDecision).breakdown!.get("overlap_blocks")!.get(1),
    ).toBe(0);
  });
  it("busyThreshold excludes workers; all busy → 503", () => {
    const r = new DynamoKvRouter(routerInit(1, { numGpuBlocks: [10] }), dynamoKvParams.parse({ busyThreshold: 0.5 }));
    dispatch(r, request([{ id: 1, tokens: 96 }]), 0); // 6 of 10 blocks
    const q = request([{ id: 2, tokens: 16 }]);
    expect(r.route(q, context(q, endpoints(1)))).toMatchObject({ refused: true, status: 503 });
  });
});

describe("sglang-cache-aware", () => {
  it("imbalanced (max − min > 64 and max > 1.5·min) → least loaded", () => {
    const r = new SglangCacheAwareRouter(routerInit(3));
    const q = request([{ id: 1, tokens: 64 }]);
    expect(r.route(q, context(q, endpoints(3), { local: localLoad(3, [100, 10, 50]) }))).toEqual({ replica: 1 });
    // [80, 60, 70]: gap 20 ≤ 64 → balanced → cache path (empty tree → smallest tree, the first).
    expect(r.route(q, context(q, endpoints(3), { local: localLoad(3, [80, 60, 70]) }))).toEqual({ replica: 0 });
  });
  it("match rate > 0.3 → the holder; else the smallest tree; eviction keeps prefixes", () => {
    const r = new SglangCacheAwareRouter(routerInit(3), sglangParams.parse({ maxTreeSize: 128 }));
    const a = request([{ id: 1, tokens: 64 }]);
    r.route(a, context(a, endpoints(3)));
    dispatch(r, a, 2);
    expect(r.treeBlocks(2)).toBe(4);
    const a2 = request([{ id: 1, tokens: 64 }]);
    expect(r.route(a2, context(a2, endpoints(3)))).toEqual({ replica: 2 });
    const low = request([
      { id: 1, tokens: 16 },
      { id: 5, tokens: 144 },
    ]); // 16/160 = 0.1 ≤ 0.3 → smallest tree, first of the empty ones
    expect(r.route(low, context(low, endpoints(3)))).toEqual({ replica: 0 });
    // At 120 s the tree of pod 2 is cut to 128 characters = 2 blocks, leaves first: 32/64 = 0.5 still matches.
    const a3 = request([{ id: 1, tokens: 64 }]);
    expect(r.route(a3, context(a3, endpoints(3), { now: 121 }))).toEqual({ replica: 2 });
    expect(r.treeBlocks(2)).toBe(2);
  });
});

describe("aibrix-prefix-cache", () => {
  it("longest match unless the holder is above mean + σ; imbalance gate 8", () => {
    const r = new AibrixPrefixCacheRouter(routerInit(3));
    const a = request([{ id: 1, tokens: 64 }]);
    r.route(a, context(a, endpoints(3)));
    dispatch(r, a, 1);
    const q = () => request([{ id: 1, tokens: 64 }]);
    let b = q();
    expect(r.route(b, context(b, endpoints(3), { local: localLoad(3, [0, 0, 0]) }))).toEqual({ replica: 1 });
    // running [0, 3, 0]: mean 1, σ = √2 ≈ 1.41 → limit 2.41 < 3 → least-request among all (0 or 2).
    b = q();
    expect([0, 2]).toContain(pick(r.route(b, context(b, endpoints(3), { local: localLoad(3, [0, 3, 0]) }))));
    // running [10, 1, 0]: gap 10 > 8 → only pod 2 is a candidate.
    b = q();
    expect(r.route(b, context(b, endpoints(3), { local: localLoad(3, [10, 1, 0]) }))).toEqual({ replica: 2 });
  });
  it("entries unused for 20 min no longer count", () => {
    const r = new AibrixPrefixCacheRouter(routerInit(2, { traceDecisions: true }));
    const a = request([{ id: 1, tokens: 64 }]);
    r.route(a, context(a, endpoints(2)));
    dispatch(r, a, 1, 0);
    const b = request([{ id: 1, tokens: 64 }]);
    expect((r.route(b, context(b, endpoints(2), { now: 1200 })) as RoutingDecision).scores!.get(1)).toBe(100);
    expect((r.route(b, context(b, endpoints(2), { now: 1201 })) as RoutingDecision).scores!.get(1)).toBe(0);
  });
});

describe("vLLM production-stack routers", () => {
  it("session: the same session always lands on the same endpoint; keyless → lowest QPS", () => {
    const r = new VllmSessionRouter(routerInit(4));
    const eps = endpoints(4);
    const seen = new Set<number>();
    for (let s = 0; s < 40; s++) {
      const q = request([], { session: `user-${s}` });
      const p = pick(r.route(q, context(q, eps)));
      seen.add(p);
      expect(pick(r.route(q, context(q, eps)))).toBe(p);
    }
    expect(seen.size).toBe(4);
    const r2 = new VllmSessionRouter(routerInit(3));
    dispatch(r2, request([]), 0, 1);
    dispatch(r2, request([]), 1, 1);
    const k = request([]);
    expect(r2.route(k, context(k, endpoints(3), { now: 2 }))).toEqual({ replica: 2 });
    expect(r2.route(k, context(k, endpoints(3), { now: 70 }))).toEqual({ replica: 0 }); // window of 60 s passed
  });
  it("prefix-aware: random among the holders of the longest 32-token-chunk match", () => {
    const r = new VllmPrefixAwareRouter(routerInit(4));
    const a = request([{ id: 1, tokens: 96 }]);
    r.route(a, context(a, endpoints(4)));
    dispatch(r, a, 3);
    for (let s = 0; s < 10; s++) {
      const b = request([
        { id: 1, tokens: 64 },
        { id: 2, tokens: 64 },
      ]);
      expect(r.route(b, context(b, endpoints(4), { seed: s }))).toEqual({ replica: 3 });
    }
    // The holder is not available → all endpoints.
    const c = request([{ id: 1, tokens: 64 }]);
    expect([0, 1, 2]).toContain(pick(r.route(c, context(c, endpoints(3)))));
  });
});

describe("consistent-hash", () => {
  it("sessions stay put; removing an endpoint moves only its own sessions", () => {
    const r = new ConsistentHashRouter();
    const all = endpoints(4);
    const three = all.slice(0, 3);
    let moved = 0;
    for (let s = 0; s < 200; s++) {
      const q = request([], { session: `s${s}` });
      const p4 = pick(r.route(q, context(q, all)));
      const p3 = pick(r.route(q, context(q, three)));
      if (p4 !== 3) expect(p3).toBe(p4);
      else moved++;
    }
    expect(moved).toBeGreaterThan(20);
  });
});

describe("preble-e2", () => {
  it("exploit when cached > missed (the holder), explore by load cost otherwise", () => {
    const r = new PrebleE2Router(routerInit(3, { traceDecisions: true }));
    const a = request([{ id: 1, tokens: 64 }]);
    r.route(a, context(a, endpoints(3)));
    dispatch(r, a, 1);
    // 64 cached vs 16 missed → exploit pod 1 even when it is the busiest.
    const b = request([
      { id: 1, tokens: 64 },
      { id: 9, tokens: 16 },
    ]);
    expect(pick(r.route(b, context(b, endpoints(3), { local: localLoad(3, [0, 5, 0]) })))).toBe(1);
    // 16 cached vs 64 missed → explore: pod 1 carries 64 tokens of windowed prefill → pods 0/2.
    const c = request([
      { id: 1, tokens: 16 },
      { id: 8, tokens: 64 },
    ]);
    const d = r.route(c, context(c, endpoints(3))) as RoutingDecision;
    expect([0, 2]).toContain(d.replica);
    expect(d.scores!.get(1)).toBeCloseTo(64 / 15928, 12);
    // The window forgets after 180 s.
    const d2 = r.route(c, context(c, endpoints(3), { now: 181 })) as RoutingDecision;
    expect(d2.scores!.get(1)).toBe(0);
  });
});

describe("gie-v0.3-decision-tree", () => {
  it("drops non-critical requests when no pod has capacity (429); critical ones still route", () => {
    const r = new GieV03DecisionTreeRouter();
    const eps = endpoints([{ waiting: 6 }, { kv: 0.9 }]);
    const std = request([]);
    expect(r.route(std, context(std, eps))).toMatchObject({ refused: true, status: 429 });
    const crit = request([], { priority: 1 });
    expect(r.route(crit, context(crit, eps))).toEqual({ replica: 1 });
  });
  it("non-critical: capacity → least queue → least KV", () => {
    const r = new GieV03DecisionTreeRouter();
    const eps = endpoints([{ waiting: 2, kv: 0.1 }, { waiting: 0, kv: 0.5 }, { waiting: 0, kv: 0.2 }, { waiting: 9 }]);
    for (let s = 0; s < 10; s++)
      expect(r.route(request([]), context(request([]), eps, { seed: s }))).toEqual({ replica: 2 });
  });
});
