/**
 * The fast-forward planner: jumps a replica over pure-decode stretches with one engine event instead of one per step.
 *
 * In a pure-decode stretch (nothing waiting, every running request decoding and given its previous token at the end
 * of the previous step), the next steps differ only in context length: step j's decode context is C1 + (j−1)·D. The
 * planner computes the step times of the whole stretch in one go (the same arithmetic as stepping, so the same
 * floats), stops it before the first step that completes a request or could run out of KV blocks, and the engine
 * gets one event at its end instead of one per step. Per-request counters are brought up to date when the stretch
 * ends; block allocations (and registrations of full decode blocks) are replayed in step order, lazily, whenever
 * the replica is observed (`settle`), so scrapes see the same KV usage as stepping would; the KV events they cause
 * carry the replayed step's start time (`KvCache.eventTime`). An arrival during a
 * stretch truncates it at the end of the step in progress (`truncate`), where stepping would admit it.
 *
 * It changes no scheduling decision: the vLLM semantics live in `replica.ts`, which this only skips ahead of.
 */
import type { BatchShape, CostModel } from "./cost.ts";
import type { KvCache } from "./kv-cache.ts";
import type { LoraState } from "./lora.ts";
import type { EngineConfig, ReplicaCounters, Seq } from "./seq.ts";

/** Stretch step times computed per chunk (one engine event per chunk). */
const FF_CHUNK = 32;

/** What the planner reads and advances of its replica. */
export interface StretchHost {
  readonly running: Seq[];
  readonly waiting: { readonly length: number };
  readonly kv: KvCache;
  readonly cfg: EngineConfig;
  readonly cost: CostModel;
  readonly lora: LoraState | undefined;
  readonly counters: ReplicaCounters;
}

export class DecodeStretch {
  private readonly host: StretchHost;
  /** The replica's batch of the step in progress (the stretch's first step). */
  private readonly batch: BatchShape;
  /** Steps in the current stretch (0: none). */
  steps = 0;
  /** End time of each step of the stretch. */
  private ends = new Float64Array(64);
  /** Duration of each step of the stretch. */
  private dts = new Float64Array(64);
  /** Steps whose end times are computed (a prefix of the stretch). */
  private computed = 0;
  private loraOverhead = 0;
  /** Steps whose block allocations have been applied (step 1's by the scheduler). */
  private allocDone = 0;
  private startTime = 0;
  private context = 0;
  /** Running indices grouped by computed-tokens residue mod block size (counting sort, stable). */
  private bucket = new Int32Array(64);
  private bucketStart = new Int32Array(17);
  /** Whether some request may register a full block during the stretch (set by `plan`). */
  private registering = false;
  /**
   * Whether every block a request of the stretch allocates is private (`Seq.privateFrom` reached: a count, no number;
   * set by `plan`): a step's allocations are then one `KvCache.allocatePrivate` of the step's count — the same free
   * list order and evictions as one block per request in running order — and each request's `privateCount` is
   * brought up to date by `finish` (nothing reads a running request's count during the stretch), so the step touches
   * none of its requests.
   */
  private allPrivate = false;
  /** Scratch of the counting sort (next free place per residue). */
  private bucketFill = new Int32Array(16);

  constructor(host: StretchHost, batch: BatchShape) {
    this.host = host;
    this.batch = batch;
  }

  /** End of the last step computed so far (the engine's next event for this replica). */
  get lastEnd(): number {
    return this.ends[this.computed - 1]!;
  }

  /** Start time of the stretch's last step (the step `finishStep` ends). */
  get lastStepStart(): number {
    return this.steps >= 2 ? this.ends[this.steps - 2]! : this.startTime;
  }

  /** Plans a stretch from the step just formed (`now` to `end1`); false when the step does not start one. */
  plan(now: number, end1: number): boolean {
    const h = this.host;
    const run = h.running;
    const D = run.length;
    const b = this.batch;
    if (D === 0 || h.waiting.length > 0 || b.prefillRequests > 0 || b.decodeRequests !== D) return false;
    let steps = Number.POSITIVE_INFINITY;
    let allPrivate = true;
    for (let i = 0; i < D; i++) {
      const q = run[i]!;
      if (q.lastTokenTime !== now) return false;
      const rem = q.outputTarget - q.generated;
      if (rem < steps) steps = rem;
      if (q.privateFrom - q.blockCount - q.privateCount > 0) allPrivate = false;
    }
    // Step `steps` completes a request: it is the last step of the stretch, run normally by `finishStep`.
    if (steps < 2) return false;
    // Residue histogram: request i allocates a block at step j ≥ 2 when (c_i + j − 1) mod bs = 0.
    const bs = h.cfg.blockSize;
    if (this.bucketStart.length < bs + 1) this.bucketStart = new Int32Array(bs + 1);
    const start = this.bucketStart;
    start.fill(0, 0, bs + 1);
    for (let i = 0; i < D; i++) start[(run[i]!.computed % bs) + 1]!++;
    for (let r = 0; r < bs; r++) start[r + 1]! += start[r]!;
    // Whether a decode block can become full and be registered in this stretch: only a request with prompt (or
    // answer) hashes beyond its registered blocks can; otherwise every step only allocates (chat without an answer
    // identity: the decode blocks stay anonymous).
    this.registering = false;
    if (h.cfg.enablePrefixCaching) {
      for (let i = 0; i < D; i++) {
        if (run[i]!.registered < run[i]!.hashCount) {
          this.registering = true;
          break;
        }
      }
    }
    this.allPrivate = allPrivate && !this.registering;
    if (!this.allPrivate) {
      // The requests of each residue, in running order (the order stepping allocates and registers in).
      if (this.bucket.length < D) this.bucket = new Int32Array(D * 2);
      if (this.bucketFill.length < bs) this.bucketFill = new Int32Array(bs);
      const fill = this.bucketFill;
      for (let r = 0; r < bs; r++) fill[r] = start[r]!;
      for (let i = 0; i < D; i++) this.bucket[fill[run[i]!.computed % bs]!++] = i;
    }
    let free = h.kv.freeBlocks;
    for (let j = 2; j <= steps; j++) {
      const r = (((1 - j) % bs) + bs) % bs;
      const need = start[r + 1]! - start[r]!;
      if (need > free) {
        steps = j - 1;
        break;
      }
      free -= need;
    }
    if (steps < 2) return false;
    if (this.ends.length < steps) {
      let cap = this.ends.length;
      while (cap < steps) cap *= 2;
      this.ends = new Float64Array(cap);
      this.dts = new Float64Array(cap);
    }
    const c1 = b.decodeContext;
    this.loraOverhead = h.lora !== undefined ? h.lora.lastOverhead : 0; // LoRA
    this.ends[0] = end1;
    this.dts[0] = end1 - now;
    this.computed = 1;
    this.steps = steps;
    this.context = c1;
    // Step times are computed a chunk at a time: an arrival usually ends a stretch long before it would complete.
    this.ensureTimes(Math.min(steps, FF_CHUNK));
    this.allocDone = 1;
    this.startTime = now;
    return true;
  }

  /** Computes the end times of stretch steps up to `k` (≤ the stretch length): the same arithmetic as stepping. */
  private ensureTimes(k: number): void {
    if (k > this.steps) k = this.steps;
    if (k <= this.computed) return;
    const b = this.batch;
    const c1 = this.context;
    const D = this.host.running.length;
    const cost = this.host.cost;
    let t = this.ends[this.computed - 1]!;
    for (let j = this.computed + 1; j <= k; j++) {
      b.decodeContext = c1 + (j - 1) * D;
      const dt = cost.stepTime(b) + this.loraOverhead; // LoRA: same overhead every step of the stretch
      this.dts[j - 1] = dt;
      t += dt;
      this.ends[j - 1] = t;
    }
    b.decodeContext = c1;
    this.computed = k;
  }

  /**
   * The engine's step event at `t` during a stretch: if it is only a chunk boundary (the stretch goes on), computes
   * the next chunk and returns its end time (the next event); otherwise -1 and the engine finishes the step.
   */
  checkpoint(t: number): number {
    if (this.steps === 0 || this.computed >= this.steps || t !== this.ends[this.computed - 1]) return -1;
    this.ensureTimes(Math.min(this.steps, this.computed + FF_CHUNK));
    return this.ends[this.computed - 1]!;
  }

  /**
   * Whether the start of the stretch's step j + 1 (at `ends[j−1]`, triggered by step j's end event, which stepping
   * would have pushed at step j's start) comes before an observer event at time `t` pushed at time `p`: earlier in
   * time, or at the same time with the step event pushed first (the heap orders equal times by push order).
   */
  private startsBefore(j: number, t: number, p: number): boolean {
    const e = this.ends[j - 1]!;
    if (e !== t) return e < t;
    const s = j >= 2 ? this.ends[j - 2]! : this.startTime;
    return s < p;
  }

  /**
   * A request enqueued at `t` (its event pushed at `p`) during a stretch: stepping would admit it at the first step
   * that starts after it, so the stretch now ends where that step begins. Returns the new end, or -1 if unchanged.
   */
  truncate(t: number, p: number): number {
    const J = this.steps;
    let j = 1;
    for (; j < J; j++) {
      this.ensureTimes(j);
      if (!this.startsBefore(j, t, p)) break;
    }
    if (j >= J) return -1;
    this.steps = j;
    if (this.computed > j) this.computed = j;
    return this.ends[j - 1]!;
  }

  /** Applies the block allocations of stretch steps that start before an observer at `t` (event pushed at `p`). */
  settle(t: number, p: number): void {
    const J = this.steps;
    while (this.allocDone < J && this.startsBefore(this.allocDone, t, p)) this.applyStepAllocations(this.allocDone + 1);
  }

  /**
   * Step j ≥ 2 of the stretch: allocations (c_i + j − 1 ≡ 0) and full-block registrations (c_i + j ≡ 0 mod bs). The
   * KV events they cause (evictions, stores) carry the step's start time, when stepping would have emitted them.
   */
  private applyStepAllocations(j: number): void {
    const h = this.host;
    h.kv.eventTime = this.ends[j - 2]!;
    this.applyStep(j);
    h.kv.eventTime = -1;
  }

  private applyStep(j: number): void {
    const h = this.host;
    const bs = h.cfg.blockSize;
    const start = this.bucketStart;
    const bucket = this.bucket;
    const run = h.running;
    const kv = h.kv;
    const ra = (((1 - j) % bs) + bs) % bs;
    let a = start[ra]!;
    const aEnd = start[ra + 1]!;
    if (this.allPrivate) {
      // Private blocks only: counted per request by `finish`.
      if (aEnd > a) kv.allocatePrivate(aEnd - a);
      this.allocDone = j;
      return;
    }
    if (!this.registering) {
      // Allocations only, in running order (the bucket is).
      for (; a < aEnd; a++) run[bucket[a]!]!.allocate(1, kv);
      this.allocDone = j;
      return;
    }
    const rr = ((-j % bs) + bs) % bs;
    let g = start[rr]!;
    const gEnd = ra === rr ? g : start[rr + 1]!;
    const prefix = h.cfg.enablePrefixCaching;
    // Merge the two buckets in running order (as stepping visits requests).
    while (a < aEnd || g < gEnd) {
      const ia = a < aEnd ? bucket[a]! : 0x7fffffff;
      const ig = g < gEnd ? bucket[g]! : 0x7fffffff;
      const i = ia < ig ? ia : ig;
      const q = run[i]!;
      if (ia === i) {
        q.allocate(1, kv);
        a++;
      }
      if (prefix && (ig === i || (ra === rr && ia === i))) {
        // The block holding token c_i + j is now full.
        const blk = (q.computed + j) / bs - 1;
        if (blk < q.hashCount && blk >= q.registered) {
          if (blk === q.registered) q.registerUpTo(blk + 1, kv);
          else {
            kv.register(q.blocks[blk]!, q.hashes[blk]!);
            q.registered = blk + 1;
          }
        }
      }
      // Advance past the request in the registration bucket even when prefix caching is off (else this never ends).
      if (ig === i) g++;
    }
    this.allocDone = j;
  }

  /**
   * Brings the per-request state up to the start of the stretch's last step, which the scheduler's `finishStep` then
   * runs; `tokenRun(count, gap)` is told of each skipped step's tokens.
   */
  finish(tokenRun: (count: number, gap: number) => void): void {
    const J = this.steps;
    while (this.allocDone < J) this.applyStepAllocations(this.allocDone + 1);
    const run = this.host.running;
    const D = run.length;
    const c = this.host.counters;
    let prev = this.startTime;
    for (let j = 1; j < J; j++) {
      const e = this.ends[j - 1]!;
      tokenRun(D, e - prev);
      prev = e;
      c.steps++;
      c.busyTime += this.dts[j]!;
      c.decodeTokens += D;
      c.outputTokens += D;
    }
    const bs = this.host.cfg.blockSize;
    const priv = this.allPrivate;
    for (let i = 0; i < D; i++) {
      const q = run[i]!;
      // Steps 2…J allocated a block for each c + j − 1 ≡ 0 (mod bs): the multiples of bs in [c + 1, c + J − 1].
      if (priv) q.privateCount += Math.floor((q.computed + J - 1) / bs) - Math.floor(q.computed / bs);
      q.computed += J - 1;
      q.generated += J - 1;
      q.lastTokenTime = prev;
    }
    this.batch.decodeContext = this.context + (J - 1) * D;
    this.steps = 0;
  }
}
