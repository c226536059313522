/**
 * An LRU set of numeric keys (block hashes) with lazy deletion: a touch stores the key's new stamp in a `NumMap`
 * (one probe) and appends a (key, stamp) record to a ring buffer; eviction pops records from the front and skips the
 * stale ones (whose key was touched again since). Same order as a list-based LRU, without relinking anything on a
 * refresh. A full ring grows, or drops its stale records when they are at least half of it; stamps are renumbered
 * only when the int32 clock runs out.
 */
import { NumMap } from "../../sim/num-map.ts";

/**
 * Stamps and ring counters are renumbered / rebased once they reach this (int32 clocks; ring counters stay small
 * integers). Tests pass a small value to exercise it.
 */
export const RENUMBER_AT = 0x3fffffff;

export class StampLru {
  /** key → stamp of its latest touch. */
  private readonly stamps: NumMap;
  /** Ring of (key, stamp) records in touch order: [head, tail) (monotonic counters, masked with `qMask`). */
  private qKeys = new Float64Array(1024);
  private qMarks = new Int32Array(1024);
  private qMask = 1023;
  private head = 0;
  private tail = 0;
  private clock = 0;

  private readonly renumberAt: number;

  constructor(capacity = 16, renumberAt = RENUMBER_AT) {
    this.stamps = new NumMap(capacity);
    this.renumberAt = renumberAt;
  }

  get size(): number {
    return this.stamps.size;
  }

  has(key: number): boolean {
    return this.stamps.has(key);
  }

  /** Inserts `key` as most recent, or refreshes it; returns true when it was not present. */
  touch(key: number): boolean {
    if (this.tail - this.head > this.qMask) this.makeRoom();
    if (this.clock >= this.renumberAt || this.tail >= this.renumberAt) this.renumber();
    const s = ++this.clock;
    const q = this.tail++ & this.qMask;
    this.qKeys[q] = key;
    this.qMarks[q] = s;
    return this.stamps.exchange(key, s) < 0;
  }

  /** Removes and returns the least recently touched key (NaN when empty). */
  evict(): number {
    const qKeys = this.qKeys;
    const qMarks = this.qMarks;
    const qMask = this.qMask;
    while (this.head < this.tail) {
      const q = this.head++ & qMask;
      if (this.stamps.deleteIfValue(qKeys[q]!, qMarks[q]!)) return qKeys[q]!;
    }
    return Number.NaN;
  }

  /** Keys from least to most recent (tests, reports). */
  order(): number[] {
    const out: number[] = [];
    for (let p = this.head; p < this.tail; p++) {
      const q = p & this.qMask;
      if (this.stamps.get(this.qKeys[q]!) === this.qMarks[q]) out.push(this.qKeys[q]!);
    }
    return out;
  }

  /**
   * The ring is full: drop the stale records when they are at least half of it (one probe each), else double it
   * (a copy, no probe). Either way a touch costs O(1) amortised.
   */
  private makeRoom(): void {
    const len = this.qMask + 1;
    const stale = this.tail - this.head - this.stamps.size;
    const qKeys = this.qKeys;
    const qMarks = this.qMarks;
    if (stale * 2 >= len) {
      let w = 0;
      for (let p = this.head; p < this.tail; p++) {
        const q = p & this.qMask;
        const k = qKeys[q]!;
        const s = qMarks[q]!;
        if (this.stamps.get(k) !== s) continue;
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
      if (this.stamps.get(k) !== qMarks[q]) continue;
      const to = (this.head + w) & this.qMask;
      qKeys[to] = k;
      qMarks[to] = ++w;
      this.stamps.set(k, w);
    }
    this.tail = this.head + w;
    this.clock = w;
  }
}
