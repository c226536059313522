import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { NumMap } from "../src/sim/num-map.ts";

describe("NumMap", () => {
  it("behaves like Map<number, number> under random set/delete/get (fast-check)", () => {
    // Small key space with collisions in the low bits (k·2^32 + small) to exercise probing and backward shifts.
    const key = fc
      .tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 40 }))
      .map(([hi, lo]) => hi * 4294967296 + lo * 16);
    const op = fc.tuple(fc.integer({ min: 0, max: 3 }), key, fc.integer({ min: -5, max: 1000 }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const m = new NumMap(2);
        const ref = new Map<number, number>();
        for (const [kind, k, v] of ops) {
          if (kind === 0) {
            m.set(k, v);
            ref.set(k, v);
          } else if (kind === 1) {
            expect(m.delete(k)).toBe(ref.delete(k));
          } else if (kind === 3) {
            // exchange: the previous value (or -1 when absent), one probe
            expect(m.exchange(k, v)).toBe(ref.get(k) ?? -1);
            ref.set(k, v);
          }
          expect(m.get(k, -99)).toBe(ref.has(k) ? ref.get(k) : -99);
          expect(m.size).toBe(ref.size);
        }
        for (const [k, v] of ref) expect(m.get(k)).toBe(v);
        let n = 0;
        m.forEach((k, v) => {
          expect(ref.get(k)).toBe(v);
          n++;
        });
        expect(n).toBe(ref.size);
      }),
      { seed: 77, numRuns: 300 },
    );
  });
});

describe("NumMap.sweepStale", () => {
  it("removes exactly the entries whose target no longer carries their key, keeping the others (fast-check)", () => {
    const key = fc
      .tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 60 }))
      .map(([hi, lo]) => hi * 4294967296 + lo * 8);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(key, fc.integer({ min: 0, max: 9 })), { maxLength: 200 }),
        fc.integer({ min: 0, max: 9 }),
        (entries, cut) => {
          const m = new NumMap(4);
          const ref = new Map<number, number>();
          for (const [k, v] of entries) {
            m.set(k, v);
            ref.set(k, v);
          }
          // keyOf[v] = the key for values ≥ cut (still valid), -2 (no key) for the others, whose entries are stale.
          const keyOf = new Float64Array(10).fill(-2);
          for (const [k, v] of ref) if (v >= cut) keyOf[v] = k;
          const live = [...ref].filter(([k, v]) => v >= cut && keyOf[v] === k);
          m.sweepStale(keyOf);
          for (const [k, v] of live) expect(m.get(k)).toBe(v);
          expect(m.size).toBe(live.length);
        },
      ),
      { seed: 5, numRuns: 300 },
    );
  });

  it("prefetch only reads: it returns the sum of the keys' home slots (key + value; -1 + 0 when empty), changing nothing", () => {
    const m = new NumMap(8); // 16 slots
    m.set(3, 30);
    m.set(19, 190); // home slot 3 is taken: probes on to slot 4
    const keys = Float64Array.of(3, 4, 5, 35);
    // Home slots 3 (key 3 → 30), 4 (key 19 → 190), 5 (empty: -1, 0), 3 again.
    expect(m.prefetch(keys, 0, 4)).toBe(33 + 209 - 1 + 33);
    expect(m.prefetch(keys, 1, 3)).toBe(209 - 1);
    expect(m.size).toBe(2);
    expect(m.get(3)).toBe(30);
    expect(m.get(19)).toBe(190);
  });

  it("claim inserts once and tells whether it did; setAt / valueAt read and write the claimed slot", () => {
    const m = new NumMap(2);
    const i = m.claim(2 ** 40 + 7);
    expect(m.inserted).toBe(true);
    m.setAt(i, 11);
    expect(m.get(2 ** 40 + 7)).toBe(11);
    const j = m.claim(2 ** 40 + 7);
    expect(m.inserted).toBe(false);
    expect(j).toBe(i);
    expect(m.valueAt(j)).toBe(11);
    expect(m.size).toBe(1);
  });
});
