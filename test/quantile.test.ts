import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { quantileSorted, weightedQuantile } from "../src/sim/quantile.ts";

describe("quantileSorted (numpy linear)", () => {
  it("matches numpy.percentile on a hand-computed sample", () => {
    const a = [1, 2, 3, 4, 10];
    expect(quantileSorted(a, 0)).toBe(1);
    expect(quantileSorted(a, 0.5)).toBe(3);
    // h = 4 · 0.9 = 3.6 → 4 + 0.6 · (10 − 4)
    expect(quantileSorted(a, 0.9)).toBeCloseTo(7.6, 12);
    expect(quantileSorted(a, 0.99)).toBeCloseTo(9.76, 12);
    expect(quantileSorted(a, 1)).toBe(10);
    expect(quantileSorted([], 0.5)).toBeNaN();
  });

  it("weighted runs give the quantile of the expanded sample", () => {
    // [1, 1, 1, 5]: p90 at h = 2.7 → 1 + 0.7 · 4
    expect(weightedQuantile(Float64Array.of(1, 5), Float64Array.of(3, 1), 0.9)).toBeCloseTo(3.8, 12);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 1, max: 5 })), {
          minLength: 1,
          maxLength: 30,
        }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (runs, p) => {
          runs.sort((x, y) => x[0] - y[0]);
          const expanded = runs.flatMap(([v, c]) => Array<number>(c).fill(v));
          const w = weightedQuantile(
            Float64Array.from(runs, (r) => r[0]),
            Float64Array.from(runs, (r) => r[1]),
            p,
          );
          expect(w).toBeCloseTo(quantileSorted(expanded, p), 9);
        },
      ),
    );
  });
});
