import { describe, expect, it } from "vitest";
import { Simulation } from "../src/cluster/engine.ts";
import { KvCache } from "../src/models/kv-cache.ts";
import {
  attachCpuOffload,
  CPU_DRAM_READ_BYTES_PER_S,
  CpuOffloadTier,
  kvBlockBytesPerRank,
} from "../src/models/kv-offload.ts";
import { RoundRobinRouter } from "../src/policies/routers/round-robin.ts";
import { listSource, pool, req, toyCost } from "./helpers/sim.ts";

describe("CPU offload tier", () => {
  it("keeps evicted blocks in LRU order and drops the least recently used when full", () => {
    const t = new CpuOffloadTier({ cpuBlocks: 2, blockBytes: 1000 });
    t.onEvict(1);
    t.onEvict(2);
    t.onEvict(3); // drops 1
    expect([t.has(1), t.has(2), t.has(3)]).toEqual([false, true, true]);
    expect(t.counters).toMatchObject({ offloaded: 3, dropped: 1 });
    // A lookup counts the run of held blocks from `from` and refreshes them: 2 then 3 become most recent.
    expect(t.lookup(Float64Array.of(9, 2, 3, 4), 1, 4)).toBe(2);
    expect(t.counters).toMatchObject({ queries: 3, hits: 2 });
    t.onEvict(5); // drops 2, the least recently used
    expect([t.has(2), t.has(3), t.has(5)]).toEqual([false, true, true]);
    expect(t.size).toBe(2);
  });

  it("a load costs blocks × (1 µs + block bytes / 20 GB/s), BLIS's cpu_dram class", () => {
    const t = new CpuOffloadTier({ cpuBlocks: 4, blockBytes: 8_388_608 });
    expect(CPU_DRAM_READ_BYTES_PER_S).toBe(2e10);
    expect(t.loadTime(3)).toBeCloseTo(3 * (1e-6 + 8_388_608 / 2e10), 15);
  });

  it("block bytes per TP rank: layers × KV elements per token per layer on the rank × 2 B × block size", () => {
    // Llama-2-7B: 32 layers, 32 KV heads × 128 → 2·4096 elements per token per layer.
    expect(kvBlockBytesPerRank("llama-2-7b-hf", 1, 16)).toBe(32 * 8192 * 2 * 16);
    // Llama-4-Scout TP2: 48 layers, 8 KV heads split over 2 ranks → 2·4·128 elements.
    expect(kvBlockBytesPerRank("llama-4-scout-fp8", 2, 16)).toBe(48 * 1024 * 2 * 16);
  });

  it("the GPU cache feeds the tier with the hashes it evicts", () => {
    const kv = new KvCache(1, 16);
    const t = new CpuOffloadTier({ cpuBlocks: 8, blockBytes: 1 });
    kv.secondTier = t;
    const b = kv.allocate();
    kv.register(b, 42);
    kv.release(b);
    kv.allocate(); // evicts 42
    expect(t.has(42)).toBe(true);
  });
});

describe("replica with CPU offload", () => {
  // 8 GPU blocks of 16 tokens. Request 0 caches a 64-token prefix (4 blocks); request 1 (112 unique tokens) evicts
  // it; request 2 comes back with the same prefix.
  const shared = { id: 777, tokens: 64 };
  const reqs = () => [req(0, 0, 80, 2, shared), req(1, 5, 112, 2), req(2, 10, 80, 2, shared)];
  const run = (cpuBlocks: number) => {
    const sim = new Simulation(
      [pool(toyCost(0.01, 0.0001, 0.001), {}, { numGpuBlocks: 8 })],
      listSource(reqs()),
      new RoundRobinRouter(),
      { seed: 1, scrapeIntervalS: 0, kvEventDelayS: 0, sampleIntervalS: 1, checkInvariants: true },
    );
    const tier = attachCpuOffload(sim.replicas[0]!, "llama-2-7b-hf", 1, cpuBlocks);
    return { res: sim.run(), tier };
  };

  it("without a tier the evicted prefix is recomputed", () => {
    const { res, tier } = run(0);
    expect(tier).toBeUndefined();
    expect(res.records.cached[2]).toBe(0);
    // TTFT = one prefill step of 80 tokens: 10 ms + 0.1 ms · 80
    expect(res.records.firstToken[2]! - res.records.arrival[2]!).toBeCloseTo(0.018, 12);
  });

  it("with a tier the 4 prefix blocks are loaded back: 16 tokens computed, plus the load time", () => {
    const { res, tier } = run(64);
    expect(res.records.cached[2]).toBe(64);
    expect(tier!.counters.hits).toBe(4);
    const load = 4 * (1e-6 + (32 * 8192 * 2 * 16) / 2e10);
    expect(res.records.firstToken[2]! - res.records.arrival[2]!).toBeCloseTo(0.01 + 0.0001 * 16 + load, 12);
    // The loaded blocks are in the GPU cache again (registered on allocation).
    expect(res.replicas[0]!.counters.prefixHits).toBe(0); // GPU hits only
  });
});
