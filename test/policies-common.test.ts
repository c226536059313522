// Shared index structures of the routers: the lazy LRU, the holder index, the hash ring, durations, tail hashes.
import { describe, expect, it } from "vitest";
import { HashRing, HolderIndex, parseDurationSeconds, partialTailHash, StampLru } from "../src/policies/common.ts";
import { endpoints } from "../src/policies/testing.ts";
import { blockHashes, hashString } from "../src/sim/hash.ts";

describe("StampLru", () => {
  it("evicts in least-recently-touched order; a touch refreshes", () => {
    const l = new StampLru();
    for (const k of [1, 2, 3]) expect(l.touch(k)).toBe(true);
    expect(l.touch(1)).toBe(false);
    expect(l.order()).toEqual([2, 3, 1]);
    expect([l.evict(), l.evict(), l.size]).toEqual([2, 3, 1]);
    expect(l.evict()).toBe(1);
    expect(l.evict()).toBeNaN();
  });
  it("keeps the order through compactions and growth (compared with a Map-based LRU)", () => {
    const l = new StampLru();
    const ref = new Map<number, true>();
    let x = 12345;
    for (let i = 0; i < 20000; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      const k = (x % 700) * 4294967296 + 17; // 52-bit-ish keys
      l.touch(k);
      ref.delete(k);
      ref.set(k, true);
      if (ref.size > 500) {
        const old = ref.keys().next().value as number;
        ref.delete(old);
        expect(l.evict()).toBe(old);
      }
    }
    expect(l.order()).toEqual([...ref.keys()]);
  });
});

describe("HolderIndex", () => {
  for (const replicas of [4, 40]) {
    it(`adds, removes and walks greedily (${replicas} replicas)`, () => {
      const h = new HolderIndex(replicas);
      h.add(10, 1);
      h.add(10, 3);
      h.add(10, 3);
      h.add(20, 3);
      h.add(30, 0);
      expect(h.holders(10)).toEqual([1, 3]);
      expect(h.holds(20, 3)).toBe(true);
      const counts = new Int32Array(replicas);
      expect(h.walk(Float64Array.from([10, 20, 99, 30]), 4, counts)).toBe(2);
      expect([...counts.subarray(0, 4)]).toEqual([0, 1, 0, 2]);
      h.remove(10, 1);
      h.remove(10, 3);
      expect(h.holders(10)).toEqual([]);
      expect(h.holds(10, 1)).toBe(false);
    });
  }
});

describe("HashRing", () => {
  it("is deterministic and spreads keys", () => {
    const ring = new HashRing(160);
    const eps = endpoints(4);
    const counts = [0, 0, 0, 0];
    for (let k = 0; k < 4000; k++) counts[ring.lookup(eps, hashString(`session-${k}`))]!++;
    for (const c of counts) expect(c).toBeGreaterThan(600);
    expect(ring.lookup(eps, 42)).toBe(new HashRing(160).lookup(eps, 42));
    expect(ring.lookup([], 1)).toBe(-1);
  });
});

describe("helpers", () => {
  it("durations", () => {
    expect(parseDurationSeconds("200ms")).toBeCloseTo(0.2, 12);
    expect(parseDurationSeconds("2s")).toBe(2);
    expect(parseDurationSeconds("1.5m")).toBe(90);
    expect(parseDurationSeconds("soon")).toBeUndefined();
  });
  it("partial tail hash depends only on the content after the last full block", () => {
    const a = [{ id: 1, tokens: 40 }];
    const b = [
      { id: 1, tokens: 32 },
      { id: 1, tokens: 8, offset: 32 },
    ];
    const ha = blockHashes(a, 16);
    const hb = blockHashes(b, 16);
    expect(partialTailHash(a, 16, 2, ha[1]!)).toBe(partialTailHash(b, 16, 2, hb[1]!));
    expect(partialTailHash(a, 16, 2, ha[1]!)).not.toBe(partialTailHash([{ id: 1, tokens: 41 }], 16, 2, ha[1]!));
    expect(partialTailHash([{ id: 1, tokens: 32 }], 16, 2, ha[1]!)).toBe(-1);
  });
});
