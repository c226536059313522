/**
 * The approximate prefix index (GIE's per-server LRUs, SGLang's and Preble's trees as flat tables): hash → replicas
 * holding it, and one LRU of hashes per replica. Both live in the holder lists' entries: each (hash, replica) holding
 * is one entry, linked into its hash's holder list and into its replica's LRU list (the entry's AUX0/AUX1 words), so
 * a touch is one lookup and a relink of contiguous int32 words, an eviction unlinks the LRU's head; no stamps, no
 * stale records, nothing allocated. Same contents and eviction order as a holder index plus one list-based LRU per
 * replica.
 */
import { AUX0, AUX1, ENTRY, HolderLists } from "./holder-lists.ts";

/** LRU links in an entry: the replica's less / more recently touched holding. */
const OLDER = AUX0;
const NEWER = AUX1;
/**
 * In a run node (an entry from `HolderLists.addUnlisted`): how many hashes of a request's own it stands for (0 in every
 * other entry). Such hashes are never looked up, so they need no entry each: only their place in the LRU and their
 * number (the capacity counts them one by one, and evictions take them oldest first, a run from its front).
 */
const RUN = 7;

export class LruHolderIndex {
  private readonly lists: HolderLists;
  /** Per replica: least and most recently touched holding (-1: none), and holdings. */
  private readonly oldest: Int32Array;
  private readonly newest: Int32Array;
  private readonly sizes: Int32Array;
  /** Keeps the prefetch loads of `insert` (never read). */
  private sink = 0;

  /** `capacity`: holdings (all replicas together) to make room for up front; the tables grow beyond it. */
  constructor(replicas: number, capacity = 16) {
    const n = Math.max(1, replicas);
    this.lists = new HolderLists(n, capacity);
    this.oldest = new Int32Array(n).fill(-1);
    this.newest = new Int32Array(n).fill(-1);
    this.sizes = new Int32Array(n);
  }

  /** Distinct hashes held by some replica. */
  get hashes(): number {
    return this.lists.hashes;
  }

  /** Hashes in `replica`'s LRU. */
  size(replica: number): number {
    return this.sizes[replica] ?? 0;
  }

  holds(hash: number, replica: number): boolean {
    return this.lists.find(hash, replica) >= 0;
  }

  /** Inserts `hash` as `replica`'s most recent, or refreshes it; returns true when the replica did not hold it. */
  touch(hash: number, replica: number): boolean {
    const x = this.lists.find(hash, replica);
    if (x >= 0) {
      this.refresh(x, replica);
      return false;
    }
    this.append(this.lists.add(hash, replica), replica);
    return true;
  }

  /** Removes and returns `replica`'s least recently touched hash (NaN when it holds none, or a hash of a run). */
  evict(replica: number): number {
    const x = this.oldest[replica]!;
    if (x < 0) return Number.NaN;
    const hash = this.lists.e[x * ENTRY + RUN]! > 0 ? Number.NaN : this.lists.hashOf(x);
    this.dropOldest(replica);
    return hash;
  }

  /**
   * PreRequest of the approximate prefix index: touches `hashes[0..n)` for `replica` in order, each fresh one
   * followed by evictions down to `cap` (the same sequence as `touch` / `evict` calls). Hashes are read from the
   * array here, never passed around as (boxed) numbers. `hashes[own..n)` are hashes no other request can have and
   * that this one never looks up (content of its own, `Segment.unique`, dispatched once): they are held by `replica`
   * as fresh hashes are (LRU place, capacity, evictions) but as one run node out of the holder lists (`RUN`).
   */
  insert(hashes: Float64Array, n: number, replica: number, cap: number, own = n): void {
    const lists = this.lists;
    const m = own < n ? own : n;
    // Warms the table slots of the hashes (see `NumMap.prefetch`).
    if (m > 1) this.sink += lists.heads.prefetch(hashes, 0, m);
    for (let i = 0; i < m; i++) {
      const x = lists.find(hashes[i]!, replica);
      if (x >= 0) {
        this.refresh(x, replica);
        continue;
      }
      // Room first, then the fresh hash: the same holdings as adding it and evicting the oldest, but the table never
      // holds more than the capacities (one over them in every replica at once doubled its entries, 27 MB at 32
      // replicas).
      while (this.sizes[replica]! >= cap && this.sizes[replica]! > 0) this.dropOldest(replica);
      this.append(lists.add(hashes[i]!, replica), replica);
      while (this.sizes[replica]! > cap) this.dropOldest(replica);
    }
    if (m < n) this.appendRun(n - m, replica, cap);
  }

  /**
   * `k` fresh hashes of a request's own as `replica`'s most recent, one run node: the same holdings as inserting them
   * one by one, each followed by evictions down to `cap` — the oldest `size + k − cap` hashes go (the run's own
   * front last), the newest `min(size + k, cap)` stay.
   */
  private appendRun(k: number, replica: number, cap: number): void {
    const size = this.sizes[replica]!;
    let drop = size + k - cap;
    if (drop > 0) {
      const old = drop < size ? drop : size;
      this.dropHashes(replica, old);
      drop -= old;
    }
    const c = drop > 0 ? k - drop : k;
    if (c <= 0) return;
    const x = this.lists.addUnlisted(replica);
    this.lists.e[x * ENTRY + RUN] = c;
    this.append(x, replica);
    this.sizes[replica]! += c - 1;
  }

  /** Evicts `replica`'s `count` oldest hashes (whole entries, then the front of a run). */
  private dropHashes(replica: number, count: number): void {
    const e = this.lists.e;
    while (count > 0) {
      const x = this.oldest[replica]!;
      const c = e[x * ENTRY + RUN]!;
      if (c > count) {
        e[x * ENTRY + RUN] = c - count;
        this.sizes[replica]! -= count;
        return;
      }
      this.unlink(x, replica);
      this.lists.remove(x);
      const n = c > 0 ? c : 1;
      this.sizes[replica]! -= n;
      count -= n;
    }
  }

  /** Evicts `replica`'s oldest hash. */
  private dropOldest(replica: number): void {
    this.dropHashes(replica, 1);
  }

  /** Hashes of `replica` from least to most recent, NaN for each hash of a run (tests). */
  order(replica: number): number[] {
    const out: number[] = [];
    const e = this.lists.e;
    for (let x = this.oldest[replica]!; x >= 0; x = e[x * ENTRY + NEWER]!) {
      const c = e[x * ENTRY + RUN]!;
      if (c > 0) for (let i = 0; i < c; i++) out.push(Number.NaN);
      else out.push(this.lists.hashOf(x));
    }
    return out;
  }

  /** Replicas holding `hash`, ascending (tests). */
  holders(hash: number): number[] {
    const out = new Int32Array(this.oldest.length);
    return Array.from(out.subarray(0, this.holdersInto(hash, out)));
  }

  /** Writes the replicas holding `hash` into `out[0..count)` (room for every replica), ascending; returns the count. */
  holdersInto(hash: number, out: Int32Array): number {
    return this.lists.holdersInto(hash, out);
  }

  /** Longest held prefix per replica (`HolderLists.prefixRuns`). */
  prefixRuns(hashes: Float64Array, n: number, reps: Int32Array, m: number, held: Int32Array): void {
    this.lists.prefixRuns(hashes, n, reps, m, held);
  }

  /** The EPP's greedy walk (`HolderLists.walk`). */
  walk(hashes: Float64Array, n: number, counts: Int32Array): number {
    return this.lists.walk(hashes, n, counts);
  }

  /** A new holding `x` becomes `replica`'s most recent. */
  private append(x: number, replica: number): void {
    const e = this.lists.e;
    const last = this.newest[replica]!;
    e[x * ENTRY + OLDER] = last;
    e[x * ENTRY + NEWER] = -1;
    if (last >= 0) e[last * ENTRY + NEWER] = x;
    else this.oldest[replica] = x;
    this.newest[replica] = x;
    this.sizes[replica]!++;
  }

  /** Holding `x` (of `replica`) becomes its most recent. */
  private refresh(x: number, replica: number): void {
    if (this.newest[replica] === x) return;
    this.unlink(x, replica);
    this.sizes[replica]!--;
    this.append(x, replica);
  }

  /** Takes holding `x` out of `replica`'s LRU list (the entry stays). */
  private unlink(x: number, replica: number): void {
    const e = this.lists.e;
    const older = e[x * ENTRY + OLDER]!;
    const newer = e[x * ENTRY + NEWER]!;
    if (older >= 0) e[older * ENTRY + NEWER] = newer;
    else this.oldest[replica] = newer;
    if (newer >= 0) e[newer * ENTRY + OLDER] = older;
    else this.newest[replica] = older;
  }
}
