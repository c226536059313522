// Scorers of the Endpoint Picker / llm-d against values computed by hand from their formulas
// (docs/reference.md#endpoint-picker-scorers, docs/gateway.md "Scorers").
import { describe, expect, it } from "vitest";
import { Cycle, type Scorer } from "../src/policies/epp/framework.ts";
import { InflightLoadProducer, TokenLoadScorer } from "../src/policies/epp/inflight.ts";
import { PrecisePrefixCacheScorer, preciseParams } from "../src/policies/epp/precise-prefix.ts";
import {
  ApproxPrefixProducer,
  PrefixCacheScorer,
  prefixScorerParams,
  resolvePrefixSettings,
} from "../src/policies/epp/prefix.ts";
import {
  ActiveRequestScorer,
  KvCacheUtilizationScorer,
  LoadAwareScorer,
  LoraAffinityScorer,
  QueueScorer,
  RunningRequestsSizeScorer,
} from "../src/policies/epp/scorers.ts";
import {
  NoHitLruScorer,
  noHitLruParams,
  SessionAffinityScorer,
  sessionAffinityParams,
} from "../src/policies/epp/session.ts";
import { context, endpoints, localLoad, request, routerInit } from "../src/policies/testing.ts";
import type { EndpointView, RoutingContext } from "../src/policies/types.ts";
import { blockHashes } from "../src/sim/hash.ts";
import type { Request } from "../src/sim/request.ts";

let cycleId = 0;
function run(s: Scorer, req: Request, ctx: RoutingContext, eps: readonly EndpointView[] = ctx.endpoints): number[] {
  const out = new Float64Array(eps.length);
  s.score(new Cycle(++cycleId, req, ctx), eps, out);
  return [...out];
}

const anyReq = request([{ id: 1, tokens: 10 }]);

describe("queue-scorer", () => {
  it("min-max on waiting: (max − q)/(max − min)", () => {
    const eps = endpoints([{ waiting: 2 }, { waiting: 5 }, { waiting: 8 }]);
    expect(run(new QueueScorer("q"), anyReq, context(anyReq, eps))).toEqual([1, 0.5, 0]);
  });
  it("all equal → 1; one candidate → 1; empty list → nothing", () => {
    expect(run(new QueueScorer("q"), anyReq, context(anyReq, endpoints([{ waiting: 3 }, { waiting: 3 }])))).toEqual([
      1, 1,
    ]);
    expect(run(new QueueScorer("q"), anyReq, context(anyReq, endpoints([{ waiting: 9 }])))).toEqual([1]);
    expect(run(new QueueScorer("q"), anyReq, context(anyReq, []))).toEqual([]);
  });
  it("normalises over the post-filter candidates it is given", () => {
    const eps = endpoints([{ waiting: 0 }, { waiting: 4 }, { waiting: 8 }]);
    expect(run(new QueueScorer("q"), anyReq, context(anyReq, eps), eps.slice(1))).toEqual([1, 0]);
  });
});

describe("kv-cache-utilization-scorer and running-requests-size-scorer", () => {
  it("kv: 1 − usage, absolute", () => {
    const s = run(
      new KvCacheUtilizationScorer("kv"),
      anyReq,
      context(anyReq, endpoints([{ kv: 0.25 }, { kv: 0.9 }, { kv: 0 }])),
    );
    expect(s[0]).toBe(0.75);
    expect(s[1]).toBeCloseTo(0.1, 12);
    expect(s[2]).toBe(1);
  });
  it("running: min-max, all equal → 1", () => {
    expect(
      run(new RunningRequestsSizeScorer("r"), anyReq, context(anyReq, endpoints([{ running: 0 }, { running: 4 }]))),
    ).toEqual([1, 0]);
    expect(
      run(new RunningRequestsSizeScorer("r"), anyReq, context(anyReq, endpoints([{ running: 2 }, { running: 2 }]))),
    ).toEqual([1, 1]);
  });
});

describe("lora-affinity-scorer", () => {
  it("1 running, 0.8 free slot, 0.6 waiting, 0 otherwise", () => {
    const req = request([{ id: 1, tokens: 10 }], { adapter: "a" });
    const eps = endpoints([
      { runningAdapters: ["a"], maxLora: 1 },
      { runningAdapters: ["b"], maxLora: 2 },
      { runningAdapters: ["b", "c"], waitingAdapters: ["a"], maxLora: 2 },
      { runningAdapters: ["b", "c"], maxLora: 2 },
    ]);
    expect(run(new LoraAffinityScorer("l"), req, context(req, eps))).toEqual([1, 0.8, 0.6, 0]);
  });
});

describe("load-aware-scorer (threshold 128)", () => {
  it("0.5 when nothing waits, else 0.5·(1 − min(q,128)/128)", () => {
    const eps = endpoints([{ waiting: 0 }, { waiting: 64 }, { waiting: 128 }, { waiting: 200 }]);
    expect(run(new LoadAwareScorer("la", { threshold: 128 }), anyReq, context(anyReq, eps))).toEqual([0.5, 0.25, 0, 0]);
  });
});

describe("active-request-scorer", () => {
  const eps = endpoints(3);
  const ctx = context(anyReq, eps, { local: localLoad(3, [0, 2, 4]) });
  it("1 when idle, else (max − count)/max · maxBusyScore", () => {
    expect(run(new ActiveRequestScorer("a", { idleThreshold: 0, maxBusyScore: 1 }), anyReq, ctx)).toEqual([1, 0.5, 0]);
    expect(run(new ActiveRequestScorer("a", { idleThreshold: 2, maxBusyScore: 1 }), anyReq, ctx)).toEqual([1, 1, 0]);
    expect(run(new ActiveRequestScorer("a", { idleThreshold: 0, maxBusyScore: 0.5 }), anyReq, ctx)).toEqual([
      1, 0.25, 0,
    ]);
  });
  it("all idle → 1", () => {
    const c = context(anyReq, eps, { local: localLoad(3) });
    expect(run(new ActiveRequestScorer("a", { idleThreshold: 0, maxBusyScore: 1 }), anyReq, c)).toEqual([1, 1, 1]);
  });
});

function producer(
  replicas: number,
  params: Record<string, unknown> = {},
  init = routerInit(replicas),
): ApproxPrefixProducer {
  // The 16-token-block family (GIE ≤ release-1.5) unless a test says otherwise; today's router floors blocks at 64.
  return new ApproxPrefixProducer("p", resolvePrefixSettings(prefixScorerParams.parse(params), init, "gie-r1.5"), init);
}

describe("prefix-cache-scorer (approximate index)", () => {
  const A = () => request([{ id: 1, tokens: 64 }]); // 4 blocks of 16
  it("variants: v1.0 = 64 chars (16 tokens), 256 blocks, 31250/server, full blocks; v1.4+ = engine block, auto-tuned, partial tail", () => {
    const init = routerInit(2, { blockSize: 32, numGpuBlocks: [500, 600] });
    expect(resolvePrefixSettings(prefixScorerParams.parse({ hashBlockSize: 64 }), init)).toEqual({
      variant: "v1.0",
      blockSizeTokens: 16,
      maxBlocks: 256,
      lruCapacityPerServer: 31250,
      autoTune: false,
      hashPartialBlock: false,
    });
    expect(resolvePrefixSettings(prefixScorerParams.parse({}), init, "gie-r1.5")).toEqual({
      variant: "v1.4+",
      blockSizeTokens: 32,
      maxBlocks: 256,
      lruCapacityPerServer: 31250,
      autoTune: true,
      hashPartialBlock: true,
    });
    expect(
      resolvePrefixSettings(
        prefixScorerParams.parse({ maxPrefixTokensToMatch: 131072, autoTune: false }),
        init,
        "gie-r1.5",
      ),
    ).toMatchObject({
      blockSizeTokens: 16,
      maxBlocks: 8192,
    });
    expect(
      resolvePrefixSettings(prefixScorerParams.parse({ maxPrefixBlocksToMatch: 0 }), init, "gie-r1.5").maxBlocks,
    ).toBe(Infinity);
  });

  it("today's router: engine block floored at 64 tokens, ⌊131072 / block⌋ blocks, deprecated blockSize in tokens", () => {
    const init = routerInit(2, { blockSize: 16, numGpuBlocks: [500, 600] });
    // vLLM's 16-token blocks become 64 (approximateprefix/plugin.go minBlockSizeTokens); 131072 / 64 = 2048 blocks.
    expect(resolvePrefixSettings(prefixScorerParams.parse({}), init)).toEqual({
      variant: "router",
      blockSizeTokens: 64,
      maxBlocks: 2048,
      lruCapacityPerServer: 31250,
      autoTune: true,
      hashPartialBlock: true,
    });
    // Engine blocks above the floor are kept; the token cap then gives 131072 / 128 = 1024 blocks.
    expect(resolvePrefixSettings(prefixScorerParams.parse({}), routerInit(1, { blockSize: 128 }))).toMatchObject({
      blockSizeTokens: 128,
      maxBlocks: 1024,
    });
    // The deprecated blockSize is tokens now (was characters ÷ 4); below the floor it is raised to 64.
    const noTune = (p: Record<string, unknown>) =>
      resolvePrefixSettings(prefixScorerParams.parse({ autoTune: false, ...p }), init).blockSizeTokens;
    expect(noTune({ blockSize: 256 })).toBe(256);
    expect(noTune({ blockSize: 32 })).toBe(64);
    expect(noTune({ blockSizeTokens: 96 })).toBe(96);
    // Token cap 0 → the block cap (2048 default; 0 → unlimited).
    expect(
      resolvePrefixSettings(prefixScorerParams.parse({ maxPrefixTokensToMatch: 0, maxPrefixBlocksToMatch: 7 }), init)
        .maxBlocks,
    ).toBe(7);
  });

  it("today's router: a prompt shorter than one block still gets a hash and matches", () => {
    const init = routerInit(2, { blockSize: 16 });
    const p = new ApproxPrefixProducer("p", resolvePrefixSettings(prefixScorerParams.parse({}), init), init);
    const scorer = new PrefixCacheScorer("prefix", prefixScorerParams.parse({}), p);
    const eps = endpoints(2);
    const short = request([{ id: 7, tokens: 40 }]); // < 64 tokens: one partial block
    p.onDispatch(short, 0, 0, undefined);
    const again = request([{ id: 7, tokens: 40 }]);
    expect(run(scorer, again, context(again, eps))).toEqual([1, 0]);
    // 100 tokens = one full 64-token block + a 36-token partial one: sharing only the first 64 → 1 of 2.
    const long = request([{ id: 8, tokens: 100 }]);
    p.onDispatch(long, 1, 0, undefined);
    const prefixOnly = request([
      { id: 8, tokens: 64 },
      { id: 9, tokens: 36 },
    ]);
    expect(run(scorer, prefixOnly, context(prefixOnly, eps))).toEqual([0, 0.5]);
  });

  it("score = matchBlocks / totalBlocks after the index learns at dispatch", () => {
    const p = producer(2);
    const scorer = new PrefixCacheScorer("prefix", prefixScorerParams.parse({}), p);
    const eps = endpoints(2);
    const a = A();
    expect(run(scorer, a, context(a, eps))).toEqual([0, 0]); // empty index
    p.onDispatch(a, 1, 0, undefined);
    // B shares the first 32 tokens (2 blocks) with A, then differs.
    const b = request([
      { id: 1, tokens: 32 },
      { id: 2, tokens: 32 },
    ]);
    expect(run(scorer, b, context(b, eps))).toEqual([0, 0.5]);
    const a2 = A();
    expect(run(scorer, a2, context(a2, eps))).toEqual([0, 1]);
  });

  it("partial tail block counts in v1.4+, not in v1.0", () => {
    const a = A();
    const c = request([{ id: 1, tokens: 40 }]); // 2 full blocks + 8 tokens
    const eps = endpoints(2);
    const cur = producer(2);
    cur.onDispatch(a, 1, 0, undefined);
    expect(run(new PrefixCacheScorer("p", prefixScorerParams.parse({}), cur), c, context(c, eps))).toEqual([0, 2 / 3]);
    const old = producer(2, { hashBlockSize: 64 });
    old.onDispatch(a, 1, 0, undefined);
    expect(run(new PrefixCacheScorer("p", prefixScorerParams.parse({}), old), c, context(c, eps))).toEqual([0, 1]);
  });

  it("greedy walk, not per-pod longest prefix: a pod that lost a middle entry is credited for later blocks", () => {
    const p = producer(2, { autoTune: false, lruCapacityPerServer: 4, hashPartialBlock: false });
    const a = A();
    const [a0, a1, a2, a3] = blockHashes(a.prompt, 16);
    p.onDispatch(a, 1, 0, undefined); // pod 1: [a0 a1 a2 a3]
    p.onDispatch(
      request([
        { id: 1, tokens: 16 },
        { id: 9, tokens: 16 },
      ]),
      1,
      0,
      undefined,
    ); // refresh a0, add e1 → evicts a1
    expect(p.holders(a1!)).toEqual([]);
    expect(p.size(1)).toBe(4);
    p.onDispatch(request([{ id: 1, tokens: 32 }]), 0, 0, undefined); // pod 0: [a0 a1]
    expect([p.holders(a0!), p.holders(a2!), p.holders(a3!)]).toEqual([[0, 1], [1], [1]]);
    const scorer = new PrefixCacheScorer("prefix", prefixScorerParams.parse({}), p);
    const q = A();
    // walk: a0 → {1,0}; a1 → {0}; a2 → {1}; a3 → {1}: pod 0 = 2, pod 1 = 3 of 4.
    expect(run(scorer, q, context(q, endpoints(2)))).toEqual([0.5, 0.75]);
  });

  it("the walk stops at the first block nobody holds", () => {
    const p = producer(2, { autoTune: false });
    p.onDispatch(request([{ id: 5, tokens: 16 }]), 0, 0, undefined);
    const q = request([
      { id: 7, tokens: 16 },
      { id: 5, tokens: 16 },
    ]);
    expect(run(new PrefixCacheScorer("p", prefixScorerParams.parse({}), p), q, context(q, endpoints(2)))).toEqual([
      0, 0,
    ]);
  });

  it("HEAD match-length weighting: w·min(1, matched·B/scale)² + (1−w)·ratio", () => {
    const p = producer(2);
    const a = A();
    p.onDispatch(a, 0, 0, undefined);
    const s = new PrefixCacheScorer(
      "p",
      prefixScorerParams.parse({ matchLengthWeight: 0.5, matchLengthScaleTokens: 128 }),
      p,
    );
    const q = A();
    // pod 0: 4 blocks = 64 tokens → min(1, 64/128)² = 0.25; ratio 1 → 0.5·0.25 + 0.5·1 = 0.625
    expect(run(s, q, context(q, endpoints(2)))).toEqual([0.625, 0]);
  });

  it("LRU capacity = the target's num_gpu_blocks when auto-tuned", () => {
    const init = routerInit(2, { numGpuBlocks: [2, 100] });
    const p = producer(2, {}, init);
    p.onDispatch(A(), 0, 0, undefined);
    p.onDispatch(A(), 1, 0, undefined);
    expect([p.size(0), p.size(1)]).toEqual([2, 4]);
  });
});

describe("precise-prefix-cache-scorer (KV events)", () => {
  const a = request([{ id: 1, tokens: 64 }]);
  const h = blockHashes(a.prompt, 16);
  function scorer(params: Record<string, unknown> = {}): PrecisePrefixCacheScorer {
    const s = new PrecisePrefixCacheScorer("precise", preciseParams.parse(params), routerInit(3));
    for (const x of h) s.onKvEvent({ replica: 0, kind: "stored", hash: x });
    s.onKvEvent({ replica: 1, kind: "stored", hash: h[0]! });
    s.onKvEvent({ replica: 1, kind: "stored", hash: h[2]! });
    return s;
  }
  it("longest consecutive prefix per pod / total (absolute, HEAD)", () => {
    const s = scorer();
    expect(run(s, a, context(a, endpoints(3)))).toEqual([1, 0.25, 0]);
    s.onKvEvent({ replica: 0, kind: "removed", hash: h[3]! });
    expect(run(s, a, context(a, endpoints(3)))).toEqual([0.75, 0.25, 0]);
  });
  it("min-max over pods with a hit (llm-d v0.3–v0.7), pods without a hit → 0", () => {
    expect(run(scorer({ normalization: "minmax" }), a, context(a, endpoints(3)))).toEqual([1, 0, 0]);
    const s = new PrecisePrefixCacheScorer("p", preciseParams.parse({ normalization: "minmax" }), routerInit(2));
    s.onKvEvent({ replica: 1, kind: "stored", hash: h[0]! });
    expect(run(s, a, context(a, endpoints(2)))).toEqual([0, 1]);
  });
  it("blind until the events arrive; speculative entries live speculativeTTL", () => {
    const s = new PrecisePrefixCacheScorer("p", preciseParams.parse({ speculativeIndexing: true }), routerInit(2));
    expect(s.wantsKvEvents).toBe(true);
    s.onDispatch(a, 1, 0, undefined);
    expect(run(s, a, context(a, endpoints(2), { now: 1.5 }))).toEqual([0, 1]);
    expect(run(s, a, context(a, endpoints(2), { now: 2.5 }))).toEqual([0, 0]);
    const plain = new PrecisePrefixCacheScorer("p", preciseParams.parse({}), routerInit(2));
    plain.onDispatch(a, 1, 0, undefined);
    expect(run(plain, a, context(a, endpoints(2), { now: 0.1 }))).toEqual([0, 0]);
  });
  it("a block size other than the engine's never matches", () => {
    const s = new PrecisePrefixCacheScorer(
      "p",
      preciseParams.parse({ tokenProcessorConfig: { blockSize: 64 } }),
      routerInit(1),
    );
    for (const x of h) s.onKvEvent({ replica: 0, kind: "stored", hash: x });
    expect(run(s, a, context(a, endpoints(1)))).toEqual([0]);
  });
});

describe("token-load-scorer with the in-flight load producer", () => {
  it("load = uncached tokens pending prefill + this request's uncached tokens; released at first token", () => {
    const p = producer(2);
    const load = new InflightLoadProducer(
      "l",
      { addEstimatedOutputTokens: false, maxEstimatedOutputTokens: 0 },
      routerInit(2),
      p,
    );
    const s = new TokenLoadScorer("t", { queueThresholdTokens: 1000 }, load);
    const x = request([{ id: 11, tokens: 100 }]);
    load.onDispatch(x, 0, 0, undefined);
    expect(load.tokens(0)).toBe(100);
    const y = request([{ id: 12, tokens: 50 }]);
    expect(run(s, y, context(y, endpoints(2)))).toEqual([0.85, 0.95]);
    load.onFirstToken(x);
    expect(run(s, y, context(y, endpoints(2)))).toEqual([0.95, 0.95]);
    load.onComplete(x);
    expect(load.tokens(0)).toBe(0);
  });
  it("uncached input discounts the prefix the index credits to the endpoint", () => {
    const p = producer(2);
    const load = new InflightLoadProducer(
      "l",
      { addEstimatedOutputTokens: false, maxEstimatedOutputTokens: 0 },
      routerInit(2),
      p,
    );
    const s = new TokenLoadScorer("t", { queueThresholdTokens: 1000 }, load);
    p.onDispatch(request([{ id: 1, tokens: 64 }]), 1, 0, undefined);
    const q = request([
      { id: 1, tokens: 64 },
      { id: 3, tokens: 36 },
    ]); // 100 tokens, 64 cached on pod 1
    expect(run(s, q, context(q, endpoints(2)))).toEqual([0.9, 0.964]);
  });
  it("addEstimatedOutputTokens holds round(input × 1.5) until the end", () => {
    const load = new InflightLoadProducer(
      "l",
      { addEstimatedOutputTokens: true, maxEstimatedOutputTokens: 0 },
      routerInit(1),
      producer(1),
    );
    const x = request([{ id: 11, tokens: 101 }]);
    load.onDispatch(x, 0, 0, undefined);
    expect(load.tokens(0)).toBe(101 + 152);
    load.onFirstToken(x);
    expect(load.tokens(0)).toBe(152);
    load.onComplete(x);
    expect(load.tokens(0)).toBe(0);
  });
  it("load ≤ 0 → 1; over the threshold → 0", () => {
    const load = new InflightLoadProducer(
      "l",
      { addEstimatedOutputTokens: false, maxEstimatedOutputTokens: 0 },
      routerInit(2),
      producer(2),
    );
    const s = new TokenLoadScorer("t", { queueThresholdTokens: 1000 }, load);
    load.onDispatch(request([{ id: 21, tokens: 5000 }]), 1, 0, undefined);
    const empty = request([]);
    expect(run(s, empty, context(empty, endpoints(2)))).toEqual([1, 0]);
  });
});

describe("session-affinity-scorer", () => {
  const eps = endpoints(3);
  it("encoded_endpoint_header: bound at the end of the stream to the pod that served", () => {
    const s = new SessionAffinityScorer("s", sessionAffinityParams.parse({}));
    const r1 = request([{ id: 1, tokens: 8 }], { session: "u1" });
    expect(run(s, r1, context(r1, eps))).toEqual([0, 0, 0]);
    s.onDispatch(r1, 2, 0);
    expect(run(s, r1, context(r1, eps))).toEqual([0, 0, 0]);
    s.onComplete(r1, 2, 1);
    const r2 = request([{ id: 1, tokens: 8 }], { session: "u1" });
    expect(run(s, r2, context(r2, eps))).toEqual([0, 0, 1]);
    const other = request([{ id: 1, tokens: 8 }], { session: "u2" });
    expect(run(s, other, context(other, eps))).toEqual([0, 0, 0]);
  });
  it("session_id: bound at dispatch, expires ttlSeconds after its last use", () => {
    const s = new SessionAffinityScorer("s", sessionAffinityParams.parse({ strategy: "session_id" }));
    const r1 = request([{ id: 1, tokens: 8 }], { session: "u1" });
    s.onDispatch(r1, 1, 10);
    expect(run(s, r1, context(r1, eps, { now: 310 }))).toEqual([0, 1, 0]);
    expect(run(s, r1, context(r1, eps, { now: 310.5 }))).toEqual([0, 0, 0]);
  });
});

describe("no-hit-lru-scorer", () => {
  it("cold requests: never-used pods first (1 − i/(N−1)), then least recently used", () => {
    const p = producer(3);
    const s = new NoHitLruScorer("n", noHitLruParams.parse({}), p, 3);
    const eps = endpoints(3);
    const mk = (id: number) => request([{ id, tokens: 32 }]);
    let r = mk(100);
    expect(run(s, r, context(r, eps))).toEqual([1, 0.5, 0]);
    s.onDispatch(r, 0, 0, undefined);
    r = mk(101);
    expect(run(s, r, context(r, eps))).toEqual([0, 1, 0.5]);
    s.onDispatch(r, 1, 0, undefined);
    r = mk(102);
    expect(run(s, r, context(r, eps))).toEqual([0.5, 0, 1]);
    expect(s.order()).toEqual([0, 1]);
  });
  it("a request with a prefix hit anywhere scores 0.5 everywhere and leaves the LRU alone", () => {
    const p = producer(3);
    const s = new NoHitLruScorer("n", noHitLruParams.parse({}), p, 3);
    const a = request([{ id: 1, tokens: 32 }]);
    p.onDispatch(a, 2, 0, undefined);
    const b = request([{ id: 1, tokens: 32 }]);
    expect(run(s, b, context(b, endpoints(3)))).toEqual([0.5, 0.5, 0.5]);
    s.onDispatch(b, 2, 0, undefined);
    expect(s.order()).toEqual([]);
  });
  it("one candidate → 1", () => {
    const s = new NoHitLruScorer("n", noHitLruParams.parse({}), producer(1), 1);
    expect(run(s, anyReq, context(anyReq, endpoints(1)))).toEqual([1]);
  });
});

describe("addWeighted (the fast path without a decision trace) equals score + the framework's clamped sum", () => {
  // Bit-identical totals are what keep routing decisions, and so every result, unchanged.
  const viaScore = (s: Scorer, c: Cycle, eps: readonly EndpointView[], start: Float64Array, w: number) => {
    const tmp = new Float64Array(eps.length);
    s.score(c, eps, tmp);
    const t = Float64Array.from(start);
    for (let i = 0; i < eps.length; i++) t[i]! += (tmp[i]! > 0 ? Math.min(tmp[i]!, 1) : 0) * w;
    return [...t];
  };
  it("queue, running-requests-size, kv-cache-utilization and prefix scorers, 200 random endpoint sets", () => {
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let round = 0; round < 200; round++) {
      const n = 1 + Math.floor(rnd() * 40);
      const same = round % 7 === 0; // all-equal queues: the min-max "all equal → 1" branch
      const eps = endpoints(
        Array.from({ length: n }, () => ({
          waiting: same ? 3 : Math.floor(rnd() * 20),
          running: Math.floor(rnd() * 30),
          kvCacheUsage: rnd() * 1.1, // above 1 too: the clamp matters
        })),
      );
      const p = producer(n);
      const shared = () => request([{ id: 1, tokens: 64 }]); // 4 blocks of 16
      for (let k = 0; k < 3; k++) p.onDispatch(shared(), Math.floor(rnd() * n), 0, undefined);
      const req = request([
        { id: 1, tokens: 32 },
        { id: 2 + round, tokens: 48 },
      ]);
      const ctx = context(req, eps);
      const start = Float64Array.from({ length: n }, () => rnd() * 3);
      const w = [0.5, 1, 2, 3.7][round % 4]!;
      for (const s of [
        new QueueScorer("q"),
        new RunningRequestsSizeScorer("r"),
        new KvCacheUtilizationScorer("kv"),
        new PrefixCacheScorer("p", prefixScorerParams.parse({}), p),
        new PrefixCacheScorer("pl", prefixScorerParams.parse({ matchLengthWeight: 0.4 }), p),
      ]) {
        const c = new Cycle(++cycleId, req, ctx);
        const expected = viaScore(s, c, eps, start, w);
        const fast = Float64Array.from(start);
        s.addWeighted!(new Cycle(++cycleId, req, ctx), eps, fast, w);
        expect([...fast]).toEqual(expected);
      }
    }
  });
});
