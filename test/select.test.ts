import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { quantileSorted } from "../src/sim/quantile.ts";
import { quantilesBySelection, selectRank } from "../src/sim/select.ts";

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
