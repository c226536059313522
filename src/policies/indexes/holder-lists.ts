/**
 * The core of the routers' holder indexes: block hash → the replicas holding it, one entry per (hash, replica)
 * holding, each hash's entries linked in a list found through a `NumMap` (hash → first entry).
 *
 * Why lists and not bit sets: a bit set per hash costs ⌈replicas/32⌉ words whatever the number of holders, so with
 * 1,024 replicas every live hash carried 32 words, and memory and the walks grew with replicas². Here a hash costs
 * what its holders cost (one 32-byte entry each) and a walk visits its holders only. Entries live in one `Int32Array`
 * (8 int32 per entry: the hash's two halves, the replica, the holder list's links and three words for the index
 * built on top — an LRU's links, a store count), recycled through a free list and grown by doubling (a copy, no
 * rehash); nothing is allocated per operation.
 */
import { NumMap } from "../../sim/num-map.ts";

/** Int32 words per entry. */
export const ENTRY = 8;
/** Offsets in an entry: the hash's low and high 32 bits, the replica, next / previous entry of the same hash. */
const LO = 0;
const HI = 1;
export const REP = 2;
export const NEXT = 3;
const PREV = 4;
/** Offsets left to the index built on the lists (an LRU's links, a store count). */
export const AUX0 = 5;
export const AUX1 = 6;
/** PREV of an entry in no holder list (`addUnlisted`). */
const OWN = -2;

const TWO32 = 4294967296;

export class HolderLists {
  /** hash → its first entry. */
  readonly heads: NumMap;
  /** The entries (`ENTRY` words each); re-read after `add` (it may grow). */
  e: Int32Array;
  /** Free entries, linked through NEXT (-1: none). */
  private free = -1;
  /** Entries handed out so far from the end of `e`. */
  private used = 0;
  /** Live entries (holdings). */
  count = 0;
  /** Per replica, the walk that last saw it (`prefixRuns`). */
  private readonly seen: Int32Array;
  private pass = 0;

  /** `capacity`: holdings to make room for up front (the table grows beyond it). */
  constructor(replicas: number, capacity = 16) {
    const cap = Math.max(16, capacity);
    this.heads = new NumMap(cap);
    this.e = new Int32Array(cap * ENTRY);
    this.seen = new Int32Array(Math.max(1, replicas));
  }

  /** Distinct hashes with at least one holder. */
  get hashes(): number {
    return this.heads.size;
  }

  /** The hash of entry `x`. */
  hashOf(x: number): number {
    const o = x * ENTRY;
    return (this.e[o + LO]! >>> 0) + this.e[o + HI]! * TWO32;
  }

  /**
   * Loads what adding or removing the holdings of `hashes[from..to)` will read — the hashes' slots in `heads`, then
   * their first entries — in two branch-free passes whose cache misses overlap (see `NumMap.prefetch`); returns a
   * value made of the loads, for the caller to keep.
   */
  prefetch(hashes: Float64Array, from: number, to: number): number {
    let acc = this.heads.prefetch(hashes, from, to);
    const e = this.e;
    for (let j = from; j < to; j++) {
      const x = this.heads.get(hashes[j]!);
      if (x >= 0) acc += e[x * ENTRY + REP]!;
    }
    return acc;
  }

  /** Entry of `replica`'s holding of `hash`, or -1. */
  find(hash: number, replica: number): number {
    const e = this.e;
    let x = this.heads.get(hash);
    while (x >= 0 && e[x * ENTRY + REP] !== replica) x = e[x * ENTRY + NEXT]!;
    return x;
  }

  /** A new entry: `replica` holds `hash` (it must not yet); its AUX words are zero. Returns the entry. */
  add(hash: number, replica: number): number {
    const x = this.take();
    const e = this.e;
    const o = x * ENTRY;
    const head = this.heads.exchange(hash, x);
    e[o + LO] = hash >>> 0;
    e[o + HI] = Math.floor(hash / TWO32);
    e[o + REP] = replica;
    e[o + NEXT] = head;
    e[o + PREV] = -1;
    e[o + AUX0] = 0;
    e[o + AUX1] = 0;
    e[o + 7] = 0;
    if (head >= 0) e[head * ENTRY + PREV] = x;
    this.count++;
    return x;
  }

  /**
   * A new entry of `replica` in no holder list and with no hash (`find`, the walks and `heads` never see it), for an
   * index to keep hashes nothing looks up (a request's own content, `Segment.unique`: `LruHolderIndex`'s run nodes);
   * adding and removing it probe no table. Its AUX words are zero. Returns the entry.
   */
  addUnlisted(replica: number): number {
    const x = this.take();
    const e = this.e;
    const o = x * ENTRY;
    e[o + LO] = 0;
    e[o + HI] = 0;
    e[o + REP] = replica;
    e[o + NEXT] = -1;
    e[o + PREV] = OWN;
    e[o + AUX0] = 0;
    e[o + AUX1] = 0;
    e[o + 7] = 0;
    this.count++;
    return x;
  }

  /** A free entry (from the free list, else from the end of `e`, which may grow). */
  private take(): number {
    let x = this.free;
    if (x >= 0) this.free = this.e[x * ENTRY + NEXT]!;
    else {
      x = this.used++;
      if (this.used * ENTRY > this.e.length) {
        const e = new Int32Array(this.e.length * 2);
        e.set(this.e);
        this.e = e;
      }
    }
    return x;
  }

  /** Removes entry `x` (the hash leaves the table with its last holder). */
  remove(x: number): void {
    const e = this.e;
    const o = x * ENTRY;
    const next = e[o + NEXT]!;
    const prev = e[o + PREV]!;
    if (prev === OWN) {
      // In no holder list (`addUnlisted`).
      e[o + NEXT] = this.free;
      this.free = x;
      this.count--;
      return;
    }
    if (prev >= 0) e[prev * ENTRY + NEXT] = next;
    else if (next >= 0) this.heads.set(this.hashOf(x), next);
    else this.heads.delete(this.hashOf(x));
    if (next >= 0) e[next * ENTRY + PREV] = prev;
    e[o + NEXT] = this.free;
    this.free = x;
    this.count--;
  }

  /** Writes the replicas holding `hash` into `out[0..count)`, ascending; returns the count. */
  holdersInto(hash: number, out: Int32Array): number {
    const e = this.e;
    let n = 0;
    for (let x = this.heads.get(hash); x >= 0; x = e[x * ENTRY + NEXT]!) {
      // Insertion sort: holder lists are short, and come newest first.
      const r = e[x * ENTRY + REP]!;
      let i = n++;
      while (i > 0 && out[i - 1]! > r) {
        out[i] = out[i - 1]!;
        i--;
      }
      out[i] = r;
    }
    return n;
  }

  /**
   * The EPP's greedy walk: for each hash in order, every replica holding it gets +1 in `counts`; stops at the first
   * hash nobody holds. Returns the number of hashes walked with at least one holder.
   */
  walk(hashes: Float64Array, n: number, counts: Int32Array): number {
    const e = this.e;
    let b = 0;
    for (; b < n; b++) {
      let x = this.heads.get(hashes[b]!);
      if (x < 0) break;
      for (; x >= 0; x = e[x * ENTRY + NEXT]!) counts[e[x * ENTRY + REP]!]!++;
    }
    return b;
  }

  /**
   * Longest held prefix per replica: for each of the replicas `reps[0..m)`, adds to `held[r]` the number of leading
   * hashes it holds (consecutive from the first). One lookup per hash, until every replica has stopped. `reps` is
   * scratch: its order is not kept.
   */
  prefixRuns(hashes: Float64Array, n: number, reps: Int32Array, m: number, held: Int32Array): void {
    const e = this.e;
    const seen = this.seen;
    let live = m;
    for (let b = 0; b < n && live > 0; b++) {
      let x = this.heads.get(hashes[b]!);
      if (x < 0) return;
      if (this.pass === 0x7fffffff) {
        seen.fill(0);
        this.pass = 0;
      }
      const pass = ++this.pass;
      for (; x >= 0; x = e[x * ENTRY + NEXT]!) seen[e[x * ENTRY + REP]!] = pass;
      for (let j = 0; j < live; ) {
        const r = reps[j]!;
        if (seen[r] === pass) {
          held[r]!++;
          j++;
        } else reps[j] = reps[--live]!;
      }
    }
  }
}
