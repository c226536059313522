/**
 * An open-addressing hash map from non-negative integer keys below 2^53 (our 52-bit block hashes) to int32 values.
 *
 * Why not `Map<number, number>`: keys above 2^31 are heap numbers in V8, so every `Map` operation hashes a boxed double
 * and allocates; profiling the engine showed KV-cache map operations taking most of the run time. Here keys live in a
 * Float64Array, the slot is the key's low 32 bits (the keys are already uniformly mixed hashes), collisions probe
 * linearly, and deletion shifts later entries back (no tombstones), so lookups stay short at any churn. Keys and
 * values are separate arrays (12 bytes a slot; side by side in one Float64Array they took 16, and the tables of the
 * routers' indexes and KV caches are what peak memory is made of); `prefetch` loads both.
 */
const EMPTY = -1;

export class NumMap {
  /** Slot i: key at `keys[i]` (EMPTY when free), value at `vals[i]`. */
  private keys: Float64Array;
  private vals: Int32Array;
  /** Capacity (slots) − 1; capacity is a power of two. */
  private mask: number;
  size = 0;

  constructor(capacity = 16) {
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.keys = new Float64Array(cap).fill(EMPTY);
    this.vals = new Int32Array(cap);
    this.mask = cap - 1;
  }

  /**
   * Loads the home slots of `keys[from..to)` ahead of a loop that probes for them one by one, and returns a value
   * made of what it read (for the caller to keep, so the loads stay). The tables are larger than the processor's
   * caches, so each probe is a cache miss; in the probing loop the next probe waits behind the previous one's
   * branches, while these loads are independent and their misses overlap: the probes then hit the cache.
   */
  prefetch(keys: Float64Array, from: number, to: number): number {
    const k = this.keys;
    const v = this.vals;
    const mask = this.mask;
    let acc = 0;
    for (let j = from; j < to; j++) {
      const i = (keys[j]! | 0) & mask;
      acc += k[i]! + v[i]!;
    }
    return acc;
  }

  /** Value for `key`, or `missing` (default -1). */
  get(key: number, missing = -1): number {
    const i = this.slotOf(key);
    return i < 0 ? missing : this.vals[i]!;
  }

  has(key: number): boolean {
    return this.slotOf(key) >= 0;
  }

  set(key: number, value: number): void {
    const i = this.claim(key); // may grow the table: read `this.vals` only after it
    this.vals[i] = value | 0;
  }

  /** Inserts `key → value` unless `key` is present; returns whether it inserted. One probe sequence. */
  setIfAbsent(key: number, value: number): boolean {
    const before = this.size;
    const i = this.claim(key);
    if (this.size === before) return false;
    this.vals[i] = value | 0;
    return true;
  }

  /** Maps `key` to `value` and returns the value it had, or -1 when it was absent. One probe sequence. */
  exchange(key: number, value: number): number {
    const before = this.size;
    const i = this.claim(key);
    const old = this.size === before ? this.vals[i]! : -1;
    this.vals[i] = value | 0;
    return old;
  }

  /** Set by `claim`: whether it inserted the key. */
  inserted = false;

  /**
   * Slot of `key`, inserting the key (value unset: write it with `setAt`) when absent; `inserted` tells which. The
   * slot is valid until the next insertion or deletion.
   */
  claim(key: number): number {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    const keys = this.keys;
    const mask = this.mask;
    let i = (key | 0) & mask;
    for (;;) {
      const k = keys[i]!;
      if (k === key) {
        this.inserted = false;
        return i;
      }
      if (k === EMPTY) {
        keys[i] = key;
        this.size++;
        this.inserted = true;
        return i;
      }
      i = (i + 1) & mask;
    }
  }

  /** Value in slot `i` (from `claim`). */
  valueAt(i: number): number {
    return this.vals[i]!;
  }

  /** Sets the value in slot `i` (from `claim`). */
  setAt(i: number, value: number): void {
    this.vals[i] = value | 0;
  }

  /** Removes `key` if it maps to `value`; returns whether it did. One probe sequence. */
  deleteIfValue(key: number, value: number): boolean {
    const i = this.slotOf(key);
    if (i < 0 || this.vals[i] !== value) return false;
    this.removeAt(i);
    return true;
  }

  /** Removes `key`; returns whether it was present. Backward-shift deletion keeps probe chains intact. */
  delete(key: number): boolean {
    const i = this.slotOf(key);
    if (i < 0) return false;
    this.removeAt(i);
    return true;
  }

  /** Slot holding `key`, or -1. */
  private slotOf(key: number): number {
    const keys = this.keys;
    const mask = this.mask;
    let i = (key | 0) & mask;
    for (;;) {
      const k = keys[i]!;
      if (k === key) return i;
      if (k === EMPTY) return -1;
      i = (i + 1) & mask;
    }
  }

  /** Empties slot `i`, shifting back any later entry of its cluster whose home slot is not in (i, j]. */
  private removeAt(i: number): void {
    const keys = this.keys;
    const vals = this.vals;
    const mask = this.mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const k = keys[j]!;
      if (k === EMPTY) break;
      const home = (k | 0) & mask;
      const between = i <= j ? i < home && home <= j : i < home || home <= j;
      if (!between) {
        keys[i] = k;
        vals[i] = vals[j]!;
        i = j;
      }
    }
    keys[i] = EMPTY;
    this.size--;
  }

  /**
   * Removes every entry whose value v has `keyOf[v · stride] !== key` (an index whose target no longer carries the key), in
   * one sequential pass over the table; backward-shift deletion can move a later entry into the current slot, which
   * is then checked again. Inline check, no callback: this runs over the whole table.
   */
  sweepStale(keyOf: Float64Array, stride = 1): void {
    const keys = this.keys;
    const vals = this.vals;
    // Start just after an empty slot, so that no cluster wraps around the start of the pass.
    let start = 0;
    while (keys[start] !== EMPTY) start++;
    const mask = this.mask;
    const cap = mask + 1;
    for (let n = 0; n < cap; n++) {
      const i = (start + n) & mask;
      for (;;) {
        const k = keys[i]!;
        if (k === EMPTY || keyOf[vals[i]! * stride] === k) break;
        this.removeAt(i);
      }
    }
  }

  /** Calls `f(key, value)` for every entry (order unspecified but deterministic). */
  forEach(f: (key: number, value: number) => void): void {
    const keys = this.keys;
    const vals = this.vals;
    const cap = this.mask + 1;
    for (let i = 0; i < cap; i++) if (keys[i] !== EMPTY) f(keys[i]!, vals[i]!);
  }

  private grow(): void {
    const oldK = this.keys;
    const oldV = this.vals;
    const oldCap = this.mask + 1;
    const cap = oldCap * 2;
    this.keys = new Float64Array(cap).fill(EMPTY);
    this.vals = new Int32Array(cap);
    this.mask = cap - 1;
    this.size = 0;
    for (let i = 0; i < oldCap; i++) if (oldK[i] !== EMPTY) this.set(oldK[i]!, oldV[i]!);
  }
}
