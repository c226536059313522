/**
 * hash → set of replicas holding it (`HolderIndex`), and the KV-event variant that counts duplicate stores
 * (`CountedHolderIndex`), on the shared holder lists: a hash costs what its holders cost, whatever the replica count.
 */
import { AUX0, ENTRY, HolderLists } from "./holder-lists.ts";

/** hash → replicas holding it. Adding a replica twice is the same as once. */
export class HolderIndex {
  private readonly lists: HolderLists;

  constructor(replicas: number, capacity = 16) {
    this.lists = new HolderLists(replicas, capacity);
  }

  /** Number of hashes with at least one holder. */
  get size(): number {
    return this.lists.hashes;
  }

  /** Adds `replica` to `hash`'s holders; returns true when it was not there yet. */
  add(hash: number, replica: number): boolean {
    if (this.lists.find(hash, replica) >= 0) return false;
    this.lists.add(hash, replica);
    return true;
  }

  /** Adds `replica` to the holders of `hashes[0..n)` (hashes read from the array: nothing boxed). */
  addAll(hashes: Float64Array, n: number, replica: number): void {
    for (let i = 0; i < n; i++) if (this.lists.find(hashes[i]!, replica) < 0) this.lists.add(hashes[i]!, replica);
  }

  /** Removes `replica` from `hash`'s holders; returns true when it was there. */
  remove(hash: number, replica: number): boolean {
    const x = this.lists.find(hash, replica);
    if (x < 0) return false;
    this.lists.remove(x);
    return true;
  }

  holds(hash: number, replica: number): boolean {
    return this.lists.find(hash, replica) >= 0;
  }

  /** Replicas holding `hash`, ascending (tests). */
  holders(hash: number): number[] {
    const out = new Int32Array(this.lists.count + 1);
    return Array.from(out.subarray(0, this.holdersInto(hash, out)));
  }

  /** Writes the replicas holding `hash` into `out[0..count)` (room for every replica), ascending; returns the count. */
  holdersInto(hash: number, out: Int32Array): number {
    return this.lists.holdersInto(hash, out);
  }

  /** The EPP's greedy walk (`HolderLists.walk`). */
  walk(hashes: Float64Array, n: number, counts: Int32Array): number {
    return this.lists.walk(hashes, n, counts);
  }

  /** Longest held prefix per replica (`HolderLists.prefixRuns`). */
  prefixRuns(hashes: Float64Array, n: number, reps: Int32Array, m: number, held: Int32Array): void {
    this.lists.prefixRuns(hashes, n, reps, m, held);
  }
}

/**
 * Holdings a KV-event index sizes its tables for up front: every KV block of every replica can carry a hash, so
 * the index of a run that fills the caches holds about that many (up to 2^20: a larger cluster grows past it by
 * doubling instead of reserving tables it may never fill).
 */
export function kvIndexCapacity(numGpuBlocks: readonly number[]): number {
  let n = 0;
  for (const b of numGpuBlocks) n += b;
  return Math.min(n, 1 << 20);
}

/**
 * A holder index that counts: a replica that stored a hash n times holds it until it is removed n times (a KV-event
 * index where a replica could store the same hash in two blocks). The extra stores are counted in the holding's entry.
 */
export class CountedHolderIndex {
  private readonly lists: HolderLists;

  constructor(replicas: number, capacity = 16) {
    this.lists = new HolderLists(replicas, capacity);
  }

  /** Number of hashes with at least one holder. */
  get size(): number {
    return this.lists.hashes;
  }

  /** One more store of `hash` on `replica`; returns true when the replica did not hold it. */
  add(hash: number, replica: number): boolean {
    const x = this.lists.find(hash, replica);
    if (x < 0) {
      this.lists.add(hash, replica);
      return true;
    }
    this.lists.e[x * ENTRY + AUX0]!++;
    return false;
  }

  /** One store fewer; returns true when this removed a store (false: the replica did not hold the hash). */
  remove(hash: number, replica: number): boolean {
    const x = this.lists.find(hash, replica);
    if (x < 0) return false;
    const at = x * ENTRY + AUX0;
    if (this.lists.e[at]! > 0) this.lists.e[at]!--;
    else this.lists.remove(x);
    return true;
  }

  holds(hash: number, replica: number): boolean {
    return this.lists.find(hash, replica) >= 0;
  }

  /** Longest held prefix per replica (`HolderLists.prefixRuns`). */
  prefixRuns(hashes: Float64Array, n: number, reps: Int32Array, m: number, held: Int32Array): void {
    this.lists.prefixRuns(hashes, n, reps, m, held);
  }

  /** See `HolderLists.prefetch`. */
  prefetch(hashes: Float64Array, from: number, to: number): number {
    return this.lists.prefetch(hashes, from, to);
  }
}
