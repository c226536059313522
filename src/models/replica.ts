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
 * The replica knows nothing of events or policies: the engine calls `enqueue`, `startStep` and `finishStep`. Pure-decode
 * stretches are skipped over by the fast-forward planner (`fast-forward.ts`), which changes no decision made here.
 */
import type { Request } from "../sim/request.ts";
import { SyncSchedulingCost } from "./async-scheduling.ts";
import { type BatchShape, type CostModel, emptyBatch, resetBatch } from "./cost.ts";
import { DecodeStretch } from "./fast-forward.ts";
import { KvCache } from "./kv-cache.ts";
import { LoraState } from "./lora.ts";
import { type EngineConfig, type ReplicaCounters, Seq, SeqDeque, SeqPriorityQueue, type WaitingQueue } from "./seq.ts";

/** The change marks of a replica outside an engine (`Replica.trackChanges`): stores past its end do nothing. */
const NO_CHANGES = new Uint8Array(0);

export { type EngineConfig, outputId, type ReplicaCounters, Seq } from "./seq.ts";

/** Receives what happens at the replica, at engine time `t` (end of the step). */
export interface ReplicaListener {
  onFirstToken(seq: Seq, t: number): void;
  /** A token after the first: `gap` = time since the request's previous token. */
  onToken(r: Replica, seq: Seq, gap: number): void;
  /** `count` requests of replica `r` each got a token `gap` after their previous one (a fast-forwarded step). */
  onTokenRun(r: Replica, count: number, gap: number): void;
  onComplete(seq: Seq, t: number): void;
  onReject(seq: Seq, t: number, reason: string): void;
  /**
   * P/D, decode side: `seq` (a `remotePrefill` request) was admitted at `t` with its prompt's blocks allocated; the
   * `blocks` of them not found in this replica's prefix cache are to be read from the prefill pod. The listener calls
   * `kvLoaded` when they have arrived. Only called for requests the listener marked `remotePrefill`.
   */
  onKvLoad?(r: Replica, seq: Seq, blocks: number, t: number): void;
}

export class Replica {
  readonly index: number;
  readonly name: string;
  readonly pool: string;
  readonly model: string;
  readonly cfg: EngineConfig;
  readonly cost: CostModel;
  readonly kv: KvCache;
  readonly waiting: WaitingQueue;
  running: Seq[] = [];
  /**
   * Async scheduling: requests that finished in the last step but whose slot and KV blocks the scheduler has not yet
   * seen freed (vLLM processes step N's output only after it has scheduled step N+1).
   */
  private readonly finishing: Seq[] = [];
  /** P/D, decode side: requests admitted with their prompt blocks allocated, waiting for the remote KV. */
  private readonly loading: Seq[] = [];
  /** P/D, prefill side: finished prefill legs whose blocks stay held until the decode pod has read them. */
  private readonly held: Seq[] = [];
  /** `scheduling_policy: priority`. */
  private readonly priority: boolean;
  /** `async_scheduling` (default on). */
  private readonly asyncScheduling: boolean;
  /** Start and end of the last step run (−∞ before the first). */
  private lastStart = Number.NEGATIVE_INFINITY;
  private lastEnd = Number.NEGATIVE_INFINITY;
  /**
   * Async scheduling: waiting requests enqueued after this time are not yet visible to the scheduler forming the
   * step (vLLM formed it when the previous step started); +∞ when the engine was idle.
   */
  private admitCutoff = Number.POSITIVE_INFINITY;
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
  /** Jump over pure-decode stretches (the engine turns it on unless `--no-fast-forward`). */
  fastForward = false;
  /**
   * Keep blocks nothing else can look up out of the prefix cache's map (`Seq.privateFrom`, `Seq.registerUpTo`);
   * false: every block numbered and in the map (the reference, set by the engine's `ownBlocks: false`).
   */
  ownBlocks = true;
  private readonly stretch: DecodeStretch;
  private readonly tokenRun = (count: number, gap: number): void => this.listener.onTokenRun(this, count, gap);
  /** Scheduler state of the step being formed: token budget left, and whether anything was scheduled. */
  private budget = 0;
  private scheduledAny = false;
  /** Whether the last `schedule()` preempted a request. */
  private preemptedLast = false;
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
    // Without async scheduling the CPU work of a step adds to it (async-scheduling.ts); stepping and the
    // fast-forward planner both price steps through `this.cost`, so they stay equal.
    this.cost = cfg.asyncScheduling === false ? new SyncSchedulingCost(cost, cfg.syncCpuOverhead) : cost;
    this.kv = new KvCache(cfg.numGpuBlocks, cfg.blockSize);
    this.lora = cfg.lora !== undefined && cfg.lora.maxLoras > 0 ? new LoraState(cfg.lora) : undefined;
    this.listener = listener;
    this.stretch = new DecodeStretch(this, this.batch);
    this.priority = cfg.schedulingPolicy === "priority";
    this.waiting = this.priority ? new SeqPriorityQueue() : new SeqDeque();
    this.asyncScheduling = cfg.asyncScheduling !== false;
  }

  setListener(l: ReplicaListener): void {
    this.listener = l;
  }

  /**
   * Where this replica marks that what a metrics scrape reads (queues, KV usage, adapters) may have changed: it sets
   * `changes[index]` in every method that changes them (`enqueue`, `startStep`, `finishStep`, `releaseHeld`,
   * `kvLoaded`, `truncate`, `settle`); the engine clears it when a scrape finds the replica idle, and until the mark
   * is set again its scrapes read nothing (`Simulation.changed`). Outside an engine the marks go nowhere.
   */
  private changes: Uint8Array = NO_CHANGES;

  /** The engine's change marks (see `changes`). */
  trackChanges(flags: Uint8Array): void {
    this.changes = flags;
  }

  /** `vllm:num_requests_waiting`: the waiting queue, including requests waiting for remote KV (P/D). */
  get numWaiting(): number {
    return this.waiting.length + this.loading.length;
  }

  get numRunning(): number {
    return this.running.length;
  }

  /**
   * A preemption has put blocks of a request's own content in the prefix cache's map (`Seq.numberPrivate`,
   * `KvCache.mapOwn`), where a later attempt of the same request could find them: from then on every request's
   * hashes are computed in full (`Seq` `lazyOwnHashes`).
   */
  private ownLookedUp = false;

  /** Creates the replica-side state for a request (hashes at this replica's block size). */
  makeSeq(req: Request, promptHashes?: Float64Array, maxTokens?: number): Seq {
    // Private blocks (held as counts, no hashes kept) only where no second tier takes their hashes when evicted (a
    // CPU tier holds a bounded number of them: which ones it holds is seen). KV events of private blocks are not
    // sent: their hashes are ones no routing decision looks up (the request's own content, or none).
    const priv = this.kv.secondTier === undefined;
    const seq = new Seq(
      req,
      this.cfg.blockSize,
      this.cfg.maxModelLen,
      promptHashes,
      maxTokens,
      this.ownBlocks,
      priv,
      this.cfg.enablePrefixCaching,
      !this.ownLookedUp,
    );
    if (this.lora !== undefined && req.adapter !== undefined) seq.adapter = this.lora.intern(req.adapter); // LoRA
    return seq;
  }

  /** A request reaches the waiting queue at `now`. Returns false (and reports a rejection) if it can never run. */
  enqueue(seq: Seq, now: number): boolean {
    this.changes[this.index] = 1;
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
    this.changes[this.index] = 1;
    this.stepStart = now;
    // Async scheduling: a step that follows another back to back was formed when that one started (vLLM's engine
    // core schedules step N+1 and queues it while step N runs: `step_with_batch_queue`), so only requests that had
    // reached the engine by then can join it; a request arriving during step N waits for N+2. After an idle engine
    // the step is formed on arrival.
    this.admitCutoff = this.asyncScheduling && this.lastEnd === now ? this.lastStart : Number.POSITIVE_INFINITY;

    let scheduled = this.schedule();
    for (;;) {
      // Nothing visible to run: the GPU goes idle, and vLLM's loop forms a step from whatever has arrived.
      if (!scheduled && this.admitCutoff !== Number.POSITIVE_INFINITY && this.waiting.length > 0) {
        this.admitCutoff = Number.POSITIVE_INFINITY;
        if (this.finishing.length > 0) this.releaseFinishing();
        scheduled = this.schedule();
        continue;
      }
      if (this.finishing.length > 0) {
        // Async scheduling: the previous step's output is processed now, after this step was scheduled.
        this.releaseFinishing();
        // An empty schedule is not run: vLLM's engine loop schedules again, now with the freed room.
        if (!scheduled) {
          scheduled = this.schedule();
          continue;
        }
      }
      // A schedule that only preempted (priority: the request being served was the lowest-priority one) is empty
      // too: the loop schedules again at once. Each round preempts a running request, so this ends.
      if (!scheduled && this.preemptedLast) {
        scheduled = this.schedule();
        continue;
      }
      break;
    }
    if (!scheduled) return -1;
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
    if (this.fastForward && loraExtra === 0 && this.stretch.plan(now, end)) return this.stretch.lastEnd;
    return end;
  }

  /** The step that started at `stepStart` ends at `now`: advance computed tokens, emit tokens, complete requests. */
  finishStep(now: number): void {
    this.changes[this.index] = 1;
    this.lastStart = this.stretch.steps > 0 ? this.stretch.lastStepStart : this.stepStart;
    this.lastEnd = now;
    if (this.stretch.steps > 0) this.stretch.finish(this.tokenRun);
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
        else {
          c.prefillTokens += n;
          // Recomputed: the positions of this chunk below what a preemption threw away, so never more than the
          // prefill computed (cache hits on re-admission skip positions and are not recomputation).
          if (s.computed < s.lostUntil) c.recomputedTokens += Math.min(n, s.lostUntil - s.computed);
        }
        s.computed += n;
        if (s.computed === s.promptTokens + s.generated) {
          // All known tokens are computed: the model samples the next token.
          s.generated++;
          s.prefilled = true;
          // P/D: the prefill leg's one token is discarded by the sidecar; the client's tokens all come from decode.
          if (!s.remoteDecode) c.outputTokens++;
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
        if (s.remoteDecode)
          this.held.push(s); // P/D: blocks held until the decode pod has read them
        else if (this.asyncScheduling) this.finishing.push(s);
        else {
          s.dropBlocks(this.kv);
        }
        c.completed++;
        this.listener.onComplete(s, now);
      } else {
        run[w++] = s;
      }
    }
    run.length = w;
  }

  /** Frees the slots and KV blocks of the requests that finished in the previous step (async scheduling). */
  private releaseFinishing(): void {
    const f = this.finishing;
    for (let i = 0; i < f.length; i++) {
      const s = f[i]!;
      s.dropBlocks(this.kv);
    }
    f.length = 0;
  }

  /** P/D, prefill side: the decode pod has read the KV of finished prefill leg `s`: its blocks are freed. */
  releaseHeld(s: Seq): void {
    this.changes[this.index] = 1;
    const i = this.held.indexOf(s);
    if (i < 0) throw new Error(`internal: ${this.name} holds no blocks for request ${s.req.id}`);
    this.held.splice(i, 1);
    s.dropBlocks(this.kv);
  }

  /**
   * P/D, decode side: the remote KV of `s` has arrived. As vLLM's `_update_waiting_for_remote_kv`
   * (vllm/v1/core/sched/scheduler.py): the prompt counts as computed but for its last token (recomputed to get the
   * logits of the first output token), the full blocks below that are cached (prefix cache, KV events), and the
   * request goes back to the waiting queue, at its head. Returns true: the replica has new work.
   */
  kvLoaded(s: Seq): boolean {
    this.changes[this.index] = 1;
    const i = this.loading.indexOf(s);
    if (i < 0) throw new Error(`internal: ${this.name} is not loading KV for request ${s.req.id}`);
    this.loading.splice(i, 1);
    s.remotePrefill = false;
    s.kvReady = true;
    s.computed = s.known - 1;
    if (this.cfg.enablePrefixCaching) {
      s.registerUpTo(Math.min(Math.floor(s.computed / this.cfg.blockSize), s.hashCount), this.kv);
    }
    this.waiting.pushFront(s);
    return true;
  }

  /** Whether a fast-forwarded stretch is in progress. */
  get inStretch(): boolean {
    return this.stretch.steps > 0;
  }

  /** See `DecodeStretch.checkpoint`. */
  checkpoint(t: number): number {
    return this.stretch.checkpoint(t);
  }

  /** See `DecodeStretch.truncate`. */
  truncate(t: number, p: number): number {
    this.changes[this.index] = 1;
    return this.stretch.truncate(t, p);
  }

  /** See `DecodeStretch.settle`. */
  settle(t: number, p: number): void {
    if (this.stretch.steps === 0) return;
    this.changes[this.index] = 1;
    this.stretch.settle(t, p);
  }

  /** vLLM v1 `Scheduler.schedule()`; fills `this.batch`. Returns false when nothing was scheduled. */
  private schedule(): boolean {
    resetBatch(this.batch);
    this.budget = this.cfg.maxNumBatchedTokens;
    this.scheduledAny = false;
    // 1. Running requests first, in admission order; 2. waiting requests, in order, unless this step preempted.
    this.preemptedLast = this.scheduleRunning();
    if (!this.preemptedLast) this.admitWaiting();
    // LoRA: skipped requests go back to the head of the queue, in their order.
    const skipped = this.loraSkipped;
    if (skipped.length > 0) {
      for (let i = skipped.length - 1; i >= 0; i--) this.waiting.pushFront(skipped[i]!);
      skipped.length = 0;
    }
    return this.scheduledAny;
  }

  /** Gives running requests their tokens (decode 1, prefill its next chunk); true when the step preempted. */
  private scheduleRunning(): boolean {
    const cfg = this.cfg;
    const bs = cfg.blockSize;
    let budget = this.budget;
    let preempted = false;
    const run = this.running;
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
        // fcfs: the most recently admitted request; priority: the lowest priority, latest arrival (see preempt).
        const v = this.priority ? this.priorityVictim() : run.length - 1;
        const victim = run[v]!;
        if (v < i) {
          // Already given tokens in this step: they go back to the budget.
          budget += victim.scheduled;
          this.unaccount(victim, victim.scheduled, victim.decoding);
          i--;
        }
        this.preempt(victim, v);
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
      this.scheduledAny = true;
      this.account(s, n, decode);
    }
    this.budget = budget;
    return preempted;
  }

  /** Admits waiting requests while a sequence slot, the token budget and KV blocks last (prefix-cache lookup). */
  private admitWaiting(): void {
    const cfg = this.cfg;
    const bs = cfg.blockSize;
    const kv = this.kv;
    const run = this.running;
    let budget = this.budget;
    // Async scheduling: the slots of requests whose end the scheduler has not processed yet are still taken.
    const taken = this.finishing.length;
    while (this.waiting.length > 0 && run.length + taken < cfg.maxNumSeqs && budget > 0) {
      const s = this.waiting.peek()!;
      if (s.enqueueTime > this.admitCutoff) {
        // Async scheduling: not yet seen by the scheduler forming this step (see startStep). FCFS: neither is
        // anything behind it; priority: an older request of lower priority may still be.
        if (!this.priority) break;
        this.waiting.shift();
        this.loraSkipped.push(s);
        continue;
      }
      if (s.adapter >= 0 && !this.lora!.canRun(s.adapter)) {
        // LoRA: max_loras adapters already run and this one is not among them: skip it, others may pass.
        s.loraWaitStart = this.lora!.onSkip(s.loraWaitStart, this.stepStart);
        this.waiting.shift();
        this.loraSkipped.push(s);
        continue;
      }
      const known = s.known;
      if (s.kvReady) {
        // P/D: the remote KV is in; compute the last prompt token (its blocks are already held).
        this.waiting.shift();
        s.kvReady = false;
        const n = known - s.computed;
        if (!this.allocateUpTo(s, s.computed + n)) throw new Error("internal: remote-KV request lacks blocks");
        this.startPrefill(s, n, run);
        budget -= n;
        continue;
      }
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
      if (s.remotePrefill) {
        // P/D (vLLM NIXL `get_num_new_matched_tokens`): the prompt blocks after the local hit are read from the
        // prefill pod. All the prompt's blocks are allocated now; the request takes no slot and no token budget while
        // the transfer runs (vLLM `WAITING_FOR_REMOTE_KVS`), and the fresh blocks are cached once the KV is in.
        const fresh = Math.ceil(known / bs) - hitBlocks;
        const hitFree = hitBlocks > 0 ? kv.freeHits : 0;
        if (fresh > kv.freeBlocks - hitFree) break;
        this.waiting.shift();
        for (let j = 0; j < hitBlocks; j++) s.addBlock(kv.acquireBlock(this.hitBuf[j]!), kv);
        s.registered = hitBlocks;
        s.computed = hitBlocks * bs;
        s.allocate(fresh, kv);
        const c = this.counters;
        c.prefixQueries += known;
        c.prefixHits += hitBlocks * bs;
        c.prefixQueryBlocks += Math.floor(known / bs);
        c.prefixHitBlocks += hitBlocks;
        c.admitted++;
        s.hitTokensAllAdmissions += s.computed;
        if (s.cachedTokens < 0) s.cachedTokens = s.computed;
        if (s.admitTime < 0) s.admitTime = this.stepStart;
        this.loading.push(s);
        this.listener.onKvLoad?.(this, s, fresh, this.stepStart);
        continue;
      }
      const computed0 = (hitBlocks + tierBlocks) * bs;
      let n = known - computed0;
      if (!cfg.enableChunkedPrefill && n > budget) break;
      if (cfg.longPrefillTokenThreshold > 0 && n > cfg.longPrefillTokenThreshold) n = cfg.longPrefillTokenThreshold;
      if (n > budget) n = budget;
      // Blocks needed beyond the hit ones; hit blocks sitting in the free list stop being free when taken.
      const fresh = Math.ceil((computed0 + n) / bs) - hitBlocks;
      const hitFree = hitBlocks > 0 ? kv.freeHits : 0;
      if (fresh > kv.freeBlocks - hitFree) break;
      this.waiting.shift();
      if (tierBlocks > 0) this.tierLoad += kv.secondTier!.loadTime(tierBlocks); // offload hook
      for (let j = 0; j < hitBlocks; j++) s.addBlock(kv.acquireBlock(this.hitBuf[j]!), kv);
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
      this.startPrefill(s, n, run);
      budget -= n;
    }
    this.budget = budget;
  }

  /** Puts a newly admitted `s` into the step with `n` prefill tokens (its adapter loaded first when it has one). */
  private startPrefill(s: Seq, n: number, run: Seq[]): void {
    if (s.adapter >= 0) {
      this.lora!.admit(s.adapter, this.stepStart, s.loraWaitStart); // LoRA: may load the adapter
      s.loraWaitStart = -1;
    }
    run.push(s);
    s.scheduled = n;
    s.decoding = false;
    this.scheduledAny = true;
    this.account(s, n, false);
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

  /** Undoes `account` (a request preempted after it was given tokens in this step). */
  private unaccount(s: Seq, n: number, decode: boolean): void {
    const b = this.batch;
    if (decode) {
      b.decodeRequests--;
      b.decodeContext -= s.computed;
    } else {
      b.prefillRequests--;
      b.prefillTokens -= n;
      b.prefillAttnWork -= n * (s.computed + n / 2);
      b.prefillContext -= s.computed + n;
      b.prefillTokensSq -= n * n;
    }
    if (b.prefillRequests + b.decodeRequests === 0) this.scheduledAny = false;
  }

  /**
   * vLLM v1 `Scheduler.schedule()` with `SchedulingPolicy.PRIORITY`: the victim is
   * `max(self.running, key=lambda r: (r.priority, r.arrival_time))` — the lowest priority (largest vLLM value), and
   * among equals the latest arrival (vllm-project/vllm `vllm/v1/core/sched/scheduler.py`, the running-request loop's
   * preemption branch). Returns its index in `running`.
   */
  private priorityVictim(): number {
    const run = this.running;
    let v = 0;
    for (let j = 1; j < run.length; j++) {
      const a = run[j]!;
      const b = run[v]!;
      // a > b in (priority, arrival) ⇔ b comes before a; vLLM's `max` keeps the first of equal keys.
      const pa = -(a.req.priority ?? 0);
      const pb = -(b.req.priority ?? 0);
      if (pa > pb || (pa === pb && a.enqueueTime > b.enqueueTime)) v = j;
    }
    return v;
  }

  /** Ensures `s` holds blocks for `tokens` tokens; registers newly full blocks. False if not enough free blocks. */
  private allocateUpTo(s: Seq, tokens: number): boolean {
    const bs = this.cfg.blockSize;
    const need = Math.ceil(tokens / bs) - s.heldBlocks;
    const kv = this.kv;
    if (need > 0) {
      if (need > kv.freeBlocks) return false;
      kv.prefetchAllocations(need);
      s.allocate(need, kv);
    }
    if (this.cfg.enablePrefixCaching) {
      s.registerUpTo(Math.min(Math.floor(tokens / bs), s.hashCount), kv);
    }
    return true;
  }

  /** Recompute preemption of `running[index]` (fcfs: always the last one). */
  private preempt(victim: Seq, index: number): void {
    const run = this.running;
    if (run[index] !== victim) throw new Error("internal: preempting a request not at its index");
    run.splice(index, 1);
    // Its blocks of its own content go into the map before they are freed: on re-admission it looks them up.
    this.ownLookedUp = true;
    if (victim.privateCount > 0) victim.numberPrivate(this.kv);
    if (victim.uniqueFrom < victim.registered) this.kv.mapOwn(victim.blocks, victim.uniqueFrom, victim.registered);
    victim.dropBlocks(this.kv);
    victim.registered = 0;
    victim.lostUntil = Math.max(victim.lostUntil, victim.computed);
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

  /**
   * Block references held by the requests, summed: numbered ones (equal to the cache's total reference count) and
   * private ones (`Seq.privateCount`).
   */
  heldBlocks(): { numbered: number; private: number } {
    let numbered = 0;
    let priv = 0;
    for (const list of [this.running, this.finishing, this.loading, this.held]) {
      for (const s of list) {
        numbered += s.blockCount;
        priv += s.privateCount;
      }
    }
    return { numbered, private: priv };
  }
}
