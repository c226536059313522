import { resolve } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type SimResult, simulate } from "../src/cluster/engine.ts";
import { runScenario } from "../src/lab/run.ts";
import { summarize } from "../src/metrics/summary.ts";
import { retryDelay } from "../src/policies/flow-control/clients.ts";
import { FlowControlSchema, QuotasSchema, RetryPolicySchema } from "../src/policies/flow-control/schema.ts";
import { flowControlFromScenario } from "../src/policies/flow-control/settings.ts";
import { LeastRequestRouter } from "../src/policies/routers/least-request.ts";
import { RoundRobinRouter } from "../src/policies/routers/round-robin.ts";
import { loadScenario } from "../src/scenario.ts";
import { DropReason } from "../src/sim/outcomes.ts";
import { Outcome, type Request, type RequestSource } from "../src/sim/request.ts";
import { rngStream } from "../src/sim/rng.ts";
import { listSource, pool, req, toyCost } from "./helpers/sim.ts";

const SCEN = (f: string) => resolve(import.meta.dirname, "../scenarios", f);
const opts = { seed: 9, scrapeIntervalS: 0.05, kvEventDelayS: 0, sampleIntervalS: 1, checkInvariants: true };

describe("retry delays", () => {
  const rng = rngStream(1, "retry-jitter");
  it("exponential backoff with a cap, Retry-After honoured, retry limit and statuses", () => {
    const p = RetryPolicySchema.parse({ max_retries: 4, backoff_s: 0.5, multiplier: 2, max_backoff_s: 3 });
    expect([1, 2, 3, 4].map((k) => retryDelay(p, k, 429, -1, rng))).toEqual([0.5, 1, 2, 3]);
    expect(retryDelay(p, 5, 429, -1, rng)).toBe(-1);
    expect(retryDelay(p, 1, 429, 2, rng)).toBe(2);
    expect(retryDelay(p, 1, 403, -1, rng)).toBe(-1);
    const rude = RetryPolicySchema.parse({ max_retries: 4, backoff_s: 0.5, honor_retry_after: false });
    expect(retryDelay(rude, 1, 429, 2, rng)).toBe(0.5);
    expect(retryDelay(undefined, 1, 429, -1, rng)).toBe(-1);
  });
  it("jitter draws uniformly in [d(1 − j), d(1 + j)]", () => {
    const p = RetryPolicySchema.parse({ backoff_s: 1, multiplier: 1, jitter: 0.5, max_retries: 10 });
    const ds = Array.from({ length: 2000 }, () => retryDelay(p, 1, 503, -1, rng));
    expect(Math.min(...ds)).toBeGreaterThanOrEqual(0.5);
    expect(Math.max(...ds)).toBeLessThanOrEqual(1.5);
    const mean = ds.reduce((a, b) => a + b, 0) / ds.length;
    expect(mean).toBeGreaterThan(0.97);
    expect(mean).toBeLessThan(1.03);
  });
});

describe("a retry keeps its first arrival", () => {
  it("TTFT counts from the first attempt; attempts are counted", () => {
    // Saturated after one request in flight; the sheddable band holds nothing: r1 is refused until r0 is done.
    const flowControl = flowControlFromScenario(
      FlowControlSchema.parse({
        saturationDetector: { type: "concurrency-detector", parameters: { maxConcurrency: 1 } },
        defaultNegativePriorityBand: { maxRequests: 1 },
        retryAfter: 0.3,
      }),
    );
    const reqs: Request[] = [
      { ...req(0, 0, 100, 100), priority: -1 },
      { ...req(1, 0.001, 100, 5), priority: -1 },
      { ...req(2, 0.002, 100, 5), priority: -1 },
    ];
    const res = simulate([pool(toyCost())], listSource(reqs), new RoundRobinRouter(), {
      ...opts,
      admission: { flowControl, clients: { default: RetryPolicySchema.parse({ max_retries: 20, backoff_s: 0.1 }) } },
    });
    const r = res.records;
    expect(r.outcome[2]).toBe(Outcome.Completed);
    expect(r.attempts[2]).toBeGreaterThan(1);
    expect(r.arrival[2]).toBe(0.002);
    // Refused at 0.002, retried no sooner than Retry-After (0.3 s) later.
    expect(r.firstToken[2]! - r.arrival[2]!).toBeGreaterThan(0.3);
    expect(res.gateway.retries).toBe(r.attempts[2]! - 1 + (r.attempts[1]! - 1));
  });
});

describe("conservation across retries (fast-check, fixed seed)", () => {
  const workload = fc.record({
    n: fc.integer({ min: 1, max: 40 }),
    replicas: fc.integer({ min: 1, max: 2 }),
    maxConc: fc.integer({ min: 1, max: 4 }),
    band: fc.integer({ min: 1, max: 5 }),
    ttl: fc.constantFrom(0, 0.5, 2),
    retries: fc.integer({ min: 0, max: 6 }),
    backoff: fc.constantFrom(0, 0.05, 0.3),
    quota: fc.boolean(),
    enabled: fc.boolean(),
    gaps: fc.array(fc.integer({ min: 0, max: 80 }), { minLength: 40, maxLength: 40 }),
    prios: fc.array(fc.integer({ min: -1, max: 1 }), { minLength: 40, maxLength: 40 }),
    outputs: fc.array(fc.integer({ min: 1, max: 80 }), { minLength: 40, maxLength: 40 }),
    followUps: fc.boolean(),
  });
  it("every request ends exactly once (completed, or dropped with its status and cause); attempts add up", () => {
    fc.assert(
      fc.property(workload, (w) => {
        const reqs: Request[] = [];
        let t = 0;
        for (let i = 0; i < w.n; i++) {
          t += w.gaps[i]! / 1000;
          reqs.push({ ...req(i, t, 64 + i, w.outputs[i]!), priority: w.prios[i]!, tenant: i % 2 ? "a" : "b" });
        }
        const finished = new Map<number, number>();
        let next = w.n;
        const base = listSource(reqs);
        const source: RequestSource = {
          next: base.next,
          onFinish(r, now) {
            finished.set(r.id, (finished.get(r.id) ?? 0) + 1);
            if (w.followUps && r.id < w.n && r.id % 4 === 0)
              return [{ ...req(next++, now + 0.01, 50, 5), priority: 0 }];
            return undefined;
          },
        };
        const flowControl = flowControlFromScenario(
          FlowControlSchema.parse({
            enabled: w.enabled,
            saturationDetector: { type: "concurrency-detector", parameters: { maxConcurrency: w.maxConc } },
            defaultNegativePriorityBand: { maxRequests: w.band },
            defaultRequestTTL: w.ttl,
            retryAfter: 0.1,
          }),
        );
        const res: SimResult = simulate(
          [pool(toyCost(), { replicas: w.replicas }, { maxNumSeqs: 2 })],
          source,
          new LeastRequestRouter(),
          {
            ...opts,
            admission: {
              flowControl,
              clients: { default: RetryPolicySchema.parse({ max_retries: w.retries, backoff_s: w.backoff }) },
              ...(w.quota
                ? { quotas: QuotasSchema.parse({ tenants: { a: { requests_per_s: 20, burst_requests: 3 } } }) }
                : {}),
            },
          },
        );
        const rec = res.records;
        expect(rec.size).toBe(next);
        let attempts = 0;
        for (let i = 0; i < rec.size; i++) {
          expect(finished.get(i)).toBe(1);
          const o = rec.outcome[i];
          expect(o === Outcome.Completed || o === Outcome.Dropped).toBe(true);
          if (o === Outcome.Dropped) {
            expect([429, 503, 403]).toContain(rec.status[i]);
            expect(rec.dropReason[i]).not.toBe(DropReason.None);
          } else expect(rec.dropReason[i]).toBe(DropReason.None);
          expect(rec.attempts[i]).toBeGreaterThanOrEqual(1);
          expect(rec.attempts[i]).toBeLessThanOrEqual(1 + w.retries);
          attempts += rec.attempts[i]!;
        }
        const g = res.gateway;
        expect(g.attempts).toBe(attempts);
        expect(g.retries).toBe(attempts - rec.size);
        const refused = Object.values(g.refusals).reduce((a, b) => a + b, 0);
        // Every refused attempt was either retried or ended its request.
        expect(refused).toBe(g.retries + g.gave_up);
        const s = summarize(res);
        const dropped = Object.values(s.outcomes.dropped_by_status).reduce((a, b) => a + b, 0);
        expect(s.outcomes.completed + dropped).toBe(rec.size);
        expect(dropped).toBe(g.gave_up);
        // The series counts every attempt once.
        expect(res.series.attempts.reduce((a, b) => a + b, 0)).toBe(attempts);
        for (const r of res.replicas) expect(r.kv.usedBlocks).toBe(0);
      }),
      { seed: 424242, numRuns: 150 },
    );
  });
});

describe("retry storm after a spike", () => {
  const run = (f: string) => runScenario(loadScenario(SCEN(f)));
  const aggressive = run("spike-retry-aggressive.yaml");
  const polite = run("spike-retry-backoff.yaml");
  const SPIKE_END = 90;
  const TRAFFIC_END = 150;

  /** Attempts and first arrivals in sample windows ending in (SPIKE_END, TRAFFIC_END]. */
  function afterSpike(out: ReturnType<typeof run>) {
    const se = out.result.series;
    let attempts = 0;
    for (let i = 0; i < se.time.length; i++) {
      if (se.time[i]! > SPIKE_END && se.time[i]! <= TRAFFIC_END) attempts += se.attempts[i]!;
    }
    const rec = out.result.records;
    let arrivals = 0;
    for (let i = 0; i < rec.size; i++) if (rec.arrival[i]! >= SPIKE_END && rec.arrival[i]! < TRAFFIC_END) arrivals++;
    return { attempts, arrivals };
  }

  /** Seconds after the spike until the gateway has neither queued nor refused anything for the rest of the run. */
  function recovery(out: ReturnType<typeof run>): number {
    const se = out.result.series;
    let last = SPIKE_END;
    for (let i = 0; i < se.time.length; i++) {
      if (se.time[i]! > SPIKE_END && (se.shed[i]! > 0 || se.gatewayQueue[i]! > 0)) last = se.time[i]!;
    }
    return last - SPIKE_END;
  }

  it("aggressive clients: offered load after the spike exceeds the original traffic", () => {
    const a = afterSpike(aggressive);
    expect(a.attempts).toBeGreaterThan(2 * a.arrivals);
    const p = afterSpike(polite);
    expect(a.attempts).toBeGreaterThan(p.attempts);
    // The same first arrivals in both runs (common random numbers).
    expect(p.arrivals).toBe(a.arrivals);
  });

  it("recovery takes longer than with backoff and jitter", () => {
    const ra = recovery(aggressive);
    const rp = recovery(polite);
    expect(rp).toBeGreaterThan(0);
    expect(ra).toBeGreaterThan(rp + 15);
  });

  it("the retries and refusals are in the series for plots, and the totals agree", () => {
    for (const out of [aggressive, polite]) {
      const se = out.result.series;
      const g = out.summary.gateway;
      expect(se.retries.reduce((a, b) => a + b, 0)).toBe(g.retries);
      expect(se.shed.reduce((a, b) => a + b, 0)).toBe(Object.values(g.refusals).reduce((a, b) => a + b, 0));
      expect(se.completed.reduce((a, b) => a + b, 0)).toBe(out.summary.requests.completed);
    }
  });
});
