import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KvCache } from "../src/models/kv-cache.ts";
import { blockHashes } from "../src/sim/hash.ts";
import { EventHeap } from "../src/sim/heap.ts";

describe("KvCache", () => {
  it("evicts the least recently freed block first, and frees a request tail first", () => {
    const kv = new KvCache(4, 16);
    const a = [kv.allocate(), kv.allocate()];
    kv.register(a[0]!, 100);
    kv.register(a[1]!, 101);
    const b = [kv.allocate(), kv.allocate()];
    kv.register(b[0]!, 200);
    kv.register(b[1]!, 201);
    expect(kv.freeBlocks).toBe(0);
    kv.releaseAll(a); // frees 101 then 100
    kv.releaseAll(b); // frees 201 then 200
    expect(kv.freeOrder().map((x) => kv.blockHash(x))).toEqual([101, 100, 201, 200]);
    // All four still findable.
    expect(kv.lookup(Float64Array.of(100, 101), 2)).toBe(2);
    // New allocations evict in LRU order: 101 first (a's tail), then 100.
    kv.allocate();
    expect(kv.has(101)).toBe(false);
    expect(kv.has(100)).toBe(true);
    // A prefix lookup stops at the first missing block.
    expect(kv.lookup(Float64Array.of(100, 101), 2)).toBe(1);
    kv.allocate();
    expect(kv.has(100)).toBe(false);
    expect(kv.evictions).toBe(2);
    kv.checkInvariants();
  });

  it("a hit block taken from the free list is no longer evictable", () => {
    const kv = new KvCache(2, 16);
    const x = kv.allocate();
    kv.register(x, 5);
    kv.release(x);
    expect(kv.freeBlocks).toBe(2);
    const y = kv.acquire(5);
    expect(y).toBe(x);
    expect(kv.freeBlocks).toBe(1);
    kv.allocate();
    expect(kv.allocate()).toBe(-1);
    expect(kv.has(5)).toBe(true);
    kv.checkInvariants();
  });

  it("keeps its invariants under random operations (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 30 })), { maxLength: 300 }),
        (ops) => {
          const kv = new KvCache(8, 16);
          const held: number[] = [];
          for (const [op, v] of ops) {
            if (op === 0) {
              const b = kv.allocate();
              if (b >= 0) {
                held.push(b);
                kv.register(b, v);
              } else expect(kv.freeBlocks).toBe(0);
            } else if (op === 1 && held.length > 0) {
              kv.release(held.splice(v % held.length, 1)[0]!);
            } else if (op === 2 && kv.has(v)) {
              held.push(kv.acquire(v));
            }
            expect(kv.usedBlocks).toBeLessThanOrEqual(8);
            expect(kv.totalRefs()).toBe(held.length);
          }
          kv.checkInvariants();
        },
      ),
      { seed: 1234, numRuns: 200 },
    );
  });

  it("hands out free blocks in vLLM's order through ring growth, wrap-round and stale entries (fast-check against a plain list)", () => {
    // Reference: the free queue as a list, never-used blocks first in index order; allocation takes the head, a block
    // whose last reference drops goes to the tail, a prefix hit on a free block takes it out of the middle. 64 blocks
    // make the ring (16 entries at first) grow while entries have wrapped round and some are stale.
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 1000 })), {
          minLength: 300,
          maxLength: 700,
        }),
        (ops) => {
          const n = 64;
          const kv = new KvCache(n, 16);
          const order: number[] = Array.from({ length: n }, (_, i) => i);
          const refs = new Array<number>(n).fill(0);
          const held: number[] = [];
          let nextHash = 1;
          for (let k = 0; k < ops.length; k++) {
            const [r, v] = ops[k]!;
            // The first 80 operations mostly allocate (the never-used blocks run out, so later allocations move the
            // ring's head); after them releases are twice as likely as allocations, so the free list fills up and the
            // ring grows with its entries wrapped round.
            const op = k < 80 ? (r < 3 ? 0 : 2) : r === 0 ? 0 : r === 3 ? 3 : 2;
            if (op === 0) {
              const b = kv.allocate();
              if (order.length === 0) {
                expect(b).toBe(-1);
                continue;
              }
              expect(b).toBe(order.shift());
              refs[b]!++;
              held.push(b);
              kv.register(b, nextHash++);
            } else if (op === 2 && held.length > 0) {
              const b = held.splice(v % held.length, 1)[0]!;
              kv.release(b);
              if (--refs[b]! === 0) order.push(b);
            } else if (op === 3 && order.length > 0) {
              // A hit on a free block that still carries its hash.
              const b = order[v % order.length]!;
              const h = kv.blockHash(b);
              if (h < 0) continue;
              expect(kv.acquire(h)).toBe(b);
              order.splice(order.indexOf(b), 1);
              refs[b]!++;
              held.push(b);
            }
          }
          expect(kv.freeOrder()).toEqual(order);
          kv.checkInvariants();
          // Stale entries are dropped before they make the ring outgrow twice the blocks (128 entries for 64).
          expect((kv as unknown as { ring: Int32Array }).ring.length).toBeLessThanOrEqual(128);
        },
      ),
      { seed: 99, numRuns: 300 },
    );
  });
});

describe("block hashes", () => {
  it("each request's hash array is its own: arrays cut from shared slabs never overlap (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 1, max: 1e9 })), {
          minLength: 50,
          maxLength: 400,
        }),
        (specs) => {
          // 0 to 125 blocks of 16 tokens, and every seventh prompt ten times as long (up to 1,250 blocks: above the
          // slab limit), each array filled with its own values; all are checked again once every later one is cut.
          const made = specs.map(([n, id]) => {
            const tokens = id % 7 === 0 ? 10 * n : n;
            const h = blockHashes([{ id, tokens }], 16);
            expect(h.length).toBe(Math.floor(tokens / 16));
            return { h, copy: Array.from(h) };
          });
          for (const { h, copy } of made) expect(Array.from(h)).toEqual(copy);
        },
      ),
      { seed: 7, numRuns: 60 },
    );
  });

  it("are chained: equal prefixes give equal hashes, a different block changes every later hash", () => {
    const a = blockHashes(
      [
        { id: 1, tokens: 64 },
        { id: 2, tokens: 40 },
      ],
      16,
    );
    const b = blockHashes(
      [
        { id: 1, tokens: 64 },
        { id: 3, tokens: 40 },
      ],
      16,
    );
    expect(a.length).toBe(6); // 104 tokens → 6 full blocks
    expect(Array.from(a.subarray(0, 4))).toEqual(Array.from(b.subarray(0, 4)));
    expect(a[4]).not.toBe(b[4]);
    // Same content split differently into segments with offsets gives the same hashes.
    const c = blockHashes(
      [
        { id: 1, tokens: 30 },
        { id: 1, tokens: 34, offset: 30 },
        { id: 2, tokens: 40 },
      ],
      16,
    );
    expect(Array.from(c.subarray(0, 1))).toEqual(Array.from(a.subarray(0, 1)));
    // The same content at another position hashes differently (chaining).
    const d = blockHashes([{ id: 2, tokens: 40 }], 16);
    expect(d[0]).not.toBe(a[4]);
    for (const h of a) expect(Number.isSafeInteger(h) && h >= 0).toBe(true);
  });
});

describe("EventHeap", () => {
  it("pops in (time, insertion) order (fast-check against a stable sort)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 500 }), (times) => {
        const h = new EventHeap(2);
        times.forEach((t, i) => {
          h.push(t / 10, 0, i);
        });
        const expected = times.map((t, i) => ({ t: t / 10, i })).sort((x, y) => x.t - y.t || x.i - y.i);
        for (const e of expected) {
          expect(h.pop()).toBe(true);
          expect(h.lastTime).toBe(e.t);
          expect(h.lastArg).toBe(e.i);
        }
        expect(h.pop()).toBe(false);
      }),
      { seed: 42, numRuns: 100 },
    );
  });

  it("cancelled events pop flagged, in their place, and no other event moves", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.boolean()), { maxLength: 300 }), (events) => {
        const h = new EventHeap(2);
        const handles = events.map(([t], i) => h.push(t / 10, 0, i));
        events.forEach(([, cancel], i) => {
          if (cancel) h.cancel(handles[i]!);
        });
        const expected = events.map(([t, c], i) => ({ t: t / 10, i, c })).sort((x, y) => x.t - y.t || x.i - y.i);
        for (const e of expected) {
          expect(h.pop()).toBe(true);
          expect([h.lastTime, h.lastArg, h.lastCancelled]).toEqual([e.t, e.i, e.c]);
        }
        expect(h.pop()).toBe(false);
      }),
      { seed: 7, numRuns: 100 },
    );
  });

  it("the lane (pushLast) pops in the same (time, seq) order as one heap, cancellations included", () => {
    type Op = { kind: "push" | "last" | "pop" | "cancel"; t: number };
    const op = fc.record({
      kind: fc.constantFrom<Op["kind"]>("push", "last", "last", "pop", "cancel"),
      t: fc.integer({ min: 0, max: 40 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const h = new EventHeap(2);
        // Reference: a list popped at its least (time, seq); seq = push order across both kinds of push.
        const ref: { t: number; seq: number; arg: number; pushed: number; cancelled: boolean }[] = [];
        let seq = 0;
        let now = 0;
        const popBoth = () => {
          let k = -1;
          for (let i = 0; i < ref.length; i++) {
            const e = ref[i]!;
            if (k < 0 || e.t < ref[k]!.t || (e.t === ref[k]!.t && e.seq < ref[k]!.seq)) k = i;
          }
          expect(h.pop()).toBe(k >= 0);
          if (k < 0) return;
          const e = ref.splice(k, 1)[0]!;
          expect([h.lastTime, h.lastArg, h.lastPushTime, h.lastCancelled]).toEqual([e.t, e.arg, e.pushed, e.cancelled]);
          now = e.t;
          h.now = now;
        };
        const handles: number[] = [];
        for (const o of ops) {
          expect(h.size).toBe(ref.length);
          if (o.kind === "pop") popBoth();
          else if (o.kind === "cancel") {
            const live = ref.filter((e) => !e.cancelled);
            if (live.length === 0) continue;
            const e = live[o.t % live.length]!;
            e.cancelled = true;
            h.cancel(handles[e.arg]!);
          } else {
            // Future events only, as in the engine; "last" ones mostly in time order (some not: they go to the heap).
            const t = now + o.t / 10;
            const arg = handles.length;
            handles.push(o.kind === "last" ? h.pushLast(t, 1, arg) : h.push(t, 0, arg));
            ref.push({ t, seq: seq++, arg, pushed: now, cancelled: false });
          }
        }
        expect(h.peekTime()).toBe(ref.length > 0 ? Math.min(...ref.map((e) => e.t)) : Number.POSITIVE_INFINITY);
        while (ref.length > 0) popBoth();
        expect(h.pop()).toBe(false);
      }),
      { seed: 11, numRuns: 200 },
    );
  });

  it("the lane keeps its order when it grows with its head wrapped around", () => {
    const h = new EventHeap(2);
    let t = 0;
    for (let i = 0; i < 12; i++) h.pushLast(t++, 0, i);
    for (let i = 0; i < 7; i++) {
      expect(h.pop()).toBe(true);
      expect(h.lastArg).toBe(i);
    }
    // 5 left from slot 7; 40 more wrap past the end of the 16-slot ring, then double it twice.
    for (let i = 12; i < 52; i++) h.pushLast(t++, 0, i);
    for (let i = 7; i < 52; i++) {
      expect(h.pop()).toBe(true);
      expect([h.lastTime, h.lastArg]).toEqual([i, i]);
    }
    expect(h.pop()).toBe(false);
  });
});
