/**
 * A set of numeric keys that expire: `touch(key, expiry)` (re)sets a key's expiry, `expire(now)` drops every key
 * whose latest expiry is ≤ now. Expiries must be touched in nondecreasing order (a TTL from a clock that does not go
 * back), so the expired keys are always the oldest touches: a `NumMap` of (key → stamp of the latest touch) and a ring
 * of touches (key, stamp, expiry), stale touches skipped, as in `StampLru`.
 */
import { NumMap } from "../../sim/num-map.ts";
import { RENUMBER_AT } from "./stamp-lru.ts";

export class ExpiringSet {
  private readonly stamps = new NumMap();
  private qKeys = new Float64Array(256);
  private qMarks = new Int32Array(256);
  private qExp = new Float64Array(256);
  private qMask = 255;
  private head = 0;
  private tail = 0;
  private clock = 0;

  private readonly renumberAt: number;

  constructor(renumberAt = RENUMBER_AT) {
    this.renumberAt = renumberAt;
  }

  get size(): number {
    return this.stamps.size;
  }

  has(key: number): boolean {
    return this.stamps.has(key);
  }

  touch(key: number, expiry: number): void {
    if (this.tail - this.head > this.qMask) this.makeRoom();
    if (this.clock >= this.renumberAt || this.tail >= this.renumberAt) this.makeRoom(true);
    const s = ++this.clock;
    const q = this.tail++ & this.qMask;
    this.qKeys[q] = key;
    this.qMarks[q] = s;
    this.qExp[q] = expiry;
    this.stamps.set(key, s);
  }

  /** Drops the keys whose latest expiry is ≤ `now`. */
  expire(now: number): void {
    while (this.head < this.tail) {
      const q = this.head & this.qMask;
      if (this.qExp[q]! > now) return;
      this.head++;
      this.stamps.deleteIfValue(this.qKeys[q]!, this.qMarks[q]!);
    }
  }

  /** Full ring (or `renumber`): keep the live touches, renumbered 1…live, in a ring large enough for as many again. */
  private makeRoom(renumber = false): void {
    const n = this.tail - this.head;
    let len = this.qMask + 1;
    if (!renumber && (n - this.stamps.size) * 2 < len) len *= 2;
    const keys = new Float64Array(len);
    const marks = new Int32Array(len);
    const exp = new Float64Array(len);
    let w = 0;
    for (let p = this.head; p < this.tail; p++) {
      const q = p & this.qMask;
      const k = this.qKeys[q]!;
      if (this.stamps.get(k) !== this.qMarks[q]) continue;
      keys[w] = k;
      exp[w] = this.qExp[q]!;
      marks[w] = w + 1;
      this.stamps.set(k, ++w);
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
