// The ITL store: (value, count) pairs merged by value wherever the value recurs; percentiles equal those of the
// expanded sample (numpy linear interpolation), whatever order the samples came in.
import { describe, expect, it } from "vitest";
import { dist, weightedDist } from "../src/metrics/summary.ts";
import { WeightedSamples } from "../src/sim/records.ts";

/** The store's pairs ascending by value (counts moved with their values; the counts' array type kept). */
function sortedPairs(w: WeightedSamples): { values: number[]; counts: Uint32Array | Float64Array } {
  const { values, counts } = w.pairs();
  const order = [...values.keys()].sort((a, b) => values[a]! - values[b]!);
  const sorted = counts instanceof Uint32Array ? new Uint32Array(order.length) : new Float64Array(order.length);
  order.forEach((i, k) => {
    sorted[k] = counts[i]!;
  });
  return { values: order.map((i) => values[i]!), counts: sorted };
}

function lcg(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x;
  };
}

describe("WeightedSamples", () => {
  it("keeps one pair per distinct value with summed counts (ascending when read back)", () => {
    const w = new WeightedSamples();
    for (const [v, c] of [
      [0.5, 2],
      [0.25, 1],
      [0.5, 3],
      [0.25, 4],
      [0.75, 1],
      [0.5, 1],
    ] as const)
      w.add(v, c);
    expect(w.runs).toBe(3);
    const { values, counts } = sortedPairs(w);
    expect([...values]).toEqual([0.25, 0.5, 0.75]);
    expect([...counts]).toEqual([5, 6, 1]);
    expect(w.total).toBe(12);
  });

  it("gives the expanded sample's percentiles through growth and reindexing (5,000 distinct values)", () => {
    const next = lcg(5);
    const w = new WeightedSamples();
    const expanded: number[] = [];
    const seen = new Set<number>();
    for (let i = 0; i < 40000; i++) {
      const v = (next() % 5000) / 977 + 0.001; // non-integers: the hash must use the bits, not the integer part
      const c = 1 + (next() % 3);
      w.add(v, c);
      seen.add(v);
      for (let k = 0; k < c; k++) expanded.push(v);
    }
    expect(w.runs).toBe(seen.size);
    expect(w.total).toBe(expanded.length);
    const a = weightedDist(w);
    const b = dist(Float64Array.from(expanded));
    expect([a.p50, a.p90, a.p95, a.p99]).toEqual([b.p50, b.p90, b.p95, b.p99]);
    expect(a.mean).toBeCloseTo(b.mean, 9);
  });

  it("counts past 2^32 − 1 without losing a token", () => {
    const w = new WeightedSamples();
    w.add(0.02, 0xfffffff0);
    w.add(0.03, 5);
    expect(sortedPairs(w).counts).toBeInstanceOf(Uint32Array);
    w.add(0.02, 0x11); // 2^32 + 1: would wrap to 1 in 32 bits
    const { counts } = sortedPairs(w);
    expect(counts).toBeInstanceOf(Float64Array);
    expect([...counts]).toEqual([2 ** 32 + 1, 5]);
    const d = weightedDist(w);
    expect(d.p50).toBe(0.02);
    expect(d.p99).toBe(0.02);
  });

  it("gives the same distribution when read mid-run, and goes on merging when added to", () => {
    const next = lcg(9);
    const a = new WeightedSamples();
    const b = new WeightedSamples();
    const vs: number[] = [];
    for (let i = 0; i < 6000; i++) vs.push((next() % 3000) / 613);
    for (const v of vs) a.add(v);
    for (const v of vs.slice(0, 3000)) b.add(v);
    const before = weightedDist(b);
    expect(weightedDist(b)).toEqual(before);
    for (const v of vs.slice(3000)) b.add(v);
    expect(b.runs).toBe(a.runs); // repeats of values seen before the read still merge
    expect(weightedDist(b)).toEqual(weightedDist(a));
  });

  it("merges a value wherever it recurs, through growth (the previous-slot shortcut goes stale when the table grows)", () => {
    const w = new WeightedSamples();
    const expanded: number[] = [];
    // Alternating and repeated values across several growths (2,048 slots at first).
    for (let i = 0; i < 20000; i++) {
      const v = ((i * 7919) % 6007) / 1013 + 1e-9 * (i % 3);
      w.add(v, 1 + (i % 4));
      w.add(v, 1); // the same value again: the previous-slot path
      for (let k = 0; k < 2 + (i % 4); k++) expanded.push(v);
    }
    expect(w.runs).toBe(new Set(expanded).size);
    expect(w.total).toBe(expanded.length);
    const a = weightedDist(w);
    const b = dist(Float64Array.from(expanded));
    expect([a.p50, a.p90, a.p95, a.p99]).toEqual([b.p50, b.p90, b.p95, b.p99]);
  });
});
