// Latency-predictor routing (llm-d-router predicted-latency-producer, latency-scorer, slo-headroom-tier-filter,
// latency-slo-admitter) and its online-trained Bayesian-ridge predictor.
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../src/cli/main.ts";
import { simulate } from "../src/cluster/engine.ts";
import { buildPools } from "../src/lab/pools.ts";
import { buildRouter, buildSource, runScenario } from "../src/lab/run.ts";
import { BucketedRidge, bucketKey, jacobiEigen, LinearModel } from "../src/policies/epp/bayesian-ridge.ts";
import { normalizeEppConfig } from "../src/policies/epp/config.ts";
import {
  LatencyPredictor,
  type PredictedLatencyProducer,
  TTFT_FEATURES,
  ttftRow,
} from "../src/policies/epp/latency-predictor.ts";
import { createRouterFromEpp, type EppRouter } from "../src/policies/epp/pipeline.ts";
import { context, endpoints, request, routerInit } from "../src/policies/testing.ts";
import type { RouterInit, RoutingDecision } from "../src/policies/types.ts";
import { parseScenario } from "../src/scenario.ts";
import { captureOutput } from "./helpers/capture.ts";

const HELM = "../shared/data/epp-configs/gie-release-1.5/helm__epplib_default-plugins__latencyPredictor.yaml";
const SMALL = "test/fixtures/gateway-small.yaml";

describe("Bayesian ridge (StandardScaler + sklearn BayesianRidge, from bucket statistics)", () => {
  it("Jacobi eigen-decomposition: [[2,1],[1,2]] has eigenvalues 1 and 3", () => {
    const vals = new Float64Array(2);
    const vecs = new Float64Array(4);
    jacobiEigen(Float64Array.from([2, 1, 1, 2]), 2, vals, vecs);
    expect([...vals].sort()).toEqual([expect.closeTo(1, 12), expect.closeTo(3, 12)]);
    // Columns are unit eigenvectors: A v = λ v.
    for (let k = 0; k < 2; k++) {
      const v0 = vecs[k]!;
      const v1 = vecs[2 + k]!;
      expect(2 * v0 + v1).toBeCloseTo(vals[k]! * v0, 12);
      expect(v0 * v0 + v1 * v1).toBeCloseTo(1, 12);
    }
  });

  it("fits a noise-free linear relation exactly: y = 3 + 2·x0 − 0.5·x1", () => {
    const r = new BucketedRidge(2, 500);
    const xs = [
      [0, 0],
      [1, 0],
      [0, 4],
      [2, 2],
      [5, 1],
      [3, 7],
    ];
    for (const [a, b] of xs) r.add(0, Float64Array.from([a!, b!]), 3 + 2 * a! - 0.5 * b!);
    const m = new LinearModel(2, 10);
    expect(r.fit(m, 1)).toBe(true);
    // Noise-free: the evidence drives α (noise precision) up and the ridge term λ/α to ~0, so OLS is recovered.
    expect(m.weights[0]).toBeCloseTo(2, 6);
    expect(m.weights[1]).toBeCloseTo(-0.5, 6);
    expect(m.intercept).toBeCloseTo(3, 6);
    expect(m.predict(Float64Array.from([10, 10]))).toBeCloseTo(18, 5);
    expect(m.samples).toBe(6);
    // Nothing new since: no refit.
    expect(r.fit(m, 1)).toBe(false);
  });

  it("with noise, the fit is BayesianRidge's fixed point: w = ridge(λ/α), λ and α the evidence updates", () => {
    // One feature, y = 2x + noise (hand-picked residuals).
    const xs = [1, 2, 3, 4, 5, 6, 7, 8];
    const noise = [0.5, -1, 0.3, 0.8, -0.6, 0.1, -0.4, 0.2];
    const r = new BucketedRidge(1, 500);
    for (const [i, x] of xs.entries()) r.add(0, Float64Array.from([x]), 2 * x + noise[i]!);
    const m = new LinearModel(1, 10);
    r.fit(m, 1);
    // Recompute the fixed point by hand in the scaled space (z = (x − mean)/std, y centred).
    const n = xs.length;
    const mx = xs.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mx) ** 2, 0) / n);
    const ys = xs.map((x, i) => 2 * x + noise[i]!);
    const my = ys.reduce((a, b) => a + b, 0) / n;
    const z = xs.map((x) => (x - mx) / sd);
    const yc = ys.map((y) => y - my);
    const g = z.reduce((a, v) => a + v * v, 0); // = n
    const b = z.reduce((a, v, i) => a + v * yc[i]!, 0);
    const w = b / (g + m.lambda / m.alpha);
    expect(m.weights[0]! * sd).toBeCloseTo(w, 9);
    const rmse = yc.reduce((a, y, i) => a + (y - w * z[i]!) ** 2, 0);
    const gamma = (m.alpha * g) / (m.lambda + m.alpha * g);
    // The last evidence update moved w by < tol = 1e-3, so λ and α agree with their update formulas closely.
    expect((gamma + 2e-6) / (w * w + 2e-6) / m.lambda).toBeCloseTo(1, 2);
    expect((n - gamma + 2e-6) / (rmse + 2e-6) / m.alpha).toBeCloseTo(1, 2);
    // Shrinkage is tiny here (λ/α ≪ n): the slope is the least-squares one, Σ(x−x̄)(y−ȳ)/Σ(x−x̄)² = 1.98690.
    expect(m.weights[0]).toBeCloseTo(1.9869, 2);
  });

  it("a constant column gets weight 0 (scale 1, centred away), as StandardScaler + BayesianRidge give", () => {
    const r = new BucketedRidge(2, 500);
    for (let i = 0; i < 8; i++) r.add(0, Float64Array.from([i, 7]), 1 + 4 * i);
    const m = new LinearModel(2, 10);
    r.fit(m, 1);
    expect(m.weights[0]).toBeCloseTo(4, 6);
    expect(m.weights[1]).toBeCloseTo(0, 9);
    expect(m.intercept).toBeCloseTo(1, 5);
  });

  it("each bucket keeps its newest samples only (deque maxlen) and a fit needs minSamples", () => {
    const r = new BucketedRidge(1, 3);
    // Two old outliers, then three samples of y = 1 + x: the ring of 3 drops the outliers.
    r.add(5, Float64Array.from([0]), 100);
    r.add(5, Float64Array.from([1]), 100);
    const m = new LinearModel(1, 10);
    expect(r.fit(m, 3)).toBe(false); // 2 < 3 samples: the default model stays
    expect(m.intercept).toBe(10);
    for (const x of [2, 3, 4]) r.add(5, Float64Array.from([x]), 1 + x);
    expect(r.size).toBe(3);
    expect(r.fit(m, 3)).toBe(true);
    expect(m.weights[0]).toBeCloseTo(1, 6);
    expect(m.intercept).toBeCloseTo(1, 5);
  });

  it("bucket keys follow the training server: queue 0|1–2|3–5|6–10|11+, KV by 5 %, prefix by 25 %", () => {
    expect(bucketKey(0, 0, 0)).toBe(0);
    expect(bucketKey(2, 0, 0)).toBe(1 * 20 * 4);
    expect(bucketKey(3, 0, 0)).toBe(2 * 20 * 4);
    expect(bucketKey(11, 0.999, 1)).toBe((4 * 20 + 19) * 4 + 3);
    expect(bucketKey(0, 0.05, 0.25)).toBe(1 * 4 + 1);
  });
});

describe("LatencyPredictor schedule (simulated time)", () => {
  const f = { kv: 0.1, inputTokens: 100, waiting: 0, running: 1, prefillTokensInFlight: 0, prefixScore: 0, pod: 0 };
  it("predicts the default 10 ms until the first retrain at t = 10 s, then every 10 s; 1 sample in 10 held out", () => {
    const p = new LatencyPredictor();
    const x = new Float64Array(TTFT_FEATURES.length);
    // TTFT = 20 + 0.5 ms per input token.
    for (let i = 0; i < 20; i++) {
      const g = { ...f, inputTokens: 100 + 10 * i };
      p.addSample(0.5 * i, ttftRow(x, g), 20 + 0.5 * g.inputTokens, "ttft", g);
    }
    expect(p.heldOut).toBe(2);
    expect(p.samples).toEqual({ ttft: 18, tpot: 0 });
    expect(p.ttft.predict(ttftRow(x, { ...f, inputTokens: 1000 }))).toBe(10);
    p.advance(9.99);
    expect(p.fits).toBe(0);
    p.advance(10);
    expect(p.fits).toBe(1); // TTFT only: no TPOT samples (18 ≥ 10 in total, 0 < 10 for TPOT)
    expect(p.ttft.predict(ttftRow(x, { ...f, inputTokens: 1000 }))).toBeCloseTo(520, 3);
    expect(p.tpot.intercept).toBe(10);
    // No new sample: later ticks do not refit.
    p.advance(55);
    expect(p.fits).toBe(1);
  });
});

const SLO_INIT = (n: number, o: Partial<RouterInit> = {}): RouterInit => ({
  ...routerInit(n, { traceDecisions: true, ...o }),
  requestSlos: new Map([
    ["gold", { ttftMs: 30, tpotMs: 0 }],
    ["tight", { ttftMs: 10, tpotMs: 0 }],
  ]),
});

function latencyRouter(plugins: unknown[], profile: unknown[], init: RouterInit): EppRouter {
  const cfg = normalizeEppConfig(
    {
      apiVersion: "llm-d.ai/v1alpha1",
      kind: "EndpointPickerConfig",
      plugins,
      schedulingProfiles: [{ name: "default", plugins: profile }],
    },
    "latency.yaml",
  );
  return createRouterFromEpp(cfg, init) as EppRouter;
}

/** Sets the TTFT model to 5 + 10·waiting ms (as if trained), so predictions are hand-computable. */
function fixModel(r: EppRouter): PredictedLatencyProducer {
  const p = r.plugins.get("predicted-latency-producer") as PredictedLatencyProducer;
  p.predictor.ttft.weights.fill(0);
  p.predictor.ttft.weights[TTFT_FEATURES.indexOf("num_request_waiting")] = 10;
  p.predictor.ttft.intercept = 5;
  return p;
}

describe("latency-scorer / slo-headroom-tier-filter / latency-slo-admitter", () => {
  const scorerCfg = [{ type: "predicted-latency-producer" }, { type: "latency-scorer" }, { type: "max-score-picker" }];
  const scorerProfile = [{ pluginRef: "latency-scorer" }, { pluginRef: "max-score-picker" }];

  it("no SLO: every headroom is negative; among idle endpoints the lower predicted TTFT wins", () => {
    const r = latencyRouter(scorerCfg, scorerProfile, SLO_INIT(2));
    const p = fixModel(r);
    const eps = endpoints([{ waiting: 4 }, { waiting: 1 }]);
    const a = request([{ id: 1, tokens: 64 }]);
    const d = r.route(a, context(a, eps)) as RoutingDecision;
    // Predicted TTFT 45 and 15 ms; headroom −45, −15; |h| min-max → 1, 0; least: ⌊(1−n)·100⌋+1 → 1, 101 (→ 1).
    expect(p.ttftMs[0]).toBe(45);
    expect(p.ttftMs[1]).toBe(15);
    expect([...d.breakdown!.get("latency-scorer")!]).toEqual([
      [0, 0.01],
      [1, 1],
    ]);
    expect(d.replica).toBe(1);
  });

  it("with a TTFT SLO (30 ms) only the endpoint within it scores: 0.51 (alone in its tier), the other 0", () => {
    const r = latencyRouter(scorerCfg, scorerProfile, SLO_INIT(2));
    fixModel(r);
    const eps = endpoints([{ waiting: 1 }, { waiting: 4 }]);
    const a = request([{ id: 1, tokens: 64 }], { sloClass: "gold" });
    const d = r.route(a, context(a, eps)) as RoutingDecision;
    expect([...d.breakdown!.get("latency-scorer")!]).toEqual([
      [0, 0.51],
      [1, 0],
    ]);
    expect(d.replica).toBe(0);
  });

  it("without predictions (predictInProduce false) the composite fallback scores KV, queue and prefix", () => {
    const r = latencyRouter(
      [{ type: "predicted-latency-producer", parameters: { predictInProduce: false } }, ...scorerCfg.slice(1)],
      scorerProfile,
      SLO_INIT(2),
    );
    const eps = endpoints([
      { waiting: 2, kv: 0.5 },
      { waiting: 0, kv: 0.2 },
    ]);
    const a = request([{ id: 1, tokens: 64 }]);
    const d = r.route(a, context(a, eps)) as RoutingDecision;
    // (1/3)·(1 − kv) + (1/3)·(max_q − q)/max_q + (1/3)·0 → round(100·c)/100: 0.17, 0.6.
    expect([...d.breakdown!.get("latency-scorer")!]).toEqual([
      [0, 0.17],
      [1, 0.6],
    ]);
  });

  it("slo-headroom-tier-filter keeps the positive tier (unless the 1 % exploration draw hits)", () => {
    const r = latencyRouter(
      [
        { type: "predicted-latency-producer" },
        { type: "slo-headroom-tier-filter", parameters: { epsilonExploreNeg: 0 } },
        { type: "random-picker" },
      ],
      [{ pluginRef: "slo-headroom-tier-filter" }, { pluginRef: "random-picker" }],
      SLO_INIT(3),
    );
    fixModel(r);
    const eps = endpoints([{ waiting: 4 }, { waiting: 1 }, { waiting: 9 }]);
    for (let i = 0; i < 20; i++) {
      const a = request([{ id: 1, tokens: 64 }], { sloClass: "gold" });
      expect((r.route(a, context(a, eps, { seed: i })) as RoutingDecision).replica).toBe(1);
    }
  });

  it("latency-slo-admitter refuses a sheddable request with an SLO no busy, warm endpoint meets", () => {
    const r = latencyRouter(
      [...scorerCfg, { type: "latency-slo-admitter" }],
      scorerProfile,
      SLO_INIT(2, { traceDecisions: false }),
    );
    fixModel(r);
    const busy = endpoints([
      { waiting: 1, running: 3, kv: 0.5 },
      { waiting: 2, running: 3, kv: 0.5 },
    ]);
    const shed = request([{ id: 1, tokens: 64 }], { sloClass: "tight", priority: -1 });
    expect(r.route(shed, context(shed, busy))).toMatchObject({ refused: true, status: 429 });
    // Standard priority, or an idle endpoint, or no SLO: admitted.
    const std = request([{ id: 1, tokens: 64 }], { sloClass: "tight" });
    expect(r.route(std, context(std, busy))).toEqual({ replica: expect.any(Number) });
    const idle = endpoints([
      { waiting: 1, running: 3, kv: 0.5 },
      { waiting: 2, running: 0, kv: 0.5 },
    ]);
    expect(r.route(shed, context(shed, idle))).toEqual({ replica: expect.any(Number) });
    const noSlo = request([{ id: 1, tokens: 64 }], { priority: -1 });
    expect(r.route(noSlo, context(noSlo, busy))).toEqual({ replica: expect.any(Number) });
  });

  it("endpointRoleLabel: TPOT is neutralised on prefill pods (streaming), the decode pod keeps its headroom", () => {
    const init: RouterInit = {
      ...routerInit(2, {
        traceDecisions: true,
        labels: [{ "llm-d.ai/role": "prefill" }, { "llm-d.ai/role": "decode" }],
      }),
      requestSlos: new Map([["gold", { ttftMs: 30, tpotMs: 5 }]]),
    };
    const r = latencyRouter(
      [
        {
          type: "predicted-latency-producer",
          parameters: { streamingMode: true, endpointRoleLabel: "llm-d.ai/role" },
        },
        ...scorerCfg.slice(1),
      ],
      scorerProfile,
      init,
    );
    const p = fixModel(r);
    // TPOT model: 8 ms on decode pods, as if trained: intercept 8.
    p.predictor.tpot.intercept = 8;
    const a = request([{ id: 1, tokens: 64 }], { sloClass: "gold" });
    r.route(a, context(a, endpoints([{ waiting: 0 }, { waiting: 0 }])));
    // Both predict TTFT 5 ms (< 30: valid). TPOT 8 ms vs SLO 5: the decode pod misses it (headroom −3); the prefill
    // pod's TPOT is neutralised (headroom 0, valid).
    expect([p.tpotHeadroom[0], p.tpotValid[0]]).toEqual([0, 1]);
    expect([p.tpotHeadroom[1], p.tpotValid[1]]).toEqual([-3, 0]);
    expect(p.ttftHeadroom[1]).toBe(25);
  });

  it("prefix-cache-affinity-filter with ttftSource latencyPredictor releases when the sticky TTFT is > 5 s worse", () => {
    const r = latencyRouter(
      [
        { type: "predicted-latency-producer" },
        {
          type: "prefix-cache-affinity-filter",
          parameters: { affinityThreshold: 0.99, ttftSource: "latencyPredictor", maxTTFTPenaltyMs: 5000 },
        },
        { type: "random-picker" },
      ],
      [{ pluginRef: "prefix-cache-affinity-filter" }, { pluginRef: "random-picker" }],
      SLO_INIT(2, { traceDecisions: false }),
    );
    fixModel(r);
    const warm = request([{ id: 7, tokens: 64 }]);
    r.route(warm, context(warm, endpoints(2)));
    r.onDispatch!(warm, 0, 0); // replica 0 now holds the prompt's 4 blocks (router-side index)
    const picks = (waiting0: number) => {
      const seen = new Set<number>();
      for (let i = 0; i < 30; i++) {
        const a = request([{ id: 7, tokens: 64 }]);
        const eps2 = endpoints([{ waiting: waiting0 }, { waiting: 0 }]);
        seen.add((r.route(a, context(a, eps2, { seed: i })) as RoutingDecision).replica);
      }
      return [...seen].sort();
    };
    // Predicted TTFT 5 + 10·waiting: 4,005 vs 5 ms (gap 4,000 ≤ 5,000) → sticky only; 6,005 vs 5 → released.
    expect(picks(400)).toEqual([0]);
    expect(picks(600)).toEqual([0, 1]);
  });

  it("records observed TTFT and TPOT (streaming) with the features seen when it was scheduled", () => {
    const r = latencyRouter(
      [{ type: "predicted-latency-producer", parameters: { streamingMode: true } }, ...scorerCfg.slice(1)],
      scorerProfile,
      SLO_INIT(2, { traceDecisions: false }),
    );
    const p = r.plugins.get("predicted-latency-producer") as PredictedLatencyProducer;
    const eps = endpoints([{ waiting: 0 }, { waiting: 0 }]);
    for (let i = 0; i < 12; i++) {
      const a = request([{ id: 100 + i, tokens: 64 }], { outputTokens: 11 });
      const t0 = 0.5 * i;
      const d = r.route(a, context(a, eps, { now: t0 })) as { replica: number };
      r.onDispatch!(a, d.replica, t0);
      expect(p.dispatched[d.replica]).toBe(1);
      r.onFirstToken!(a, d.replica, t0 + 0.0505); // TTFT 50.5 ms → 50 (whole ms)
      r.onComplete!(a, d.replica, t0 + 0.1505); // e2e 150 ms → TPOT (150 − 50)/10 = 10 ms
      expect(p.dispatched[d.replica]).toBe(0);
    }
    // 24 entries (TTFT, TPOT alternating), every 10th held out: the 10th and 20th, both TPOT.
    expect(p.predictor.heldOut).toBe(2);
    expect(p.predictor.samples).toEqual({ ttft: 12, tpot: 10 });
    expect(p.predictor.fits).toBe(0);
    p.predictor.advance(10);
    const x = new Float64Array(TTFT_FEATURES.length);
    const f = { kv: 0, inputTokens: 64, waiting: 0, running: 0, prefillTokensInFlight: 0, prefixScore: 0, pod: 0 };
    expect(p.predictor.ttft.predict(ttftRow(x, f))).toBeCloseTo(50, 6);
    expect(p.predictor.tpot.intercept).toBeCloseTo(10, 6);
  });
});

describe("GIE release-1.5 predicted-latency-scorer (single plugin: predicts, admits, picks)", () => {
  const gieRouter = (params: Record<string, unknown>, gates: string[], init: RouterInit): EppRouter =>
    createRouterFromEpp(
      normalizeEppConfig(
        {
          apiVersion: "inference.networking.x-k8s.io/v1alpha1",
          kind: "EndpointPickerConfig",
          plugins: [{ type: "predicted-latency-scorer", parameters: params }],
          schedulingProfiles: [{ name: "default", plugins: [{ pluginRef: "predicted-latency-scorer" }] }],
          featureGates: gates,
        },
        "gie.yaml",
        undefined,
        "gie-r1.5",
      ),
      init,
    ) as EppRouter;
  const fix = (r: EppRouter): PredictedLatencyProducer => {
    const s = r.plugins.get("predicted-latency-scorer") as unknown as { producer: PredictedLatencyProducer };
    const p = s.producer;
    p.predictor.ttft.weights.fill(0);
    p.predictor.ttft.weights[TTFT_FEATURES.indexOf("num_request_waiting")] = 10;
    p.predictor.ttft.intercept = 5;
    return p;
  };
  const eps = endpoints([{ waiting: 4 }, { waiting: 1 }]);

  it("no SLO (streaming default): both tiers negative, idle → blended-deficit weights 18 and 82 (hand-computed)", () => {
    // TTFT 45 / 15 ms, TPOT 10 ms (default model) on both: deficits (45, 10) and (15, 10); TPOT has no spread, so
    // blended = 0.8·n(TTFT deficit) = 0.8 and 0 → ⌊(1 − b)·80⌋ + 2 = 18 and 82; selectionMode max → endpoint 1.
    const max = gieRouter({ selectionMode: "max" }, ["prepareDataPlugins"], SLO_INIT(2));
    fix(max);
    for (let i = 0; i < 5; i++) {
      const a = request([{ id: 1, tokens: 64 }]);
      const d = max.route(a, context(a, eps, { seed: i })) as RoutingDecision;
      expect(d.replica).toBe(1);
      expect([...d.breakdown!.get("predicted-latency-scorer")!]).toEqual([
        [0, 0],
        [1, 1],
      ]);
    }
    // linear (default): weighted random, P(endpoint 1) = 82/100.
    const lin = gieRouter({}, ["prepareDataPlugins"], SLO_INIT(2));
    fix(lin);
    let ones = 0;
    for (let i = 0; i < 400; i++) {
      const a = request([{ id: 1, tokens: 64 }]);
      if ((lin.route(a, context(a, eps, { seed: i })) as RoutingDecision).replica === 1) ones++;
    }
    expect(ones / 400).toBeGreaterThan(0.75);
    expect(ones / 400).toBeLessThan(0.89);
  });

  it("with a TTFT SLO only endpoint 1 is in the positive tier: picked unless the 1 % exploration draw hits", () => {
    const r = gieRouter({ epsilonExploreNeg: 0, streamingMode: false }, ["prepareDataPlugins"], SLO_INIT(2));
    fix(r);
    for (let i = 0; i < 20; i++) {
      const a = request([{ id: 1, tokens: 64 }], { sloClass: "gold" });
      expect(
        (r.route(a, context(a, endpoints([{ waiting: 4 }, { waiting: 1 }]), { seed: i })) as RoutingDecision).replica,
      ).toBe(1);
    }
  });

  it("without the prepareDataPlugins gate there are no predictions: composite weights, prefix 0", () => {
    const r = gieRouter({ selectionMode: "max" }, [], SLO_INIT(2));
    const kv = endpoints([
      { waiting: 0, kv: 0.9 },
      { waiting: 0, kv: 0.1 },
    ]);
    const a = request([{ id: 1, tokens: 64 }]);
    // round(1 + 99·((1 − kv)/3 + 1/3)) = 37 and 64 → max picks endpoint 1.
    expect((r.route(a, context(a, kv)) as RoutingDecision).replica).toBe(1);
    const p = (r.plugins.get("predicted-latency-scorer") as unknown as { producer: PredictedLatencyProducer }).producer;
    expect(p.has[0]).toBe(0);
  });

  it("AdmitRequest refuses a sheddable request no endpoint can serve within its SLO (all busy, warm)", () => {
    const r = gieRouter({ streamingMode: false }, ["prepareDataPlugins"], SLO_INIT(2, { traceDecisions: false }));
    const p = fix(r);
    // Make both endpoints busy with one dispatched request each (the plugin's own running count).
    for (const rep of [0, 1]) {
      const w = request([{ id: 9, tokens: 8 }]);
      r.route(w, context(w, eps));
      r.onDispatch!(w, rep, 0);
    }
    expect([p.dispatched[0], p.dispatched[1]]).toEqual([1, 1]);
    const warm = endpoints([
      { waiting: 4, kv: 0.5 },
      { waiting: 1, kv: 0.5 },
    ]);
    const shed = request([{ id: 1, tokens: 64 }], { sloClass: "tight", priority: -1 });
    expect(r.route(shed, context(shed, warm))).toMatchObject({ refused: true, status: 429 });
    const std = request([{ id: 1, tokens: 64 }], { sloClass: "tight" });
    expect(r.route(std, context(std, warm))).toEqual({ replica: expect.any(Number) });
  });
});

describe("end to end", () => {
  const io = captureOutput();

  it("the Helm chart's latencyPredictor config trains the predictor on the run's own latencies, deterministically", () => {
    // gateway-small with 1,000 requests (25 s at 40 req/s): the predictor retrains at t = 10 s and 20 s.
    const small = readFileSync(SMALL, "utf8").replace("requests: 300", "requests: 1000");
    const loaded = parseScenario(small, SMALL, dirname(SMALL));
    const run = () => {
      const pools = buildPools(loaded.scenario, loaded.baseDir);
      const router = buildRouter(loaded, pools, { eppConfig: HELM }) as EppRouter;
      const s = loaded.scenario;
      const res = simulate(pools, buildSource(loaded, s.seed), router, {
        seed: s.seed,
        scrapeIntervalS: s.gateway.scrape_interval_ms / 1000,
        kvEventDelayS: s.gateway.kv_event_delay_ms / 1000,
        sampleIntervalS: s.sample_interval_s,
      });
      return { router, res };
    };
    const a = run();
    const p = a.router.plugins.get("predicted-latency-producer") as PredictedLatencyProducer;
    // Trained on non-streaming samples: TTFT is the end-to-end latency; no TPOT samples.
    expect(p.predictor.fits).toBe(2);
    expect(p.predictor.samples.ttft).toBeGreaterThan(800);
    expect(p.predictor.samples.tpot).toBe(0);
    expect(p.predictor.ttft.samples).toBeGreaterThan(10);
    const b = run();
    expect([...b.res.records.completion]).toEqual([...a.res.records.completion]);
    const q = b.router.plugins.get("predicted-latency-producer") as PredictedLatencyProducer;
    expect([...q.predictor.ttft.weights]).toEqual([...p.predictor.ttft.weights]);
    // The e2e predictions track the observed latencies: an idle replica, 500 input tokens, ≈ the run's e2e median.
    const x = new Float64Array(TTFT_FEATURES.length);
    const f = { kv: 0.05, inputTokens: 500, waiting: 0, running: 1, prefillTokensInFlight: 0, prefixScore: 0, pod: 0 };
    const predicted = p.predictor.ttft.predict(ttftRow(x, f));
    expect(predicted).toBeGreaterThan(100);
    expect(predicted).toBeLessThan(5000);
    const one = runScenario(loaded, { eppConfig: HELM });
    const two = runScenario(loaded, { eppConfig: HELM });
    expect(one.summary).toEqual(two.summary);
  });

  it("runs via the CLI with a note on what differs from the real predictor", async () => {
    expect(await main(["run", SMALL, "--epp-config", HELM])).toBe(0);
    expect(io.out).toMatch(/requests 300: 300 completed/);
    expect(io.out).toMatch(/predicted-latency-producer.*Bayesian ridge/);
  });

  it("GIE 1.5's troubleshooting example (predicted-latency-scorer, prepareDataPlugins) runs with --epp-variant gie-r1.5", async () => {
    const cfg = "../shared/data/epp-configs/gie-release-1.5/guides_troubleshooting__1.yaml";
    expect(await main(["run", SMALL, "--epp-config", cfg, "--epp-variant", "gie-r1.5", "--json"])).toBe(0);
    const first = io.out;
    const a = JSON.parse(first);
    expect(a.requests.completed).toBe(300);
    expect(await main(["run", SMALL, "--epp-config", cfg, "--epp-variant", "gie-r1.5", "--json"])).toBe(0);
    expect(JSON.parse(io.out.slice(first.length))).toEqual(a);
  });
});
