import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dist } from "../src/metrics/summary.ts";
import { ExactSum, exactSum } from "../src/sim/fsum.ts";

/** Reference: the exact sum of k·2^j terms in BigInt units of 2^-60, rounded once by Number() (ties to even). */
function bigSum(terms: readonly [number, number][]): number {
  let s = 0n;
  for (const [k, j] of terms) s += BigInt(k) << BigInt(j + 60);
  return Number(s) / 2 ** 60;
}

const term = fc.tuple(
  fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }).map((k) => k),
  fc.integer({ min: -60, max: 60 }),
);

describe("exactSum (correctly rounded, like Python's math.fsum)", () => {
  it("gets right what naive summation gets wrong (hand-checked)", () => {
    // 1e16 + 1 rounds back to 1e16 (the spacing there is 2, ties to even): naive gives 0.
    expect(1e16 + 1 - 1e16).toBe(0);
    expect(exactSum([1e16, 1, -1e16])).toBe(1);
    // 0.1 + 0.2 + 0.3: the exact sum of the three doubles is 0.60000000000000000555…, nearest double 0.6.
    expect(0.1 + 0.2 + 0.3).toBe(0.6000000000000001);
    expect(exactSum([0.1, 0.2, 0.3])).toBe(0.6);
    // Half-way cases (CPython's test_math fsum cases): 2^53 − 0.5 − 2^-54 lies just below the midpoint of 2^53 − 1
    // and 2^53, so it rounds down; naive rounds the tie 2^53 − 0.5 to even (2^53) first.
    expect(2 ** 53 - 0.5 - 2 ** -54).toBe(2 ** 53);
    expect(exactSum([2 ** 53, -0.5, -(2 ** -54)])).toBe(2 ** 53 - 1);
    expect(exactSum([2 ** 53, 1, 2 ** -100])).toBe(2 ** 53 + 2);
    expect(exactSum([2 ** 53, 1])).toBe(2 ** 53);
    expect(exactSum([1e100, 1.0, -1e100, 1e-100, 1e50, -1.0, -1e50])).toBe(1e-100);
    expect(exactSum([])).toBe(0);
    expect(exactSum([1, Number.POSITIVE_INFINITY])).toBe(Number.POSITIVE_INFINITY);
  });

  it("adds products exactly (Dekker)", () => {
    // 3 × 0.1 = 10808639105689191 · 2^-55 exactly; 0.30000000000000004 = 10808639105689192 · 2^-55: they differ by
    // 2^-55, which a rounded product (0.1 · 3 = 0.30000000000000004) loses.
    const s = new ExactSum();
    s.addProduct(0.1, 3);
    s.addProduct(-0.30000000000000004, 1);
    expect(s.value()).toBe(-(2 ** -55));
    expect(0.1 * 3 - 0.30000000000000004).toBe(0);
  });

  it("equals the exactly rounded sum, in any order", () => {
    fc.assert(
      fc.property(fc.array(term, { minLength: 0, maxLength: 40 }), fc.integer(), (terms, seed) => {
        const xs = terms.map(([k, j]) => k * 2 ** j);
        const want = bigSum(terms);
        expect(exactSum(xs)).toBe(want);
        // A seeded shuffle: the order does not matter.
        const ys = xs.slice();
        let r = seed >>> 0;
        for (let i = ys.length - 1; i > 0; i--) {
          r = (Math.imul(r, 1664525) + 1013904223) >>> 0;
          const j = r % (i + 1);
          [ys[i], ys[j]] = [ys[j]!, ys[i]!];
        }
        expect(exactSum(ys)).toBe(want);
        expect(exactSum(ys.reverse())).toBe(want);
      }),
      { numRuns: 500 },
    );
  });

  it("adds products exactly for integer counts", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(term, fc.integer({ min: 1, max: 2 ** 20 })), { minLength: 1, maxLength: 20 }),
        (runs) => {
          const s = new ExactSum();
          let want = 0n;
          for (const [[k, j], c] of runs) {
            s.addProduct(k * 2 ** j, c);
            want += (BigInt(k) << BigInt(j + 60)) * BigInt(c);
          }
          expect(s.value()).toBe(Number(want) / 2 ** 60);
        },
      ),
    );
  });

  it("makes dist's mean independent of the samples' order", () => {
    expect(dist(Float64Array.of(1e16, 1, -1e16)).mean).toBe(1 / 3);
    expect(dist(Float64Array.of(-1e16, 1e16, 1)).mean).toBe(1 / 3);
  });
});
