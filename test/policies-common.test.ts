// Shared index structures of the routers: the lazy LRU, holder indexes, expiring sets, request tables, the hash ring,
// durations, tail hashes.
import { describe, expect, it } from "vitest";
import { HashRing, parseDurationSeconds, partialTailHash } from "../src/policies/common.ts";
import { ExpiringSet } from "../src/policies/indexes/expiring-set.ts";
import { CountedHolderIndex, HolderIndex } from "../src/policies/indexes/holder-index.ts";
import { LruHolderIndex } from "../src/policies/indexes/lru-holder-index.ts";
import { RequestRows } from "../src/policies/indexes/request-rows.ts";
import { StampLru } from "../src/policies/indexes/stamp-lru.ts";
import { endpoints } from "../src/policies/testing.ts";
import { blockHashes, hashString, mix, type Segment } from "../src/sim/hash.ts";

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

/** A 52-bit-ish key stream (deterministic). */
function keyStream(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return (x % 997) * 4294967296 + ((x >>> 3) % 1009);
  };
}

describe("StampLru under heavy refresh", () => {
  it("matches a Map-based LRU when most touches are refreshes (stale records dropped from the ring, stamps renumbered)", () => {
    const l = new StampLru(16, 300);
    const ref = new Map<number, true>();
    const next = keyStream(7);
    let wrong = 0;
    for (let i = 0; i < 50000; i++) {
      const k = next() % 37; // few keys: almost every touch is a refresh
      if (l.touch(k) !== !ref.has(k)) wrong++;
      ref.delete(k);
      ref.set(k, true);
      if (i % 97 === 0 && ref.size > 0) {
        const old = ref.keys().next().value as number;
        ref.delete(old);
        if (l.evict() !== old) wrong++;
      }
    }
    expect(wrong).toBe(0);
    expect(l.order()).toEqual([...ref.keys()]);
    expect(l.size).toBe(ref.size);
  });
});

describe("HolderIndex against a reference (random operations)", () => {
  for (const replicas of [3, 32, 33, 100]) {
    it(`${replicas} replicas: add, remove, holds, holders, walk, prefixRuns`, () => {
      const h = new HolderIndex(replicas);
      const ref = new Map<number, Set<number>>();
      const next = keyStream(replicas);
      const keys = Array.from({ length: 300 }, () => next());
      for (let i = 0; i < 20000; i++) {
        const k = keys[next() % keys.length]!;
        const r = next() % replicas;
        const set = ref.get(k) ?? new Set<number>();
        if (next() % 3 === 0) {
          expect(h.remove(k, r)).toBe(set.delete(r));
        } else {
          expect(h.add(k, r)).toBe(!set.has(r));
          set.add(r);
        }
        if (set.size > 0) ref.set(k, set);
        else ref.delete(k);
      }
      expect(h.size).toBe(ref.size);
      for (const k of keys) {
        const want = [...(ref.get(k) ?? [])].sort((a, b) => a - b);
        expect(h.holders(k)).toEqual(want);
        for (const r of [0, replicas - 1]) expect(h.holds(k, r)).toBe(want.includes(r));
      }
      // Walk and per-replica longest runs over a prompt of held keys.
      const prompt = Float64Array.from(keys.filter((k) => ref.has(k)).slice(0, 12));
      const counts = new Int32Array(replicas);
      let depth = 0;
      const want = new Int32Array(replicas);
      for (const k of prompt) {
        const s = ref.get(k)!;
        depth++;
        for (const r of s) want[r]!++;
      }
      expect(h.walk(prompt, prompt.length, counts)).toBe(depth);
      expect([...counts]).toEqual([...want]);
      const runs = new Int32Array(replicas);
      const reps = Int32Array.from({ length: replicas }, (_, i) => i);
      h.prefixRuns(prompt, prompt.length, reps, replicas, runs);
      for (let r = 0; r < replicas; r++) {
        let k = 0;
        while (k < prompt.length && ref.get(prompt[k]!)!.has(r)) k++;
        expect(runs[r]).toBe(k);
      }
    });
  }
});

describe("LruHolderIndex", () => {
  for (const replicas of [4, 33]) {
    it(`is a HolderIndex plus one StampLru per replica (${replicas} replicas, shared and private hashes)`, () => {
      const u = new LruHolderIndex(replicas, 16); // grows its tables on the way
      const holders = new HolderIndex(replicas);
      const lrus = Array.from({ length: replicas }, () => new StampLru());
      const next = keyStream(11 + replicas);
      const shared = Array.from({ length: 40 }, () => next()); // held by many replicas
      let wrong = 0;
      for (let i = 0; i < 40000; i++) {
        const r = next() % replicas;
        const k = next() % 4 === 0 ? shared[next() % shared.length]! : next();
        const fresh = lrus[r]!.touch(k);
        if (fresh) holders.add(k, r);
        if (u.touch(k, r) !== fresh) wrong++;
        const cap = 20 + (r % 5) * 10;
        while (lrus[r]!.size > cap) {
          const old = lrus[r]!.evict();
          holders.remove(old, r);
          if (u.evict(r) !== old) wrong++;
        }
        if (u.size(r) !== lrus[r]!.size) wrong++;
      }
      expect(wrong).toBe(0);
      for (let r = 0; r < replicas; r++) expect(u.order(r)).toEqual(lrus[r]!.order());
      const out = new Int32Array(64);
      for (const k of shared) {
        const n = u.holdersInto(k, out);
        expect([...out.subarray(0, n)]).toEqual(holders.holders(k));
        expect(u.holders(k)).toEqual(holders.holders(k));
        for (let r = 0; r < replicas; r++) expect(u.holds(k, r)).toBe(holders.holds(k, r));
      }
      const prompt = Float64Array.from(shared);
      const a = new Int32Array(replicas);
      const b = new Int32Array(replicas);
      expect(u.walk(prompt, prompt.length, a)).toBe(holders.walk(prompt, prompt.length, b));
      expect([...a]).toEqual([...b]);
      // Empty every LRU: the table empties too.
      for (let r = 0; r < replicas; r++) while (!Number.isNaN(u.evict(r)));
      expect(u.hashes).toBe(0);
    });
  }
});

describe("CountedHolderIndex", () => {
  it("holds a hash until it is removed as often as it was stored", () => {
    const c = new CountedHolderIndex(4);
    expect(c.add(5, 1)).toBe(true);
    expect(c.add(5, 1)).toBe(false);
    expect(c.remove(5, 1)).toBe(true);
    expect(c.holds(5, 1)).toBe(true);
    expect(c.remove(5, 1)).toBe(true);
    expect(c.holds(5, 1)).toBe(false);
    expect(c.remove(5, 1)).toBe(false);
  });
});

describe("ExpiringSet", () => {
  it("drops exactly the keys whose latest expiry has passed (compared with an insertion-ordered Map)", () => {
    const e = new ExpiringSet(2000);
    const ref = new Map<number, number>();
    const next = keyStream(3);
    let now = 0;
    for (let i = 0; i < 30000; i++) {
      now += (next() % 5) * 0.01;
      const k = next() % 400;
      e.touch(k, now + 2);
      ref.delete(k);
      ref.set(k, now + 2);
      if (i % 50 === 0) {
        e.expire(now);
        for (const [key, exp] of ref) {
          if (exp > now) break;
          ref.delete(key);
        }
        expect(e.size).toBe(ref.size);
      }
    }
    for (let k = 0; k < 400; k++) expect(e.has(k)).toBe(ref.has(k));
  });
});

describe("RequestRows", () => {
  it("keeps a row per request, recycles rows, grows", () => {
    const t = new RequestRows(2);
    for (let id = 0; id < 200; id++) {
      const o = t.open(id * 7919);
      t.data[o] = id;
      t.data[o + 1] = -id;
    }
    for (let id = 0; id < 200; id += 2) t.close(id * 7919);
    expect(t.size).toBe(100);
    const o = t.open(123456789);
    expect([t.data[o], t.data[o + 1]]).toEqual([0, 0]);
    for (let id = 1; id < 200; id += 2) {
      const r = t.find(id * 7919);
      expect([t.data[r], t.data[r + 1]]).toEqual([id, -id]);
    }
    expect(t.find(2 * 7919)).toBe(-1);
  });
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
  it("partial tail hash is mix(mix(mix(h, id), offset), tokens) over the tail's pieces from h = mix(prev, 0x7a11b0c5)", () => {
    const next = keyStream(5);
    for (let trial = 0; trial < 200; trial++) {
      const segs: Segment[] = Array.from({ length: 1 + (next() % 4) }, () => {
        const id = next() * 1024 + (next() % 1024);
        const tokens = 1 + (next() % 40);
        return next() % 3 === 0 ? { id, tokens, offset: next() % 100 } : { id, tokens };
      });
      const bs = 16;
      const hs = blockHashes(segs, bs);
      const full = hs.length;
      const prev = full > 0 ? hs[full - 1]! : 12345;
      // Reference, written with src/sim/hash.ts's mix.
      let skip = full * bs;
      let h = mix(prev, 0x7a11b0c5);
      let any = false;
      for (const seg of segs) {
        let off = seg.offset ?? 0;
        let left = seg.tokens;
        if (skip >= left) {
          skip -= left;
          continue;
        }
        off += skip;
        left -= skip;
        skip = 0;
        h = mix(mix(mix(h, seg.id), off), left);
        any = true;
      }
      expect(partialTailHash(segs, bs, full, prev)).toBe(any ? h : -1);
    }
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
