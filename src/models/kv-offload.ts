/**
 * CPU KV offload: a second KV tier in host memory behind the GPU's prefix cache (vLLM's CPU offloading,
 * `--kv-offloading-size` / OffloadingConnector; BLIS `--kv-cpu-blocks`, docs/reference.md#blis-inference-sim-facts).
 *
 * - **Offload on eviction**: when the GPU cache evicts a cached block (its hash is about to be overwritten), the block's
 *   content is copied to the CPU tier, which keeps `cpuBlocks` blocks in LRU order (the least recently offloaded or
 *   used block is dropped when full). The copy is asynchronous in vLLM and is not charged.
 * - **Reload on a GPU miss**: when a waiting request is admitted, the blocks right after its GPU prefix hit are looked
 *   up in the CPU tier; a run of consecutive CPU hits is loaded back (fresh GPU blocks, registered again in the GPU
 *   cache) instead of recomputed. The load costs `blocks × (base latency + block bytes / bandwidth)` and is added to
 *   the step that admits the request (a synchronous load: an upper bound on its interference with the batch, as
 *   BLIS charges its reload penalty).
 *
 * Constants: BLIS `defaults.yaml` `kv_offload_devices.cpu_dram` (HEAD f90a1e3a; copy in
 * /work/shared/data/blis-inference-sim/defaults.head.yaml): read bandwidth 2.0e4 B/µs (20 GB/s per GPU), base latency
 * 1 µs. Block bytes per TP rank = layers × KV elements per token per layer on the rank × 2 B (BF16 KV) × block size.
 *
 * The tier plugs into `KvCache.secondTier` (the optional hook in kv-cache.ts / replica.ts); with no tier attached the
 * replica's code path is unchanged.
 */
import { NumMap } from "../sim/num-map.ts";
import { kvHeadsPerRank, type ModelSpec, resolveModel } from "./catalog.ts";
import type { KvSecondTier } from "./kv-cache.ts";
import type { Replica } from "./replica.ts";

/** BLIS `kv_offload_devices.cpu_dram.read_bandwidth`: 2.0e4 bytes/µs. */
export const CPU_DRAM_READ_BYTES_PER_S = 2.0e4 * 1e6;
/** BLIS `kv_offload_devices.cpu_dram.base_latency`: 1 µs. */
export const CPU_DRAM_BASE_LATENCY_S = 1e-6;
/** KV cache element size (BF16/FP16 KV, vLLM's default `kv_cache_dtype=auto` for these models). */
export const KV_BYTES_PER_ELEMENT = 2;

/** Bytes of one KV block on one TP rank. */
export function kvBlockBytesPerRank(modelIn: ModelSpec | string, tp: number, blockSize: number): number {
  const model = resolveModel(modelIn);
  const perLayer = model.kvShardedAcrossTp
    ? (model.kvElementsPerTokenPerLayer / model.numKvHeads) * kvHeadsPerRank(model, tp)
    : model.kvElementsPerTokenPerLayer;
  return model.numLayers * perLayer * KV_BYTES_PER_ELEMENT * blockSize;
}

export interface CpuOffloadOptions {
  /** Blocks the CPU tier holds (vLLM `num_cpu_blocks`; the calibration set's `cpu_kv_blocks`). */
  readonly cpuBlocks: number;
  /** Bytes of one block on one TP rank (ranks load their shares in parallel). */
  readonly blockBytes: number;
  /** Host→GPU bandwidth per rank, bytes/s (default BLIS cpu_dram). */
  readonly bandwidth?: number;
  /** Fixed latency per block loaded, seconds (default BLIS cpu_dram). */
  readonly baseLatency?: number;
}

/** Counters of the CPU tier. */
export interface CpuOffloadCounters {
  /** Blocks copied to the CPU tier on GPU eviction. */
  offloaded: number;
  /** Blocks dropped from the CPU tier (LRU) to make room. */
  dropped: number;
  /** Blocks looked up after a GPU miss. */
  queries: number;
  /** Blocks found and loaded back. */
  hits: number;
  /** Seconds of loading charged. */
  loadTime: number;
}

/**
 * The CPU tier: an LRU set of block hashes with a load-time model. Slots in typed arrays, a doubly linked list from
 * least to most recently used, and a `NumMap` from hash to slot (no allocation per block).
 */
export class CpuOffloadTier implements KvSecondTier {
  readonly capacity: number;
  readonly blockBytes: number;
  readonly bandwidth: number;
  readonly baseLatency: number;
  readonly counters: CpuOffloadCounters = { offloaded: 0, dropped: 0, queries: 0, hits: 0, loadTime: 0 };
  private readonly slotOf: NumMap;
  private readonly key: Float64Array;
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  /** Least recently used slot (-1: empty) and most recently used. */
  private head = -1;
  private tail = -1;
  private used = 0;

  constructor(o: CpuOffloadOptions) {
    if (!(Number.isInteger(o.cpuBlocks) && o.cpuBlocks > 0)) {
      throw new Error(`cpu offload: cpuBlocks must be a positive integer, got ${o.cpuBlocks}`);
    }
    if (!(o.blockBytes > 0)) throw new Error(`cpu offload: blockBytes must be > 0, got ${o.blockBytes}`);
    this.capacity = o.cpuBlocks;
    this.blockBytes = o.blockBytes;
    this.bandwidth = o.bandwidth ?? CPU_DRAM_READ_BYTES_PER_S;
    this.baseLatency = o.baseLatency ?? CPU_DRAM_BASE_LATENCY_S;
    if (!(this.bandwidth > 0)) throw new Error(`cpu offload: bandwidth must be > 0, got ${this.bandwidth}`);
    this.slotOf = new NumMap(o.cpuBlocks);
    this.key = new Float64Array(o.cpuBlocks);
    this.prev = new Int32Array(o.cpuBlocks);
    this.next = new Int32Array(o.cpuBlocks);
  }

  /** Blocks held. */
  get size(): number {
    return this.used;
  }

  has(hash: number): boolean {
    return this.slotOf.has(hash);
  }

  private unlink(i: number): void {
    const p = this.prev[i]!;
    const n = this.next[i]!;
    if (p >= 0) this.next[p] = n;
    else this.head = n;
    if (n >= 0) this.prev[n] = p;
    else this.tail = p;
  }

  private linkTail(i: number): void {
    this.prev[i] = this.tail;
    this.next[i] = -1;
    if (this.tail >= 0) this.next[this.tail] = i;
    else this.head = i;
    this.tail = i;
  }

  onEvict(hash: number): void {
    this.counters.offloaded++;
    const hit = this.slotOf.get(hash);
    if (hit >= 0) {
      this.unlink(hit);
      this.linkTail(hit);
      return;
    }
    let i: number;
    if (this.used < this.capacity) i = this.used++;
    else {
      i = this.head; // drop the least recently used block
      this.unlink(i);
      this.slotOf.delete(this.key[i]!);
      this.counters.dropped++;
    }
    this.key[i] = hash;
    this.slotOf.set(hash, i);
    this.linkTail(i);
  }

  lookup(hashes: Float64Array, from: number, limit: number): number {
    const n = Math.min(limit, hashes.length);
    let i = from;
    while (i < n) {
      const slot = this.slotOf.get(hashes[i]!);
      if (slot < 0) break;
      this.unlink(slot); // refresh: most recently used
      this.linkTail(slot);
      i++;
    }
    this.counters.queries += n - from;
    this.counters.hits += i - from;
    return i - from;
  }

  loadTime(blocks: number): number {
    const t = blocks * (this.baseLatency + this.blockBytes / this.bandwidth);
    this.counters.loadTime += t;
    return t;
  }
}

/**
 * Attaches a CPU tier of `cpuBlocks` blocks to a replica (before the run). Returns the tier (for its counters), or
 * undefined when `cpuBlocks` is 0 (nothing attached; the replica runs exactly as without offload).
 */
export function attachCpuOffload(
  replica: Replica,
  model: ModelSpec | string,
  tp: number,
  cpuBlocks: number,
  opts: { bandwidth?: number; baseLatency?: number } = {},
): CpuOffloadTier | undefined {
  if (cpuBlocks <= 0) return undefined;
  const tier = new CpuOffloadTier({
    cpuBlocks,
    blockBytes: kvBlockBytesPerRank(model, tp, replica.cfg.blockSize),
    ...opts,
  });
  replica.kv.secondTier = tier;
  return tier;
}
