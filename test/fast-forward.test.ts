/**
 * Fast-forward must be exact: on random scenarios (fixed fast-check seed) it gives the same per-request first-token
 * and completion times (within 1 ns), the same cache hits and the same counters as the step-by-step reference,
 * including preemption (small KV caches), mid-stretch arrivals and cached decode blocks (multi-turn answers), under
 * both scheduling policies (fcfs, priority) and with async scheduling on and off.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { simulate } from "../src/cluster/engine.ts";
import { summarize } from "../src/metrics/summary.ts";
import { POLICIES } from "../src/policies/registry.ts";
import { DynamoKvRouter, dynamoKvParams } from "../src/policies/routers/dynamo-kv.ts";
import { LeastRequestRouter } from "../src/policies/routers/least-request.ts";
import { routerInit } from "../src/policies/testing.ts";
import type { KvEvent, Router, RoutingContext } from "../src/policies/types.ts";
import type { Segment } from "../src/sim/hash.ts";
import type { Request, RequestSource } from "../src/sim/request.ts";
import { pool, toyCost } from "./helpers/sim.ts";

const scenario = fc.record({
  n: fc.integer({ min: 1, max: 60 }),
  replicas: fc.integer({ min: 1, max: 3 }),
  blocks: fc.integer({ min: 30, max: 600 }),
  blockSize: fc.constantFrom(1, 4, 16),
  maxSeqs: fc.integer({ min: 1, max: 16 }),
  budget: fc.integer({ min: 8, max: 1024 }),
  gaps: fc.array(fc.double({ min: 0, max: 0.4, noNaN: true }), { minLength: 60, maxLength: 60 }),
  inputs: fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 60, maxLength: 60 }),
  outputs: fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 60, maxLength: 60 }),
  shared: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 60, maxLength: 60 }),
  followUps: fc.boolean(),
  scrapeMs: fc.constantFrom(0, 10, 50),
  // vLLM scheduling_policy and async_scheduling; request priorities in -1..1 (EPP style).
  policy: fc.constantFrom("fcfs" as const, "priority" as const),
  asyncScheduling: fc.boolean(),
  priorities: fc.array(fc.integer({ min: -1, max: 1 }), { minLength: 60, maxLength: 60 }),
});
type S = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function source(w: S): RequestSource {
  const reqs: Request[] = [];
  let t = 0;
  for (let i = 0; i < w.n; i++) {
    t += w.gaps[i]!;
    const prompt: Segment[] = [];
    const sh = w.shared[i]!;
    if (sh > 0) prompt.push({ id: 1000 + sh, tokens: 48 });
    prompt.push({ id: 5000 + i, tokens: w.inputs[i]! });
    const input = prompt.reduce((a, s) => a + s.tokens, 0);
    reqs.push({
      id: i,
      arrival: t,
      prompt,
      inputTokens: input,
      outputTokens: w.outputs[i]!,
      outputContentId: 9000 + i,
      priority: w.priorities[i]!,
    });
  }
  let k = 0;
  let next = w.n;
  return {
    next: () => reqs[k++],
    onFinish(r, now, completed) {
      // Second turn: previous prompt + its answer + a new message (hits the cached answer blocks).
      if (!w.followUps || !completed || r.id >= w.n || r.id % 2 === 1) return undefined;
      const prompt: Segment[] = [
        ...r.prompt,
        { id: r.outputContentId!, tokens: r.outputTokens },
        { id: 7000 + r.id, tokens: 20 },
      ];
      const input = r.inputTokens + r.outputTokens + 20;
      return [{ id: next++, arrival: now + 0.05, prompt, inputTokens: input, outputTokens: 7 }];
    },
  };
}

function run(w: S, fastForward: boolean, router: Router = new LeastRequestRouter(), kvEventDelayS = 0, kvView = true) {
  const cost = toyCost(0.004, 0.00002, 0.0003, { preQueue: 0.001, perOutputToken: 0.00004, postDecode: 0.0002 });
  const pools = [
    pool(
      cost,
      { replicas: w.replicas },
      {
        numGpuBlocks: w.blocks,
        blockSize: w.blockSize,
        maxNumSeqs: w.maxSeqs,
        maxNumBatchedTokens: w.budget,
        schedulingPolicy: w.policy,
        asyncScheduling: w.asyncScheduling,
      },
    ),
  ];
  return simulate(pools, source(w), router, {
    seed: 3,
    scrapeIntervalS: w.scrapeMs / 1000,
    kvEventDelayS,
    sampleIntervalS: 0.5,
    fastForward,
    kvView,
    checkInvariants: true,
  });
}

/** Both runs agree: per-request times within 1 ns, the same picks, cache hits, outcomes, counters and KV usage. */
function expectSame(a: ReturnType<typeof run>, b: ReturnType<typeof run>): void {
  const ra = a.records;
  const rb = b.records;
  expect(rb.size).toBe(ra.size);
  for (let i = 0; i < ra.size; i++) {
    expect(rb.outcome[i]).toBe(ra.outcome[i]);
    expect(rb.replica[i]).toBe(ra.replica[i]);
    expect(Math.abs(rb.firstToken[i]! - ra.firstToken[i]!)).toBeLessThanOrEqual(1e-9);
    expect(Math.abs(rb.completion[i]! - ra.completion[i]!)).toBeLessThanOrEqual(1e-9);
    expect(rb.cached[i]).toBe(ra.cached[i]);
    expect(rb.preemptions[i]).toBe(ra.preemptions[i]);
  }
  for (let r = 0; r < a.replicas.length; r++) {
    const ca = a.replicas[r]!.counters;
    const cb = b.replicas[r]!.counters;
    expect({ ...cb, busyTime: 0 }).toEqual({ ...ca, busyTime: 0 });
    expect(Math.abs(cb.busyTime - ca.busyTime)).toBeLessThanOrEqual(1e-9);
    expect(b.replicas[r]!.kv.evictions).toBe(a.replicas[r]!.kv.evictions);
  }
  expect(b.series.kvUsage).toEqual(a.series.kvUsage);
  const sa = summarize(a);
  const sb = summarize(b);
  expect(sb.itl_ms.p99).toBeCloseTo(sa.itl_ms.p99, 9);
  expect(sb.prefix_cache_hit_rate).toBe(sa.prefix_cache_hit_rate);
}

describe("fast-forward", () => {
  it("equals step-by-step: times within 1 ns, same cache hits, outcomes and counters (fast-check)", () => {
    let stretched = 0;
    fc.assert(
      fc.property(scenario, (w) => {
        const a = run(w, false);
        const b = run(w, true);
        expectSame(a, b);
        if (b.events < a.events) stretched++;
      }),
      { seed: 20261121, numRuns: 200 },
    );
    // The property is only meaningful if fast-forward actually jumped in many of the cases.
    expect(stretched).toBeGreaterThan(100);
  });

  // Routers fed by KV events (dynamo-kv, llm-d's precise-prefix-cache-scorer) see the block stores and evictions of
  // fast-forwarded steps replayed with their step times: they must pick the same replicas as under stepping, whatever
  // the event delay (0: an event is visible at its own step start; 5 ms, 50 ms: stretches end before it is).
  const withKv = fc.record({
    w: scenario,
    delayMs: fc.constantFrom(0, 5, 50),
    replicas: fc.integer({ min: 2, max: 4 }),
  });
  for (const [name, make] of [
    ["dynamo-kv", (n: number) => new DynamoKvRouter(routerInit(n), dynamoKvParams.parse({}))],
    ["llm-d-precise", (n: number) => POLICIES.get("llm-d-precise")!.create(routerInit(n))],
  ] as const) {
    it(`equals step-by-step with ${name} reading KV events or the cache view, delays 0/5/50 ms (fast-check)`, () => {
      let stretched = 0;
      let events = 0;
      fc.assert(
        fc.property(withKv, ({ w: w0, delayMs, replicas }) => {
          // 16-token blocks: the routers' hashes must match the engine's (routerInit's block size).
          const w = { ...w0, replicas, blockSize: 16 as const };
          // Each replica's events as the router received them: kind, hash, due time and the routing decision
          // they arrived before; both runs must deliver the same ones at the same decisions.
          const watch = () => {
            const router = make(replicas);
            const got: string[][] = Array.from({ length: replicas }, () => []);
            let routes = 0;
            const route = router.route.bind(router);
            const deliver = router.onKvEvent!.bind(router);
            Object.assign(router, {
              route: (req: Request, ctx: RoutingContext) => {
                routes++;
                return route(req, ctx);
              },
              onKvEvent: (ev: KvEvent, due: number) => {
                got[ev.replica]!.push(`${ev.kind} ${ev.hash} @${due} before route ${routes}`);
                deliver(ev, due);
              },
            });
            return { router, got };
          };
          // a: stepping, every event indexed (the reference); b: fast-forward, every event indexed; c: fast-forward
          // with the engine's view of the caches where the router takes it (llm-d-precise).
          const ra = watch();
          const rb = watch();
          const a = run(w, false, ra.router, delayMs / 1000, false);
          const b = run(w, true, rb.router, delayMs / 1000, false);
          const c = run(w, true, make(replicas), delayMs / 1000);
          expectSame(a, b);
          expect(rb.got).toEqual(ra.got);
          expectSame(a, c);
          if (b.events < a.events) stretched++;
          const seen = ra.got.reduce((n, g) => n + g.length, 0);
          events += seen;
        }),
        { seed: 20261203, numRuns: 120 },
      );
      expect(stretched).toBeGreaterThan(50);
      expect(events).toBeGreaterThan(1000);
    });
  }
});

describe("fast-forward on the shipped scenarios", () => {
  it("gives byte-identical summaries to stepping (default scenario with gie-default and llm-d-precise, BLIS chat stream)", async () => {
    const { runScenario } = await import("../src/lab/run.ts");
    const { loadScenario } = await import("../src/scenario.ts");
    for (const [file, policy] of [
      [undefined, "gie-default"],
      [undefined, "llm-d-precise"],
      [new URL("../scenarios/blis-chat-r40.yaml", import.meta.url).pathname, "round-robin"],
    ] as const) {
      const loaded = loadScenario(file);
      const a = runScenario(loaded, { policy, fastForward: false });
      const b = runScenario(loaded, { policy });
      expect(b.result.events).toBeLessThan(a.result.events);
      expect(JSON.stringify(b.summary)).toBe(JSON.stringify(a.summary));
    }
  });
});
