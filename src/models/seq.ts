/**
 * A request's state inside one replica (vLLM's engine-side `Request`), the waiting queue that holds it, the engine
 * knobs and the counters a replica keeps: what both the scheduler (`replica.ts`) and the fast-forward planner
 * (`fast-forward.ts`) work on.
 */
import {
  blockHashes,
  hashInts,
  ownContentBlock,
  promptBlockHashes,
  requestHashSeed,
  type Segment,
  segmentTokens,
} from "../sim/hash.ts";
import type { Request } from "../sim/request.ts";
import type { CpuOverhead } from "./async-scheduling.ts";
import type { KvCache } from "./kv-cache.ts";
import type { LoraSettings } from "./lora.ts";

/** vLLM engine knobs (real names in the scenario file). */
export interface EngineConfig {
  /** `max_num_seqs`: most requests running at once (scenario default: `vllm serve`'s for the GPU, vllm-defaults.ts). */
  readonly maxNumSeqs: number;
  /** `max_num_batched_tokens`: token budget per step (scenario default: `vllm serve`'s for the GPU). */
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
  /** `scheduling_policy` (vLLM `--scheduling-policy`, default `fcfs`); see `SeqPriorityQueue` and `Replica`. */
  readonly schedulingPolicy?: SchedulingPolicy;
  /** `async_scheduling` (vLLM default on; `async-scheduling.ts`). Absent: on. */
  readonly asyncScheduling?: boolean;
  /** CPU work per step that async scheduling hides (added when it is off); absent: `DEFAULT_SYNC_CPU_OVERHEAD`. */
  readonly syncCpuOverhead?: CpuOverhead;
}

export const SCHEDULING_POLICIES = ["fcfs", "priority"] as const;
export type SchedulingPolicy = (typeof SCHEDULING_POLICIES)[number];
const OUTPUT_NS = 0x0a7;
/** The block table of a request holding no blocks. */
const NO_TABLE = new Int32Array(0);
/** `Seq.privateFrom` of a request whose blocks are all numbered. */
const NO_PRIVATE = 0x3fffffff;

/** A request's state at a replica (vLLM's `Request` inside the engine). */
export class Seq {
  // Field order is memory order (V8 lays an object's fields out as they are defined): the fields the per-step loops
  // (`Replica.finishStep`, the fast-forward planner) read for every running request come first, so that a pass over
  // the batch touches the front of each object, not all of it.
  /** Tokens scheduled in the current step. */
  scheduled = 0;
  /** Whether the current step's work for this request is a decode. */
  decoding = false;
  /** Tokens whose KV is computed (`num_computed_tokens`). */
  computed = 0;
  /**
   * `req.inputTokens`, kept here: the per-step loops read it for every running request, and the request object lives
   * elsewhere in memory (one cache miss per request and step at 1,024 replicas).
   */
  readonly promptTokens: number;
  /** Output tokens generated so far. */
  generated = 0;
  /** Output tokens this replica will generate (`outputTokens` capped by `max_model_len`). */
  readonly outputTarget: number;
  lastTokenTime = -1;
  firstTokenTime = -1;
  /** True once the (re)prefill finished: later 1-token steps are decodes. */
  prefilled = false;
  /**
   * P/D, prefill side: the prefill leg of a disaggregated request (`max_tokens` 1, vLLM `do_remote_decode`). Its one
   * sampled token is discarded (the sidecar keeps only `kv_transfer_params`) and its KV blocks stay held when it
   * finishes, until the decode pod has read them (vLLM NIXL `request_finished` delays the free).
   */
  remoteDecode = false;
  /** LoRA: adapter id at this replica (-1: none or LoRA off). */
  adapter = -1;
  /** Leading entries of `blocks` already known to the prefix cache (hit or registered). */
  registered = 0;
  /**
   * Full blocks with a hash (the prompt's, or prompt and answer's with an answer identity): `hashes.length`, unless
   * only the hashes before `uniqueFrom` were computed (`ensureHashes`).
   */
  readonly hashCount: number;
  /**
   * First block whose content no other request holds (the block of the first token of a prompt segment marked
   * `unique`; `hashCount` when none): blocks from here on stay out of the prefix cache's map until a preemption
   * (private, or `KvCache.registerOwn` where they are numbered: `registerUpTo`).
   */
  readonly uniqueFrom: number;
  blockCount = 0;
  /**
   * Blocks from this index on are private (`KvCache.allocatePrivate`): held as a count (`privateCount`), with no
   * number, no record and no place in `blocks` — blocks of the request's own content and blocks that never get a
   * hash, which nothing else can look up. `NO_PRIVATE` when every block is numbered (a second tier to feed, an
   * answer identity, `ownBlocks: false`, or a preemption that numbered them). `blocks` holds `[0, privateFrom)`.
   */
  privateFrom: number;
  /** Private blocks held (the blocks `[privateFrom, privateFrom + privateCount)` of the request). */
  privateCount = 0;
  /**
   * Block table: `blocks[0..blockCount)`. The table itself is lent by the replica's KV cache, sized for the whole
   * request, when the first block is added, and given back when the blocks are freed (`addBlock`, `dropBlocks`): no
   * array grows block by block, none is allocated per request.
   */
  blocks: Int32Array = NO_TABLE;
  /**
   * Chained hashes of the full blocks of prompt (+ generated text when it has an identity), at the replica's block
   * size. Created with `lazyOwnHashes`, those of its private blocks (from `uniqueFrom` on) are left out until a
   * preemption needs them (`ensureHashes`): nothing reads them before — no map holds them, no lookup gets past the
   * first of them, which no cache can hold.
   */
  hashes: Float64Array;
  private readonly blockSize: number;
  /**
   * Tokens whose KV a preemption threw away (the sequence's `computed` then: prompt and generated tokens). Positions
   * below it that are computed again count as recomputed; those the prefix cache still holds on re-admission do not.
   */
  lostUntil = 0;
  readonly req: Request;
  /** LoRA: time of its first skip for lack of an adapter slot (-1: none). */
  loraWaitStart = -1;
  /** Prompt tokens found in the prefix cache at first admission (-1 until admitted). */
  cachedTokens = -1;
  /** Prompt tokens found in the prefix cache over all admissions (incl. re-admission after preemption). */
  hitTokensAllAdmissions = 0;
  preemptions = 0;
  enqueueTime = 0;
  admitTime = -1;
  /**
   * P/D, decode side: the prompt's KV comes from a prefill pod (vLLM `do_remote_prefill`). On admission the replica
   * allocates the prompt's blocks and the request waits for the transfer (`WAITING_FOR_REMOTE_KVS`) instead of
   * computing the prompt; cleared once the KV has arrived (a later preemption recomputes locally).
   */
  remotePrefill = false;
  /** P/D, decode side: the remote KV has arrived; the next admission computes only the last prompt token. */
  kvReady = false;

  /**
   * `promptHashes`: the prompt's block hashes at `blockSize` if already computed (by the router), to reuse.
   * `maxTokens`: a cap on the output below the request's own (the prefill leg of a disaggregated request: 1).
   * `ownBlocks`: false registers every block in the prefix cache's map (`uniqueFrom` = `hashCount`; the reference).
   * `privateBlocks`: blocks nothing else can look up are held as a count (`privateFrom`); only where the KV cache
   * feeds no second tier (their hashes are not kept, and send no KV events), with `ownBlocks`. `prefixCaching`:
   * false makes every block private (none is ever registered). `lazyOwnHashes`: with private blocks, compute only
   * the hashes before them (the replica knows no lookup can find a block of the request's own content: none was
   * ever put in its map, which only a preemption does).
   */
  constructor(
    req: Request,
    blockSize: number,
    maxModelLen: number,
    promptHashes?: Float64Array,
    maxTokens?: number,
    ownBlocks = true,
    privateBlocks = false,
    prefixCaching = true,
    lazyOwnHashes = false,
  ) {
    this.req = req;
    this.blockSize = blockSize;
    this.promptTokens = req.inputTokens;
    const out = maxTokens !== undefined && maxTokens < req.outputTokens ? maxTokens : req.outputTokens;
    this.outputTarget = Math.max(1, Math.min(out, maxModelLen - req.inputTokens));
    const total = req.inputTokens + this.outputTarget;
    const own = ownContentBlock(req.prompt, blockSize);
    if (req.outputContentId !== undefined) {
      const segs: Segment[] = [...req.prompt, { id: req.outputContentId, tokens: this.outputTarget }];
      this.hashes = blockHashes(
        segs,
        blockSize,
        Math.floor(total / blockSize),
        requestHashSeed(req.adapter, req.cacheSalt),
      );
      this.hashCount = this.hashes.length;
    } else if (promptHashes !== undefined) {
      this.hashes = promptHashes;
      this.hashCount = promptHashes.length;
    } else {
      this.hashCount = Math.floor(segmentTokens(req.prompt) / blockSize);
      // Only the hashes before the private blocks (see `hashes`).
      const lazy = lazyOwnHashes && ownBlocks && privateBlocks && prefixCaching && own < this.hashCount;
      this.hashes = promptBlockHashes(req, blockSize, lazy ? own : Number.POSITIVE_INFINITY);
    }
    this.uniqueFrom = ownBlocks ? Math.min(this.hashCount, own) : this.hashCount;
    // Not with an answer identity: its decode blocks get hashes (`hashes` goes past the prompt).
    const priv = ownBlocks && privateBlocks && req.outputContentId === undefined;
    this.privateFrom = !priv ? NO_PRIVATE : prefixCaching ? this.uniqueFrom : 0;
  }

  /** Every full block's hash (`hashes`), computing those left out at creation (`lazyOwnHashes`). */
  ensureHashes(): Float64Array {
    if (this.hashes.length < this.hashCount) this.hashes = promptBlockHashes(this.req, this.blockSize);
    return this.hashes;
  }

  /**
   * Registers the full blocks `[registered, full)` in the prefix cache (`registered` becomes `full`). Blocks from
   * `uniqueFrom` on, before any preemption, are registered out of the map (`KvCache.registerOwn`): no other request
   * can hit them, and a preempted request enters them (`KvCache.mapOwn`) before it looks them up again; after a
   * preemption every block goes to the map.
   */
  registerUpTo(full: number, kv: KvCache): void {
    const from = this.registered;
    if (full <= from) return;
    // Private blocks (from `privateFrom`) have no record: registering them is counting them.
    const end = full < this.privateFrom ? full : this.privateFrom;
    const own = this.preemptions === 0 && this.uniqueFrom < end ? Math.max(this.uniqueFrom, from) : end;
    if (own > from) {
      kv.prefetch(this.hashes, from, own);
      for (let j = from; j < own; j++) kv.register(this.blocks[j]!, this.hashes[j]!);
    }
    for (let j = own; j < end; j++) kv.registerOwn(this.blocks[j]!, this.hashes[j]!);
    this.registered = full;
  }

  /** Blocks held, numbered and private. */
  get heldBlocks(): number {
    return this.blockCount + this.privateCount;
  }

  /**
   * Takes `k` more blocks from `kv` (numbered ones up to `privateFrom`, then private ones), in the free list's order
   * as `k` calls of `allocate` would; the caller has checked that `k` are free.
   */
  allocate(k: number, kv: KvCache): void {
    const room = this.privateFrom - this.blockCount - this.privateCount;
    const numbered = room <= 0 ? 0 : k < room ? k : room;
    for (let j = 0; j < numbered; j++) this.addBlock(kv.allocate(), kv);
    if (k > numbered) {
      kv.allocatePrivate(k - numbered);
      this.privateCount += k - numbered;
    }
  }

  /** Appends block `b` of `kv` to the block table. */
  addBlock(b: number, kv: KvCache): void {
    if (this.blockCount === this.blocks.length) this.growTable(kv);
    this.blocks[this.blockCount++] = b;
  }

  /**
   * Frees the request's blocks in `kv`, tail first (the private ones first: those without a hash, then those of its
   * own content), and gives the table back.
   */
  dropBlocks(kv: KvCache): void {
    const p = this.privateCount;
    if (p > 0) {
      const own = Math.min(Math.max(this.registered - this.privateFrom, 0), p);
      kv.releasePrivate(p - own, own);
      this.privateCount = 0;
    }
    kv.releaseTable(this.blocks, this.blockCount);
    this.blocks = NO_TABLE;
    this.blockCount = 0;
  }

  /**
   * Numbers the private blocks (a preemption: the request will look its own blocks up on re-admission): they join
   * the table, the registered ones enter the prefix cache's map, and every later block is numbered.
   */
  numberPrivate(kv: KvCache): void {
    const p = this.privateCount;
    const from = this.privateFrom;
    this.ensureHashes();
    this.privateFrom = NO_PRIVATE;
    this.privateCount = 0;
    for (let j = 0; j < p; j++) this.addBlock(kv.numberPrivate(), kv);
    const end = Math.min(this.registered, from + p);
    for (let j = from; j < end; j++) kv.register(this.blocks[j]!, this.hashes[j]!);
  }

  /** A table for every numbered block the request can hold, or twice the current one if that is full. */
  private growTable(kv: KvCache): void {
    const all = Math.ceil((this.promptTokens + this.outputTarget) / kv.blockSize);
    const whole = all < this.privateFrom ? all : this.privateFrom;
    const t = kv.takeTable(Math.max(whole, 2 * this.blockCount));
    if (this.blocks.length > 0) {
      t.set(this.blocks.subarray(0, this.blockCount));
      kv.giveTable(this.blocks);
    }
    this.blocks = t;
  }

  /** Tokens known so far: prompt plus generated (what a recompute must prefill). */
  get known(): number {
    return this.promptTokens + this.generated;
  }
}

/** Unique id for generated text without an identity (used only for tests of output caching). */
export function outputId(reqId: number): number {
  return hashInts(OUTPUT_NS, reqId);
}

/** Double-ended queue of sequences (the waiting queue: preempted requests go back to the front). */
export class SeqDeque implements WaitingQueue {
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

/** The waiting queue as the scheduler uses it: FIFO (`SeqDeque`) or by priority (`SeqPriorityQueue`). */
export interface WaitingQueue {
  readonly length: number;
  peek(): Seq | undefined;
  shift(): Seq | undefined;
  /** A request back at the head (preempted, or skipped for a LoRA slot); by key in a priority queue. */
  pushFront(s: Seq): void;
  pushBack(s: Seq): void;
}

/**
 * vLLM's priority order (`scheduling_policy: priority`): the request with the smallest (priority, arrival time)
 * first, request id breaking ties (vLLM `Request.__lt__`; `PriorityRequestQueue` in `vllm/v1/core/sched/
 * request_queue.py` is a heap on it, and a preempted request goes back in by the same key). vLLM's priority is
 * "lower value = earlier"; gatelab's request `priority` follows the Endpoint Picker (higher = more important, < 0
 * sheddable), so the engine's priority is its negation. Arrival time is the arrival at this replica.
 */
export function priorityBefore(a: Seq, b: Seq): boolean {
  const pa = -(a.req.priority ?? 0);
  const pb = -(b.req.priority ?? 0);
  if (pa !== pb) return pa < pb;
  if (a.enqueueTime !== b.enqueueTime) return a.enqueueTime < b.enqueueTime;
  return a.req.id < b.req.id;
}

/** Binary heap on `priorityBefore` with the waiting queue's interface. */
export class SeqPriorityQueue implements WaitingQueue {
  private heap: Seq[] = [];
  get length(): number {
    return this.heap.length;
  }
  peek(): Seq | undefined {
    return this.heap[0];
  }
  pushFront(s: Seq): void {
    this.pushBack(s);
  }
  pushBack(s: Seq): void {
    const h = this.heap;
    let i = h.length;
    h.push(s);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!priorityBefore(s, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = s;
  }
  shift(): Seq | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    const n = h.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && priorityBefore(h[r]!, h[l]!) ? r : l;
        if (!priorityBefore(h[c]!, last)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
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
