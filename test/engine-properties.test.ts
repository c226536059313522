import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { simulate } from "../src/cluster/engine.ts";
import { summarize } from "../src/metrics/summary.ts";
import { LeastRequestRouter } from "../src/policies/routers/least-request.ts";
import { RoundRobinRouter } from "../src/policies/routers/round-robin.ts";
import { Outcome, type Request, type RequestSource } from "../src/sim/request.ts";
import { listSource, pool, req, toyCost } from "./helpers/sim.ts";

const opts = { seed: 7, scrapeIntervalS: 0.05, kvEventDelayS: 0, sampleIntervalS: 1, checkInvariants: true };

describe("preemption", () => {
  it("happens when blocks run out, and every preempted request still completes", () => {
    // 6 requests of 200 prompt + 300 output tokens need 32 blocks each at the end; 100 blocks hold 3 of them.
    const reqs = Array.from({ length: 6 }, (_, i) => req(i, 0, 200, 300));
    const res = simulate([pool(toyCost(), {}, { numGpuBlocks: 100 })], listSource(reqs), new RoundRobinRouter(), opts);
    const s = summarize(res);
    expect(s.preemptions).toBeGreaterThan(0);
    expect(s.requests.completed).toBe(6);
    for (let i = 0; i < 6; i++) expect(res.records.output[i]).toBe(300);
    expect(s.recomputed_tokens).toBeGreaterThan(0);
    expect(res.replicas[0]!.kv.usedBlocks).toBe(0);
  });

  it("rejects a request that can never fit instead of livelocking", () => {
    const res = simulate(
      [pool(toyCost(), {}, { numGpuBlocks: 10 })],
      listSource([req(0, 0, 100, 200), req(1, 0, 50, 10)]),
      new RoundRobinRouter(),
      opts,
    );
    expect(res.records.outcome[0]).toBe(Outcome.Rejected);
    expect(res.records.outcome[1]).toBe(Outcome.Completed);
    expect([...res.rejectReasons.keys()][0]).toMatch(/need 19 KV blocks, the cache has 10/);
  });
});

/** Random workloads: shared prefixes, small caches (preemption), several replicas, closed-loop follow-ups. */
const workload = fc.record({
  n: fc.integer({ min: 1, max: 40 }),
  replicas: fc.integer({ min: 1, max: 3 }),
  blocks: fc.integer({ min: 40, max: 400 }),
  maxSeqs: fc.integer({ min: 1, max: 8 }),
  budget: fc.integer({ min: 16, max: 512 }),
  gaps: fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 40, maxLength: 40 }),
  inputs: fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 40, maxLength: 40 }),
  outputs: fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 40, maxLength: 40 }),
  prefix: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 40, maxLength: 40 }),
  followUps: fc.boolean(),
});

type W = typeof workload extends fc.Arbitrary<infer T> ? T : never;

function build(w: W) {
  const reqs: Request[] = [];
  let t = 0;
  for (let i = 0; i < w.n; i++) {
    t += w.gaps[i]! / 1000;
    const p = w.prefix[i]!;
    const input = w.inputs[i]!;
    reqs.push(req(i, t, input, w.outputs[i]!, p > 0 && input > 64 ? { id: p, tokens: 64 } : undefined));
  }
  const finished = new Map<number, number>();
  let nextId = w.n;
  const base = listSource(reqs);
  const source: RequestSource = {
    next: base.next,
    onFinish(r, now) {
      finished.set(r.id, (finished.get(r.id) ?? 0) + 1);
      if (w.followUps && r.id < w.n && r.id % 3 === 0) return [req(nextId++, now + 0.01, r.inputTokens + 20, 5)];
      return undefined;
    },
  };
  const pools = [
    pool(
      toyCost(),
      { replicas: w.replicas },
      { numGpuBlocks: w.blocks, maxNumSeqs: w.maxSeqs, maxNumBatchedTokens: w.budget },
    ),
  ];
  return { pools, source, finished, total: () => nextId };
}

describe("engine properties (fast-check, fixed seed)", () => {
  it("every request ends exactly once; KV is conserved and within capacity; time never goes back", () => {
    fc.assert(
      fc.property(workload, (w) => {
        const b = build(w);
        const res = simulate(b.pools, b.source, new LeastRequestRouter(), opts);
        const rec = res.records;
        expect(rec.size).toBe(b.total());
        for (let i = 0; i < rec.size; i++) {
          expect(b.finished.get(i)).toBe(1);
          expect(rec.outcome[i]).not.toBe(Outcome.Pending);
          if (rec.outcome[i] === Outcome.Completed) {
            expect(rec.firstToken[i]!).toBeGreaterThanOrEqual(rec.arrival[i]!);
            expect(rec.completion[i]!).toBeGreaterThanOrEqual(rec.firstToken[i]!);
          }
        }
        for (const r of res.replicas) {
          expect(r.kv.usedBlocks).toBe(0);
          expect(r.numRunning + r.numWaiting).toBe(0);
          r.kv.checkInvariants();
        }
      }),
      { seed: 20261121, numRuns: 150 },
    );
  });

  it("the same scenario and seed give byte-identical JSON", () => {
    fc.assert(
      fc.property(workload, (w) => {
        const a = JSON.stringify(summarize(simulate(build(w).pools, build(w).source, new LeastRequestRouter(), opts)));
        const b = JSON.stringify(summarize(simulate(build(w).pools, build(w).source, new LeastRequestRouter(), opts)));
        expect(a).toBe(b);
      }),
      { seed: 99, numRuns: 30 },
    );
  });
});
