/**
 * The routers' block-hash indexes, on typed arrays: a lazy LRU of hashes (`StampLru`) and hash → holder sets
 * (`HolderIndex`, and `CountedHolderIndex` for KV-event indexes that count duplicate stores).
 *
 * Why not `Map`/`Set`: block hashes are 52-bit numbers, which V8 stores boxed (heap numbers) as keys, so every map
 * operation hashes a boxed double and the index churns the young generation; per-hash holder arrays add one more
 * allocation per block. Here every table is open addressing over a `Float64Array` of keys (the slot is the key's low
 * 32 bits — block hashes are already uniformly mixed), linear probing, backward-shift deletion (no tombstones), so
 * nothing is allocated per operation and the tables are updated in place, never copied. Keys are integers in
 * [0, 2^53); -1 marks an empty slot.
 */

import { NumMap } from "../sim/num-map.ts";

const EMPTY = -1;

/**
 * Stamps and ring counters are renumbered / rebased once they reach this (int32 clocks; ring counters stay small
 * integers). Tests pass a small value to exercise it.
 */
const RENUMBER_AT = 0x3fffffff;

function tableSize(capacity: number): number {
  let cap = 16;
  while (cap < capacity * 2) cap *= 2;
  return cap;
}

/*
 * The probing shared by every table below: slots of `stride` doubles, the key first; `mask` = slots − 1. Plain
 * functions over the arrays (no closure, nothing allocated), so that each class keeps its own fields and layout.
 */

/** Offset in `t` of `key`'s slot, or -1. */
function probe(t: Float64Array, mask: number, stride: number, key: number): number {
  let i = (key | 0) & mask;
  for (;;) {
    const k = t[i * stride]!;
    if (k === key) return i * stride;
    if (k === EMPTY) return -1;
    i = (i + 1) & mask;
  }
}

/** Offset in `t` of the first free slot on `key`'s probe sequence (where `key`, not present, is inserted). */
function freeSlot(t: Float64Array, mask: number, stride: number, key: number): number {
  let i = (key | 0) & mask;
  while (t[i * stride] !== EMPTY) i = (i + 1) & mask;
  return i * stride;
}

/**
 * Backward-shift deletion of slot `i` (no tombstones): moves the following entries back, marks the slot left over
 * EMPTY and returns its offset in `t` (its other doubles still hold the last moved entry's; the caller resets them).
 */
function shiftOut(t: Float64Array, mask: number, stride: number, i: number): number {
  let j = i;
  for (;;) {
    j = (j + 1) & mask;
    const k = t[j * stride]!;
    if (k === EMPTY) break;
    const home = (k | 0) & mask;
    if (i <= j ? i < home && home <= j : i < home || home <= j) continue;
    for (let x = 0; x < stride; x++) t[i * stride + x] = t[j * stride + x]!;
    i = j;
  }
  t[i * stride] = EMPTY;
  return i * stride;
}

/** Reinserts every entry of `old` into `t`, an empty table of the same stride (`mask`: its slots − 1). */
function rehash(old: Float64Array, t: Float64Array, mask: number, stride: number): void {
  for (let o = 0; o < old.length; o += stride) {
    const k = old[o]!;
    if (k === EMPTY) continue;
    const to = freeSlot(t, mask, stride, k);
    for (let x = 0; x < stride; x++) t[to + x] = old[o + x]!;
  }
}

/** A `[key, value]` pair table twice as large with the entries of `old`. */
function growPairs(old: Float64Array): Float64Array {
  const t = new Float64Array(old.length * 2).fill(EMPTY);
  rehash(old, t, old.length - 1, 2);
  return t;
}

/*
 * Holder bit sets: `w` int32 words stored right after the key (`[key, word0, …]`), as in `HolderIndex` and
 * `LruHolderIndex`.
 */

/** Whether the holder set at offset `o` (-1: no slot) has `replica`. */
function hasHolder(t: Float64Array, o: number, replica: number): boolean {
  return o >= 0 && ((t[o + 1 + (replica >>> 5)]! | 0) & (1 << (replica & 31))) !== 0;
}

/** Whether every word of the holder set at offset `o` is zero. */
function noHolder(t: Float64Array, o: number, w: number): boolean {
  for (let k = o + 1; k <= o + w; k++) if (t[k] !== 0) return false;
  return true;
}

/** Writes the replicas of the holder set at offset `o` (-1: none) into `out[0..count)`, ascending; returns the count. */
function holdersAt(t: Float64Array, o: number, w: number, out: Int32Array): number {
  if (o < 0) return 0;
  let n = 0;
  for (let k = 0; k < w; k++) {
    let m = t[o + 1 + k]! | 0;
    while (m !== 0) {
      const low = m & -m;
      out[n++] = (k << 5) + 31 - Math.clz32(low);
      m ^= low;
    }
  }
  return n;
}

/** The EPP's greedy walk over a holder table (see `HolderIndex.walk`). */
function walkHolders(
  t: Float64Array,
  mask: number,
  stride: number,
  w: number,
  hashes: Float64Array,
  n: number,
  counts: Int32Array,
): number {
  let b = 0;
  for (; b < n; b++) {
    const o = probe(t, mask, stride, hashes[b]!);
    if (o < 0) break;
    for (let k = 0; k < w; k++) {
      let m = t[o + 1 + k]! | 0;
      while (m !== 0) {
        const low = m & -m;
        counts[(k << 5) + 31 - Math.clz32(low)]!++;
        m ^= low;
      }
    }
  }
  return b;
}

/** Longest held prefix per replica over a holder table (see `HolderIndex.prefixRuns`). */
function prefixRunsOf(
  t: Float64Array,
  mask: number,
  stride: number,
  hashes: Float64Array,
  n: number,
  reps: Int32Array,
  m: number,
  held: Int32Array,
): void {
  let live = m;
  for (let b = 0; b < n && live > 0; b++) {
    const o = probe(t, mask, stride, hashes[b]!);
    if (o < 0) return;
    for (let j = 0; j < live; ) {
      const r = reps[j]!;
      if (((t[o + 1 + (r >>> 5)]! | 0) & (1 << (r & 31))) !== 0) {
        held[r]!++;
        j++;
      } else reps[j] = reps[--live]!;
    }
  }
}

/**
 * An LRU set of numeric keys (block hashes) with lazy deletion: a touch is one probe that stores the key's new stamp
 * and an append of a (key, stamp) record to a ring buffer; eviction pops records from the front and skips the stale
 * ones (whose key was touched again since). Same order as a list-based LRU, without relinking anything on a refresh.
 * A full ring grows, or drops its stale records when they are at least half of it; stamps are renumbered only when
 * the int32 clock runs out. The table interleaves keys and stamps (`[key, stamp]` per slot) so that a probe reads one
 * cache line.
 */
export class StampLru {
  /** Slot i: `t[2i]` = key (EMPTY when free), `t[2i + 1]` = stamp of its latest touch. */
  private t: Float64Array;
  private mask: number;
  private count = 0;
  /** Ring of (key, stamp) records in touch order: [head, tail) (monotonic counters, masked with `qMask`). */
  private qKeys = new Float64Array(1024);
  private qMarks = new Int32Array(1024);
  private qMask = 1023;
  private head = 0;
  private tail = 0;
  private clock = 0;

  private readonly renumberAt: number;

  constructor(capacity = 16, renumberAt = RENUMBER_AT) {
    const cap = tableSize(capacity);
    this.t = new Float64Array(cap * 2).fill(EMPTY);
    this.mask = cap - 1;
    this.renumberAt = renumberAt;
  }

  get size(): number {
    return this.count;
  }

  has(key: number): boolean {
    return this.slot(key) >= 0;
  }

  /** Index into `t` of `key`'s slot, or -1. */
  private slot(key: number): number {
    return probe(this.t, this.mask, 2, key);
  }

  /** Inserts `key` as most recent, or refreshes it; returns true when it was not present. */
  touch(key: number): boolean {
    if (this.tail - this.head > this.qMask) this.makeRoom();
    if (this.clock >= this.renumberAt || this.tail >= this.renumberAt) this.renumber();
    if ((this.count + 1) * 4 > this.t.length) this.grow();
    const s = ++this.clock;
    const q = this.tail++ & this.qMask;
    this.qKeys[q] = key;
    this.qMarks[q] = s;
    const t = this.t;
    const mask = this.mask;
    let i = (key | 0) & mask;
    for (;;) {
      const j = i << 1;
      const k = t[j]!;
      if (k === key) {
        t[j + 1] = s;
        return false;
      }
      if (k === EMPTY) {
        t[j] = key;
        t[j + 1] = s;
        this.count++;
        return true;
      }
      i = (i + 1) & mask;
    }
  }

  /** Removes and returns the least recently touched key (NaN when empty). */
  evict(): number {
    const qKeys = this.qKeys;
    const qMarks = this.qMarks;
    const qMask = this.qMask;
    while (this.head < this.tail) {
      const q = this.head++ & qMask;
      const key = qKeys[q]!;
      const j = this.slot(key);
      if (j >= 0 && this.t[j + 1] === qMarks[q]) {
        this.removeAt(j >> 1);
        return key;
      }
    }
    return Number.NaN;
  }

  /** Keys from least to most recent (tests, reports). */
  order(): number[] {
    const out: number[] = [];
    for (let p = this.head; p < this.tail; p++) {
      const q = p & this.qMask;
      if (this.stampOf(this.qKeys[q]!) === this.qMarks[q]) out.push(this.qKeys[q]!);
    }
    return out;
  }

  private stampOf(key: number): number {
    const j = this.slot(key);
    return j < 0 ? -1 : this.t[j + 1]!;
  }

  /** Backward-shift deletion of slot `i`. */
  private removeAt(i: number): void {
    shiftOut(this.t, this.mask, 2, i);
    this.count--;
  }

  private grow(): void {
    this.t = growPairs(this.t);
    this.mask = this.t.length / 2 - 1;
  }

  /**
   * The ring is full: drop the stale records when they are at least half of it (one probe each), else double it
   * (a copy, no probe). Either way a touch costs O(1) amortised.
   */
  private makeRoom(): void {
    const len = this.qMask + 1;
    const stale = this.tail - this.head - this.count;
    const qKeys = this.qKeys;
    const qMarks = this.qMarks;
    if (stale * 2 >= len) {
      let w = 0;
      for (let p = this.head; p < this.tail; p++) {
        const q = p & this.qMask;
        const k = qKeys[q]!;
        const s = qMarks[q]!;
        if (this.stampOf(k) !== s) continue;
        const to = (this.head + w++) & this.qMask;
        qKeys[to] = k;
        qMarks[to] = s;
      }
      this.tail = this.head + w;
      return;
    }
    const keys = new Float64Array(len * 2);
    const marks = new Int32Array(len * 2);
    let w = 0;
    for (let p = this.head; p < this.tail; p++) {
      const q = p & this.qMask;
      keys[w] = qKeys[q]!;
      marks[w++] = qMarks[q]!;
    }
    this.qKeys = keys;
    this.qMarks = marks;
    this.qMask = len * 2 - 1;
    this.head = 0;
    this.tail = w;
  }

  /**
   * Drops the stale records and renumbers the stamps 1…live, so that the int32 clock never overflows; rebases the
   * ring counters (by a multiple of its length) so that they stay small integers.
   */
  private renumber(): void {
    const base = this.head - (this.head & this.qMask);
    this.head -= base;
    this.tail -= base;
    const qKeys = this.qKeys;
    const qMarks = this.qMarks;
    let w = 0;
    for (let p = this.head; p < this.tail; p++) {
      const q = p & this.qMask;
      const k = qKeys[q]!;
      if (this.stampOf(k) !== qMarks[q]) continue;
      const to = (this.head + w) & this.qMask;
      qKeys[to] = k;
      qMarks[to] = ++w;
      this.t[this.slot(k) + 1] = w;
    }
    this.tail = this.head + w;
    this.clock = w;
  }
}

/**
 * A set of numeric keys that expire: `touch(key, expiry)` (re)sets a key's expiry, `expire(now)` drops every key
 * whose latest expiry is ≤ now. Expiries must be touched in nondecreasing order (a TTL from a clock that does not go
 * back), so the expired keys are always the oldest touches: a table of (key, stamp of the latest touch) and a ring of
 * touches (key, stamp, expiry), stale touches skipped, as in `StampLru`.
 */
export class ExpiringSet {
  private t: Float64Array;
  private mask: number;
  private count = 0;
  private qKeys = new Float64Array(256);
  private qMarks = new Int32Array(256);
  private qExp = new Float64Array(256);
  private qMask = 255;
  private head = 0;
  private tail = 0;
  private clock = 0;

  private readonly renumberAt: number;

  constructor(renumberAt = RENUMBER_AT) {
    this.t = new Float64Array(32).fill(EMPTY);
    this.mask = 15;
    this.renumberAt = renumberAt;
  }

  get size(): number {
    return this.count;
  }

  has(key: number): boolean {
    return this.slot(key) >= 0;
  }

  private slot(key: number): number {
    return probe(this.t, this.mask, 2, key);
  }

  touch(key: number, expiry: number): void {
    if (this.tail - this.head > this.qMask) this.makeRoom();
    if (this.clock >= this.renumberAt || this.tail >= this.renumberAt) this.makeRoom(true);
    if ((this.count + 1) * 4 > this.t.length) this.grow();
    const s = ++this.clock;
    const q = this.tail++ & this.qMask;
    this.qKeys[q] = key;
    this.qMarks[q] = s;
    this.qExp[q] = expiry;
    const j = this.slot(key);
    if (j >= 0) {
      this.t[j + 1] = s;
      return;
    }
    const i = freeSlot(this.t, this.mask, 2, key);
    this.t[i] = key;
    this.t[i + 1] = s;
    this.count++;
  }

  /** Drops the keys whose latest expiry is ≤ `now`. */
  expire(now: number): void {
    while (this.head < this.tail) {
      const q = this.head & this.qMask;
      if (this.qExp[q]! > now) return;
      this.head++;
      const j = this.slot(this.qKeys[q]!);
      if (j >= 0 && this.t[j + 1] === this.qMarks[q]) this.removeAt(j >> 1);
    }
  }

  private removeAt(i: number): void {
    shiftOut(this.t, this.mask, 2, i);
    this.count--;
  }

  private grow(): void {
    this.t = growPairs(this.t);
    this.mask = this.t.length / 2 - 1;
  }

  /** Full ring (or `renumber`): keep the live touches, renumbered 1…live, in a ring large enough for as many again. */
  private makeRoom(renumber = false): void {
    const n = this.tail - this.head;
    let len = this.qMask + 1;
    if (!renumber && (n - this.count) * 2 < len) len *= 2;
    const keys = new Float64Array(len);
    const marks = new Int32Array(len);
    const exp = new Float64Array(len);
    let w = 0;
    for (let p = this.head; p < this.tail; p++) {
      const q = p & this.qMask;
      const j = this.slot(this.qKeys[q]!);
      if (j < 0 || this.t[j + 1] !== this.qMarks[q]) continue;
      keys[w] = this.qKeys[q]!;
      exp[w] = this.qExp[q]!;
      marks[w] = w + 1;
      this.t[j + 1] = ++w;
    }
    this.qKeys = keys;
    this.qMarks = marks;
    this.qExp = exp;
    this.qMask = len - 1;
    this.head = 0;
    this.tail = w;
    this.clock = w;
  }
}

/**
 * hash → set of replicas holding it, as a bit set of ⌈replicas/32⌉ int32 words stored inline in the table (no
 * allocation per hash, any number of replicas). Adding a replica twice is the same as once. Slots interleave the key
 * and its words (`[key, word0, word1, …]`), so that a probe usually reads one cache line.
 */
export class HolderIndex {
  /** Words per entry. */
  private readonly w: number;
  /** Doubles per slot: 1 + w. */
  private readonly stride: number;
  private t: Float64Array;
  private mask: number;
  private count = 0;

  constructor(replicas: number, capacity = 16) {
    this.w = Math.max(1, (replicas + 31) >>> 5);
    this.stride = this.w + 1;
    const cap = tableSize(capacity);
    this.t = new Float64Array(cap * this.stride);
    for (let i = 0; i < cap; i++) this.t[i * this.stride] = EMPTY;
    this.mask = cap - 1;
  }

  /** Number of hashes with at least one holder. */
  get size(): number {
    return this.count;
  }

  /** Offset in `t` of `hash`'s slot, or -1. */
  private find(hash: number): number {
    return probe(this.t, this.mask, this.stride, hash);
  }

  /** Adds `replica` to `hash`'s holders; returns true when it was not there yet. */
  add(hash: number, replica: number): boolean {
    if ((this.count + 1) * 2 * this.stride > this.t.length) this.grow();
    const t = this.t;
    const mask = this.mask;
    const stride = this.stride;
    const bit = 1 << (replica & 31);
    const word = 1 + (replica >>> 5);
    let i = (hash | 0) & mask;
    for (;;) {
      const o = i * stride;
      const k = t[o]!;
      if (k === hash) {
        const m = t[o + word]! | 0;
        if ((m & bit) !== 0) return false;
        t[o + word] = m | bit;
        return true;
      }
      if (k === EMPTY) {
        t[o] = hash;
        t[o + word] = bit;
        this.count++;
        return true;
      }
      i = (i + 1) & mask;
    }
  }

  /** Adds `replica` to the holders of `hashes[0..n)` (hashes read from the array: nothing boxed). */
  addAll(hashes: Float64Array, n: number, replica: number): void {
    for (let i = 0; i < n; i++) {
      if ((this.count + 1) * 2 * this.stride > this.t.length) this.grow();
      const hash = hashes[i]!;
      const t = this.t;
      const mask = this.mask;
      const stride = this.stride;
      const word = 1 + (replica >>> 5);
      let j = (hash | 0) & mask;
      for (;;) {
        const o = j * stride;
        const k = t[o]!;
        if (k === hash) {
          t[o + word] = t[o + word]! | 0 | (1 << (replica & 31));
          break;
        }
        if (k === EMPTY) {
          t[o] = hash;
          t[o + word] = 1 << (replica & 31);
          this.count++;
          break;
        }
        j = (j + 1) & mask;
      }
    }
  }

  /** Removes `replica` from `hash`'s holders; returns true when it was there. */
  remove(hash: number, replica: number): boolean {
    const o = this.find(hash);
    if (o < 0) return false;
    const t = this.t;
    const at = o + 1 + (replica >>> 5);
    const bit = 1 << (replica & 31);
    const m = t[at]! | 0;
    if ((m & bit) === 0) return false;
    t[at] = m & ~bit;
    if (m !== bit) return true;
    if (noHolder(t, o, this.w)) this.removeAt(o / this.stride);
    return true;
  }

  holds(hash: number, replica: number): boolean {
    return hasHolder(this.t, this.find(hash), replica);
  }

  /** Replicas holding `hash`, ascending (tests). */
  holders(hash: number): number[] {
    const out = new Int32Array(this.w * 32);
    return Array.from(out.subarray(0, this.holdersInto(hash, out)));
  }

  /** Writes the replicas holding `hash` into `out[0..count)`, ascending; returns the count. */
  holdersInto(hash: number, out: Int32Array): number {
    return holdersAt(this.t, this.find(hash), this.w, out);
  }

  /**
   * The EPP's greedy walk: for each hash in order, every replica holding it gets +1 in `counts`; stops at the first
   * hash nobody holds. Returns the number of hashes walked with at least one holder.
   */
  walk(hashes: Float64Array, n: number, counts: Int32Array): number {
    return walkHolders(this.t, this.mask, this.stride, this.w, hashes, n, counts);
  }

  /**
   * Longest held prefix per replica: for each of the replicas `reps[0..m)`, adds to `held[r]` the number of leading
   * hashes it holds (consecutive from the first). One probe per hash, until every replica has stopped. `reps` is
   * scratch: its order is not kept.
   */
  prefixRuns(hashes: Float64Array, n: number, reps: Int32Array, m: number, held: Int32Array): void {
    prefixRunsOf(this.t, this.mask, this.stride, hashes, n, reps, m, held);
  }

  /** Backward-shift deletion of slot `i`. */
  private removeAt(i: number): void {
    const o = shiftOut(this.t, this.mask, this.stride, i);
    for (let x = 1; x < this.stride; x++) this.t[o + x] = 0;
    this.count--;
  }

  private grow(): void {
    const stride = this.stride;
    const cap = (this.t.length / stride) * 2;
    const t = new Float64Array(cap * stride);
    for (let i = 0; i < cap; i++) t[i * stride] = EMPTY;
    rehash(this.t, t, cap - 1, stride);
    this.t = t;
    this.mask = cap - 1;
  }
}

/**
 * A `HolderIndex` that counts: a replica added n times holds the hash until it is removed n times (a KV-event index
 * where a replica could store the same hash in two blocks). Duplicates are rare, so their extra counts live in a
 * side table keyed by hash that is empty in the common case.
 */
export class CountedHolderIndex {
  readonly set: HolderIndex;
  private readonly replicas: number;
  /** hash → extra stores per replica beyond the first (only for hashes with a duplicate). */
  private readonly extra = new Map<number, Int32Array>();

  constructor(replicas: number, capacity = 16) {
    this.set = new HolderIndex(replicas, capacity);
    this.replicas = replicas;
  }

  /** One more store of `hash` on `replica`; returns true when the replica did not hold it. */
  add(hash: number, replica: number): boolean {
    if (this.set.add(hash, replica)) return true;
    let e = this.extra.get(hash);
    if (e === undefined) this.extra.set(hash, (e = new Int32Array(Math.max(1, this.replicas))));
    e[replica]!++;
    return false;
  }

  /** One store fewer; returns true when this removed a store (false: the replica did not hold the hash). */
  remove(hash: number, replica: number): boolean {
    if (this.extra.size > 0) {
      const e = this.extra.get(hash);
      if (e !== undefined && e[replica]! > 0) {
        e[replica]!--;
        if (e.every((c) => c === 0)) this.extra.delete(hash);
        return true;
      }
    }
    return this.set.remove(hash, replica);
  }

  holds(hash: number, replica: number): boolean {
    return this.set.holds(hash, replica);
  }
}

/**
 * Per-request router state (what a router holds for a request between dispatch and completion) as rows of a
 * `Float64Array`, found by request id through a `NumMap`: no object per request. Rows are recycled.
 */
export class RequestTable {
  /** Numbers per row. */
  readonly columns: number;
  /** Row-major data; re-read after `open` (it may grow). */
  data: Float64Array;
  private readonly rows = new NumMap();
  private free: Int32Array = new Int32Array(64);
  private nFree = 0;
  private next = 0;

  constructor(columns: number) {
    this.columns = columns;
    this.data = new Float64Array(64 * columns);
  }

  get size(): number {
    return this.rows.size;
  }

  /** Offset of `id`'s row in `data`, or -1. */
  find(id: number): number {
    const r = this.rows.get(id);
    return r < 0 ? -1 : r * this.columns;
  }

  /** Offset of a fresh row for `id` (zeroed); `id` must not have one. */
  open(id: number): number {
    let r: number;
    if (this.nFree > 0) r = this.free[--this.nFree]!;
    else {
      r = this.next++;
      if ((r + 1) * this.columns > this.data.length) {
        const d = new Float64Array(this.data.length * 2);
        d.set(this.data);
        this.data = d;
      }
    }
    this.rows.set(id, r);
    const o = r * this.columns;
    this.data.fill(0, o, o + this.columns);
    return o;
  }

  /** Frees `id`'s row (no-op when it has none). */
  close(id: number): void {
    const r = this.rows.get(id);
    if (r < 0) return;
    this.rows.delete(id);
    if (this.nFree === this.free.length) {
      const f = new Int32Array(this.free.length * 2);
      f.set(this.free);
      this.free = f;
    }
    this.free[this.nFree++] = r;
  }
}

/**
 * hash → stamp, open addressing over `[key, stamp]` pairs (the overflow stamps of `LruHolderIndex`). Keys are given
 * as `src[at]`, read here, so that no caller passes a (boxed) 52-bit number.
 */
class StampTable {
  private t: Float64Array = new Float64Array(32).fill(EMPTY);
  private mask = 15;
  private count = 0;

  /** Offset in the table of the pair of the key `src[at]`, or -1. */
  private slot(src: Float64Array, at: number): number {
    return probe(this.t, this.mask, 2, src[at]!);
  }

  get(src: Float64Array, at: number): number {
    const j = this.slot(src, at);
    return j < 0 ? -1 : this.t[j + 1]!;
  }

  set(src: Float64Array, at: number, stamp: number): void {
    const j = this.slot(src, at);
    if (j >= 0) {
      this.t[j + 1] = stamp;
      return;
    }
    if ((this.count + 1) * 4 > this.t.length) this.grow();
    const key = src[at]!;
    const i = freeSlot(this.t, this.mask, 2, key);
    this.t[i] = key;
    this.t[i + 1] = stamp;
    this.count++;
  }

  delete(src: Float64Array, at: number): void {
    const j = this.slot(src, at);
    if (j < 0) return;
    shiftOut(this.t, this.mask, 2, j >> 1);
    this.count--;
  }

  private grow(): void {
    this.t = growPairs(this.t);
    this.mask = this.t.length / 2 - 1;
  }
}

/**
 * The approximate prefix index's two structures in one table: hash → replicas holding it (bit words, as
 * `HolderIndex`) and one LRU of hashes per replica (as one `StampLru` per replica: a ring of (hash, stamp) touches,
 * stale ones skipped). The stamp of one holder lives in the hash's own slot (`[key, words…, owner, stamp]`), so the
 * common case — a hash one replica holds — costs one probe to insert and one to evict, where a holder index plus
 * per-replica LRUs cost two each; the stamps of further holders go to a per-replica side table. Same contents and
 * eviction order as `HolderIndex` + `StampLru`s.
 */
export class LruHolderIndex {
  private readonly w: number;
  /** Doubles per slot: key, w words, owner (replica whose stamp is inline, -1 none), its stamp. */
  private readonly stride: number;
  private t: Float64Array;
  private mask: number;
  private count = 0;
  /** Per replica: hashes held (live LRU entries). */
  private readonly sizes: Int32Array;
  private readonly clocks: Int32Array;
  /** Per replica: stamps of the hashes whose inline stamp belongs to another replica. */
  private readonly extra: StampTable[];
  /** Per replica: ring of touches [head, tail) (monotonic counters masked with the ring length − 1). */
  private readonly qKeys: Float64Array[];
  private readonly qMarks: Int32Array[];
  private readonly heads: Int32Array;
  private readonly tails: Int32Array;
  private readonly renumberAt: number;
  /** Scratch for `touch(hash)`. */
  private readonly one = new Float64Array(1);

  constructor(replicas: number, capacity = 16, renumberAt = RENUMBER_AT) {
    const n = Math.max(1, replicas);
    this.renumberAt = renumberAt;
    this.w = Math.max(1, (n + 31) >>> 5);
    this.stride = this.w + 3;
    const cap = tableSize(capacity);
    this.t = this.emptyTable(cap);
    this.mask = cap - 1;
    this.sizes = new Int32Array(n);
    this.clocks = new Int32Array(n);
    this.extra = Array.from({ length: n }, () => new StampTable());
    this.qKeys = Array.from({ length: n }, () => new Float64Array(64));
    this.qMarks = Array.from({ length: n }, () => new Int32Array(64));
    this.heads = new Int32Array(n);
    this.tails = new Int32Array(n);
  }

  private emptyTable(cap: number): Float64Array {
    const t = new Float64Array(cap * this.stride);
    for (let i = 0; i < cap; i++) {
      t[i * this.stride] = EMPTY;
      t[i * this.stride + this.w + 1] = -1;
    }
    return t;
  }

  /** Distinct hashes held by some replica. */
  get hashes(): number {
    return this.count;
  }

  /** Hashes in `replica`'s LRU. */
  size(replica: number): number {
    return this.sizes[replica] ?? 0;
  }

  /** Offset in `t` of `hash`'s slot, or -1. */
  private find(hash: number): number {
    return probe(this.t, this.mask, this.stride, hash);
  }

  holds(hash: number, replica: number): boolean {
    return hasHolder(this.t, this.find(hash), replica);
  }

  /** Inserts `hash` as `replica`'s most recent, or refreshes it; returns true when the replica did not hold it. */
  touch(hash: number, replica: number): boolean {
    this.one[0] = hash;
    return this.touchAt(this.one, 0, replica);
  }

  /** Removes and returns `replica`'s least recently touched hash (NaN when it holds none). */
  evict(replica: number): number {
    const q = this.evictOne(replica);
    return q < 0 ? Number.NaN : this.qKeys[replica]![q]!;
  }

  /**
   * PreRequest of the approximate prefix index: touches `hashes[0..n)` for `replica` in order, each fresh one
   * followed by evictions down to `cap` (the same sequence as `touch` / `evict` calls). Hashes are read from the
   * array here, never passed around as (boxed) numbers.
   */
  insert(hashes: Float64Array, n: number, replica: number, cap: number): void {
    for (let i = 0; i < n; i++) {
      if (!this.touchAt(hashes, i, replica)) continue;
      while (this.sizes[replica]! > cap) this.evictOne(replica);
    }
  }

  private touchAt(src: Float64Array, at: number, replica: number): boolean {
    const len = this.qKeys[replica]!.length;
    if (this.tails[replica]! - this.heads[replica]! >= len) this.makeRoom(replica);
    if (this.clocks[replica]! >= this.renumberAt || this.tails[replica]! >= this.renumberAt) this.renumber(replica);
    if ((this.count + 1) * 2 * this.stride > this.t.length) this.grow();
    const hash = src[at]!;
    const s = ++this.clocks[replica]!;
    const qk = this.qKeys[replica]!;
    const tail = this.tails[replica]!;
    const q = tail & (qk.length - 1);
    qk[q] = hash;
    this.qMarks[replica]![q] = s;
    this.tails[replica] = tail + 1;
    const t = this.t;
    const mask = this.mask;
    const stride = this.stride;
    const word = 1 + (replica >>> 5);
    const bit = 1 << (replica & 31);
    const ownerAt = this.w + 1;
    let i = (hash | 0) & mask;
    for (;;) {
      const o = i * stride;
      const k = t[o]!;
      if (k === hash) {
        const m = t[o + word]! | 0;
        const owner = t[o + ownerAt]!;
        if ((m & bit) !== 0) {
          if (owner === replica) t[o + ownerAt + 1] = s;
          else this.extra[replica]!.set(src, at, s);
          return false;
        }
        t[o + word] = m | bit;
        if (owner < 0) {
          t[o + ownerAt] = replica;
          t[o + ownerAt + 1] = s;
        } else this.extra[replica]!.set(src, at, s);
        this.sizes[replica]!++;
        return true;
      }
      if (k === EMPTY) {
        t[o] = hash;
        t[o + word] = bit;
        t[o + ownerAt] = replica;
        t[o + ownerAt + 1] = s;
        this.count++;
        this.sizes[replica]!++;
        return true;
      }
      i = (i + 1) & mask;
    }
  }

  /**
   * Stamp of `replica`'s latest touch of the hash `src[at]`, whose slot is at offset `o` (-1 when the replica does
   * not hold it).
   */
  private stampAt(o: number, src: Float64Array, at: number, replica: number): number {
    const t = this.t;
    if (((t[o + 1 + (replica >>> 5)]! | 0) & (1 << (replica & 31))) === 0) return -1;
    if (t[o + this.w + 1] === replica) return t[o + this.w + 2]!;
    return this.extra[replica]!.get(src, at);
  }

  /** Evicts `replica`'s least recently touched hash; returns the ring position of its record, or -1 (none held). */
  private evictOne(replica: number): number {
    const qk = this.qKeys[replica]!;
    const qm = this.qMarks[replica]!;
    const qMask = qk.length - 1;
    let head = this.heads[replica]!;
    const tail = this.tails[replica]!;
    while (head < tail) {
      const q = head & qMask;
      head++;
      const o = this.find(qk[q]!);
      if (o < 0 || this.stampAt(o, qk, q, replica) !== qm[q]) continue;
      this.heads[replica] = head;
      this.removeHolder(o, qk, q, replica);
      return q;
    }
    this.heads[replica] = head;
    return -1;
  }

  /** Removes `replica` from the holders of the hash `src[at]`, whose slot is at offset `o`. */
  private removeHolder(o: number, src: Float64Array, at: number, replica: number): void {
    const t = this.t;
    const w = o + 1 + (replica >>> 5);
    const bit = 1 << (replica & 31);
    const m = t[w]! | 0;
    t[w] = m & ~bit;
    this.sizes[replica]!--;
    const ownerAt = o + this.w + 1;
    if (t[ownerAt] === replica) t[ownerAt] = -1;
    else this.extra[replica]!.delete(src, at);
    if (m === bit && noHolder(t, o, this.w)) this.removeAt(o / this.stride);
  }

  /** Hashes of `replica` from least to most recent (tests). */
  order(replica: number): number[] {
    const out: number[] = [];
    const qk = this.qKeys[replica]!;
    const qm = this.qMarks[replica]!;
    for (let p = this.heads[replica]!; p < this.tails[replica]!; p++) {
      const q = p & (qk.length - 1);
      const o = this.find(qk[q]!);
      if (o >= 0 && this.stampAt(o, qk, q, replica) === qm[q]) out.push(qk[q]!);
    }
    return out;
  }

  /** Replicas holding `hash`, ascending (tests). */
  holders(hash: number): number[] {
    const out = new Int32Array(this.w * 32);
    return Array.from(out.subarray(0, this.holdersInto(hash, out)));
  }

  /** Writes the replicas holding `hash` into `out[0..count)` (room for every replica), ascending; returns the count. */
  holdersInto(hash: number, out: Int32Array): number {
    return holdersAt(this.t, this.find(hash), this.w, out);
  }

  /** Longest held prefix per replica (as `HolderIndex.prefixRuns`): one probe per hash for all of `reps[0..m)`. */
  prefixRuns(hashes: Float64Array, n: number, reps: Int32Array, m: number, held: Int32Array): void {
    prefixRunsOf(this.t, this.mask, this.stride, hashes, n, reps, m, held);
  }

  /** The EPP's greedy walk (as `HolderIndex.walk`). */
  walk(hashes: Float64Array, n: number, counts: Int32Array): number {
    return walkHolders(this.t, this.mask, this.stride, this.w, hashes, n, counts);
  }

  private removeAt(i: number): void {
    const o = shiftOut(this.t, this.mask, this.stride, i);
    for (let x = 1; x <= this.w; x++) this.t[o + x] = 0;
    this.t[o + this.w + 1] = -1;
    this.count--;
  }

  private grow(): void {
    const cap = (this.t.length / this.stride) * 2;
    const t = this.emptyTable(cap);
    rehash(this.t, t, cap - 1, this.stride);
    this.t = t;
    this.mask = cap - 1;
  }

  /** `replica`'s ring is full: drop its stale touches when they are at least half of it, else double it. */
  private makeRoom(replica: number): void {
    const qk = this.qKeys[replica]!;
    const qm = this.qMarks[replica]!;
    const len = qk.length;
    const head = this.heads[replica]!;
    const tail = this.tails[replica]!;
    const stale = tail - head - this.sizes[replica]!;
    if (stale * 2 >= len) {
      let w = 0;
      for (let p = head; p < tail; p++) {
        const q = p & (len - 1);
        const k = qk[q]!;
        const s = qm[q]!;
        const o = this.find(k);
        if (o < 0 || this.stampAt(o, qk, q, replica) !== s) continue;
        const to = (head + w++) & (len - 1);
        qk[to] = k;
        qm[to] = s;
      }
      this.tails[replica] = head + w;
      return;
    }
    const keys = new Float64Array(len * 2);
    const marks = new Int32Array(len * 2);
    let w = 0;
    for (let p = head; p < tail; p++) {
      const q = p & (len - 1);
      keys[w] = qk[q]!;
      marks[w++] = qm[q]!;
    }
    this.qKeys[replica] = keys;
    this.qMarks[replica] = marks;
    this.heads[replica] = 0;
    this.tails[replica] = w;
  }

  /** Drops `replica`'s stale touches and renumbers its stamps 1…live; rebases its ring counters. */
  private renumber(replica: number): void {
    const qk = this.qKeys[replica]!;
    const qm = this.qMarks[replica]!;
    const len = qk.length;
    let head = this.heads[replica]!;
    const tail = this.tails[replica]! - (head - (head & (len - 1)));
    head &= len - 1;
    let w = 0;
    for (let p = head; p < tail; p++) {
      const q = p & (len - 1);
      const k = qk[q]!;
      const o = this.find(k);
      if (o < 0 || this.stampAt(o, qk, q, replica) !== qm[q]) continue;
      const to = (head + w) & (len - 1);
      qk[to] = k;
      qm[to] = ++w;
      if (this.t[o + this.w + 1] === replica) this.t[o + this.w + 2] = w;
      else this.extra[replica]!.set(qk, to, w);
    }
    this.heads[replica] = head;
    this.tails[replica] = head + w;
    this.clocks[replica] = w;
  }
}

/**
 * The prefix routers' walk down a chain of block hashes (vLLM prefix-aware, SGLang cache-aware): the deepest hash some
 * candidate holds, and its holders among the candidates. Scratch lists are kept between calls: nothing is allocated.
 */
export class DeepestHolders {
  /** Holders among the candidates of the deepest hash reached by the last `walk`, ascending: `list[0..count)`. */
  list: Int32Array;
  count = 0;
  private cur: Int32Array;
  private readonly scratch: Int32Array;
  private readonly isCand: Uint8Array;

  constructor(replicas: number) {
    this.isCand = new Uint8Array(replicas);
    const lists = Math.max(32, replicas + 31);
    this.list = new Int32Array(lists);
    this.cur = new Int32Array(lists);
    this.scratch = new Int32Array(lists);
  }

  /**
   * Walks `hashes` in order while some of `candidates` holds the hash (per `index`, which lists holders ascending);
   * returns the number of hashes walked and leaves the deepest one's candidate holders in `list[0..count)`.
   */
  walk(
    index: HolderIndex | LruHolderIndex,
    hashes: Float64Array,
    candidates: readonly { readonly index: number }[],
  ): number {
    const isCand = this.isCand;
    for (const ep of candidates) isCand[ep.index] = 1;
    const l = this.scratch;
    let holders = this.list;
    let cur = this.cur;
    let nHolders = 0;
    let matched = 0;
    for (let b = 0; b < hashes.length; b++) {
      const n = index.holdersInto(hashes[b]!, l);
      if (n === 0) break;
      let c = 0;
      for (let j = 0; j < n; j++) if (isCand[l[j]!] === 1) cur[c++] = l[j]!;
      if (c === 0) break;
      const t = holders;
      holders = cur;
      cur = t;
      nHolders = c;
      matched++;
    }
    this.list = holders;
    this.cur = cur;
    this.count = nHolders;
    for (const ep of candidates) isCand[ep.index] = 0;
    return matched;
  }
}
