// Flow-control policies as llm-d-router implements them (src/policies/flow-control/policies.ts): per-flow queues
// (fairness id = tenant), round-robin / global-strict fairness, FCFS / EDF / SLO-deadline ordering, program-aware
// (LAS) fairness and the soft-reflective usage ceiling, with dispatch orders computed by hand.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { simulate } from "../src/cluster/engine.ts";
import { runScenario } from "../src/lab/run.ts";
import { summarize } from "../src/metrics/summary.ts";
import { loadEppConfig } from "../src/policies/epp/config.ts";
import { admissionSimOptions } from "../src/policies/flow-control/options.ts";
import { ProgramAwareFairness, programAwareParams, UsageLimit } from "../src/policies/flow-control/policies.ts";
import { FlowQueue } from "../src/policies/flow-control/queue.ts";
import { flowControlFromEpp } from "../src/policies/flow-control/settings.ts";
import { RoundRobinRouter } from "../src/policies/routers/round-robin.ts";
import { parseScenario } from "../src/scenario.ts";
import { Outcome, type Request } from "../src/sim/request.ts";
import { fc, flowOpts } from "./helpers/flow-control.ts";
import { listSource, pool, req, toyCost } from "./helpers/sim.ts";

const opts = flowOpts;
const band = (fairness: unknown, ordering = "fcfs-ordering-policy") => ({
  defaultPriorityBand: { fairnessPolicyRef: fairness, orderingPolicyRef: ordering },
});

function drain(q: FlowQueue, now = 0): number[] {
  const out: number[] = [];
  for (let id = q.pop(0, now); id >= 0; id = q.pop(0, now)) out.push(id);
  return out;
}

describe("fairness across flows (tenants) of one band", () => {
  // acme sends 1, 2, 3 and bravo 4, 5, one per second.
  const fill = (q: FlowQueue) => {
    q.enqueue(1, 0, 10, 0, "acme");
    q.enqueue(2, 0, 10, 1, "acme");
    q.enqueue(3, 0, 10, 2, "acme");
    q.enqueue(4, 0, 10, 3, "bravo");
    q.enqueue(5, 0, 10, 4, "bravo");
  };

  it("global-strict (default): the earliest head across flows, i.e. one FCFS order", () => {
    const q = new FlowQueue(fc());
    fill(q);
    expect(drain(q, 5)).toEqual([1, 2, 3, 4, 5]);
  });

  it("round-robin: flows in id order, the next non-empty one after the last picked", () => {
    const q = new FlowQueue(fc(band("round-robin-fairness-policy")));
    fill(q);
    // acme (first: no cursor), bravo, acme, bravo, acme (bravo empty).
    expect(drain(q, 5)).toEqual([1, 4, 2, 5, 3]);
  });

  it("round-robin: a new flow takes its place in id order; the cursor stays on the last flow picked", () => {
    const q = new FlowQueue(fc(band("round-robin-fairness-policy")));
    fill(q);
    expect(q.pop(0, 5)).toBe(1); // acme; cursor = acme
    q.enqueue(6, 0, 10, 5, "aardvark"); // sorts first: [aardvark, acme, bravo]
    // After acme: bravo; then wrap to aardvark; acme; bravo; acme.
    expect(drain(q, 6)).toEqual([4, 6, 2, 5, 3]);
  });

  it("round-robin works per band; strict priority across bands still holds", () => {
    const q = new FlowQueue(fc(band("round-robin-fairness-policy")));
    q.enqueue(1, 0, 10, 0, "acme");
    q.enqueue(2, 0, 10, 1, "acme");
    q.enqueue(3, 0, 10, 2, "bravo");
    q.enqueue(4, 1, 10, 3, "bravo"); // priority 1: a band of its own, from the default band's template
    q.enqueue(5, 1, 10, 4, "acme");
    // Band 1 first (acme before bravo: no cursor yet there), then band 0: acme, bravo, acme.
    expect(drain(q, 5)).toEqual([5, 4, 1, 3, 2]);
  });

  it("a request without a tenant belongs to the flow default-flow", () => {
    const q = new FlowQueue(fc(band("round-robin-fairness-policy")));
    q.enqueue(1, 0, 10, 0, "zulu");
    q.enqueue(2, 0, 10, 1, "zulu");
    q.enqueue(3, 0, 10, 2, undefined);
    // [default-flow, zulu]: default-flow first.
    expect(drain(q, 3)).toEqual([3, 1, 2]);
    expect(q.flowStats.map((f) => [f.fairnessId, f.enqueued, f.dispatched])).toEqual([
      ["zulu", 2, 2],
      ["default-flow", 1, 1],
    ]);
  });
});

describe("ordering inside a flow", () => {
  it("EDF: deadline = enqueue + the one default TTL, so FCFS order", () => {
    const q = new FlowQueue(fc(band("global-strict-fairness-policy", "edf-ordering-policy")));
    q.enqueue(1, 0, 10, 0, "b");
    q.enqueue(2, 0, 10, 1, "a");
    q.enqueue(3, 0, 10, 2, "b");
    expect(drain(q, 3)).toEqual([1, 2, 3]);
  });

  it("SLO-deadline: earliest received + x-llm-d-slo-ttft-ms; no header last, FCFS among those", () => {
    const q = new FlowQueue(fc(band("global-strict-fairness-policy", "slo-deadline-ordering-policy")));
    const INF = Number.POSITIVE_INFINITY;
    q.enqueue(1, 0, 10, 0, "a", 0 + 5); // deadline 5
    q.enqueue(2, 0, 10, 1, "b", 1 + 1); // 2
    q.enqueue(3, 0, 10, 2, "a", INF);
    q.enqueue(4, 0, 10, 3, "b", 3 + 1); // 4
    q.enqueue(5, 0, 10, 4, "a", INF);
    q.enqueue(6, 0, 10, 5, "a", 1 + 1); // 2 too, received later than 2
    expect(drain(q, 6)).toEqual([2, 6, 4, 1, 3, 5]);
    expect(q.size).toBe(0);
    expect(q.bytes).toBe(0);
  });

  it("SLO-deadline inside each flow, round-robin across flows", () => {
    const q = new FlowQueue(fc(band("round-robin-fairness-policy", "slo-deadline-ordering-policy")));
    q.enqueue(1, 0, 10, 0, "a", 10);
    q.enqueue(2, 0, 10, 1, "a", 3);
    q.enqueue(3, 0, 10, 2, "b", 9);
    q.enqueue(4, 0, 10, 3, "b", 4);
    expect(drain(q, 4)).toEqual([2, 4, 1, 3]);
  });

  it("the TTL sweep removes expired requests from heaps and per-flow queues alike", () => {
    const q = new FlowQueue(fc(band("round-robin-fairness-policy", "slo-deadline-ordering-policy")));
    q.enqueue(1, 0, 10, 0, "a", 10);
    q.enqueue(2, 0, 10, 1, "a", 3);
    q.enqueue(3, 0, 10, 2, "b", 9);
    q.enqueue(4, 0, 10, 3, "b", 4);
    const gone: number[] = [];
    q.expire(1, (id) => gone.push(id));
    expect(gone).toEqual([1, 2]);
    expect(q.size).toBe(2);
    expect(q.bytes).toBe(20);
    expect(drain(q, 4)).toEqual([4, 3]);
  });
});

describe("program-aware fairness (LAS)", () => {
  it("attained service: prompt + 2 × completion tokens, halving every lasHalfLifeSeconds", () => {
    const pa = new ProgramAwareFairness("pa", programAwareParams.parse({}));
    pa.dispatched("a", 0, 0);
    pa.completed("a", 100, 50, 5); // 100 + 2·50 = 200 at t = 5
    expect(pa.service("a", 5)).toBe(200);
    expect(pa.service("a", 65)).toBeCloseTo(100, 9); // one half-life later
    expect(pa.service("a", 125)).toBeCloseTo(50, 9);
  });

  it("score = wS·(1 − norm service) + wW·norm head wait: an underserved flow can lose to a long wait", () => {
    // Weights 0.5 / 0.5, no decay. Services a 0, b 100, c 200; head waits a 0 ms, b 2000 ms, c 2000 ms:
    // a 0.5·1 + 0.5·0 = 0.5; b 0.5·0.5 + 0.5·1 = 0.75; c 0 + 0.5 = 0.5 → b.
    const p = { type: "program-aware-fairness", parameters: { lasWeightService: 0.5, lasWeightHeadWait: 0.5 } };
    const q = new FlowQueue(fc(band({ ...p, parameters: { ...p.parameters, lasHalfLifeSeconds: 0 } })));
    const pa = q.programAware.get("program-aware-fairness")!;
    for (const [id, svc] of [
      ["b", 100],
      ["c", 100],
    ] as const) {
      pa.dispatched(id, -1, 0);
      pa.completed(id, svc, 0, 0);
    }
    pa.dispatched("c", -1, 0);
    pa.completed("c", 0, 50, 0); // c: 100 + 2·50 = 200
    q.enqueue(1, 0, 10, 1, "b");
    q.enqueue(2, 0, 10, 1, "c");
    q.enqueue(3, 0, 10, 3, "a");
    expect(q.pop(0, 3)).toBe(1);
    // Now b is empty. a: 0.5·1 + 0.5·0 = 0.5; c: 0 + 0.5·1 = 0.5: a tie, the smaller id (a) wins.
    expect(q.pop(0, 3)).toBe(3);
    expect(q.pop(0, 3)).toBe(2);
  });

  it("defaults (0.8 / 0.2): the least served program goes first whatever its head wait", () => {
    const q = new FlowQueue(fc(band("program-aware-fairness")));
    const pa = q.programAware.get("program-aware-fairness")!;
    pa.dispatched("heavy", -1, 0);
    pa.completed("heavy", 1000, 500, 0);
    for (let i = 0; i < 3; i++) q.enqueue(i, 0, 10, i * 0.1, "heavy");
    q.enqueue(10, 0, 10, 1, "light");
    // heavy: 0.8·0 + 0.2·1 = 0.2; light: 0.8·1 + 0.2·0 = 0.8.
    expect(q.pop(0, 1)).toBe(10);
    expect(q.pop(0, 1)).toBe(0);
  });

  it("an idle program's state is evicted by the first sweep past evictionTtlSeconds", () => {
    const pa = new ProgramAwareFairness(
      "pa",
      programAwareParams.parse({ lasHalfLifeSeconds: 0, evictionTtlSeconds: 10, evictionSweepSeconds: 5 }),
    );
    pa.dispatched("a", -1, 0.5);
    pa.completed("a", 300, 0, 1);
    // Sweeps at 5, 10, 15, …; evictable once t − 1 > 10: the sweep at 15.
    expect(pa.service("a", 11.5)).toBe(300);
    expect(pa.service("a", 14.9)).toBe(300);
    expect(pa.service("a", 15)).toBe(0);
  });

  it("a program with a request in flight is never evicted", () => {
    const pa = new ProgramAwareFairness(
      "pa",
      programAwareParams.parse({ lasHalfLifeSeconds: 0, evictionTtlSeconds: 10, evictionSweepSeconds: 5 }),
    );
    pa.dispatched("a", -1, 0);
    pa.dispatched("a", -1, 0);
    pa.completed("a", 300, 0, 1);
    expect(pa.service("a", 100)).toBe(300);
  });
});

describe("soft-reflective ceiling", () => {
  it("ceilings 1 − i·s/(n−1), gated bands open one call in round(s/(1−s))", () => {
    const u = new UsageLimit({ type: "soft-reflective-ceiling-policy" });
    const c = new Float64Array(3);
    // s = 0.3: band 1 ceiling 0.85, band 2 0.7: nothing gated (and the tick does not move).
    u.compute(0.3, 3, c);
    expect([...c]).toEqual([1, 1, 1]);
    // s = 0.65: band 1 ceiling 0.675 > 0.65 open; band 2 ceiling 0.35 ≤ 0.65 gated, period round(0.65/0.35) = 2.
    u.compute(0.65, 3, c); // tick 1: closed
    expect([...c]).toEqual([1, 1, 0]);
    u.compute(0.65, 3, c); // tick 2: open
    expect([...c]).toEqual([1, 1, 1]);
    u.compute(0.65, 3, c);
    expect([...c]).toEqual([1, 1, 0]);
    // s = 0.6: period round(0.6/(0.4 + 1e-9)) = round(1.4999…) = 1 (the real one's round-off guard): always open.
    u.compute(0.6, 3, c);
    expect([...c]).toEqual([1, 1, 1]);
    // s ≥ 1: every band below the top is shut.
    u.compute(1, 3, c);
    expect([...c]).toEqual([1, 0, 0]);
    // One band: never gated by the policy (ceiling 1).
    u.compute(0.9, 1, c);
    expect(c[0]).toBe(1);
  });

  it("the dispatch cycle stops at the first band whose ceiling saturation reached", () => {
    const q = new FlowQueue(fc({ usageLimitPolicy: { type: "soft-reflective-ceiling-policy" } }));
    q.enqueue(1, 1, 10, 0);
    q.enqueue(2, 0, 10, 0);
    q.enqueue(3, -1, 10, 0);
    // Bands [1, 0, −1], s = 0.8: band 0 ceiling 0.6, band −1 0.2: both gated, period round(0.8/0.2) = 4.
    expect(q.pop(0.8, 0)).toBe(1); // top band always open below 1 (tick 1)
    expect(q.pop(0.8, 0)).toBe(-1); // tick 2: closed, blocked at band 0
    expect(q.blockedAt).toBe(1);
    expect(q.pop(0.8, 0)).toBe(-1); // tick 3
    expect(q.pop(0.8, 0)).toBe(2); // tick 4: open
    // s = 0.5: band −1's ceiling 0.5 is reached, but the period is round(0.5/0.5) = 1: open on every call.
    expect(q.pop(0.5, 0)).toBe(3);
    expect(q.blockedAt).toBe(-1);
  });
});

describe("from an EndpointPickerConfig", () => {
  const cfg = (paParams: string) => `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
featureGates: [flowControl]
plugins:
- {type: queue-scorer}
- {type: round-robin-fairness-policy, name: rr}
- {type: slo-deadline-ordering-policy, name: slo}
- {type: program-aware-fairness, name: pa, parameters: ${paParams}}
- {type: soft-reflective-ceiling-policy, name: ceiling}
schedulingProfiles:
- name: default
  plugins: [{pluginRef: queue-scorer}]
flowControl:
  usageLimitPolicyPluginRef: ceiling
  defaultPriorityBand: {fairnessPolicyRef: rr, orderingPolicyRef: slo}
  priorityBands:
  - {priority: 1, fairnessPolicyRef: pa}
`;

  it("band policy refs name plugins; program-aware keeps its name and parameters", () => {
    const s = flowControlFromEpp(loadEppConfig(cfg("{lasHalfLifeSeconds: 0}"), "fc.yaml"))!;
    expect(s.defaultBand.fairness).toEqual({ type: "round-robin-fairness-policy" });
    expect(s.defaultBand.ordering).toBe("slo-deadline-ordering-policy");
    const b1 = s.bands.get(1)!;
    expect(b1.fairness.type).toBe("program-aware-fairness");
    expect(b1.fairness.programAware?.name).toBe("pa");
    expect(b1.fairness.programAware?.params).toMatchObject({ lasHalfLifeSeconds: 0, lasWeightService: 0.8 });
    expect(b1.ordering).toBe("fcfs-ordering-policy"); // a listed band without an ordering ref: the system default
    expect(s.usageLimit).toEqual({ type: "soft-reflective-ceiling-policy" });
    expect(s.threshold).toBe(1);
    expect(s.perFlow).toBe(true);
  });

  it("program-aware parameters are validated as the real factory does, naming the plugin", () => {
    expect(() => loadEppConfig(cfg("{strategy: wfq}"), "fc.yaml")).toThrow(
      /fc\.yaml:\d+: plugins\.3\.parameters.*"pa".*only "las" is supported/,
    );
    expect(() => loadEppConfig(cfg("{evictionSweepSeconds: 0}"), "fc.yaml")).toThrow(
      /evictionSweepSeconds must be > 0/,
    );
  });
});

describe("soft-reflective ceiling in the engine", () => {
  it("a gated band waits for the open dispatch cycle (1 ms ticks), the static limit dispatches at once", () => {
    const p = (r: Request, priority: number): Request => ({ ...r, priority });
    // Three long critical requests fill 3 of maxConcurrency 4 (saturation 0.75); then a standard one arrives.
    const reqs = [p(req(0, 0, 100, 2000), 1), p(req(1, 0.0001, 100, 2000), 1), p(req(2, 0.0002, 100, 2000), 1)];
    reqs.push(p(req(3, 0.01, 100, 5), 0));
    const run = (usageLimitPolicy: unknown) =>
      simulate([pool(toyCost())], listSource(reqs), new RoundRobinRouter(), {
        ...opts,
        admission: {
          flowControl: fc({
            saturationDetector: { type: "concurrency-detector", parameters: { maxConcurrency: 4 } },
            usageLimitPolicy,
          }),
        },
      }).records;
    // Bands [1, 0]: band 0's ceiling 1 − 0.75 = 0.25 is reached; period round(0.75/0.25) = 3: closed on cycles 1
    // (the enqueue, t = 10 ms) and 2 (11 ms), open on cycle 3 (12 ms).
    const soft = run({ type: "soft-reflective-ceiling-policy" });
    expect(soft.dispatch[3]).toBeCloseTo(0.012, 12);
    expect(soft.gatewayWait[3]).toBeCloseTo(0.002, 12);
    const stat = run({ type: "static-usage-limit-policy" });
    expect(stat.dispatch[3]).toBeCloseTo(0.01, 12);
  });
});

describe("per-tenant fairness in the engine", () => {
  const tenant = (r: Request, t: string): Request => ({ ...r, tenant: t });
  // One request in flight at a time. heavy sends 6 requests in the first 5 ms, light 2 right after.
  const reqs = [
    ...[0, 1, 2, 3, 4, 5].map((i) => tenant(req(i, i * 0.001, 100, 5), "heavy")),
    tenant(req(6, 0.006, 100, 5), "light"),
    tenant(req(7, 0.007, 100, 5), "light"),
  ];
  const order = (fairness: string) => {
    const res = simulate([pool(toyCost())], listSource(reqs), new RoundRobinRouter(), {
      ...opts,
      admission: { flowControl: fc(band(fairness)) },
    });
    for (let i = 0; i < reqs.length; i++) expect(res.records.outcome[i]).toBe(Outcome.Completed);
    const ids = reqs.map((r) => r.id).sort((a, b) => res.records.dispatch[a]! - res.records.dispatch[b]!);
    return { ids, res };
  };

  it("global-strict: light waits behind the whole heavy burst", () => {
    expect(order("global-strict-fairness-policy").ids).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it("round-robin: light's requests alternate with heavy's; per-flow counters in the summary", () => {
    const { ids, res } = order("round-robin-fairness-policy");
    // 0 dispatches at once (cursor = heavy); then light, heavy, light, heavy ×3.
    expect(ids).toEqual([0, 6, 1, 7, 2, 3, 4, 5]);
    const flows = summarize(res).gateway.flows!;
    expect(Object.keys(flows)).toEqual(["heavy:0", "light:0"]);
    expect(flows["heavy:0"]).toMatchObject({ enqueued: 6, dispatched: 6, expired: 0 });
    expect(flows["light:0"]).toMatchObject({ enqueued: 2, dispatched: 2, expired: 0 });
    expect(flows["light:0"]!.wait_mean_ms).toBeLessThan(flows["heavy:0"]!.wait_mean_ms);
  });
});

describe("SLO-deadline ordering in the engine: the client's x-llm-d-slo-ttft-ms is its class's ttft_ms", () => {
  it("an interactive request (ttft_ms 100) overtakes earlier batch requests (no header)", () => {
    const cls = (r: Request, c: string): Request => ({ ...r, sloClass: c });
    const reqs = [
      cls(req(0, 0, 100, 20), "batch"), // in flight: everything else waits
      cls(req(1, 0.001, 100, 5), "batch"),
      cls(req(2, 0.002, 100, 5), "batch"),
      cls(req(3, 0.003, 100, 5), "interactive"), // deadline 0.003 + 0.1
      cls(req(4, 0.004, 100, 5), "interactive"), // deadline 0.104
    ];
    const run = (ordering: string) => {
      const res = simulate([pool(toyCost())], listSource(reqs), new RoundRobinRouter(), {
        ...opts,
        admission: {
          flowControl: fc(band("global-strict-fairness-policy", ordering)),
          ttftTargetsMs: { interactive: 100 },
        },
      });
      return reqs.map((r) => r.id).sort((a, b) => res.records.dispatch[a]! - res.records.dispatch[b]!);
    };
    expect(run("slo-deadline-ordering-policy")).toEqual([0, 3, 4, 1, 2]);
    expect(run("fcfs-ordering-policy")).toEqual([0, 1, 2, 3, 4]);
  });

  it("a scenario's slos.classes give the headers when a band orders by SLO deadline", () => {
    const text = `
pools: [{model: llama-3.1-8b-instruct, replicas: 1}]
gateway:
  flow_control: {defaultPriorityBand: {orderingPolicyRef: slo-deadline-ordering-policy}}
workload: {type: poisson, rate: 1, input: 100, output: 10, slo_class: interactive}
requests: 5
slos: {classes: {interactive: {ttft_ms: 250.7}, batch: {e2e_ms: 9000}}}
`;
    const loaded = parseScenario(text, "s.yaml", ".");
    const o = admissionSimOptions(loaded.scenario, { name: "x", route: () => ({ replica: 0 }) });
    expect(o.admission?.ttftTargetsMs).toEqual({ interactive: 250.7 });
    expect(runScenario(loaded).summary.requests.completed).toBe(5);
  });
});

describe("scenarios/spike-fairness.yaml: one tenant bursts to ~1.5× capacity", () => {
  const path = resolve(import.meta.dirname, "../scenarios/spike-fairness.yaml");
  const text = readFileSync(path, "utf8");
  const run = (fairness: string) => {
    const t = text.replace("fairnessPolicyRef: round-robin-fairness-policy", `fairnessPolicyRef: ${fairness}`);
    return runScenario(parseScenario(t, path, dirname(path))).summary;
  };
  const rr = run("round-robin-fairness-policy");
  const gs = run("global-strict-fairness-policy");

  it("round-robin keeps the quiet tenant's TTFT within its SLO; global-strict makes it wait behind the burst", () => {
    expect(rr.tenants.acme!.ttft_ms.p95).toBeLessThan(1000);
    expect(rr.tenants.acme!.goodput!.fraction).toBe(1);
    expect(gs.tenants.acme!.ttft_ms.p95).toBeGreaterThan(10_000);
    // Everything completes either way: the burst is absorbed by the queue, and the bursting tenant pays for it.
    for (const s of [rr, gs]) expect(s.requests.completed).toBe(s.requests.total);
    expect(rr.tenants.noisy!.ttft_ms.p95).toBeGreaterThan(gs.tenants.noisy!.ttft_ms.p95);
  });

  it("per-flow counters: one flow per tenant, every request through the queue", () => {
    const flows = rr.gateway.flows!;
    expect(Object.keys(flows)).toEqual(["acme:0", "noisy:0"]);
    expect(flows["acme:0"]!.enqueued).toBe(rr.tenants.acme!.requests.total);
    expect(flows["noisy:0"]!.dispatched).toBe(rr.tenants.noisy!.requests.total);
    expect(flows["acme:0"]!.wait_max_ms).toBeLessThan(1000);
    expect(gs.gateway.flows).toBeUndefined(); // global-strict keeps no per-flow queues
  });
});
