import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { simulate } from "../src/cluster/engine.ts";
import type { BatchShape, CostModel } from "../src/models/cost.ts";
import {
  LORA_CALIBRATION,
  type LoraSettings,
  loadSeconds,
  loraSettings,
  rankScale,
  stepOverheadSeconds,
} from "../src/models/lora.ts";
import { RoundRobinRouter } from "../src/policies/routers/round-robin.ts";
import type { EndpointView, Router } from "../src/policies/types.ts";
import { Outcome, type Request } from "../src/sim/request.ts";
import { listSource, pool, req, toyCost } from "./helpers/sim.ts";

const opts = { seed: 1, scrapeIntervalS: 0.05, kvEventDelayS: 0, sampleIntervalS: 1, checkInvariants: true };

/** Round numbers so that step times can be computed by hand. */
function lora(over: Partial<LoraSettings> = {}): LoraSettings {
  return {
    maxLoras: 1,
    maxCpuLoras: 2,
    maxLoraRank: 16,
    defaultRank: 8,
    ranks: new Map(),
    bytesPerRank: 0,
    hostToGpuFixedS: 0.005,
    diskToHostFixedS: 0.002,
    pcieBytesPerS: 1e9,
    diskBytesPerS: 1e9,
    fixedS: 0.001,
    perSeqS: 0.0001,
    perAdapterS: 0.0002,
    ...over,
  };
}

function withAdapter(r: Request, adapter: string, extra: Partial<Request> = {}): Request {
  return { ...r, adapter, ...extra };
}

describe("LoRA cost functions", () => {
  it("keeps the fitted rank-8 load totals and scales compute by BLIS's rank tiers", () => {
    const s = loraSettings({
      maxLoras: 4,
      maxCpuLoras: 8,
      maxLoraRank: 32,
      defaultRank: 8,
      ranks: new Map(),
      bytesPerRank: 851_968, // Llama-3.1-8B q_proj + v_proj: (8192 + 5120) × 32 layers × 2 B
    });
    expect(loadSeconds(s, 8, false)).toBeCloseTo(LORA_CALIBRATION.hostToGpuRank8S, 12);
    expect(loadSeconds(s, 8, true)).toBeCloseTo(
      LORA_CALIBRATION.hostToGpuRank8S + LORA_CALIBRATION.diskToHostRank8S,
      12,
    );
    // A rank-32 adapter moves 4× the bytes: + 24 × 851,968 B over PCIe (25 GB/s) and disk (5 GB/s).
    expect(loadSeconds(s, 32, true) - loadSeconds(s, 8, true)).toBeCloseTo(24 * 851_968 * (1 / 25e9 + 1 / 5e9), 12);
    expect(rankScale(8)).toBeCloseTo(1, 12);
    expect(rankScale(16)).toBeCloseTo(1.75, 12);
    expect(rankScale(32)).toBeCloseTo(3, 12);
    // No adapter in the batch: no overhead; otherwise fixed + (per_seq × B + per_adapter × D) × scale.
    expect(stepOverheadSeconds(s, 100, 0, 0)).toBe(0);
    expect(stepOverheadSeconds(s, 220, 10, 8)).toBeCloseTo(2.9e-3 + 0.0674e-3 * 220 + 0.3374e-3 * 10, 12);
  });

  it("reproduces the measured decode ITL vs distinct adapters (Llama-3.1-8B, batch 220) within 4 %", () => {
    // data/lora-adapter-serving predictor_latency_overhead/llama-3.1-8b-instruct/overhead_small/output/_220_300_8__1_100_N
    // (mean_itl_ms) and initial_points_small/_220__1_100 (no LoRA: 17.10 ms). N adapters drawn at random per request:
    // the batch of 220 holds D = N(1 − (1 − 1/N)^220) distinct adapters on average.
    const measured: [number, number][] = [
      [1, 35.4],
      [32, 45.71],
      [64, 54.84],
      [96, 62.96],
      [128, 69.94],
      [160, 74.23],
      [192, 79.15],
      [224, 80.83],
      [256, 84.52],
      [288, 86.78],
      [300, 86.58],
    ];
    const s = loraSettings({
      maxLoras: 300,
      maxCpuLoras: 300,
      maxLoraRank: 8,
      defaultRank: 8,
      ranks: new Map(),
      bytesPerRank: 0,
    });
    for (const [n, itl] of measured) {
      const d = n * (1 - (1 - 1 / n) ** 220);
      const predicted = 17.1 + stepOverheadSeconds(s, 220, d, 8) * 1000;
      expect(Math.abs(predicted - itl) / itl).toBeLessThan(0.04);
    }
  });
});

describe("LoRA on a replica", () => {
  it("first step pays the disk → host → GPU load and the LoRA overhead (hand-computed)", () => {
    // step = 10 ms + 0.1 ms/prefill token + 1 ms/decode request; load from disk 5 + 2 ms; overhead 1 + 0.1 + 0.2 ms.
    const p = pool(toyCost(0.01, 0.0001, 0.001), {}, { lora: lora() });
    const res = simulate([p], listSource([withAdapter(req(0, 0, 1000, 3), "A")]), new RoundRobinRouter(), opts);
    const r = res.records;
    expect(r.firstToken[0]!).toBeCloseTo(0.11 + 0.007 + 0.0013, 12);
    // Two decode steps of 11 + 1.3 ms.
    expect(r.completion[0]!).toBeCloseTo(0.1183 + 2 * 0.0123, 12);
    const c = res.replicas[0]!.lora!.counters;
    expect(c.loads).toBe(1);
    expect(c.diskLoads).toBe(1);
    expect(c.loadTime).toBeCloseTo(0.007, 12);
  });

  it("a request whose adapter has no slot waits while a request of a running adapter passes it", () => {
    const p = pool(toyCost(0.01, 0.0001, 0.001), {}, { lora: lora({ maxLoras: 1 }) });
    const reqs = [
      withAdapter(req(0, 0, 100, 5), "A"),
      withAdapter(req(1, 0, 100, 5), "B"),
      withAdapter(req(2, 0, 100, 5), "A"),
    ];
    const res = simulate([p], listSource(reqs), new RoundRobinRouter(), opts);
    const r = res.records;
    for (let i = 0; i < 3; i++) expect(r.outcome[i]).toBe(Outcome.Completed);
    // r2 (adapter A, running) is admitted while r1 (B) waits for the slot, and r1 only after A's requests finished.
    expect(r.admit[2]!).toBeLessThan(r.admit[1]!);
    expect(r.admit[1]!).toBeGreaterThanOrEqual(Math.max(r.completion[0]!, r.completion[2]!) - 1e-12);
    const c = res.replicas[0]!.lora!.counters;
    expect(c.loads).toBe(2);
    expect(c.delayedRequests).toBe(1);
    expect(c.gpuEvictions).toBe(1);
    expect(c.waitTime).toBeGreaterThan(0);
    expect(c.waitTime).toBeCloseTo(r.admit[1]! - r.admit[2]!, 12);
  });

  it("evicts the least recently used idle adapter from host memory; a host hit skips the disk read", () => {
    // max_loras 1, max_cpu_loras 2; A, B, A, C, A one after the other.
    const p = pool(toyCost(0.01, 0.0001, 0.001), {}, { lora: lora({ maxLoras: 1, maxCpuLoras: 2 }) });
    const names = ["A", "B", "A", "C", "A"];
    const reqs = names.map((a, i) => withAdapter(req(i, i * 10, 100, 2), a));
    const res = simulate([p], listSource(reqs), new RoundRobinRouter(), opts);
    const c = res.replicas[0]!.lora!.counters;
    expect(c.loads).toBe(5);
    // A, B, C from disk; C's read evicts B (A was used more recently); the last A is still on the host.
    expect(c.diskLoads).toBe(3);
    expect(c.cpuEvictions).toBe(1);
    expect(c.gpuEvictions).toBe(4);
    const ttft = (i: number) => res.records.firstToken[i]! - res.records.arrival[i]!;
    // prefill 100 tokens = 20 ms; + load (7 ms from disk, 5 ms from host) + overhead 1.3 ms.
    expect(ttft(0)).toBeCloseTo(0.02 + 0.007 + 0.0013, 12);
    expect(ttft(2)).toBeCloseTo(0.02 + 0.005 + 0.0013, 12);
    expect(ttft(3)).toBeCloseTo(0.02 + 0.007 + 0.0013, 12);
    expect(ttft(4)).toBeCloseTo(0.02 + 0.005 + 0.0013, 12);
  });

  it("fills BatchShape.distinctAdapters and maxAdapterRank; rank 16 scales the overhead by 1.75", () => {
    const seen: { d: number; r: number }[] = [];
    const cost: CostModel = {
      ...toyCost(0.01, 0.0001, 0.001),
      stepTime(b: BatchShape) {
        seen.push({ d: b.distinctAdapters, r: b.maxAdapterRank });
        return 0.01 + 0.0001 * b.prefillTokens + 0.001 * b.decodeRequests;
      },
    };
    const l = lora({ maxLoras: 2, maxCpuLoras: 2, ranks: new Map([["A", 16]]) });
    const reqs = [withAdapter(req(0, 0, 100, 3), "A"), withAdapter(req(1, 0, 100, 3), "B")];
    const res = simulate([pool(cost, {}, { lora: l })], listSource(reqs), new RoundRobinRouter(), {
      ...opts,
      fastForward: false,
    });
    expect(Math.max(...seen.map((s) => s.d))).toBe(2);
    expect(Math.max(...seen.map((s) => s.r))).toBe(16);
    // Step 1 runs A alone (prefill 100): 20 ms + load 7 ms + 1 + (0.1 + 0.2) × 1.75 ms.
    expect(res.records.firstToken[0]!).toBeCloseTo(0.02 + 0.007 + 0.001 + 0.0003 * 1.75, 12);
  });

  it("the gateway sees running / waiting adapters and max_lora at each scrape (vllm:lora_requests_info)", () => {
    const snaps: { running: string[]; waiting: string[]; maxLora: number }[] = [];
    const rr = new RoundRobinRouter();
    const router: Router = {
      name: "spy",
      route(r, ctx) {
        const ep: EndpointView = ctx.endpoints[0]!;
        snaps.push({ running: [...ep.runningAdapters], waiting: [...ep.waitingAdapters], maxLora: ep.maxLora });
        return rr.route(r, ctx);
      },
    };
    const reqs = [
      withAdapter(req(0, 0, 1000, 5), "A"),
      withAdapter(req(1, 0.001, 1000, 5), "B"),
      withAdapter(req(2, 0.002, 100, 2), "C"),
    ];
    simulate([pool(toyCost(), {}, { lora: lora({ maxLoras: 1 }) })], listSource(reqs), router, {
      ...opts,
      scrapeIntervalS: 0,
    });
    expect(snaps[0]).toEqual({ running: [], waiting: [], maxLora: 1 });
    expect(snaps[2]).toEqual({ running: ["A"], waiting: ["B"], maxLora: 1 });
  });

  it("without LoRA settings, adapters are ignored (no LoRA state, same times as without adapters)", () => {
    const a = simulate(
      [pool(toyCost())],
      listSource([withAdapter(req(0, 0, 500, 4), "A")]),
      new RoundRobinRouter(),
      opts,
    );
    const b = simulate([pool(toyCost())], listSource([req(0, 0, 500, 4)]), new RoundRobinRouter(), opts);
    expect(a.replicas[0]!.lora).toBeUndefined();
    expect(a.records.completion[0]).toBe(b.records.completion[0]);
  });
});

describe("LoRA properties (fast-check, fixed seed)", () => {
  const workload = fc.record({
    n: fc.integer({ min: 1, max: 30 }),
    replicas: fc.integer({ min: 1, max: 2 }),
    maxLoras: fc.integer({ min: 1, max: 3 }),
    extraCpu: fc.integer({ min: 0, max: 2 }),
    adapters: fc.integer({ min: 1, max: 6 }),
    blocks: fc.integer({ min: 60, max: 400 }),
    maxSeqs: fc.integer({ min: 1, max: 6 }),
    picks: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 30, maxLength: 30 }),
    gaps: fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 30, maxLength: 30 }),
    inputs: fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 30, maxLength: 30 }),
    outputs: fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 30, maxLength: 30 }),
  });
  type W = typeof workload extends fc.Arbitrary<infer T> ? T : never;
  const build = (w: W) => {
    const reqs: Request[] = [];
    let t = 0;
    for (let i = 0; i < w.n; i++) {
      t += w.gaps[i]! / 1000;
      const pick = w.picks[i]! % (w.adapters + 1);
      const r = req(i, t, w.inputs[i]!, w.outputs[i]!);
      reqs.push(pick === w.adapters ? r : withAdapter(r, `a${pick}`));
    }
    const l = lora({ maxLoras: w.maxLoras, maxCpuLoras: w.maxLoras + w.extraCpu, ranks: new Map([["a0", 16]]) });
    const pools = [
      pool(toyCost(), { replicas: w.replicas }, { lora: l, numGpuBlocks: w.blocks, maxNumSeqs: w.maxSeqs }),
    ];
    return { pools, reqs };
  };

  it("every request completes once; adapters in use stay on the GPU; slots and host capacity hold", () => {
    fc.assert(
      fc.property(workload, (w) => {
        const b = build(w);
        const res = simulate(b.pools, listSource(b.reqs), new RoundRobinRouter(), opts);
        for (let i = 0; i < w.n; i++) expect(res.records.outcome[i]).not.toBe(Outcome.Pending);
        for (const r of res.replicas) {
          r.lora!.checkInvariants();
          expect(r.lora!.distinctRunning).toBe(0);
          expect(r.kv.usedBlocks).toBe(0);
        }
      }),
      { seed: 5150, numRuns: 120 },
    );
  });

  it("fast-forward gives the same per-request times as stepping with LoRA on (within 1 ns)", () => {
    fc.assert(
      fc.property(workload, (w) => {
        const b = build(w);
        const step = simulate(b.pools, listSource(b.reqs), new RoundRobinRouter(), { ...opts, fastForward: false });
        const ff = simulate(b.pools, listSource(b.reqs), new RoundRobinRouter(), { ...opts, fastForward: true });
        for (let i = 0; i < w.n; i++) {
          expect(Math.abs(ff.records.firstToken[i]! - step.records.firstToken[i]!)).toBeLessThan(1e-9);
          expect(Math.abs(ff.records.completion[i]! - step.records.completion[i]!)).toBeLessThan(1e-9);
        }
      }),
      { seed: 77, numRuns: 60 },
    );
  });
});
