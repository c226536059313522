// The Endpoint Picker pipeline end to end on hand-built endpoints (docs/reference.md#endpoint-picker-pipeline).
import { describe, expect, it } from "vitest";
import { loadEppConfigFile, normalizeEppConfig } from "../src/policies/epp/config.ts";
import type { InflightLoadProducer } from "../src/policies/epp/inflight.ts";
import { createRouterFromEpp, type EppRouter } from "../src/policies/epp/pipeline.ts";
import { POLICIES } from "../src/policies/registry.ts";
import { context, endpoints, localLoad, request, routerInit } from "../src/policies/testing.ts";
import type { RoutingDecision } from "../src/policies/types.ts";
import { blockHashes } from "../src/sim/hash.ts";
import { rngStream } from "../src/sim/rng.ts";

const preset = (name: string) => POLICIES.get(name)!;

describe("gie-default (queue 2, kv 2, prefix 3)", () => {
  it("totals = Σ clamp(score)·weight, with the decision trace", () => {
    const r = preset("gie-default").create(routerInit(2, { traceDecisions: true }));
    const eps = endpoints([
      { waiting: 0, kv: 0.5 },
      { waiting: 4, kv: 0.1 },
    ]);
    const a = request([{ id: 1, tokens: 64 }]);
    const d = r.route(a, context(a, eps)) as RoutingDecision;
    // queue: 1, 0; kv: 0.5, 0.9; prefix: 0, 0 → 2·1 + 2·0.5 = 3 vs 2·0 + 2·0.9 = 1.8
    expect(d.replica).toBe(0);
    expect([...d.scores!]).toEqual([
      [0, 3],
      [1, 1.8],
    ]);
    expect([...d.breakdown!.keys()]).toEqual(["queue-scorer", "kv-cache-utilization-scorer", "prefix-cache-scorer"]);
    expect([...d.breakdown!.get("queue-scorer")!]).toEqual([
      [0, 1],
      [1, 0],
    ]);
    r.onDispatch!(a, 0, 0);
    // Same prompt, now pod 1 is idle and emptier: the prefix (3) outweighs queue 2 + kv 0.8.
    const b = request([{ id: 1, tokens: 64 }]);
    const eps2 = endpoints([
      { waiting: 1, kv: 0.5 },
      { waiting: 0, kv: 0.1 },
    ]);
    const d2 = r.route(b, context(b, eps2)) as RoutingDecision;
    expect([...d2.scores!]).toEqual([
      [0, 0 + 1 + 3],
      [1, 2 + 1.8 + 0],
    ]);
    expect(d2.replica).toBe(0);
  });
  it("without traceDecisions the decision carries no maps", () => {
    const r = preset("gie-default").create(routerInit(2));
    const a = request([{ id: 1, tokens: 8 }]);
    expect(r.route(a, context(a, endpoints(2)))).toEqual({ replica: expect.any(Number) });
  });
});

describe("pipeline rules", () => {
  const cfg = (plugins: unknown[], profiles?: unknown[]) =>
    normalizeEppConfig(
      {
        apiVersion: "llm-d.ai/v1alpha1",
        kind: "EndpointPickerConfig",
        plugins,
        ...(profiles ? { schedulingProfiles: profiles } : {}),
      },
      "test",
    );
  it("each score is clamped to [0, 1] before weighting; weights are not normalised", () => {
    const r = createRouterFromEpp(
      cfg(
        [{ type: "kv-cache-utilization-scorer" }],
        [{ name: "p", plugins: [{ pluginRef: "kv-cache-utilization-scorer", weight: 2 }] }],
      ),
      routerInit(2, { traceDecisions: true }),
    );
    const a = request([{ id: 1, tokens: 8 }]);
    const d = r.route(a, context(a, endpoints([{ kv: -0.5 }, { kv: 1.5 }]))) as RoutingDecision;
    expect([...d.scores!]).toEqual([
      [0, 2],
      [1, 0],
    ]);
  });
  it("no candidates → 503; a filter that empties the list fails scheduling → 429", () => {
    // Replica 1 is a prefill pod: the cluster has one, this request's candidates (replica 0) do not.
    const labels = [{}, { "llm-d.ai/role": "prefill" }];
    const r = createRouterFromEpp(
      cfg([{ type: "prefill-filter" }, { type: "queue-scorer" }]),
      routerInit(2, { labels }),
    );
    const a = request([{ id: 1, tokens: 8 }]);
    expect(r.route(a, context(a, []))).toMatchObject({ refused: true, status: 503 });
    expect(r.route(a, context(a, endpoints(1)))).toEqual({
      refused: true,
      status: 429,
      reason: 'no endpoints available (profile "default", filter "prefill-filter")',
    });
  });
  it("decisions are deterministic for a seed, including random tie-breaks", () => {
    const picks = (seed: number) => {
      const r = preset("gie-default").create(routerInit(4));
      const rng = rngStream(seed, "routing");
      const eps = endpoints(4);
      const out: number[] = [];
      for (let i = 0; i < 200; i++) {
        const q = request([{ id: 1000 + (i % 7), tokens: 48 }], { id: i });
        const d = r.route(q, context(q, eps, { rng, local: localLoad(4) })) as RoutingDecision;
        r.onDispatch!(q, d.replica, i);
        out.push(d.replica);
      }
      return out;
    };
    expect(picks(3)).toEqual(picks(3));
    expect(picks(3)).not.toEqual(picks(4));
    // The 7 prompts stick to where their first copy went.
    const p = picks(3);
    for (let i = 7; i < 200; i++) expect(p[i]).toBe(p[i % 7]);
  });
});

describe("real configs", () => {
  it("v0.5 decision tree: low-queue → (LoRA fails → unfiltered) → least-queue → least-kv → random", () => {
    const r = createRouterFromEpp(loadEppConfigFile("scenarios/epp/gie-v0.5-decision-tree.yaml"), routerInit(3));
    const a = request([{ id: 1, tokens: 8 }]);
    const eps = endpoints([{ waiting: 200 }, { waiting: 3 }, { waiting: 1 }]);
    for (let s = 0; s < 20; s++) expect(r.route(a, context(a, eps, { seed: s }))).toEqual({ replica: 2 });
  });
  it("P/D config: the decode profile picks among decode pods, never the prefill pod; unlabelled pools are refused", () => {
    // Replica 0 prefills (shortest queue, but not a decode pod), replicas 1 and 2 decode.
    const labels = [{ "llm-d.ai/role": "prefill" }, { "llm-d.ai/role": "decode" }, { "llm-d.ai/role": "decode" }];
    const r = createRouterFromEpp(
      loadEppConfigFile("scenarios/epp/llm-d-pd.yaml"),
      routerInit(3, { traceDecisions: true, labels }),
    );
    const a = request([{ id: 1, tokens: 64 }]);
    const d = r.route(a, context(a, endpoints([{ waiting: 0 }, { waiting: 3 }, { waiting: 1 }]))) as RoutingDecision;
    expect(d.replica).toBe(2);
    expect(() => createRouterFromEpp(loadEppConfigFile("scenarios/epp/llm-d-pd.yaml"), routerInit(3))).toThrow(
      /filter "prefill-filter" \(type prefill-filter\) keeps no replica/,
    );
    // The 64-token prompt is uncached (≥ nonCachedTokens 16): the decider also runs the prefill profile.
    expect([...d.breakdown!.keys()]).toEqual([
      "prefix-cache-scorer",
      "queue-scorer",
      "prefill:prefix-cache-scorer",
      "prefill:queue-scorer",
    ]);
  });
  it("llm-d-precise consumes KV events", () => {
    const r = preset("llm-d-precise").create(routerInit(2));
    expect(r.wantsKvEvents).toBe(true);
    const a = request([{ id: 1, tokens: 64 }]);
    for (const h of blockHashes(a.prompt, 16)) r.onKvEvent!({ replica: 1, kind: "stored", hash: h }, 0);
    // precise 2·1 beats queue/kv ties: pod 1 even with a slightly longer queue.
    const eps = endpoints([{ waiting: 0 }, { waiting: 1 }]);
    expect(r.route(a, context(a, eps))).toEqual({ replica: 1 });
    expect(preset("gie-default").create(routerInit(2)).wantsKvEvents).toBe(false);
  });
  it("token-aware: in-flight tokens rise at dispatch and fall at first token / completion", () => {
    const r = preset("llm-d-token-aware").create(routerInit(2)) as EppRouter;
    const load = r.plugins.get("inflight-load-producer") as InflightLoadProducer;
    const a = request([{ id: 1, tokens: 64 }]);
    const d = r.route(a, context(a, endpoints(2))) as RoutingDecision;
    r.onDispatch(a, d.replica, 0);
    expect(load.tokens(d.replica)).toBe(64);
    r.onFirstToken(a, d.replica, 0.1);
    expect(load.tokens(d.replica)).toBe(0);
    r.onComplete(a, d.replica, 1);
    // The same prompt now sticks (match 4/4 ≥ 0.8) even though the other pod is as idle.
    for (let i = 0; i < 10; i++) {
      const b = request([{ id: 1, tokens: 64 }]);
      expect(r.route(b, context(b, endpoints(2), { seed: i }))).toEqual({ replica: d.replica });
    }
  });
  it("sticky-until-saturated: sticky while the holder has room, queue depth once it saturates", () => {
    const r = preset("sticky-until-saturated").create(routerInit(3));
    const a = request([{ id: 1, tokens: 64 }]);
    r.onDispatch!(a, 2, 0);
    const q = () => request([{ id: 1, tokens: 64 }]);
    let b = q();
    expect(r.route(b, context(b, endpoints([{ waiting: 1 }, { waiting: 0 }, { waiting: 4 }])))).toEqual({ replica: 2 });
    b = q();
    expect(r.route(b, context(b, endpoints([{ waiting: 1 }, { waiting: 0 }, { waiting: 5 }])))).toEqual({ replica: 1 });
  });
  it("the GIE v1.0 preset uses the v1.0 prefix index (full 16-token blocks only)", () => {
    const r = preset("gie-v1.0-default").create(routerInit(2, { blockSize: 32 })) as EppRouter;
    const p = r.plugins.get("approx-prefix-cache-producer") as unknown as {
      settings: { variant: string; blockSizeTokens: number };
    };
    expect(p.settings).toMatchObject({ variant: "v1.0", blockSizeTokens: 16 });
  });
});
