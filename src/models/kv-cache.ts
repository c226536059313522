/**
 * Paged KV cache with automatic prefix caching, after vLLM v1's `BlockPool` / `KVCacheManager`
 * (`vllm/v1/core/block_pool.py`, `kv_cache_manager.py`):
 * - fixed pool of `numBlocks` blocks of `blockSize` tokens;
 * - a full block gets the chained hash of its content and can be found by later requests (`hashToBlock`);
 * - reference counts: a block used by running requests is never evicted;
 * - blocks whose count drops to 0 go to the tail of a free list and keep their hash, so they can still be hit; a new
 *   allocation takes the head of the free list (least recently freed) and evicts its hash;
 * - a finished request frees its blocks tail first, so its suffix is evicted before its prefix;
 * - a block whose content no other request can hold (after a prompt segment marked `unique`) is never entered in
 *   `hashToBlock`: only its own request could look it up, and it does so only after a preemption, which enters its
 *   blocks first. It is either private (`allocatePrivate`: held as a count, no number, no record, no hash kept) or,
 *   where a second tier needs its hash, a numbered block carrying its hash out of the map (`registerOwn`, `mapOwn`);
 *   both take the same places in the free list and count the same evictions as a mapped block would.
 *
 * All state lives in typed arrays; nothing is allocated per token or per step.
 */
import { NumMap } from "../sim/num-map.ts";

export const NO_HASH = -1;

/** The hash of a block registered with `registerOwn`, which stores hash h as −h − 2 (below NO_HASH). */
function ownHash(x: number): number {
  return -x - 2;
}

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

/** The records of a cache that has numbered no block yet (`KvCache.f64`). */
const NO_RECORDS_F64 = new Float64Array(0);
const NO_RECORDS_I32 = new Int32Array(0);

export class KvCache {
  readonly numBlocks: number;
  readonly blockSize: number;
  /**
   * Per-block records, 16 bytes each, indexed by block: the cached hash (f64 at `f64[2b]`), the reference count
   * (`i32[4b + 2]`) and the block's slot in the free ring (`i32[4b + 3]`, -1 when not in it). One record is one
   * quarter of a cache line, so allocating or freeing a block touches one line (four separate arrays took four
   * misses). Only records below `nextId` are ever read or written, so they are sized for every block at once: the
   * zero-filled pages of a large typed array are mapped on first write, and a replica that never uses its last
   * blocks never pays for their records. (Growing them by doubling took a copy and a fresh page fault per record at
   * each doubling: 3.6 % of the CPU at 1,024 replicas × 100k requests, paired, `bench/chat-1m.ts`.) "At once" is at
   * the first numbered block (`newRecord`), not in the constructor: a replica whose blocks all stay private (unique
   * prompts, `allocatePrivate`) never numbers one, and 1,024 replicas' 421 KB arrays, allocated up front, cost
   * ~40 ms and five full garbage collections (V8 counts their 431 MB as external memory pressure) before the first
   * request of `chat-1m 100000 1024`, which never touched them.
   */
  private f64: Float64Array = NO_RECORDS_F64;
  private i32: Int32Array = NO_RECORDS_I32;
  /**
   * The free list, least recently freed first, as a circular buffer of block indices filled at the tail and taken at
   * the head (sequential memory both ways). A block taken out of the middle (a prefix hit on a free block) only clears
   * its slot field: its entry goes stale (the block's slot field no longer points at it) and is skipped when the head
   * reaches it. `ringCount` entries from `ringHead` (stale ones included); the capacity is a power of two. An entry
   * of -1 is a run of private blocks (`releasePrivate`): `runs[2t]` blocks without a hash, then `runs[2t + 1]` blocks
   * with a hash of their request's own, taken from its front.
   */
  private ring: Int32Array;
  private runs: Int32Array;
  private ringHead = 0;
  private ringCount = 0;
  /**
   * Blocks never allocated yet: the front of the free list, ahead of the ring (a block joins the ring only once it
   * was used). They have no record until they are first allocated (block numbers are handed out from `nextId`), so an
   * idle replica costs no memory for its blocks.
   */
  private freshFree: number;
  /**
   * Block numbers (records) handed out so far; numbers given back when a private allocation took their block
   * (`allocatePrivate`) are reused first (`idStack`).
   */
  private nextId = 0;
  private idStack = new Int32Array(16);
  private idTop = 0;
  private free: number;
  private readonly hashToBlock: NumMap;
  /** Hashes findable (blocks carrying a hash) and map entries left by lazy eviction. */
  private live = 0;
  /** Blocks carrying a hash kept out of the map (`registerOwn`). */
  private own = 0;
  private stale = 0;
  /** Blocks whose cached hash was evicted to make room (counter). */
  evictions = 0;
  /** Optional KV-event sink (BlockStored / BlockRemoved), for precise prefix routing. */
  listener: KvEventListener | undefined;
  /**
   * When the block operations now under way happened, for the listener: a fast-forward stretch replays a step's
   * allocations and registrations later than they happened and sets this to the step's start; -1 (the rest of the
   * time): they happen now.
   */
  eventTime = -1;
  /** Optional second tier (CPU offload hook, see `KvSecondTier`); undefined = GPU cache only. */
  secondTier: KvSecondTier | undefined;
  /** Block tables given back for reuse, by log2 of their capacity (`takeTable`). */
  private readonly tables: Int32Array[][] = [];

  constructor(numBlocks: number, blockSize: number) {
    if (!(numBlocks >= 1) || !Number.isInteger(numBlocks)) throw new Error(`numBlocks must be a positive integer`);
    this.numBlocks = numBlocks;
    this.blockSize = blockSize;
    this.ring = new Int32Array(16);
    this.runs = new Int32Array(32);
    this.freshFree = numBlocks;
    // Holds every live hash plus up to numBlocks/2 stale entries (evicted lazily, see `allocate`). It starts small and
    // grows with the hashes cached: sized for the whole cache up front it took ~1.5 MB per replica (an 8B model on an
    // H100 has ~28k blocks) before a single request, 1.6 GB for 1,024 replicas. Blocks of a request's own content stay
    // out of it (`registerOwn`), so with unique prompts it stays nearly empty: 64 entries to start (at 1,024 entries,
    // 1,024 replicas' maps took 24 MB, filled before the first request: 1.5 % of `chat-1m 100000 1024`'s CPU).
    this.hashToBlock = new NumMap(Math.min(Math.ceil(numBlocks * 1.5) + 1, 64));
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

  /** Numbered blocks carrying a hash (findable by any request, or by their own: `registerOwn`); not private ones. */
  get cachedBlocks(): number {
    return this.live + this.own;
  }

  /** Whether a block with this hash is cached (used or free). */
  has(h: number): boolean {
    return this.blockOf(h) >= 0;
  }

  refCount(block: number): number {
    return block >= this.nextId ? 0 : this.i32[4 * block + 2]!;
  }

  blockHash(block: number): number {
    if (block >= this.nextId) return NO_HASH;
    const h = this.f64[2 * block]!;
    return h < NO_HASH ? ownHash(h) : h;
  }

  /**
   * Prefix hit with the blocks found: fills `out[0..hits)` with their indices and returns the hit length; `freeHits`
   * is set to how many of them sit in the free list (they stop being free when acquired). One map probe per block.
   */
  lookupBlocks(hashes: Float64Array, limit: number, out: Int32Array): number {
    const n = Math.min(limit, hashes.length, out.length);
    const map = this.hashToBlock;
    const f64 = this.f64;
    const i32 = this.i32;
    let free = 0;
    let i = 0;
    for (; i < n; i++) {
      const h = hashes[i]!;
      const b = map.get(h);
      if (b < 0 || f64[2 * b] !== h) break;
      out[i] = b;
      if (i32[4 * b + 2] === 0) free++;
    }
    this.freeHits = free;
    return i;
  }

  /** Set by `lookupBlocks`. */
  freeHits = 0;

  /** Takes a reference on block `b` (a cached block found by `lookupBlocks`). */
  acquireBlock(b: number): number {
    const i32 = this.i32;
    if (i32[4 * b + 2] === 0) this.unlinkFree(b);
    i32[4 * b + 2]!++;
    return b;
  }

  /** Longest run of leading `hashes[0..limit)` that are cached: the prefix-cache hit, in blocks. */
  lookup(hashes: Float64Array, limit: number): number {
    const n = Math.min(limit, hashes.length);
    let i = 0;
    while (i < n && this.blockOf(hashes[i]!) >= 0) i++;
    return i;
  }

  /** Loads the table slot a lookup of `hashes[0]` probes first (see `NumMap.prefetch`); returns what it read. */
  prefetchLookup(hashes: Float64Array): number {
    return hashes.length > 0 ? this.hashToBlock.prefetch(hashes, 0, 1) : 0;
  }

  /** Block index holding hash `h`, or -1. */
  blockOf(h: number): number {
    const b = this.hashToBlock.get(h);
    // The map may still hold an evicted hash (lazy eviction): it is live only if its block still carries it.
    return b >= 0 && this.f64[2 * b] === h ? b : -1;
  }

  /** Numbered blocks referenced at least once (conservation checks: the rest of the blocks in use are private). */
  numberedInUse(): number {
    let n = 0;
    for (let b = 0; b < this.nextId; b++) if (this.i32[4 * b + 2]! > 0) n++;
    return n;
  }

  /** Σ reference counts over all blocks (conservation checks). */
  totalRefs(): number {
    let n = 0;
    for (let b = 0; b < this.nextId; b++) n += this.i32[4 * b + 2]!;
    return n;
  }

  /** Takes a reference on the cached block with hash `h` (must be cached). Returns the block index. */
  acquire(h: number): number {
    const b = this.blockOf(h);
    if (b < 0) throw new Error("acquire of a hash that is not cached");
    return this.acquireBlock(b);
  }

  /** Allocates a fresh block (evicting the least recently freed cached block if needed); -1 if none is free. */
  allocate(): number {
    if (this.freshFree > 0) {
      this.freshFree--;
      this.free--;
      return this.newRecord();
    }
    if (this.free === 0) return -1;
    // The ring's first entry still pointing at its block (stale entries of hit blocks are skipped).
    const ring = this.ring;
    const mask = ring.length - 1;
    const i32 = this.i32;
    let i = this.ringHead;
    let b = ring[i]!;
    while (b >= 0 ? i32[4 * b + 3] !== i : this.runs[2 * i]! + this.runs[2 * i + 1]! === 0) {
      i = (i + 1) & mask;
      b = ring[i]!;
      this.ringCount--;
    }
    this.free--;
    if (b < 0) {
      // The front of a run of private blocks: a block of its own (evicting its hash if it had one).
      this.ringHead = i; // past the stale entries skipped
      this.takeFromRun(i, 1);
      return this.newRecord();
    }
    this.ringHead = (i + 1) & mask;
    this.ringCount--;
    i32[4 * b + 3] = -1;
    i32[4 * b + 2] = 1;
    this.evictHash(b);
    return b;
  }

  /** A free block being taken: the hash it carries (if any) is evicted. */
  private evictHash(b: number): void {
    const h = this.f64[2 * b]!;
    if (h === NO_HASH) return;
    this.f64[2 * b] = NO_HASH;
    this.evictions++;
    const gone = h < NO_HASH ? ownHash(h) : h;
    this.listener?.("removed", gone);
    this.secondTier?.onEvict(gone); // offload hook: the evicted block moves to the second tier
    if (h < NO_HASH) {
      this.own--; // out of the map (`registerOwn`): no entry goes stale
      return;
    }
    // Lazy eviction: clearing the block's hash makes its map entry stale (a cold map probe saved per eviction);
    // stale entries are swept out in one sequential pass when they reach numBlocks / 2.
    this.live--;
    if (++this.stale > this.numBlocks / 2) {
      this.hashToBlock.sweepStale(this.f64, 2);
      this.stale = 0;
    }
  }

  /** The per-block records, for every block (their fields are written by `newRecord`). */
  private allocateRecords(): void {
    this.f64 = new Float64Array(this.numBlocks * 2);
    this.i32 = new Int32Array(this.f64.buffer);
  }

  /** A block number with a fresh record: no hash, referenced once, in no ring slot. */
  private newRecord(): number {
    if (this.nextId === 0) this.allocateRecords();
    const b = this.idTop > 0 ? this.idStack[--this.idTop]! : this.nextId++;
    this.f64[2 * b] = NO_HASH;
    this.i32[4 * b + 2] = 1;
    this.i32[4 * b + 3] = -1;
    return b;
  }

  /**
   * Takes `k` blocks from the front of the run in ring slot `i` (its blocks without a hash first, then those with a
   * hash of their own, each an eviction); a run left empty leaves the ring. Returns how many it took.
   */
  private takeFromRun(i: number, k: number): number {
    const runs = this.runs;
    const a = runs[2 * i]!;
    const o = runs[2 * i + 1]!;
    const n = k < a + o ? k : a + o;
    const ta = n < a ? n : a;
    runs[2 * i] = a - ta;
    runs[2 * i + 1] = o - (n - ta);
    this.evictions += n - ta;
    if (n === a + o) {
      this.ringHead = (i + 1) & (this.ring.length - 1);
      this.ringCount--;
    }
    return n;
  }

  /**
   * Private blocks: blocks of a request's own content (`Segment.unique`) and blocks that never get a hash, which no
   * other request can find. A request holds them as a count (`Seq.privateCount`), with no block number and no record:
   * allocating them takes `k` blocks from the front of the free list as `allocate` would, one by one (evicting what
   * they held); freeing them puts one run at the tail (`releasePrivate`). Only without a second tier (their hashes
   * are not kept: an eviction of a block of its own counts, and sends no KV event — no routing decision looks such a
   * hash up). False if fewer than `k` are free.
   */
  allocatePrivate(k: number): boolean {
    if (k > this.free) return false;
    this.free -= k;
    const f = k < this.freshFree ? k : this.freshFree;
    this.freshFree -= f;
    k -= f;
    const ring = this.ring;
    const mask = ring.length - 1;
    const i32 = this.i32;
    while (k > 0) {
      const i = this.ringHead;
      const b = ring[i]!;
      if (b < 0) {
        k -= this.takeFromRun(i, k); // a run left empty leaves the ring
        continue;
      }
      this.ringHead = (i + 1) & mask;
      this.ringCount--;
      if (i32[4 * b + 3] !== i) continue; // stale: the block was hit and taken
      // A freed block with a number: its hash (if any) is evicted as `allocate` evicts it; the number is given back.
      i32[4 * b + 3] = -1;
      this.evictHash(b);
      if (this.idTop === this.idStack.length) {
        const st = new Int32Array(this.idStack.length * 2);
        st.set(this.idStack);
        this.idStack = st;
      }
      this.idStack[this.idTop++] = b;
      k--;
    }
    return true;
  }

  /**
   * Frees a request's private blocks (tail first: `anon` without a hash, then `own` with a hash of their own): one
   * run at the tail of the free list.
   */
  releasePrivate(anon: number, own: number): void {
    if (anon + own === 0) return;
    if (this.ringCount === this.ring.length) this.compactRing();
    const t = (this.ringHead + this.ringCount++) & (this.ring.length - 1);
    this.ring[t] = -1;
    this.runs[2 * t] = anon;
    this.runs[2 * t + 1] = own;
    this.free += anon + own;
  }

  /** A private block a request holds becomes a numbered block (referenced once, no hash): its number. */
  numberPrivate(): number {
    return this.newRecord();
  }

  /**
   * Registers a full block's hash so later requests can hit it. If the hash is already cached in another block (two
   * requests computed the same content concurrently) the block stays anonymous, as in vLLM. One map probe sequence.
   */
  register(block: number, h: number): void {
    const map = this.hashToBlock;
    const slot = map.claim(h);
    if (!map.inserted) {
      const old = map.valueAt(slot);
      if (this.f64[2 * old] === h) return; // cached in another block already
      this.stale--; // a stale entry of an evicted copy gets reused
    }
    map.setAt(slot, block);
    this.f64[2 * block] = h;
    this.live++;
    this.listener?.("stored", h);
  }

  /**
   * Registers a full block whose content only its own request can hold (`Segment.unique`): the block carries hash `h`
   * (evicted, reported and offloaded as any cached block) but the map is not touched, so no other request finds it.
   * The caller enters it in the map (`mapOwn`) before its request could look it up again (a preemption).
   */
  registerOwn(block: number, h: number): void {
    this.f64[2 * block] = -h - 2;
    this.own++;
    this.listener?.("stored", h);
  }

  /**
   * Enters in the map the blocks of `table[from..to)` registered with `registerOwn` (others are left as they are), as
   * `register` would have (no event: they were reported then).
   */
  mapOwn(table: Int32Array, from: number, to: number): void {
    const f64 = this.f64;
    for (let j = from; j < to; j++) {
      const b = table[j]!;
      const x = f64[2 * b]!;
      if (!(x < NO_HASH)) continue;
      const h = ownHash(x);
      this.own--;
      const map = this.hashToBlock;
      const slot = map.claim(h);
      if (!map.inserted) {
        const old = map.valueAt(slot);
        if (f64[2 * old] === h) {
          f64[2 * b] = NO_HASH; // another block holds it: this one stays anonymous, as `register` leaves it
          continue;
        }
        this.stale--;
      }
      map.setAt(slot, b);
      f64[2 * b] = h;
      this.live++;
    }
  }

  /** Drops one reference; a block reaching 0 goes to the tail of the free list (most recently freed). */
  release(block: number): void {
    const r = --this.i32[4 * block + 2]!;
    if (r < 0) throw new Error("KV block released more often than acquired");
    if (r === 0) this.linkFreeTail(block);
  }

  /** Releases a request's block table, tail first (vLLM frees in reverse so prefixes outlive suffixes). */
  releaseAll(blocks: readonly number[]): void {
    for (let i = blocks.length - 1; i >= 0; i--) this.release(blocks[i]!);
  }

  /**
   * A block table (`Seq.blocks`) with room for at least `n` blocks: one given back earlier (`releaseTable`,
   * `giveTable`) or a new one; capacities are powers of two ≥ 16, kept apart per capacity.
   */
  takeTable(n: number): Int32Array {
    const c = n <= 16 ? 4 : 32 - Math.clz32(n - 1);
    const pool = this.tables[c];
    if (pool !== undefined && pool.length > 0) return pool.pop()!;
    return new Int32Array(1 << c);
  }

  /** Takes back a block table for reuse (its blocks already freed or moved). */
  giveTable(t: Int32Array): void {
    const c = 31 - Math.clz32(t.length);
    (this.tables[c] ??= []).push(t);
  }

  /** Warms the hash map's slots for registering `hashes[from..to)` (see `NumMap.prefetch`). */
  prefetch(hashes: Float64Array, from: number, to: number): void {
    if (to - from > 1) this.sink += this.hashToBlock.prefetch(hashes, from, to);
  }

  /** Warms the records of the next `n` blocks `allocate` will take (see `NumMap.prefetch`). */
  prefetchAllocations(n: number): void {
    if (n < 2 || this.freshFree > 0) return;
    const ring = this.ring;
    const mask = ring.length - 1;
    const f64 = this.f64;
    const m = Math.min(n, this.ringCount);
    let acc = 0;
    for (let k = 0, i = this.ringHead; k < m; k++, i = (i + 1) & mask) {
      const b = ring[i]!;
      if (b >= 0) acc += f64[2 * b]!;
    }
    this.sink += acc;
  }

  /** Keeps the prefetches' loads (never read). */
  private sink = 0;

  /** Releases the blocks `table[0..count)`, tail first (as `releaseAll`), and takes the table back for reuse. */
  releaseTable(table: Int32Array, count: number): void {
    if (count > 1) {
      // Warms the blocks' records (see `NumMap.prefetch`).
      const i32 = this.i32;
      let acc = 0;
      for (let i = 0; i < count; i++) acc += i32[4 * table[i]! + 2]!;
      this.sink += acc;
    }
    for (let i = count - 1; i >= 0; i--) this.release(table[i]!);
    if (table.length > 0) this.giveTable(table);
  }

  /** Takes free block `b` out of the free list (its ring entry goes stale). */
  private unlinkFree(b: number): void {
    this.i32[4 * b + 3] = -1;
    this.free--;
  }

  private linkFreeTail(b: number): void {
    if (this.ringCount === this.ring.length) this.compactRing();
    const t = (this.ringHead + this.ringCount++) & (this.ring.length - 1);
    this.ring[t] = b;
    this.i32[4 * b + 3] = t;
    this.free++;
  }

  /**
   * The ring is full: its live entries move to the front of a ring of the same size, in order (stale ones dropped),
   * or of twice the size when they fill more than half of it (each block has at most one live entry, so the ring
   * stays below 2 numBlocks).
   */
  private compactRing(): void {
    const old = this.ring;
    const oldRuns = this.runs;
    const mask = old.length - 1;
    let live = 0;
    const i32 = this.i32;
    const alive = (b: number, i: number) => (b >= 0 ? i32[4 * b + 3] === i : oldRuns[2 * i]! + oldRuns[2 * i + 1]! > 0);
    for (let n = 0, i = this.ringHead; n < this.ringCount; n++, i = (i + 1) & mask) {
      if (alive(old[i]!, i)) live++;
    }
    const ring = new Int32Array(2 * live > old.length ? old.length * 2 : old.length);
    const runs = new Int32Array(2 * ring.length);
    let w = 0;
    for (let n = 0, i = this.ringHead; n < this.ringCount; n++, i = (i + 1) & mask) {
      const b = old[i]!;
      if (!alive(b, i)) continue;
      ring[w] = b;
      if (b >= 0) i32[4 * b + 3] = w;
      else {
        runs[2 * w] = oldRuns[2 * i]!;
        runs[2 * w + 1] = oldRuns[2 * i + 1]!;
      }
      w++;
    }
    this.ring = ring;
    this.runs = runs;
    this.ringHead = 0;
    this.ringCount = w;
  }

  /** Free-list order from next-to-evict to last (for tests and debugging). */
  freeOrder(): number[] {
    const out: number[] = [];
    // Blocks never allocated: the numbers they will get while none is given back.
    for (let k = 0; k < this.freshFree; k++) out.push(this.nextId + k);
    const mask = this.ring.length - 1;
    for (let n = 0, i = this.ringHead; n < this.ringCount; n++, i = (i + 1) & mask) {
      const b = this.ring[i]!;
      if (b < 0) for (let k = this.runs[2 * i]! + this.runs[2 * i + 1]!; k > 0; k--) out.push(-1);
      else if (this.i32[4 * b + 3] === i) out.push(b);
    }
    return out;
  }

  /** Checks internal invariants (tests): counts, free ring integrity, map consistency. Throws on violation. */
  checkInvariants(): void {
    const linked = this.freeOrder();
    const numbered = linked.filter((b) => b >= 0);
    for (const b of numbered) {
      if (this.refCount(b) !== 0) throw new Error(`free block ${b} has ref ${this.refCount(b)}`);
    }
    if (new Set(numbered).size !== numbered.length) throw new Error("a block is twice in the free list");
    if (linked.length !== this.free) throw new Error(`free count ${this.free} != list length ${linked.length}`);
    // Every number handed out is referenced, in the free ring, or given back (`idStack`), once.
    const back = new Set(Array.from(this.idStack.subarray(0, this.idTop)));
    if (back.size !== this.idTop) throw new Error("a block number is given back twice");
    let held = 0;
    for (let b = 0; b < this.nextId; b++) {
      const slot = this.i32[4 * b + 3]!;
      const ref = this.refCount(b);
      if (back.has(b)) {
        if (ref !== 0 || slot >= 0 || this.f64[2 * b] !== NO_HASH) throw new Error(`given-back block ${b} in use`);
        continue;
      }
      if (slot >= 0 !== (ref === 0)) throw new Error(`block ${b}: ring slot ${slot}, ref ${ref}`);
      if (ref > 0) held++;
    }
    const inRing = numbered.length - Math.min(this.freshFree, numbered.length);
    if (held + inRing + this.idTop !== this.nextId)
      throw new Error(`numbers: ${held} held + ${inRing} free + ${this.idTop} back != ${this.nextId}`);
    if (this.nextId - this.idTop > this.numBlocks) throw new Error("more numbered blocks than blocks");
    let live = 0;
    let stale = 0;
    // Raw records: an entry whose block now carries a hash of its own (`registerOwn`) is stale.
    this.hashToBlock.forEach((h, b) => {
      if (this.f64[2 * b] === h) live++;
      else stale++;
    });
    let hashed = 0;
    let own = 0;
    for (let b = 0; b < this.nextId; b++) {
      const x = this.f64[2 * b]!;
      if (x === NO_HASH) continue;
      if (x < NO_HASH) {
        own++;
        if (this.hashToBlock.get(ownHash(x)) === b) throw new Error(`block ${b}'s own hash is mapped to it`);
        continue;
      }
      hashed++;
      if (this.hashToBlock.get(x) !== b) throw new Error(`block ${b}'s hash is not mapped to it`);
    }
    if (live !== hashed || live !== this.live)
      throw new Error(`live hashes: map ${live}, blocks ${hashed}, count ${this.live}`);
    if (own !== this.own) throw new Error(`blocks with their own hash: ${own}, count ${this.own}`);
    if (stale !== this.stale) throw new Error(`stale entries: map ${stale}, count ${this.stale}`);
  }
}
