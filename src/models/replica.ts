/**
 * One model replica with vLLM v1 scheduling semantics (`vllm/v1/core/sched/scheduler.py`), as described in
 * `../shared/DESIGN.md` §3:
 * - each step has a token budget of `max_num_batched_tokens`; running requests are served first (a decoding request
 *   takes 1 token, a prefilling one its next chunk within the remaining budget: chunked prefill);
 * - then waiting requests are admitted in order while `running < max_num_seqs`, the budget lasts and KV blocks can be
 *   allocated; on admission the prefix cache is looked up and only uncached prompt tokens are computed (at most
 *   prompt − 1 tokens can hit, as vLLM recomputes the last token to get logits);
 * - if a running request needs a block and none is free, the most recently admitted running request is preempted
 *   (recompute: its blocks are freed, it goes back to the head of the waiting queue and recomputes prompt + generated
 *   tokens; its full blocks stay cached, so it may hit them again); no new request is admitted in a step that
 *   preempted;
 * - blocks are allocated (and full blocks registered in the prefix cache) when tokens are scheduled, as vLLM's
 *   `allocate_slots` does;
 * - a request whose prompt plus output can never fit (longer than `max_model_len` or the whole KV cache) is rejected
 *   on arrival with a reason instead of livelocking.
 *
 * The replica knows nothing of events or policies: the engine calls `enqueue`, `startStep` and `finishStep`.
 */
import { blockHashes, hashInts, type Segment } from "../sim/hash.ts";
import type { Request } from "../sim/request.ts";
import { type BatchShape, type CostModel, emptyBatch, resetBatch } from "./cost.ts";
import { KvCache } from "./kv-cache.ts";
import { type LoraSettings, LoraState } from "./lora.ts";

/** vLLM engine knobs (real names in the scenario file). */
export interface EngineConfig {
  /** `max_num_seqs`: most requests running at once. vLLM V1 default 256 (BLIS default 256). */
  readonly maxNumSeqs: number;
  /** `max_num_batched_tokens`: token budget per step. 2048 (BLIS default; vLLM V1's default for many setups). */
  readonly maxNumBatchedTokens: number;
  /** `block_size`: tokens per KV block; vLLM default 16. */
  readonly blockSize: number;
  /** `enable_prefix_caching`: vLLM V1 default true. */
  readonly enablePrefixCaching: boolean;
  /** `enable_chunked_prefill`: vLLM V1 default true (always on in V1). */
  readonly enableChunkedPrefill: boolean;
  /** `long_prefill_token_threshold`: cap on one request's prefill chunk per step (0 = off, vLLM default). */
  readonly longPrefillTokenThreshold: number;
  /** `max_model_len`: longest prompt + output. */
  readonly maxModelLen: number;
  /** KV cache size in blocks (`num_gpu_blocks`). */
  readonly numGpuBlocks: number;
  /** LoRA (`--enable-lora`, `max_loras`, `max_cpu_loras`, `max_lora_rank`, adapters); absent: adapters ignored. */
  readonly lora?: LoraSettings | undefined;
}

/** Receives what happens at the replica, at engine time `t` (end of the step). */
export interface ReplicaListener {
  onFirstToken(seq: Seq, t: number): void;
  /** A token after the first: `gap` = time since the request's previous token. */
  onToken(r: Replica, seq: Seq, gap: number): void;
  /** `count` requests of replica `r` each got a token `gap` after their previous one (a fast-forwarded step). */
  onTokenRun(r: Replica, count: number, gap: number): void;
  onComplete(seq: Seq, t: number): void;
  onReject(seq: Seq, t: number, reason: string): void;
}

const OUTPUT_NS = 0x0a7;
/** Stretch step times computed per chunk (one engine event per chunk). */
const FF_CHUNK = 32;

/** A request's state at a replica (vLLM's `Request` inside the engine). */
export class Seq {
  readonly req: Request;
  /** Chained hashes of the full blocks of prompt (+ generated text when it has an identity), at the replica's block size. */
  readonly hashes: Float64Array;
  /** Output tokens this replica will generate (`outputTokens` capped by `max_model_len`). */
  readonly outputTarget: number;
  /** Tokens whose KV is computed (`num_computed_tokens`). */
  computed = 0;
  /** Output tokens generated so far. */
  generated = 0;
  /** Block table. */
  blocks: number[] = [];
  /** Leading entries of `blocks` already known to the prefix cache (hit or registered). */
  registered = 0;
  /** Tokens scheduled in the current step. */
  scheduled = 0;
  /** True once the (re)prefill finished: later 1-token steps are decodes. */
  prefilled = false;
  /** Whether the current step's work for this request is a decode. */
  decoding = false;
  /** Prompt tokens found in the prefix cache at first admission (-1 until admitted). */
  cachedTokens = -1;
  /** Prompt tokens found in the prefix cache over all admissions (incl. re-admission after preemption). */
  hitTokensAllAdmissions = 0;
  preemptions = 0;
  /** LoRA: adapter id at this replica (-1: none or LoRA off); time of its first skip for lack of a slot (-1). */
  adapter = -1;
  loraWaitStart = -1;
  enqueueTime = 0;
  admitTime = -1;
  firstTokenTime = -1;
  lastTokenTime = -1;

  /** `promptHashes`: the prompt's block hashes at `blockSize` if already computed (by the router), to reuse. */
  constructor(req: Request, blockSize: number, maxModelLen: number, promptHashes?: Float64Array) {
    this.req = req;
    this.outputTarget = Math.max(1, Math.min(req.outputTokens, maxModelLen - req.inputTokens));
    const total = req.inputTokens + this.outputTarget;
    if (req.outputContentId !== undefined) {
      const segs: Segment[] = [...req.prompt, { id: req.outputContentId, tokens: this.outputTarget }];
      this.hashes = blockHashes(segs, blockSize, Math.floor(total / blockSize));
    } else {
      this.hashes = promptHashes ?? blockHashes(req.prompt, blockSize);
    }
  }

  /** Tokens known so far: prompt plus generated (what a recompute must prefill). */
  get known(): number {
    return this.req.inputTokens + this.generated;
  }
}

/** Unique id for generated text without an identity (used only for tests of output caching). */
export function outputId(reqId: number): number {
  return hashInts(OUTPUT_NS, reqId);
}

/** Double-ended queue of sequences (the waiting queue: preempted requests go back to the front). */
class SeqDeque {
  private buf: (Seq | undefined)[] = new Array(16);
  private head = 0;
  length = 0;
  peek(): Seq | undefined {
    return this.length > 0 ? this.buf[this.head] : undefined;
  }
  at(i: number): Seq {
    return this.buf[(this.head + i) & (this.buf.length - 1)]!;
  }
  pushBack(s: Seq): void {
    if (this.length === this.buf.length) this.grow();
    this.buf[(this.head + this.length) & (this.buf.length - 1)] = s;
    this.length++;
  }
  pushFront(s: Seq): void {
    if (this.length === this.buf.length) this.grow();
    this.head = (this.head - 1) & (this.buf.length - 1);
    this.buf[this.head] = s;
    this.length++;
  }
  shift(): Seq | undefined {
    if (this.length === 0) return undefined;
    const s = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) & (this.buf.length - 1);
    this.length--;
    return s;
  }
  private grow(): void {
    const nb: (Seq | undefined)[] = new Array(this.buf.length * 2);
    for (let i = 0; i < this.length; i++) nb[i] = this.at(i);
    this.buf = nb;
    this.head = 0;
  }
}

/** Counters a replica keeps (vLLM's Prometheus counters, plus what the reports need). */
export interface ReplicaCounters {
  steps: number;
  busyTime: number;
  /** Prompt tokens looked up in the prefix cache (`prefix_cache_queries`), one lookup per admission. */
  prefixQueries: number;
  /** Prompt tokens found (`prefix_cache_hits`). */
  prefixHits: number;
  /** Same in blocks (full blocks only). */
  prefixQueryBlocks: number;
  prefixHitBlocks: number;
  preemptions: number;
  /** Tokens whose KV was thrown away by preemption and had to be computed again. */
  recomputedTokens: number;
  prefillTokens: number;
  decodeTokens: number;
  admitted: number;
  completed: number;
  rejected: number;
  outputTokens: number;
}

export class Replica {
  readonly index: number;
  readonly name: string;
  readonly pool: string;
  readonly model: string;
  readonly cfg: EngineConfig;
  readonly cost: CostModel;
  readonly kv: KvCache;
  readonly waiting = new SeqDeque();
  running: Seq[] = [];
  private listener: ReplicaListener;
  private readonly batch: BatchShape = emptyBatch();
  /** Block indices of the prefix hit being admitted (reused). */
  private hitBuf = new Int32Array(256);
  /** LoRA adapter residency (undefined when LoRA is off: no LoRA work on the hot path). */
  readonly lora: LoraState | undefined;
  /** LoRA: waiting requests skipped in the step being formed (reused; no allocation per step). */
  private readonly loraSkipped: Seq[] = [];
  /** Whether a step is in progress (its end event is pending). */
  busy = false;
  /** Start time of the current step. */
  stepStart = 0;
  /** Offload hook: seconds of second-tier KV loads scheduled in the step being formed (0 without a tier). */
  private tierLoad = 0;
  readonly counters: ReplicaCounters = {
    steps: 0,
    busyTime: 0,
    prefixQueries: 0,
    prefixHits: 0,
    prefixQueryBlocks: 0,
    prefixHitBlocks: 0,
    preemptions: 0,
    recomputedTokens: 0,
    prefillTokens: 0,
    decodeTokens: 0,
    admitted: 0,
    completed: 0,
    rejected: 0,
    outputTokens: 0,
  };

  constructor(
    index: number,
    pool: string,
    ordinal: number,
    model: string,
    cfg: EngineConfig,
    cost: CostModel,
    listener: ReplicaListener,
  ) {
    this.index = index;
    this.pool = pool;
    this.name = `${pool}/${ordinal}`;
    this.model = model;
    this.cfg = cfg;
    this.cost = cost;
    this.kv = new KvCache(cfg.numGpuBlocks, cfg.blockSize);
    this.lora = cfg.lora !== undefined && cfg.lora.maxLoras > 0 ? new LoraState(cfg.lora) : undefined;
    this.listener = listener;
  }

  setListener(l: ReplicaListener): void {
    this.listener = l;
  }

  get numWaiting(): number {
    return this.waiting.length;
  }

  get numRunning(): number {
    return this.running.length;
  }

  /** Creates the replica-side state for a request (hashes at this replica's block size). */
  makeSeq(req: Request, promptHashes?: Float64Array): Seq {
    const seq = new Seq(req, this.cfg.blockSize, this.cfg.maxModelLen, promptHashes);
    if (this.lora !== undefined && req.adapter !== undefined) seq.adapter = this.lora.intern(req.adapter); // LoRA
    return seq;
  }

  /** A request reaches the waiting queue at `now`. Returns false (and reports a rejection) if it can never run. */
  enqueue(seq: Seq, now: number): boolean {
    seq.enqueueTime = now;
    const input = seq.req.inputTokens;
    let reason: string | undefined;
    if (input >= this.cfg.maxModelLen) {
      reason = `prompt of ${input} tokens exceeds max_model_len ${this.cfg.maxModelLen}`;
    } else {
      const need = Math.ceil((input + seq.outputTarget) / this.cfg.blockSize);
      if (need > this.cfg.numGpuBlocks) {
        reason = `prompt + output need ${need} KV blocks, the cache has ${this.cfg.numGpuBlocks}`;
      }
    }
    if (reason !== undefined) {
      this.counters.rejected++;
      this.listener.onReject(seq, now, reason);
      return false;
    }
    this.waiting.pushBack(seq);
    if (seq.adapter >= 0) this.lora!.onEnqueue(seq.adapter); // LoRA
    return true;
  }

  /**
   * Forms the next batch at `now` and returns the time its step ends, or -1 if there is nothing to run (the replica
   * goes idle until the next enqueue). With `fastForward`, a pure-decode stretch returns the end of its last step.
   */
  startStep(now: number): number {
    this.stepStart = now;
    if (!this.schedule()) return -1;
    // LoRA: fills the batch's adapter fields; loads of this step plus the LoRA kernels' overhead.
    const loraExtra =
      this.lora !== undefined
        ? this.lora.stepExtra(this.batch, this.batch.prefillRequests + this.batch.decodeRequests)
        : 0;
    let dt = this.cost.stepTime(this.batch);
    if (this.tierLoad > 0) {
      // Offload hook: KV blocks loaded back from the second tier for requests admitted in this step.
      dt += this.tierLoad;
      this.tierLoad = 0;
    }
    dt += loraExtra; // LoRA
    this.busy = true;
    this.counters.steps++;
    this.counters.busyTime += dt;
    const end = now + dt;
    // Fast-forward only plain decode stretches: no LoRA time (loads or adapter kernels) in the step.
    if (this.fastForward && loraExtra === 0 && this.planStretch(now, end)) return this.ffEnds[this.ffComputed - 1]!;
    return end;
  }

  /** The step that started at `stepStart` ends at `now`: advance computed tokens, emit tokens, complete requests. */
  finishStep(now: number): void {
    if (this.ffSteps > 0) this.endStretch();
    this.busy = false;
    const run = this.running;
    let w = 0;
    const c = this.counters;
    for (let i = 0; i < run.length; i++) {
      const s = run[i]!;
      const n = s.scheduled;
      let done = false;
      if (n > 0) {
        s.scheduled = 0;
        if (s.decoding) c.decodeTokens += n;
        else c.prefillTokens += n;
        s.computed += n;
        if (s.computed === s.req.inputTokens + s.generated) {
          // All known tokens are computed: the model samples the next token.
          s.generated++;
          s.prefilled = true;
          c.outputTokens++;
          if (s.firstTokenTime < 0) {
            s.firstTokenTime = now;
            this.listener.onFirstToken(s, now);
          } else {
            this.listener.onToken(this, s, now - s.lastTokenTime);
          }
          s.lastTokenTime = now;
          if (s.generated >= s.outputTarget) done = true;
        }
      }
      if (done) {
        if (s.adapter >= 0) this.lora!.release(s.adapter); // LoRA
        this.kv.releaseAll(s.blocks);
        s.blocks = [];
        c.completed++;
        this.listener.onComplete(s, now);
      } else {
        run[w++] = s;
      }
    }
    run.length = w;
  }

  // Fast-forward -----------------------------------------------------------------------------------------------------
  //
  // In a pure-decode stretch (nothing waiting, every running request decoding and given its previous token at the end
  // of the previous step), the next steps differ only in context length: step j's decode context is C1 + (j−1)·D. The
  // replica computes the step times of the whole stretch in one go (the same arithmetic as stepping, so the same
  // floats), stops it before the first step that completes a request or could run out of KV blocks, and the engine
  // gets one event at its end instead of one per step. Per-request counters are brought up to date when the stretch
  // ends; block allocations (and registrations of full decode blocks) are replayed in step order, lazily, whenever
  // the replica is observed (`settle`), so scrapes see the same KV usage as stepping would. An arrival during a
  // stretch truncates it at the end of the step in progress (`truncate`), where stepping would admit it.

  /** Jump over pure-decode stretches (default on; the engine turns it off when a router consumes KV events). */
  fastForward = false;
  /** Steps in the current stretch (0: none). */
  private ffSteps = 0;
  /** End time of each step of the stretch. */
  private ffEnds = new Float64Array(64);
  /** Duration of each step of the stretch. */
  private ffDts = new Float64Array(64);
  /** Steps whose end times are computed (a prefix of the stretch). */
  private ffComputed = 0;
  private ffLoraOverhead = 0;
  /** Steps whose block allocations have been applied (step 1's by `schedule`). */
  private ffAllocDone = 0;
  private ffStartTime = 0;
  private ffContext = 0;
  /** Running indices grouped by computed-tokens residue mod block size (counting sort, stable). */
  private ffBucket = new Int32Array(64);
  private ffBucketStart = new Int32Array(17);

  /** Whether a stretch is in progress. */
  get inStretch(): boolean {
    return this.ffSteps > 0;
  }

  private planStretch(now: number, end1: number): boolean {
    const run = this.running;
    const D = run.length;
    const b = this.batch;
    if (D === 0 || this.waiting.length > 0 || b.prefillRequests > 0 || b.decodeRequests !== D) return false;
    if (this.kv.listener !== undefined) return false;
    let steps = Number.POSITIVE_INFINITY;
    for (let i = 0; i < D; i++) {
      const q = run[i]!;
      if (q.lastTokenTime !== now) return false;
      const rem = q.outputTarget - q.generated;
      if (rem < steps) steps = rem;
    }
    // Step `steps` completes a request: it is the last step of the stretch, run normally by `finishStep`.
    if (steps < 2) return false;
    // Residue histogram: request i allocates a block at step j ≥ 2 when (c_i + j − 1) mod bs = 0.
    const bs = this.cfg.blockSize;
    if (this.ffBucketStart.length < bs + 1) this.ffBucketStart = new Int32Array(bs + 1);
    const start = this.ffBucketStart;
    start.fill(0, 0, bs + 1);
    for (let i = 0; i < D; i++) start[(run[i]!.computed % bs) + 1]!++;
    for (let r = 0; r < bs; r++) start[r + 1]! += start[r]!;
    if (this.ffBucket.length < D) this.ffBucket = new Int32Array(D * 2);
    const fill = start.slice(0, bs);
    for (let i = 0; i < D; i++) this.ffBucket[fill[run[i]!.computed % bs]!++] = i;
    let free = this.kv.freeBlocks;
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
    if (this.ffEnds.length < steps) {
      let cap = this.ffEnds.length;
      while (cap < steps) cap *= 2;
      this.ffEnds = new Float64Array(cap);
      this.ffDts = new Float64Array(cap);
    }
    const c1 = b.decodeContext;
    this.ffLoraOverhead = this.lora !== undefined ? this.lora.lastOverhead : 0; // LoRA
    this.ffEnds[0] = end1;
    this.ffDts[0] = end1 - now;
    this.ffComputed = 1;
    this.ffSteps = steps;
    this.ffContext = c1;
    // Step times are computed a chunk at a time: an arrival usually ends a stretch long before it would complete.
    this.ensureTimes(Math.min(steps, FF_CHUNK));
    this.ffAllocDone = 1;
    this.ffStartTime = now;
    return true;
  }

  /** Computes the end times of stretch steps up to `k` (≤ the stretch length): the same arithmetic as stepping. */
  private ensureTimes(k: number): void {
    if (k > this.ffSteps) k = this.ffSteps;
    if (k <= this.ffComputed) return;
    const b = this.batch;
    const c1 = this.ffContext;
    const D = this.running.length;
    let t = this.ffEnds[this.ffComputed - 1]!;
    for (let j = this.ffComputed + 1; j <= k; j++) {
      b.decodeContext = c1 + (j - 1) * D;
      const dt = this.cost.stepTime(b) + this.ffLoraOverhead; // LoRA: same overhead every step of the stretch
      this.ffDts[j - 1] = dt;
      t += dt;
      this.ffEnds[j - 1] = t;
    }
    b.decodeContext = c1;
    this.ffComputed = k;
  }

  /**
   * The engine's step event at `t` during a stretch: if it is only a chunk boundary (the stretch goes on), computes
   * the next chunk and returns its end time (the next event); otherwise -1 and the engine finishes the step.
   */
  checkpoint(t: number): number {
    if (this.ffSteps === 0 || this.ffComputed >= this.ffSteps || t !== this.ffEnds[this.ffComputed - 1]) return -1;
    this.ensureTimes(Math.min(this.ffSteps, this.ffComputed + FF_CHUNK));
    return this.ffEnds[this.ffComputed - 1]!;
  }

  /**
   * Whether the start of the stretch's step j + 1 (at `ffEnds[j−1]`, triggered by step j's end event, which stepping
   * would have pushed at step j's start) comes before an observer event at time `t` pushed at time `p`: earlier in
   * time, or at the same time with the step event pushed first (the heap orders equal times by push order).
   */
  private startsBefore(j: number, t: number, p: number): boolean {
    const e = this.ffEnds[j - 1]!;
    if (e !== t) return e < t;
    const s = j >= 2 ? this.ffEnds[j - 2]! : this.ffStartTime;
    return s < p;
  }

  /**
   * A request enqueued at `t` (its event pushed at `p`) during a stretch: stepping would admit it at the first step
   * that starts after it, so the stretch now ends where that step begins. Returns the new end, or -1 if unchanged.
   */
  truncate(t: number, p: number): number {
    const J = this.ffSteps;
    let j = 1;
    for (; j < J; j++) {
      this.ensureTimes(j);
      if (!this.startsBefore(j, t, p)) break;
    }
    if (j >= J) return -1;
    this.ffSteps = j;
    if (this.ffComputed > j) this.ffComputed = j;
    return this.ffEnds[j - 1]!;
  }

  /** Applies the block allocations of stretch steps that start before an observer at `t` (event pushed at `p`). */
  settle(t: number, p: number): void {
    const J = this.ffSteps;
    while (this.ffAllocDone < J && this.startsBefore(this.ffAllocDone, t, p))
      this.applyStepAllocations(this.ffAllocDone + 1);
  }

  /** Step j ≥ 2 of the stretch: allocations (c_i + j − 1 ≡ 0) and full-block registrations (c_i + j ≡ 0 mod bs). */
  private applyStepAllocations(j: number): void {
    const bs = this.cfg.blockSize;
    const start = this.ffBucketStart;
    const bucket = this.ffBucket;
    const run = this.running;
    const kv = this.kv;
    const ra = (((1 - j) % bs) + bs) % bs;
    const rr = ((-j % bs) + bs) % bs;
    let a = start[ra]!;
    const aEnd = start[ra + 1]!;
    let g = start[rr]!;
    const gEnd = ra === rr ? g : start[rr + 1]!;
    const prefix = this.cfg.enablePrefixCaching;
    // Merge the two buckets in running order (as stepping visits requests).
    while (a < aEnd || g < gEnd) {
      const ia = a < aEnd ? bucket[a]! : 0x7fffffff;
      const ig = g < gEnd ? bucket[g]! : 0x7fffffff;
      const i = ia < ig ? ia : ig;
      const q = run[i]!;
      if (ia === i) {
        q.blocks.push(kv.allocate());
        a++;
      }
      if (prefix && (ig === i || (ra === rr && ia === i))) {
        // The block holding token c_i + j is now full.
        const blk = (q.computed + j) / bs - 1;
        if (blk < q.hashes.length && blk >= q.registered) {
          kv.register(q.blocks[blk]!, q.hashes[blk]!);
          q.registered = blk + 1;
        }
        if (ig === i) g++;
      }
    }
    this.ffAllocDone = j;
  }

  /** Brings the per-request state up to the start of the stretch's last step, which `finishStep` then runs. */
  private endStretch(): void {
    const J = this.ffSteps;
    while (this.ffAllocDone < J) this.applyStepAllocations(this.ffAllocDone + 1);
    const run = this.running;
    const D = run.length;
    const c = this.counters;
    let prev = this.ffStartTime;
    for (let j = 1; j < J; j++) {
      const e = this.ffEnds[j - 1]!;
      this.listener.onTokenRun(this, D, e - prev);
      prev = e;
      c.steps++;
      c.busyTime += this.ffDts[j]!;
      c.decodeTokens += D;
      c.outputTokens += D;
    }
    for (let i = 0; i < D; i++) {
      const q = run[i]!;
      q.computed += J - 1;
      q.generated += J - 1;
      q.lastTokenTime = prev;
    }
    this.batch.decodeContext = this.ffContext + (J - 1) * D;
    this.ffSteps = 0;
  }

  /** vLLM v1 `Scheduler.schedule()`; fills `this.batch`. Returns false when nothing was scheduled. */
  private schedule(): boolean {
    const b = this.batch;
    resetBatch(b);
    const cfg = this.cfg;
    const bs = cfg.blockSize;
    const kv = this.kv;
    let budget = cfg.maxNumBatchedTokens;
    let preempted = false;
    let scheduledAny = false;
    const run = this.running;

    // 1. Running requests first, in admission order.
    for (let i = 0; i < run.length && budget > 0; i++) {
      const s = run[i]!;
      let n = s.known - s.computed;
      const decode = s.prefilled && n === 1;
      if (!decode && cfg.longPrefillTokenThreshold > 0 && n > cfg.longPrefillTokenThreshold) {
        n = cfg.longPrefillTokenThreshold;
      }
      if (n > budget) n = budget;
      // Make room for the new tokens, preempting the most recently admitted request while needed.
      let selfPreempted = false;
      // Decode fast path: no new block (the last one has room) and no block becomes full.
      const fast = decode && s.computed % bs !== 0 && (s.computed + 1) % bs !== 0;
      while (!fast && !this.allocateUpTo(s, s.computed + n)) {
        const victim = run[run.length - 1]!;
        this.preempt(victim);
        preempted = true;
        if (victim === s) {
          selfPreempted = true;
          break;
        }
      }
      if (selfPreempted) break;
      s.scheduled = n;
      s.decoding = decode;
      budget -= n;
      scheduledAny = true;
      this.account(s, n, decode);
    }

    // 2. Waiting requests, in order, unless this step preempted.
    if (!preempted) {
      while (this.waiting.length > 0 && run.length < cfg.maxNumSeqs && budget > 0) {
        const s = this.waiting.peek()!;
        if (s.adapter >= 0 && !this.lora!.canRun(s.adapter)) {
          // LoRA: max_loras adapters already run and this one is not among them: skip it, others may pass.
          s.loraWaitStart = this.lora!.onSkip(s.loraWaitStart, this.stepStart);
          this.waiting.shift();
          this.loraSkipped.push(s);
          continue;
        }
        const known = s.known;
        let hitBlocks = 0;
        let tierBlocks = 0;
        if (cfg.enablePrefixCaching) {
          const limit = Math.floor((known - 1) / bs);
          if (this.hitBuf.length < limit) this.hitBuf = new Int32Array(Math.max(limit, this.hitBuf.length * 2));
          hitBlocks = kv.lookupBlocks(s.hashes, limit, this.hitBuf);
          // Offload hook: blocks after the GPU hit that the second tier holds are loaded, not recomputed.
          if (kv.secondTier !== undefined && hitBlocks < limit) {
            tierBlocks = kv.secondTier.lookup(s.hashes, hitBlocks, limit);
          }
        }
        const computed0 = (hitBlocks + tierBlocks) * bs;
        let n = known - computed0;
        if (!cfg.enableChunkedPrefill && n > budget) break;
        if (cfg.longPrefillTokenThreshold > 0 && n > cfg.longPrefillTokenThreshold) n = cfg.longPrefillTokenThreshold;
        if (n > budget) n = budget;
        // Blocks needed beyond the hit ones; hit blocks sitting in the free list stop being free when taken.
        const fresh = Math.ceil((computed0 + n) / bs) - hitBlocks;
        // Hit blocks sitting in the free list stop being free when taken.
        const hitFree = hitBlocks > 0 ? kv.freeHits : 0;
        if (fresh > kv.freeBlocks - hitFree) break;
        this.waiting.shift();
        if (tierBlocks > 0) this.tierLoad += kv.secondTier!.loadTime(tierBlocks); // offload hook
        for (let j = 0; j < hitBlocks; j++) s.blocks.push(kv.acquireBlock(this.hitBuf[j]!));
        s.registered = hitBlocks;
        s.computed = computed0;
        const ok = this.allocateUpTo(s, computed0 + n);
        if (!ok) throw new Error("internal: admission allocation failed after the capacity check");
        // Prefix-cache accounting, per admission (vLLM counts a query each time a waiting request is scheduled).
        const c = this.counters;
        c.prefixQueries += known;
        c.prefixHits += hitBlocks * bs; // GPU hits (= computed0 without a second tier)
        c.prefixQueryBlocks += Math.floor(known / bs);
        c.prefixHitBlocks += hitBlocks;
        c.admitted++;
        s.hitTokensAllAdmissions += computed0;
        if (s.cachedTokens < 0) s.cachedTokens = computed0;
        if (s.admitTime < 0) s.admitTime = this.stepStart;
        if (s.adapter >= 0) {
          this.lora!.admit(s.adapter, this.stepStart, s.loraWaitStart); // LoRA: may load the adapter
          s.loraWaitStart = -1;
        }
        run.push(s);
        s.scheduled = n;
        s.decoding = false;
        budget -= n;
        scheduledAny = true;
        this.account(s, n, false);
      }
    }
    // LoRA: skipped requests go back to the head of the queue, in their order.
    const skipped = this.loraSkipped;
    if (skipped.length > 0) {
      for (let i = skipped.length - 1; i >= 0; i--) this.waiting.pushFront(skipped[i]!);
      skipped.length = 0;
    }
    return scheduledAny;
  }

  private account(s: Seq, n: number, decode: boolean): void {
    const b = this.batch;
    if (decode) {
      b.decodeRequests++;
      b.decodeContext += s.computed;
    } else {
      b.prefillRequests++;
      b.prefillTokens += n;
      b.prefillAttnWork += n * (s.computed + n / 2);
      b.prefillContext += s.computed + n;
      b.prefillTokensSq += n * n;
    }
  }

  /** Ensures `s` holds blocks for `tokens` tokens; registers newly full blocks. False if not enough free blocks. */
  private allocateUpTo(s: Seq, tokens: number): boolean {
    const bs = this.cfg.blockSize;
    const need = Math.ceil(tokens / bs) - s.blocks.length;
    const kv = this.kv;
    if (need > 0) {
      if (need > kv.freeBlocks) return false;
      for (let j = 0; j < need; j++) s.blocks.push(kv.allocate());
    }
    if (this.cfg.enablePrefixCaching) {
      const full = Math.min(Math.floor(tokens / bs), s.hashes.length);
      for (let j = s.registered; j < full; j++) kv.register(s.blocks[j]!, s.hashes[j]!);
      if (full > s.registered) s.registered = full;
    }
    return true;
  }

  /** Recompute preemption of a running request (must be the last one in `running`). */
  private preempt(victim: Seq): void {
    const run = this.running;
    if (run[run.length - 1] !== victim) throw new Error("internal: preempting a request that is not the last one");
    run.pop();
    this.kv.releaseAll(victim.blocks);
    victim.blocks = [];
    victim.registered = 0;
    this.counters.recomputedTokens += victim.computed;
    victim.computed = 0;
    victim.scheduled = 0;
    victim.prefilled = false;
    victim.preemptions++;
    if (victim.adapter >= 0) this.lora!.onPreempt(victim.adapter); // LoRA
    this.counters.preemptions++;
    this.waiting.pushFront(victim);
  }

  /** The batch shape of the step in progress (valid between `startStep` and `finishStep`). */
  get currentBatch(): Readonly<BatchShape> {
    return this.batch;
  }

  /** Block references held by running requests, summed (equals the cache's total reference count). */
  heldBlocks(): number {
    let n = 0;
    for (const s of this.running) n += s.blocks.length;
    return n;
  }
}
