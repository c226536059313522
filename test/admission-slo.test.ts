import { describe, expect, it } from "vitest";
import { simulate } from "../src/cluster/engine.ts";
import { runScenario } from "../src/lab/run.ts";
import { classTargets, summarize } from "../src/metrics/summary.ts";
import { DegradationRuleSchema, FlowControlSchema, QuotasSchema } from "../src/policies/flow-control/schema.ts";
import { flowControlFromScenario } from "../src/policies/flow-control/settings.ts";
import { RoundRobinRouter } from "../src/policies/routers/round-robin.ts";
import { loadScenario, parseScenario } from "../src/scenario.ts";
import { DropReason } from "../src/sim/outcomes.ts";
import { Outcome, type Request } from "../src/sim/request.ts";
import { listSource, pool, req, toyCost } from "./helpers/sim.ts";

const opts = { seed: 5, scrapeIntervalS: 0.05, kvEventDelayS: 0, sampleIntervalS: 1, checkInvariants: true };
const tag = (r: Request, extra: Partial<Request>): Request => ({ ...r, ...extra });

describe("SLO classes and goodput", () => {
  it("per-class targets fall back from per-request to percentile fields, then to the flat slos", () => {
    const slo = {
      ttft_p95_ms: 700,
      e2e_p99_ms: 9000,
      classes: { interactive: { ttft_p95_ms: 500, ttft_ms: 400 }, batch: { e2e_p95_ms: 60000 } },
    };
    expect(classTargets(slo, "interactive")).toEqual({ ttft_ms: 400 });
    expect(classTargets(slo, "batch")).toEqual({ e2e_ms: 60000 });
    expect(classTargets(slo, "other")).toEqual({ ttft_ms: 700, e2e_ms: 9000 });
    expect(classTargets(undefined, "x")).toEqual({});
  });

  it("goodput counts completed requests within their class's targets (hand-computed)", () => {
    // step = 10 ms + 0.1 ms/prefill token + 1 ms/decode; one replica, requests far apart (no queueing).
    // interactive: TTFT = 10 + 0.1·input ms per 2,048-token chunk → inputs 1000 (110 ms) and 3000 (214.8 + 105.2 =
    // 320 ms) against ttft_ms 200: 1 of 2.
    // batch: E2E = TTFT + (out − 1)·11 ms → out 5 (TTFT 20 + 44 = 64 ms), out 100 (20 + 1089 ms) vs e2e_ms 500: 1 of 2.
    const reqs = [
      tag(req(0, 0, 1000, 2), { sloClass: "interactive", tenant: "t1" }),
      tag(req(1, 10, 3000, 2), { sloClass: "interactive", tenant: "t2" }),
      tag(req(2, 20, 100, 5), { sloClass: "batch", tenant: "t1" }),
      tag(req(3, 30, 100, 100), { sloClass: "batch", tenant: "t1" }),
    ];
    const res = simulate([pool(toyCost(0.01, 0.0001, 0.001))], listSource(reqs), new RoundRobinRouter(), {
      ...opts,
      slo: { classes: { interactive: { ttft_ms: 200, ttft_p95_ms: 250 }, batch: { e2e_ms: 500 } } },
    });
    const s = summarize(res);
    expect(s.classes.interactive!.goodput.requests).toBe(1);
    expect(s.classes.interactive!.goodput.fraction).toBe(0.5);
    expect(s.classes.batch!.goodput.requests).toBe(1);
    expect(s.goodput.requests).toBe(2);
    expect(s.goodput.fraction).toBe(0.5);
    expect(s.goodput.requests_per_s).toBeCloseTo(2 / s.duration_s, 12);
    // The class's p95 TTFT (numpy linear: 110 + 0.95·210 = 309.5 ms) against its 250 ms target.
    expect(s.classes.interactive!.ttft_ms.p95).toBeCloseTo(309.5, 9);
    expect(s.classes.interactive!.slo.ttft_p95_ms).toEqual({
      target: 250,
      actual: s.classes.interactive!.ttft_ms.p95,
      ok: false,
    });
    // Tenants get the same summaries.
    expect(s.tenants.t1!.requests.total).toBe(3);
    expect(s.tenants.t1!.goodput.requests).toBe(2);
    expect(s.tenants.t2!.goodput.requests).toBe(0);
  });

  it("the scenario's slos keep their flat fields and accept classes", () => {
    const text = `
pools: [{model: llama-3.1-8b-instruct, replicas: 1}]
workload: {type: poisson, rate: 2, input: 100, output: 10, slo_class: interactive}
requests: 20
slos:
  ttft_p95_ms: 1000
  classes:
    interactive: {ttft_ms: 0.001}
`;
    const s = runScenario(parseScenario(text, "s.yaml", ".")).summary;
    expect(s.classes.interactive!.goodput.requests).toBe(0);
    expect(s.requests.completed).toBe(20);
    expect(() => parseScenario(text.replace("ttft_ms: 0.001", "ttft_ms: -1"), "s.yaml", ".")).toThrow(
      /slos\.classes\.interactive\.ttft_ms/,
    );
  });
});

describe("degradation tiers", () => {
  // Saturated as soon as one request is in flight per replica (exact router-local counts).
  const detector = { type: "concurrency-detector", parameters: { maxConcurrency: 1 } };
  const flowControl = flowControlFromScenario(
    FlowControlSchema.parse({ enabled: false, saturationDetector: detector }),
  );

  it("caps the output of a class while saturated, and counts it", () => {
    const reqs = [
      tag(req(0, 0, 100, 300), { sloClass: "batch" }),
      tag(req(1, 0.01, 100, 300), { sloClass: "batch" }), // saturated: capped to 50
      tag(req(2, 0.02, 100, 300), { sloClass: "interactive" }), // no rule for its class
    ];
    const res = simulate([pool(toyCost())], listSource(reqs), new RoundRobinRouter(), {
      ...opts,
      admission: {
        flowControl,
        degradation: [DegradationRuleSchema.parse({ class: "batch", action: { max_output_tokens: 50 } })],
      },
    });
    const r = res.records;
    expect([r.output[0], r.output[1], r.output[2]]).toEqual([300, 50, 300]);
    expect([r.degraded[0], r.degraded[1], r.degraded[2]]).toEqual([0, 2, 0]);
    expect(res.gateway.degraded).toEqual({ "batch: max_output_tokens 50": 1 });
  });

  it("routes a class to a smaller-model pool while saturated", () => {
    const big = pool(toyCost(), { name: "big", model: "big-model" });
    const small = pool(toyCost(), { name: "small", model: "small-model" });
    const reqs = [
      tag(req(0, 0, 100, 300), { sloClass: "interactive" }),
      tag(req(1, 0.01, 100, 30), { sloClass: "interactive" }),
    ];
    const res = simulate([big, small], listSource(reqs), new RoundRobinRouter(), {
      ...opts,
      admission: {
        flowControl,
        degradation: [DegradationRuleSchema.parse({ class: "interactive", action: { route_to_pool: "small" } })],
      },
    });
    expect(res.records.replica[0]).toBe(0);
    expect(res.records.replica[1]).toBe(1);
    expect(res.records.outcome[1]).toBe(Outcome.Completed);
    expect(res.gateway.degraded).toEqual({ "interactive: route_to_pool small": 1 });
    expect(() =>
      simulate([big, small], listSource([]), new RoundRobinRouter(), {
        ...opts,
        admission: { degradation: [DegradationRuleSchema.parse({ class: "x", action: { route_to_pool: "tiny" } })] },
      }),
    ).toThrow(/gateway\.degradation\.0\.action\.route_to_pool: no pool named "tiny"; pools: big, small/);
  });
});

describe("tenant quotas", () => {
  it("token buckets on requests and prompt tokens, a model allowlist; rejections counted per tenant", () => {
    const quotas = QuotasSchema.parse({
      tenants: {
        acme: { requests_per_s: 1, burst_requests: 2 },
        beta: { tokens_per_s: 1000, burst_tokens: 1500 },
        gamma: { models: ["other-model"] },
      },
    });
    // [arrival, tenant, input] in arrival order; ids follow that order.
    // acme: 3 at t = 0 → 2 pass, the third gets 429 (Retry-After 1 s); at t = 1.5 a token is back.
    // beta: 1,000 prompt tokens pass; the next 1,000 at t = 0.2 find 700 → 429; at t = 1 they find 1,500 (capped).
    // gamma may not call model m: 403. zeta has no quota.
    const spec: [number, string, number][] = [
      [0, "acme", 100],
      [0, "acme", 100],
      [0, "acme", 100],
      [0, "beta", 1000],
      [0, "gamma", 100],
      [0, "zeta", 100],
      [0.2, "beta", 1000],
      [1, "beta", 1000],
      [1.5, "acme", 100],
    ];
    const reqs = spec.map(([t, tenant, input], i) => tag(req(i, t, input, 2), { tenant }));
    const res = simulate([pool(toyCost())], listSource(reqs), new RoundRobinRouter(), {
      ...opts,
      admission: { quotas },
    });
    const r = res.records;
    const status = Array.from({ length: 9 }, (_, i) => (r.outcome[i] === Outcome.Completed ? 200 : r.status[i]));
    expect(status).toEqual([200, 200, 429, 200, 403, 200, 429, 200, 200]);
    expect(r.dropReason[2]).toBe(DropReason.QuotaRate);
    expect(r.dropReason[4]).toBe(DropReason.Forbidden);
    const s = summarize(res);
    expect(s.tenants.acme!.quota).toEqual({ admitted: 3, rateLimited: 1, tokenLimited: 0, forbidden: 0 });
    expect(s.tenants.beta!.quota).toEqual({ admitted: 2, rateLimited: 0, tokenLimited: 1, forbidden: 0 });
    expect(s.tenants.gamma!.quota).toEqual({ admitted: 0, rateLimited: 0, tokenLimited: 0, forbidden: 1 });
    expect(s.tenants.zeta!.quota).toBeUndefined();
    expect(s.gateway.quota_rate).toBe(2);
    expect(s.gateway.quota_forbidden).toBe(1);
  });

  it("a refused request retried after Retry-After passes the bucket", () => {
    const quotas = QuotasSchema.parse({ tenants: { acme: { requests_per_s: 1, burst_requests: 1 } } });
    const reqs = [tag(req(0, 0, 100, 2), { tenant: "acme" }), tag(req(1, 0, 100, 2), { tenant: "acme" })];
    const res = simulate([pool(toyCost())], listSource(reqs), new RoundRobinRouter(), {
      ...opts,
      admission: {
        quotas,
        clients: {
          default: {
            max_retries: 2,
            backoff_s: 0,
            multiplier: 1,
            max_backoff_s: 1,
            jitter: 0,
            honor_retry_after: true,
            retry_on: [429],
          },
        },
      },
    });
    expect(res.records.outcome[1]).toBe(Outcome.Completed);
    expect(res.records.attempts[1]).toBe(2);
    expect(res.records.dispatch[1]).toBeCloseTo(1, 12);
  });
});

describe("scenarios: degradation and quotas under a spike", () => {
  const SCEN = (f: string) => new URL(`../scenarios/${f}`, import.meta.url).pathname;
  const without = (f: string, field: "degradation" | "quotas") => {
    const l = loadScenario(SCEN(f));
    const { [field]: _drop, ...gateway } = l.scenario.gateway;
    return runScenario({ ...l, scenario: { ...l.scenario, gateway } }).summary;
  };

  it("spike-degradation: rerouting interactive to the 8B pool and capping batch answers protect both classes", () => {
    const on = runScenario(loadScenario(SCEN("spike-degradation.yaml"))).summary;
    const off = without("spike-degradation.yaml", "degradation");
    expect(on.gateway.degraded["interactive: route_to_pool small"]).toBeGreaterThan(0);
    expect(on.gateway.degraded["batch: max_output_tokens 64"]).toBeGreaterThan(0);
    expect(on.replicas.find((r) => r.pool === "small")!.routed).toBe(
      on.gateway.degraded["interactive: route_to_pool small"],
    );
    for (const c of ["interactive", "batch"]) {
      expect(on.classes[c]!.ttft_ms.p95).toBeLessThan(off.classes[c]!.ttft_ms.p95 / 5);
      expect(on.classes[c]!.goodput.fraction).toBeGreaterThan(off.classes[c]!.goodput.fraction);
    }
    expect(on.classes.interactive!.slo.ttft_p95_ms!.ok).toBe(true);
  });

  it("spike-quotas: the noisy tenant is rate-limited (429), trial's other adapter is refused (403), acme keeps its TTFT", () => {
    const on = runScenario(loadScenario(SCEN("spike-quotas.yaml"))).summary;
    const off = without("spike-quotas.yaml", "quotas");
    expect(on.tenants.noisy!.quota!.rateLimited).toBeGreaterThan(0.3 * on.tenants.noisy!.requests.total);
    expect(on.tenants.noisy!.outcomes.dropped_by_status["429"]).toBe(
      on.tenants.noisy!.quota!.rateLimited + on.tenants.noisy!.quota!.tokenLimited,
    );
    expect(on.tenants.trial!.outcomes.dropped_by_status["403"]).toBe(on.tenants.trial!.quota!.forbidden);
    expect(on.tenants.trial!.quota!.forbidden).toBeGreaterThan(0);
    expect(on.tenants.acme!.quota).toBeUndefined();
    expect(on.tenants.acme!.requests.completed).toBe(on.tenants.acme!.requests.total);
    expect(on.tenants.acme!.ttft_ms.p95).toBeLessThan(1000);
    expect(off.tenants.acme!.ttft_ms.p95).toBeGreaterThan(10 * on.tenants.acme!.ttft_ms.p95);
  });
});
