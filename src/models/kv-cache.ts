/**
 * Paged KV cache with automatic prefix caching, after vLLM v1's `BlockPool` / `KVCacheManager`
 * (`vllm/v1/core/block_pool.py`, `kv_cache_manager.py`):
 * - fixed pool of `numBlocks` blocks of `blockSize` tokens;
 * - a full block gets the chained hash of its content and can be found by later requests (`hashToBlock`);
 * - reference counts: a block used by running requests is never evicted;
 * - blocks whose count drops to 0 go to the tail of a free list and keep their hash, so they can still be hit; a new
 *   allocation takes the head of the free list (least recently freed) and evicts its hash;
 * - a finished request frees its blocks tail first, so its suffix is evicted before its prefix.
 *
 * All state lives in typed arrays; nothing is allocated per token or per step.
 */
import { NumMap } from "../sim/num-map.ts";

export const NO_HASH = -1;

export type KvEventListener = (kind: "stored" | "removed", hash: number) => void;

/**
 * Optional second KV tier behind the GPU cache (CPU offload, `kv-offload.ts`): fed with the hashes the GPU evicts,
 * consulted by the replica after a GPU prefix miss. Absent by default (no behaviour change).
 */
export interface KvSecondTier {
  /** A cached block is evicted from the GPU: its content moves to the tier. */
  onEvict(hash: number): void;
  /** Length of the run of `hashes[from..limit)` the tier holds (refreshing them). */
  lookup(hashes: Float64Array, from: number, limit: number): number;
  /** Seconds to load `blocks` blocks back to the GPU. */
  loadTime(blocks: number): number;
}

export class KvCache {
  readonly numBlocks: number;
  readonly blockSize: number;
  // Per-block arrays, indexed by block; only blocks below `fresh` are ever read, so they start short and grow (by
  // doubling, up to numBlocks) as blocks are first used.
  private hash: Float64Array;
  private ref: Int32Array;
  // Doubly linked free list; head = least recently freed (next to evict). -1 = none.
  private prev: Int32Array;
  private next: Int32Array;
  private head = -1;
  private tail = -1;
  /**
   * Blocks [fresh, numBlocks) have never been allocated: they are the front of the free list, in index order, ahead
   * of the linked blocks (a block joins the list's tail only once it was used). Nothing is written for them until
   * they are first allocated, so an idle replica costs no memory for its blocks.
   */
  private fresh = 0;
  private free: number;
  private readonly hashToBlock: NumMap;
  /** Hashes findable (blocks carrying a hash) and map entries left by lazy eviction. */
  private live = 0;
  private stale = 0;
  /** Blocks whose cached hash was evicted to make room (counter). */
  evictions = 0;
  /** Optional KV-event sink (BlockStored / BlockRemoved), for precise prefix routing. */
  listener: KvEventListener | undefined;
  /** Optional second tier (CPU offload hook, see `KvSecondTier`); undefined = GPU cache only. */
  secondTier: KvSecondTier | undefined;

  constructor(numBlocks: number, blockSize: number) {
    if (!(numBlocks >= 1) || !Number.isInteger(numBlocks)) throw new Error(`numBlocks must be a positive integer`);
    this.numBlocks = numBlocks;
    this.blockSize = blockSize;
    const len = Math.min(numBlocks, 1024);
    this.hash = new Float64Array(len); // NO_HASH written on first allocation (see `fresh`)
    this.ref = new Int32Array(len);
    // Holds every live hash plus up to numBlocks/2 stale entries (evicted lazily, see `allocate`). It starts small and
    // grows with the hashes cached: sized for the whole cache up front it took ~1.5 MB per replica (an 8B model on an
    // H100 has ~28k blocks) before a single request, 1.6 GB for 1,024 replicas.
    this.hashToBlock = new NumMap(Math.min(Math.ceil(numBlocks * 1.5) + 1, 1024));
    this.prev = new Int32Array(len);
    this.next = new Int32Array(len);
    this.free = numBlocks;
  }

  /** Blocks with reference count 0 (free, possibly still holding a cached hash). */
  get freeBlocks(): number {
    return this.free;
  }

  /** Blocks referenced by at least one request. */
  get usedBlocks(): number {
    return this.numBlocks - this.free;
  }

  /** vLLM's `kv_cache_usage_perc`: 1 − free / total. */
  get usage(): number {
    return 1 - this.free / this.numBlocks;
  }

  /** Number of distinct hashes currently findable. */
  get cachedBlocks(): number {
    return this.live;
  }

  /** Whether a block with this hash is cached (used or free). */
  has(h: number): boolean {
    return this.blockOf(h) >= 0;
  }

  refCount(block: number): number {
    return block >= this.fresh ? 0 : this.ref[block]!;
  }

  blockHash(block: number): number {
    return block >= this.fresh ? NO_HASH : this.hash[block]!;
  }

  /**
   * Prefix hit with the blocks found: fills `out[0..hits)` with their indices and returns the hit length; `freeHits`
   * is set to how many of them sit in the free list (they stop being free when acquired). One map probe per block.
   */
  lookupBlocks(hashes: Float64Array, limit: number, out: Int32Array): number {
    const n = Math.min(limit, hashes.length, out.length);
    const map = this.hashToBlock;
    let free = 0;
    let i = 0;
    for (; i < n; i++) {
      const h = hashes[i]!;
      const b = map.get(h);
      if (b < 0 || this.hash[b] !== h) break;
      out[i] = b;
      if (this.ref[b] === 0) free++;
    }
    this.freeHits = free;
    return i;
  }

  /** Set by `lookupBlocks`. */
  freeHits = 0;

  /** Takes a reference on block `b` (a cached block found by `lookupBlocks`). */
  acquireBlock(b: number): number {
    if (this.ref[b] === 0) this.unlinkFree(b);
    this.ref[b]!++;
    return b;
  }

  /** Longest run of leading `hashes[0..limit)` that are cached: the prefix-cache hit, in blocks. */
  lookup(hashes: Float64Array, limit: number): number {
    const n = Math.min(limit, hashes.length);
    let i = 0;
    while (i < n && this.blockOf(hashes[i]!) >= 0) i++;
    return i;
  }

  /** Block index holding hash `h`, or -1. */
  blockOf(h: number): number {
    const b = this.hashToBlock.get(h);
    // The map may still hold an evicted hash (lazy eviction): it is live only if its block still carries it.
    return b >= 0 && this.hash[b] === h ? b : -1;
  }

  /** Σ reference counts over all blocks (conservation checks). */
  totalRefs(): number {
    let n = 0;
    for (let b = 0; b < this.fresh; b++) n += this.ref[b]!;
    return n;
  }

  /** Takes a reference on the cached block with hash `h` (must be cached). Returns the block index. */
  acquire(h: number): number {
    const b = this.blockOf(h);
    if (b < 0) throw new Error("acquire of a hash that is not cached");
    if (this.ref[b] === 0) this.unlinkFree(b);
    this.ref[b]!++;
    return b;
  }

  /** Allocates a fresh block (evicting the least recently freed cached block if needed); -1 if none is free. */
  allocate(): number {
    if (this.fresh < this.numBlocks) {
      if (this.fresh === this.hash.length) this.lengthen();
      const b = this.fresh++;
      this.hash[b] = NO_HASH;
      this.prev[b] = -1;
      this.next[b] = -1;
      this.free--;
      this.ref[b] = 1;
      return b;
    }
    const b = this.head;
    if (b < 0) return -1;
    this.unlinkFree(b);
    const h = this.hash[b]!;
    if (h !== NO_HASH) {
      // Lazy eviction: clearing the block's hash makes its map entry stale (a cold map probe saved per eviction);
      // stale entries are swept out in one sequential pass when they reach numBlocks / 2.
      this.hash[b] = NO_HASH;
      this.live--;
      this.evictions++;
      this.listener?.("removed", h);
      this.secondTier?.onEvict(h); // offload hook: the evicted block moves to the second tier
      if (++this.stale > this.numBlocks / 2) {
        this.hashToBlock.sweepStale(this.hash);
        this.stale = 0;
      }
    }
    this.ref[b] = 1;
    return b;
  }

  /**
   * Registers a full block's hash so later requests can hit it. If the hash is already cached in another block (two
   * requests computed the same content concurrently) the block stays anonymous, as in vLLM.
   */
  register(block: number, h: number): void {
    if (this.blockOf(h) >= 0) return; // cached in another block already
    if (this.hashToBlock.has(h)) this.stale--; // a stale entry of an evicted copy gets reused
    this.hashToBlock.set(h, block);
    this.hash[block] = h;
    this.live++;
    this.listener?.("stored", h);
  }

  /** Drops one reference; a block reaching 0 goes to the tail of the free list (most recently freed). */
  release(block: number): void {
    const r = --this.ref[block]!;
    if (r < 0) throw new Error("KV block released more often than acquired");
    if (r === 0) this.linkFreeTail(block);
  }

  /** Releases a request's block table, tail first (vLLM frees in reverse so prefixes outlive suffixes). */
  releaseAll(blocks: readonly number[]): void {
    for (let i = blocks.length - 1; i >= 0; i--) this.release(blocks[i]!);
  }

  /** Doubles the per-block arrays (up to numBlocks): the next fresh block needs a place. */
  private lengthen(): void {
    const len = Math.min(this.numBlocks, this.hash.length * 2);
    const hash = new Float64Array(len);
    hash.set(this.hash);
    this.hash = hash;
    const ref = new Int32Array(len);
    ref.set(this.ref);
    this.ref = ref;
    const prev = new Int32Array(len);
    prev.set(this.prev);
    this.prev = prev;
    const next = new Int32Array(len);
    next.set(this.next);
    this.next = next;
  }

  private unlinkFree(b: number): void {
    const p = this.prev[b]!;
    const n = this.next[b]!;
    if (p >= 0) this.next[p] = n;
    else this.head = n;
    if (n >= 0) this.prev[n] = p;
    else this.tail = p;
    this.prev[b] = -1;
    this.next[b] = -1;
    this.free--;
  }

  private linkFreeTail(b: number): void {
    this.prev[b] = this.tail;
    this.next[b] = -1;
    if (this.tail >= 0) this.next[this.tail] = b;
    else this.head = b;
    this.tail = b;
    this.free++;
  }

  /** Free-list order from next-to-evict to last (for tests and debugging). */
  freeOrder(): number[] {
    const out: number[] = [];
    for (let b = this.fresh; b < this.numBlocks; b++) out.push(b);
    for (let b = this.head; b >= 0; b = this.next[b]!) out.push(b);
    return out;
  }

  /** Checks internal invariants (tests): counts, list integrity, map consistency. Throws on violation. */
  checkInvariants(): void {
    let n = this.numBlocks - this.fresh;
    for (let b = this.head; b >= 0; b = this.next[b]!) {
      if (this.ref[b] !== 0) throw new Error(`free block ${b} has ref ${this.ref[b]}`);
      n++;
      if (n > this.numBlocks) throw new Error("free list cycle");
    }
    if (n !== this.free) throw new Error(`free count ${this.free} != list length ${n}`);
    let zero = 0;
    for (let b = 0; b < this.numBlocks; b++) if (this.refCount(b) === 0) zero++;
    if (zero !== this.free) throw new Error(`blocks with ref 0 (${zero}) != free (${this.free})`);
    let live = 0;
    let stale = 0;
    this.hashToBlock.forEach((h, b) => {
      if (this.hash[b] === h) live++;
      else stale++;
    });
    let hashed = 0;
    for (let b = 0; b < this.numBlocks; b++) {
      const h = this.blockHash(b);
      if (h === NO_HASH) continue;
      hashed++;
      if (this.hashToBlock.get(h) !== b) throw new Error(`block ${b}'s hash is not mapped to it`);
    }
    if (live !== hashed || live !== this.live)
      throw new Error(`live hashes: map ${live}, blocks ${hashed}, count ${this.live}`);
    if (stale !== this.stale) throw new Error(`stale entries: map ${stale}, count ${this.stale}`);
  }
}
