import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { quantileSorted, weightedQuantile } from "../src/sim/quantile.ts";
import { quantilesBySelection, selectRank, weightedQuantilesBySelection } from "../src/sim/select.ts";

const PS = [0, 0.01, 0.25, 0.5, 0.5, 0.9, 0.95, 0.99, 0.999, 1];

/** The sorting implementation: numpy linear over a sorted copy. */
function bySorting(xs: Float64Array, ps: readonly number[]): number[] {
  const s = Float64Array.from(xs).sort();
  return ps.map((p) => quantileSorted(s, p));
}

describe("quantiles by selection", () => {
  it("hand-computed: numpy linear on small samples", () => {
    // [1, 2, 3, 4, 10] shuffled: p90 at h = 4 · 0.9 → 4 + (h − 3) · 6 ≈ 7.6 (numpy.percentile: 7.6000000000000005).
    expect(quantilesBySelection(Float64Array.of(10, 3, 1, 4, 2), [0.5, 0.9, 1])).toEqual([3, 7.6000000000000005, 10]);
    expect(quantilesBySelection(Float64Array.of(7), [0, 0.5, 1])).toEqual([7, 7, 7]);
    // n = 2: h = p, so 3 + p · (5 − 3).
    expect(quantilesBySelection(Float64Array.of(5, 3), [0, 0.5, 0.99])).toEqual([3, 4, 3 + 0.99 * 2]);
    expect(quantilesBySelection(new Float64Array(0), [0.5])).toEqual([Number.NaN]);
    expect(() => quantilesBySelection(Float64Array.of(1, 2), [0.9, 0.5])).toThrow(/ascending/);
  });

  it("gives bit-identical results to sorting, ties included", () => {
    const sample = fc.oneof(
      // Few distinct values: many ties.
      fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 300 }),
      fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 300 }),
      fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 5 }),
    );
    fc.assert(
      fc.property(sample, (xs) => {
        const a = Float64Array.from(xs);
        const want = bySorting(a, PS);
        const got = quantilesBySelection(a, PS);
        for (let i = 0; i < PS.length; i++) expect(Object.is(got[i], want[i]) || got[i] === want[i]).toBe(true);
        // The sample is only rearranged.
        expect(Float64Array.from(a).sort()).toEqual(Float64Array.from(xs).sort());
      }),
      { numRuns: 2000 },
    );
  });

  it("stays exact on large, sorted, reversed and constant samples", () => {
    let r = 12345;
    const rnd = () => {
      r = (Math.imul(r, 1664525) + 1013904223) >>> 0;
      return r / 2 ** 32;
    };
    const n = 100_001;
    const cases = [
      Float64Array.from({ length: n }, () => rnd() * 1000),
      Float64Array.from({ length: n }, (_, i) => i),
      Float64Array.from({ length: n }, (_, i) => n - i),
      new Float64Array(n).fill(3),
      Float64Array.from({ length: n }, (_, i) => (i % 2 === 0 ? i : 0)),
      Float64Array.from({ length: n }, () => Math.floor(rnd() * 7)),
    ];
    for (const a of cases) expect(quantilesBySelection(Float64Array.from(a), PS)).toEqual(bySorting(a, PS));
  });

  it("selectRank puts the rank-k value at k, smaller left, larger right", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 1, maxLength: 200 }), fc.nat(), (xs, kk) => {
        const a = Float64Array.from(xs);
        const k = kk % a.length;
        selectRank(a, k);
        const s = Float64Array.from(xs).sort();
        expect(a[k]).toBe(s[k]);
        for (let i = 0; i < k; i++) expect(a[i]! <= a[k]!).toBe(true);
        for (let i = k + 1; i < a.length; i++) expect(a[i]! >= a[k]!).toBe(true);
      }),
    );
  });
});

describe("weighted quantiles by selection", () => {
  /** The sorting implementation: pairs sorted by value, then `weightedQuantile`'s walk. */
  function bySortingPairs(vs: number[], cs: number[], ps: readonly number[]): number[] {
    const order = vs.map((_, i) => i).sort((a, b) => vs[a]! - vs[b]!);
    const v = Float64Array.from(order, (i) => vs[i]!);
    const c = Float64Array.from(order, (i) => cs[i]!);
    return ps.map((p) => weightedQuantile(v, c, p));
  }

  it("hand-computed: runs expanded, numpy linear", () => {
    // 1 ×3, 2 ×1, 10 ×1 → [1, 1, 1, 2, 10]: p50 = 1, p90 at h = 3.6 → 2 + 0.6 · 8 = 6.8, p100 = 10.
    const got = weightedQuantilesBySelection(Float64Array.of(10, 1, 2), Float64Array.of(1, 3, 1), [0.5, 0.9, 1]);
    expect(got).toEqual([1, 2 + (4 * 0.9 - 3) * 8, 10]);
    expect(weightedQuantilesBySelection(new Float64Array(0), new Float64Array(0), [0.5])).toEqual([0]);
    expect(() => weightedQuantilesBySelection(Float64Array.of(1), Float64Array.of(1), [0.9, 0.5])).toThrow(/ascending/);
  });

  it("gives bit-identical results to sorting the pairs, with repeated values, zero counts and a degraded search", () => {
    const pairs = fc.oneof(
      // Distinct values (the ITL store's case), counts as fast-forward adds them.
      fc.uniqueArray(fc.double({ min: 1e-4, max: 1, noNaN: true }), { minLength: 1, maxLength: 400 }),
      // Few values, repeated across pairs.
      fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 200 }),
    );
    const ps = fc.uniqueArray(fc.constantFrom(0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1), { minLength: 1 });
    fc.assert(
      fc.property(
        pairs,
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 400, maxLength: 400 }),
        ps,
        fc.constantFrom(undefined, 0, 1, 3),
        (vs, raw, psU, maxRounds) => {
          // Counts mostly ≥ 1, some 0, at least one sample in all.
          const cs: number[] = vs.map((_, i) => (raw[i]! % 10 === 0 ? 0 : raw[i]!));
          if (!cs.some((c) => c > 0)) cs[0] = 1;
          const sorted = [...psU].sort((a, b) => a - b);
          const want = bySortingPairs(vs.map(Number), cs, sorted);
          // Counts as the ITL store hands them over: 32-bit while the total fits, else float64.
          const counts = raw[399]! % 2 === 0 ? Uint32Array.from(cs) : Float64Array.from(cs);
          const got = weightedQuantilesBySelection(Float64Array.from(vs), counts, sorted, maxRounds);
          expect(got).toEqual(want);
        },
      ),
      { seed: 42, numRuns: 400 },
    );
  });
});
