import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { simulate } from "../src/cluster/engine.ts";
import { runScenario } from "../src/lab/run.ts";
import { summarize } from "../src/metrics/summary.ts";
import { loadEppConfig } from "../src/policies/epp/config.ts";
import { admissionSimOptions } from "../src/policies/flow-control/options.ts";
import { EnqueueResult, FlowQueue } from "../src/policies/flow-control/queue.ts";
import { flowControlFromEpp } from "../src/policies/flow-control/settings.ts";
import { RoundRobinRouter } from "../src/policies/routers/round-robin.ts";
import { loadScenario, parseScenario } from "../src/scenario.ts";
import { DropReason } from "../src/sim/outcomes.ts";
import { Outcome, type Request } from "../src/sim/request.ts";
import { fc, flowOpts } from "./helpers/flow-control.ts";
import { listSource, pool, req, toyCost } from "./helpers/sim.ts";

const SCEN = (f: string) => resolve(import.meta.dirname, "../scenarios", f);
const opts = flowOpts;

const prio = (r: Request, priority: number, extra: Partial<Request> = {}): Request => ({ ...r, priority, ...extra });

describe("FlowQueue (EPP flow-control queue)", () => {
  it("strict priority across bands, FCFS inside a band", () => {
    const q = new FlowQueue(fc());
    q.enqueue(1, 0, 10, 0);
    q.enqueue(2, -1, 10, 1);
    q.enqueue(3, 0, 10, 2);
    q.enqueue(4, 5, 10, 3);
    q.enqueue(5, -1, 10, 4);
    const order = [q.pop(), q.pop(), q.pop(), q.pop(), q.pop(), q.pop()];
    expect(order).toEqual([4, 1, 3, 2, 5, -1]);
    expect(q.size).toBe(0);
    expect(q.bytes).toBe(0);
    expect(q.peak).toBe(5);
  });

  it("caps requests and bytes per band and globally; expires by enqueue time", () => {
    const q = new FlowQueue(
      fc({
        maxRequests: 4,
        defaultNegativePriorityBand: { maxRequests: 2 },
        priorityBands: [{ priority: 1, maxBytes: "1k" }],
      }),
    );
    expect(q.enqueue(1, -1, 10, 0)).toBe(EnqueueResult.Ok);
    expect(q.enqueue(2, -1, 10, 0)).toBe(EnqueueResult.Ok);
    expect(q.enqueue(3, -1, 10, 0)).toBe(EnqueueResult.BandFull);
    expect(q.enqueue(4, 1, 600, 0)).toBe(EnqueueResult.Ok);
    expect(q.enqueue(5, 1, 600, 0)).toBe(EnqueueResult.BandFull); // 1,200 B > 1k
    expect(q.enqueue(6, 0, 10, 1)).toBe(EnqueueResult.Ok);
    expect(q.enqueue(7, 0, 10, 2)).toBe(EnqueueResult.GlobalFull); // 5 > maxRequests 4
    const gone: number[] = [];
    q.expire(0.5, (id) => gone.push(id));
    expect(gone.sort()).toEqual([1, 2, 4]);
    expect(q.size).toBe(1);
  });
});

describe("flow control in the engine", () => {
  it("holds requests while saturated and releases the highest band first", () => {
    const reqs = [
      prio(req(0, 0, 100, 20), 0),
      prio(req(1, 0.001, 100, 5), 0),
      prio(req(2, 0.002, 100, 5), -1),
      prio(req(3, 0.003, 100, 5), 1),
    ];
    const res = simulate([pool(toyCost())], listSource(reqs), new RoundRobinRouter(), {
      ...opts,
      admission: { flowControl: fc() },
    });
    const r = res.records;
    for (let i = 0; i < 4; i++) expect(r.outcome[i]).toBe(Outcome.Completed);
    // One in flight at a time: r3 (critical) overtakes r1 (standard), which goes before r2 (sheddable).
    expect(r.dispatch[3]!).toBeGreaterThanOrEqual(r.completion[0]! - 1e-12);
    expect(r.dispatch[3]!).toBeLessThan(r.dispatch[1]!);
    expect(r.dispatch[1]!).toBeLessThan(r.dispatch[2]!);
    expect(r.gatewayWait[1]!).toBeCloseTo(r.dispatch[1]! - 0.001, 12);
    expect(res.gateway.queued).toBe(4);
    expect(res.gateway.dispatched).toBe(4);
    expect(res.gateway.queue_peak).toBe(3);
  });

  it("band cap → 429 (shed); TTL → 429 (timed out); unknown model → 503", () => {
    const reqs = [
      prio(req(0, 0, 100, 2000), 0), // runs ~2 s: everything else waits
      prio(req(1, 0.001, 100, 5), -1),
      prio(req(2, 0.002, 100, 5), -1), // sheddable band holds 1
      prio(req(3, 0.003, 100, 5), 0, { model: "nope" }),
    ];
    const res = simulate([pool(toyCost())], listSource(reqs), new RoundRobinRouter(), {
      ...opts,
      admission: { flowControl: fc({ defaultNegativePriorityBand: { maxRequests: 1 }, defaultRequestTTL: "1s" }) },
    });
    const r = res.records;
    expect(r.outcome[0]).toBe(Outcome.Completed);
    expect([r.outcome[2], r.status[2], r.dropReason[2]]).toEqual([Outcome.Dropped, 429, DropReason.Shed]);
    expect([r.outcome[1], r.status[1], r.dropReason[1]]).toEqual([Outcome.Dropped, 429, DropReason.TimedOut]);
    // The sweep runs 1 s after the first enqueue: r1 had waited ≥ 1 s.
    expect(r.gatewayWait[1]!).toBeGreaterThanOrEqual(1 - 1e-12);
    expect([r.outcome[3], r.status[3], r.dropReason[3]]).toEqual([Outcome.Dropped, 503, DropReason.NoEndpoints]);
    const s = summarize(res);
    expect(s.outcomes.dropped_by_status).toEqual({ 429: 2, 503: 1 });
    expect(s.outcomes.dropped_by_cause).toEqual({ shed: 1, timed_out: 1, no_endpoints: 1 });
    expect(s.gateway.refusals).toEqual({ 429: 2, 503: 1 });
  });

  it("flow control off (enabled: false) is the EPP's legacy admission: only sheddable requests are refused", () => {
    const reqs = [prio(req(0, 0, 100, 50), 0), prio(req(1, 0.01, 100, 5), -1), prio(req(2, 0.02, 100, 5), 0)];
    const res = simulate([pool(toyCost())], listSource(reqs), new RoundRobinRouter(), {
      ...opts,
      admission: { flowControl: fc({ enabled: false }) },
    });
    const r = res.records;
    expect([r.status[1], r.dropReason[1]]).toEqual([429, DropReason.Saturated]);
    expect(r.outcome[2]).toBe(Outcome.Completed);
    expect(r.dispatch[2]).toBeCloseTo(0.02, 12); // not held: it queues at the replica
    expect(res.gateway.queued).toBe(0);
  });
});

describe("configuration", () => {
  it("reads the flowControl section of an EndpointPickerConfig with featureGates: [flowControl]", () => {
    const text = readFileSync(SCEN("epp/flow-control.yaml"), "utf8");
    const s = flowControlFromEpp(loadEppConfig(text, "flow-control.yaml"))!;
    expect(s.enabled).toBe(true);
    expect(s.maxBytes).toBe(10 * 2 ** 30);
    expect(s.ttlS).toBe(60);
    const dflt = { fairness: { type: "global-strict-fairness-policy" }, ordering: "fcfs-ordering-policy" };
    expect(s.defaultBand).toEqual({ maxBytes: 10 * 2 ** 30, maxRequests: 5000, ...dflt });
    expect(s.bands.get(100)).toEqual({ maxBytes: 5 * 2 ** 30, maxRequests: 500, ...dflt });
    expect(s.perFlow).toBe(false);
    expect(s.threshold).toBe(1);
    expect(s.detector.type).toBe("utilization-detector");
    // Without the feature gate the section is not honoured (as the EPP).
    const noGate = text.replace('featureGates: ["flowControl"]', "featureGates: []");
    expect(flowControlFromEpp(loadEppConfig(noGate, "x.yaml"))).toBeUndefined();
  });

  it("a scenario routing with that EPP config gets its flow control", () => {
    const text = `
pools: [{model: llama-3.1-8b-instruct, replicas: 1}]
gateway: {epp_config: epp/flow-control.yaml}
workload: {type: poisson, rate: 1, input: 100, output: 10}
requests: 5
`;
    const loaded = parseScenario(text, "s.yaml", resolve(import.meta.dirname, "../scenarios"));
    const out = runScenario(loaded);
    expect(out.summary.gateway.queued).toBe(5);
    const o = admissionSimOptions(loaded.scenario, { name: "x", route: () => ({ replica: 0 }) });
    expect(o.admission).toBeUndefined(); // a router that is not the EPP: no flow control from it
  });

  const err = (gw: string) => {
    const text = `
pools: [{model: llama-3.1-8b-instruct, replicas: 1}]
gateway:
  flow_control: ${gw}
workload: {type: poisson, rate: 1, input: 100, output: 10}
requests: 5
`;
    try {
      runScenario(parseScenario(text, "s.yaml", "."));
    } catch (e) {
      return (e as Error).message;
    }
    return "no error";
  };
  it("bad flow-control settings get a clear error naming the field", () => {
    expect(err(`{maxBytes: 10Gx}`)).toMatch(
      /s\.yaml:4: gateway\.flow_control\.maxBytes: expected a non-negative quantity/,
    );
    expect(err(`{defaultRequestTTL: soon}`)).toMatch(/gateway\.flow_control\.defaultRequestTTL: expected a duration/);
    expect(err(`{priorityBands: [{priority: 1, orderingPolicyRef: lifo-ordering-policy}]}`)).toMatch(
      /gateway\.flow_control\.priorityBands\.0\.orderingPolicyRef: ordering policy "lifo-ordering-policy" is not simulated; accepted: fcfs-ordering-policy, edf-ordering-policy, slo-deadline-ordering-policy/,
    );
    expect(err(`{priorityBands: [{priority: 1, orderingPolicyRef: edf-ordering-policy}]}`)).toBe("no error");
    expect(
      err(`{defaultPriorityBand: {fairnessPolicyRef: {type: program-aware-fairness, parameters: {strategy: wfq}}}}`),
    ).toMatch(/defaultPriorityBand\.fairnessPolicyRef.*only "las" is supported/);
    expect(err(`{usageLimitPolicy: {type: soft-reflective-ceiling-policy, parameters: {k: 1}}}`)).toMatch(
      /gateway\.flow_control\.usageLimitPolicy\.parameters/,
    );
    expect(err(`{maxQueue: 5}`)).toMatch(/gateway\.flow_control\.maxQueue: unknown field "maxQueue"/);
    expect(err(`{saturationDetector: {type: utilization-detector, parameters: {queueDepthThreshold: -1}}}`)).toMatch(
      /gateway\.flow_control\.saturationDetector\.parameters\.queueDepthThreshold/,
    );
    expect(err(`{priorityBands: [{priority: 1}, {priority: 1}]}`)).toMatch(
      /gateway\.flow_control\.priorityBands\.1\.priority: duplicate band for priority 1/,
    );
    expect(err(`{enableEviction: true}`)).toMatch(/gateway\.flow_control\.enableEviction: .*not simulated/);
  });
});

describe("spike to ~4× capacity for 30 s", () => {
  const on = runScenario(loadScenario(SCEN("spike-flow-control.yaml"))).summary;
  const off = runScenario(loadScenario(SCEN("spike-no-flow-control.yaml"))).summary;

  it("with flow control, critical requests keep TTFT p95 within their SLO; sheddable ones are shed with 429", () => {
    const crit = on.classes.interactive!;
    expect(crit.slo.ttft_p95_ms!.target).toBe(1000);
    expect(crit.ttft_ms.p95).toBeLessThan(1000);
    expect(crit.slo.ttft_p95_ms!.ok).toBe(true);
    expect(crit.requests.completed).toBe(crit.requests.total);
    const shed = on.classes.batch!;
    expect(shed.outcomes.dropped_by_status["429"]).toBeGreaterThan(0.3 * shed.requests.total);
    expect(shed.outcomes.dropped_by_cause.shed).toBeGreaterThan(0);
    // Only sheddable traffic is refused at the door (standard requests wait in their band).
    expect(on.classes.interactive!.outcomes.dropped_by_status).toEqual({});
  });

  it("without it, the p95 TTFT of every class degrades", () => {
    for (const c of ["interactive", "standard", "batch"]) {
      expect(off.classes[c]!.ttft_ms.p95).toBeGreaterThan(on.classes[c]!.ttft_ms.p95);
      expect(off.classes[c]!.ttft_ms.p95).toBeGreaterThan(10_000);
    }
    expect(off.classes.interactive!.slo.ttft_p95_ms!.ok).toBe(false);
    expect(off.outcomes.completed).toBe(off.requests.total);
  });
});
