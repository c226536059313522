/**
 * LoRA adapters on a replica, with vLLM's semantics (`vllm/lora/`, `vllm/v1/core/sched/scheduler.py`,
 * `vllm/v1/worker/lora_model_runner_mixin.py`), as described in `../shared/DESIGN.md` §6:
 * - `max_loras` GPU slots: at most that many distinct adapters among the running requests (vLLM's scheduler skips a
 *   waiting request whose adapter is not among the scheduled ones when `max_loras` are already scheduled; the skipped
 *   request keeps its place and others may pass it);
 * - `max_cpu_loras` host slots (vLLM default: `max_loras`; must be ≥ `max_loras`): an adapter not in host memory is
 *   read from disk first;
 * - loading is synchronous in the model runner, before the step that first runs the adapter: the step takes the load
 *   time longer (disk → host when not cached on the host, then host → GPU);
 * - LRU eviction of idle adapters (no running request uses them); an adapter in use is never evicted. The host cache
 *   holds every GPU-resident adapter (evicting one from the host also frees its GPU slot, as vLLM's LRU manager does);
 * - step-time overhead of LoRA in a batch (punica BGMV/SGMV kernels): `fixed + (per_seq × requests + per_adapter ×
 *   distinct adapters) × rankScale(max rank)`, added when the batch has at least one adapter request.
 *
 * Calibration (`../shared/data/lora-adapter-serving/`, Agulló et al., arXiv 2508.08343; vLLM V1, one datacenter GPU
 * that the files do not name; Llama-3.1-8B-Instruct and Qwen-2.5-7B-Instruct, rank 8). Fits in docs/admission.md:
 * - per distinct adapter: 0.337 ms — decode ITL at batch 220 (Llama) / 250 (Qwen) vs adapters N = 1…300
 *   (`predictor_latency_overhead/.../overhead_small`), with the batch's expected distinct adapters
 *   D = N·(1 − (1 − 1/N)^B) (each request draws its adapter at random): ITL = 34.85 + 0.3374·D ms (Llama, MAPE 0.9 %,
 *   max 3.1 %, 22 runs), 36.12 + 0.3372·D (Qwen, MAPE 1.0 %, 32 runs);
 * - LoRA on, one adapter, batch 220: 35.19 ms vs 17.47 ms without LoRA (`initial_points_small`): +17.7 ms, split into
 *   `fixed` 2.9 ms (mean excess ITL of the low-batch runs, B < 3, of the scheduler_overhead CSVs over the authors'
 *   no-LoRA decode fit 10.54 + 0.0438·B ms) and `per_seq` (17.72 − 2.9) / 220 = 0.0674 ms per request in the batch;
 * - loads: `max_lora_loading_time` = 6.8 ms × GPU loads + 3.2 ms × disk loads (least squares over the 788 runs of the
 *   two scheduler_overhead CSVs, MAPE 6.0 %, p90 18.5 %); the authors' per-rank table (`predictor_loading/*_constants`)
 *   shows no rank trend (6.4–8.1 ms for ranks 8–32), consistent with small adapters. Rank enters through the adapter's
 *   size: bytes = rank × Σ over target modules (in + out features) × layers × 2 B, over PCIe (host → GPU) or disk
 *   bandwidth, on top of the fitted fixed latency (the fitted rank-8 total is kept: fixed = fit − size(8)/bandwidth).
 * - rank scaling of the compute terms (no rank sweep in the data): BLIS's LoRA tiers k6 = 0.02 / 0.035 / 0.06 for
 *   max rank 8 / 16 / 32 (`inference-sim sim/lora/`, docs/reference.md#blis-inference-sim-facts), relative to rank 8, interpolated
 *   in log2(rank) and extrapolated linearly.
 *
 * The replica calls `intern` when it creates a request's state, `onEnqueue`/`canRun`/`admit`/`release`/`onPreempt`
 * from its scheduler, and `stepExtra` when a step starts. Nothing here allocates per step.
 */
import type { BatchShape } from "./cost.ts";
import type { ModelSpec } from "./model-spec.ts";

/** Ranks vLLM accepts for `max_lora_rank` (`vllm/config` LoRAConfig `possible_max_ranks`). */
export const VLLM_MAX_LORA_RANKS = [1, 8, 16, 32, 64, 128, 256, 320, 512] as const;

/** vLLM's default `max_lora_rank`. */
export const DEFAULT_MAX_LORA_RANK = 16;

/** PEFT's default `target_modules` for Llama-style models (q_proj, v_proj). */
export const DEFAULT_TARGET_MODULES = ["q_proj", "v_proj"] as const;

export const TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] as const;
export type TargetModule = (typeof TARGET_MODULES)[number];

/** Fitted constants (see the header and docs/admission.md). Times in seconds. */
export const LORA_CALIBRATION = {
  source:
    "lora-adapter-serving (Agulló et al., arXiv 2508.08343; vLLM V1, rank 8, Llama-3.1-8B / Qwen-2.5-7B); rank tiers from BLIS sim/lora",
  /** Step overhead when a batch has ≥ 1 adapter request. */
  fixedS: 2.9e-3,
  perSeqS: 0.0674e-3,
  perAdapterS: 0.3374e-3,
  /** Host → GPU load of a rank-8 adapter (fit), and disk → host on top of it. */
  hostToGpuRank8S: 6.8e-3,
  diskToHostRank8S: 3.2e-3,
  /** Bandwidths used to scale the load by adapter size (assumptions: PCIe Gen4 x16 effective, NVMe Gen4 read). */
  pcieBytesPerS: 25e9,
  diskBytesPerS: 5e9,
  /** Rank of the runs the constants come from. */
  rank: 8,
} as const;

/** BLIS's LoRA compute tiers (k6 by max rank). */
const BLIS_TIERS: readonly [number, number][] = [
  [8, 0.02],
  [16, 0.035],
  [32, 0.06],
];

/** Compute-overhead multiplier of max rank `r` relative to rank 8 (BLIS tiers, log2 interpolation). */
export function rankScale(r: number): number {
  if (!(r > 0)) return 0;
  const x = Math.log2(r);
  const pts = BLIS_TIERS.map(([rank, k]) => [Math.log2(rank), k] as const);
  let lo = pts[0]!;
  let hi = pts[1]!;
  if (x > pts[1]![0]) {
    lo = pts[1]!;
    hi = pts[2]!;
  }
  const k = lo[1] + ((x - lo[0]) * (hi[1] - lo[1])) / (hi[0] - lo[0]);
  return Math.max(k, 0.005) / BLIS_TIERS[0]![1];
}

/** Model geometry needed for adapter sizes. */
export type LoraModelGeometry = Pick<
  ModelSpec,
  "numLayers" | "hiddenSize" | "numHeads" | "numKvHeads" | "headDim" | "intermediateSize"
>;

/** Bytes of an adapter per unit of rank: Σ over target modules of (in + out) features × layers × 2 B (bf16). */
export function adapterBytesPerRank(m: LoraModelGeometry, modules: readonly TargetModule[]): number {
  const d = m.hiddenSize;
  const q = m.numHeads * m.headDim;
  const kv = m.numKvHeads * m.headDim;
  const f = m.intermediateSize;
  const dims: Record<TargetModule, number> = {
    q_proj: d + q,
    k_proj: d + kv,
    v_proj: d + kv,
    o_proj: q + d,
    gate_proj: d + f,
    up_proj: d + f,
    down_proj: f + d,
  };
  let per = 0;
  for (const mod of new Set(modules)) per += dims[mod];
  return per * m.numLayers * 2;
}

/** Resolved LoRA settings of one pool (engine knobs + adapter definitions + costs). */
export interface LoraSettings {
  /** `max_loras`: GPU adapter slots (max distinct adapters among running requests). */
  readonly maxLoras: number;
  /** `max_cpu_loras`: host-memory adapter slots (≥ maxLoras). */
  readonly maxCpuLoras: number;
  /** `max_lora_rank`. */
  readonly maxLoraRank: number;
  /** Rank of adapters not listed in `ranks`. */
  readonly defaultRank: number;
  readonly ranks: ReadonlyMap<string, number>;
  /** Adapter bytes per unit of rank. */
  readonly bytesPerRank: number;
  /** Fixed latencies and bandwidths of loads (seconds, bytes/s). */
  readonly hostToGpuFixedS: number;
  readonly diskToHostFixedS: number;
  readonly pcieBytesPerS: number;
  readonly diskBytesPerS: number;
  /** Step overhead terms (seconds). */
  readonly fixedS: number;
  readonly perSeqS: number;
  readonly perAdapterS: number;
}

export interface LoraOverrides {
  readonly hostToGpuMs?: number | undefined;
  readonly diskToHostMs?: number | undefined;
  readonly pcieGbS?: number | undefined;
  readonly diskGbS?: number | undefined;
  readonly fixedMs?: number | undefined;
  readonly perSeqMs?: number | undefined;
  readonly perAdapterMs?: number | undefined;
}

/**
 * Settings from the knobs: the fitted rank-8 load latencies are kept as totals for a rank-8 adapter of this model
 * (the fixed part is the fit minus the rank-8 transfer), unless overridden (`hostToGpuMs`/`diskToHostMs` are then the
 * fixed parts).
 */
export function loraSettings(
  knobs: {
    maxLoras: number;
    maxCpuLoras: number;
    maxLoraRank: number;
    defaultRank: number;
    ranks: ReadonlyMap<string, number>;
    bytesPerRank: number;
  },
  o: LoraOverrides = {},
): LoraSettings {
  const C = LORA_CALIBRATION;
  const pcie = (o.pcieGbS ?? C.pcieBytesPerS / 1e9) * 1e9;
  const disk = (o.diskGbS ?? C.diskBytesPerS / 1e9) * 1e9;
  const size8 = knobs.bytesPerRank * C.rank;
  return {
    ...knobs,
    pcieBytesPerS: pcie,
    diskBytesPerS: disk,
    hostToGpuFixedS: o.hostToGpuMs !== undefined ? o.hostToGpuMs / 1000 : Math.max(0, C.hostToGpuRank8S - size8 / pcie),
    diskToHostFixedS:
      o.diskToHostMs !== undefined ? o.diskToHostMs / 1000 : Math.max(0, C.diskToHostRank8S - size8 / disk),
    fixedS: o.fixedMs !== undefined ? o.fixedMs / 1000 : C.fixedS,
    perSeqS: o.perSeqMs !== undefined ? o.perSeqMs / 1000 : C.perSeqS,
    perAdapterS: o.perAdapterMs !== undefined ? o.perAdapterMs / 1000 : C.perAdapterS,
  };
}

/** Seconds to bring an adapter of `rank` to the GPU (`fromDisk`: not in host memory). */
export function loadSeconds(s: LoraSettings, rank: number, fromDisk: boolean): number {
  const bytes = rank * s.bytesPerRank;
  let t = s.hostToGpuFixedS + bytes / s.pcieBytesPerS;
  if (fromDisk) t += s.diskToHostFixedS + bytes / s.diskBytesPerS;
  return t;
}

/** Step overhead of LoRA for a batch of `requests` with `distinct` adapters of max rank `maxRank` (0 if none). */
export function stepOverheadSeconds(s: LoraSettings, requests: number, distinct: number, maxRank: number): number {
  if (distinct <= 0) return 0;
  return s.fixedS + (s.perSeqS * requests + s.perAdapterS * distinct) * rankScale(maxRank);
}

/** Counters of one replica's adapters (summed for the cluster in the summary). */
export interface LoraCounters {
  /** Adapter loads to the GPU (host → GPU). */
  loads: number;
  /** Of which read from disk first (not in host memory). */
  diskLoads: number;
  /** Seconds of steps spent loading adapters. */
  loadTime: number;
  /** Requests that waited at least once for an adapter slot (skipped by the scheduler). */
  delayedRequests: number;
  /** Σ over those requests of (admission − first skip), seconds. */
  waitTime: number;
  /** Adapters evicted from the GPU / from host memory. */
  gpuEvictions: number;
  cpuEvictions: number;
}

const NOT_RESIDENT = -1;

/** Adapter residency and accounting of one replica. Adapter ids are small integers interned per replica. */
export class LoraState {
  readonly settings: LoraSettings;
  readonly counters: LoraCounters = {
    loads: 0,
    diskLoads: 0,
    loadTime: 0,
    delayedRequests: 0,
    waitTime: 0,
    gpuEvictions: 0,
    cpuEvictions: 0,
  };
  /** Names by id. */
  readonly names: string[] = [];
  private readonly ids = new Map<string, number>();
  private rank: Int32Array = new Int32Array(16);
  /** Running requests per adapter; waiting requests per adapter. */
  private running: Int32Array = new Int32Array(16);
  private waiting: Int32Array = new Int32Array(16);
  /** Last use (a use counter, for LRU); slot in the GPU list (-1 if not resident); on host. */
  private lastUse: Float64Array = new Float64Array(16);
  private gpuSlot: Int32Array = new Int32Array(16).fill(NOT_RESIDENT);
  private onHost: Uint8Array = new Uint8Array(16);
  /** GPU-resident adapter ids (≤ maxLoras) and host-resident ones (≤ maxCpuLoras). */
  private readonly gpu: number[] = [];
  private readonly host: number[] = [];
  private useClock = 0;
  /** Distinct adapters among running requests. */
  distinctRunning = 0;
  /** Load seconds accumulated by admissions of the step being formed. */
  private pendingLoad = 0;
  /** LoRA kernel overhead of the last step formed (constant over a fast-forwarded decode stretch). */
  lastOverhead = 0;

  constructor(settings: LoraSettings) {
    this.settings = settings;
  }

  /** Id of adapter `name` (interned on first use). */
  intern(name: string): number {
    let id = this.ids.get(name);
    if (id !== undefined) return id;
    id = this.names.length;
    this.names.push(name);
    this.ids.set(name, id);
    if (id >= this.rank.length) this.grow(id + 1);
    this.rank[id] = this.settings.ranks.get(name) ?? this.settings.defaultRank;
    return id;
  }

  private grow(n: number): void {
    let cap = this.rank.length;
    while (cap < n) cap *= 2;
    const g32 = (a: Int32Array, fill = 0) => {
      const b = new Int32Array(cap);
      if (fill !== 0) b.fill(fill);
      b.set(a);
      return b;
    };
    this.rank = g32(this.rank);
    this.running = g32(this.running);
    this.waiting = g32(this.waiting);
    this.gpuSlot = g32(this.gpuSlot, NOT_RESIDENT);
    const lu = new Float64Array(cap);
    lu.set(this.lastUse);
    this.lastUse = lu;
    const oh = new Uint8Array(cap);
    oh.set(this.onHost);
    this.onHost = oh;
  }

  onEnqueue(id: number): void {
    this.waiting[id]!++;
  }

  /** Whether a waiting request with adapter `id` may join the running set now (a slot is free or it is in use). */
  canRun(id: number): boolean {
    return this.running[id]! > 0 || this.distinctRunning < this.settings.maxLoras;
  }

  /** The scheduler skipped a request for lack of a slot (first skip starts its wait). */
  onSkip(seqWaitStart: number, now: number): number {
    if (seqWaitStart < 0) {
      this.counters.delayedRequests++;
      return now;
    }
    return seqWaitStart;
  }

  /**
   * A waiting request with adapter `id` is admitted at `now` (`waitStart` ≥ 0 if it was skipped before). Loads the
   * adapter when it is not on the GPU (its time is added to the step being formed).
   */
  admit(id: number, now: number, waitStart: number): void {
    if (waitStart >= 0) this.counters.waitTime += now - waitStart;
    this.waiting[id]!--;
    if (this.running[id]!++ === 0) this.distinctRunning++;
    this.lastUse[id] = ++this.useClock;
    if (this.gpuSlot[id] === NOT_RESIDENT) this.load(id);
  }

  /** A running request with adapter `id` finished. */
  release(id: number): void {
    if (--this.running[id]! === 0) this.distinctRunning--;
    this.lastUse[id] = ++this.useClock;
  }

  /** A running request with adapter `id` was preempted back to the waiting queue. */
  onPreempt(id: number): void {
    this.release(id);
    this.waiting[id]!++;
  }

  private load(id: number): void {
    const s = this.settings;
    const c = this.counters;
    let fromDisk = false;
    if (this.onHost[id] === 0) {
      fromDisk = true;
      if (this.host.length >= s.maxCpuLoras) this.evictHost();
      this.onHost[id] = 1;
      this.host.push(id);
      c.diskLoads++;
    }
    if (this.gpu.length >= s.maxLoras) this.evictGpu();
    this.gpuSlot[id] = this.gpu.length;
    this.gpu.push(id);
    const t = loadSeconds(s, this.rank[id]!, fromDisk);
    c.loads++;
    c.loadTime += t;
    this.pendingLoad += t;
  }

  /** Evicts the least recently used idle adapter from the GPU. */
  private evictGpu(): void {
    const victim = this.lruIdle(this.gpu);
    if (victim < 0) throw new Error("internal: no idle LoRA adapter to evict from the GPU");
    this.dropGpu(victim);
    this.counters.gpuEvictions++;
  }

  private dropGpu(id: number): void {
    const slot = this.gpuSlot[id]!;
    const last = this.gpu.pop()!;
    if (last !== id) {
      this.gpu[slot] = last;
      this.gpuSlot[last] = slot;
    }
    this.gpuSlot[id] = NOT_RESIDENT;
  }

  /** Evicts the least recently used idle adapter from host memory (and from the GPU if it is there). */
  private evictHost(): void {
    const victim = this.lruIdle(this.host);
    if (victim < 0) throw new Error("internal: no idle LoRA adapter to evict from host memory");
    const i = this.host.indexOf(victim);
    this.host[i] = this.host[this.host.length - 1]!;
    this.host.pop();
    this.onHost[victim] = 0;
    if (this.gpuSlot[victim] !== NOT_RESIDENT) this.dropGpu(victim);
    this.counters.cpuEvictions++;
  }

  private lruIdle(list: readonly number[]): number {
    let best = -1;
    let bestUse = Number.POSITIVE_INFINITY;
    for (const id of list) {
      if (this.running[id]! > 0) continue;
      const u = this.lastUse[id]!;
      if (u < bestUse) {
        bestUse = u;
        best = id;
      }
    }
    return best;
  }

  /**
   * Fills the adapter fields of the step's batch and returns the step's extra seconds: the loads of this step plus
   * the LoRA compute overhead. `requests` = requests in the batch.
   */
  stepExtra(b: BatchShape, requests: number): number {
    const d = this.distinctRunning;
    let maxRank = 0;
    if (d > 0) {
      for (const id of this.gpu) if (this.running[id]! > 0 && this.rank[id]! > maxRank) maxRank = this.rank[id]!;
    }
    b.distinctAdapters = d;
    b.maxAdapterRank = maxRank;
    const overhead = stepOverheadSeconds(this.settings, requests, d, maxRank);
    this.lastOverhead = overhead;
    const extra = this.pendingLoad + overhead;
    this.pendingLoad = 0;
    return extra;
  }

  /** `vllm:lora_requests_info`: adapters of running / waiting requests; plus GPU-resident adapters. */
  fillSets(running: Set<string>, waiting: Set<string>, resident: Set<string>): void {
    running.clear();
    waiting.clear();
    resident.clear();
    const n = this.names.length;
    for (let id = 0; id < n; id++) {
      if (this.running[id]! > 0) running.add(this.names[id]!);
      if (this.waiting[id]! > 0) waiting.add(this.names[id]!);
    }
    for (const id of this.gpu) resident.add(this.names[id]!);
  }

  /** GPU-resident adapter count (tests). */
  get residentCount(): number {
    return this.gpu.length;
  }

  /** Host-resident adapter count (tests). */
  get hostCount(): number {
    return this.host.length;
  }

  /** Invariants: running adapters ≤ max_loras, all on the GPU; GPU ⊆ host; capacities respected. */
  checkInvariants(): void {
    const s = this.settings;
    if (this.gpu.length > s.maxLoras) throw new Error(`${this.gpu.length} adapters on GPU > max_loras ${s.maxLoras}`);
    if (this.host.length > s.maxCpuLoras)
      throw new Error(`${this.host.length} adapters on host > max_cpu_loras ${s.maxCpuLoras}`);
    if (this.distinctRunning > s.maxLoras) throw new Error(`${this.distinctRunning} running adapters > max_loras`);
    let distinct = 0;
    for (let id = 0; id < this.names.length; id++) {
      if (this.running[id]! < 0 || this.waiting[id]! < 0) throw new Error(`negative count for ${this.names[id]}`);
      if (this.running[id]! > 0) {
        distinct++;
        if (this.gpuSlot[id] === NOT_RESIDENT) throw new Error(`adapter ${this.names[id]} in use but not on GPU`);
      }
      if (this.gpuSlot[id] !== NOT_RESIDENT && this.onHost[id] === 0)
        throw new Error(`adapter ${this.names[id]} on GPU but not on host`);
    }
    if (distinct !== this.distinctRunning) throw new Error("distinct running adapters miscounted");
  }
}
