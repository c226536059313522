/**
 * The cluster: one event heap for the whole cluster, the gateway's view of the replicas (scraped every
 * `scrape_interval`, stale in between), router-local counters, and the replicas. Knows events, not policies: the
 * router is a `Router`, admission is the gateway's `Admission` (which arms its own timers through `Timers`), and the
 * replicas are `Replica`s; this is the one place that wires them together.
 *
 * Time is a float64 number of seconds. Ties are broken by insertion order (the heap's sequence numbers), so a run is
 * a pure function of (scenario, seed).
 */

import { InputError } from "../errors.ts";
import type { CostModel } from "../models/cost.ts";
import { DpBalancer } from "../models/dp-balancer.ts";
import { attachCpuOffload } from "../models/kv-offload.ts";
import { type KvTransferLink, kvTransferLink, kvTransferTime } from "../models/kv-transfer.ts";
import { type EngineConfig, Replica, type ReplicaListener, type Seq } from "../models/replica.ts";
import { Admission, type AdmissionHost, type Attempt, type WindowCounters } from "../policies/admission.ts";
import { emptyGatewayStats, type GatewayStats } from "../policies/flow-control/gateway.ts";
import type { AdmissionOptions, SloTargets } from "../policies/flow-control/options.ts";
import type {
  EndpointColumns,
  EndpointView,
  KvEvent,
  LocalLoad,
  RouteResult,
  Router,
  RoutingContext,
} from "../policies/types.ts";
import { promptBlockHashes } from "../sim/hash.ts";
import { EventHeap } from "../sim/heap.ts";
import { IdTable } from "../sim/id-table.ts";
import { DropReason } from "../sim/outcomes.ts";
import { RequestTable, WeightedSamples } from "../sim/records.ts";
import { Outcome, type Request, type RequestSource } from "../sim/request.ts";
import { type Rng, rngStream } from "../sim/rng.ts";
import type { Timer, Timers } from "../sim/timers.ts";
import { KvCacheView, KvEventQueues } from "./kv-events.ts";

/**
 * Most replicas for which routers are offered the `KvCacheView` (beyond, one index update per event costs less than a
 * probe per candidate): `llm-d-precise` on chat, view ÷ index in-process CPU 0.89 at 128 replicas, 1.12 at 256, 1.33
 * at 512 (`scripts/bench-paired.mjs`, 60,000 requests, 2 pairs each).
 */
const KV_VIEW_MAX_REPLICAS = 128;

export interface PoolSpec {
  readonly name: string;
  readonly model: string;
  readonly gpu: string;
  readonly tp: number;
  readonly replicas: number;
  readonly engine: EngineConfig;
  readonly cost: CostModel;
  /** Price of one replica-hour (all its GPUs), for cost reports. */
  readonly gpuHourUsd: number;
  /** CPU KV offload tier per replica, in blocks (vLLM's CPU offloading; 0 or absent = off). */
  readonly cpuKvBlocks?: number;
  /** KV bytes per token on one TP rank (`kvBytesPerTokenPerRank`): what a P/D transfer moves. */
  readonly kvBytesPerToken?: number;
  /** Pod labels of the pool's replicas (`llm-d.ai/role` for P/D; absent: none). */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Data-parallel engine ranks per pod (vLLM `--data-parallel-size`; absent: 1). `replicas` counts ranks: pod k is
   * replicas k·N … k·N+N−1 of the pool.
   */
  readonly dataParallelSize?: number;
  /** DP pods expose one endpoint per rank (InferencePool `targetPorts`, one per rank); else one per pod. */
  readonly rankEndpoints?: boolean;
}

export interface DecisionRecord {
  readonly id: number;
  readonly t: number;
  readonly result: RouteResult;
  readonly candidates: readonly EndpointView[];
}

export interface SimOptions {
  readonly seed: number;
  /** Metrics scrape period in seconds; 0 = the gateway always sees the current state. */
  readonly scrapeIntervalS: number;
  /** Delay of replica KV events before the router sees them, seconds. */
  readonly kvEventDelayS: number;
  /** Period of the per-replica time-series samples, seconds. */
  readonly sampleIntervalS: number;
  /** Jump over pure-decode stretches (default true; false = the step-by-step reference). */
  readonly fastForward?: boolean;
  /** Offer KV-event routers the `KvCacheView` (default true; false = they index every event, the reference). */
  readonly kvView?: boolean;
  /** Offer routers the candidates' metrics as columns (`EndpointColumns`; default true; false = views only, the reference). */
  readonly endpointColumns?: boolean;
  /**
   * Keep blocks nothing else can look up (a request's own content, `Segment.unique`, and blocks that never get a
   * hash) out of the prefix cache's map, as private blocks or `KvCache.registerOwn` (default true; false = every
   * block numbered and in the map, the reference).
   */
  readonly ownBlocks?: boolean;
  /** Check KV conservation and capacity after every step (tests; costs time). */
  readonly checkInvariants?: boolean;
  /** Called for every routing decision (for `--trace-decisions`). */
  readonly onDecision?: (d: DecisionRecord) => void;
  /** Gateway admission (flow control, quotas, degradation) and client retries; absent: route every arrival. */
  readonly admission?: AdmissionOptions | undefined;
  /** SLO targets (flat and per class), passed through to the result for goodput in the summary. */
  readonly slo?: SloTargets | undefined;
  /** P/D: the link KV moves over from prefill to decode pods (absent: NIXL over RDMA defaults, `kv-transfer.ts`). */
  readonly kvTransfer?: KvTransferLink | undefined;
  /** Rows to allocate in the request table up front (the scenario's `requests:`; more rows still grow it). */
  readonly expectedRequests?: number | undefined;
}

/** P/D disaggregation counters of a run (all zero when no request was disaggregated). */
export interface PdStats {
  /** The link KV moves over. */
  readonly link: KvTransferLink;
  /** KV transfers from a prefill pod to a decode pod. */
  transfers: number;
  /** Bytes moved, per TP rank (ranks move their shards in parallel). */
  bytes: number;
  /** Duration of each transfer, seconds (for mean / p95). */
  readonly times: number[];
  /** Per replica: prefill legs it ran for requests that decoded elsewhere. */
  readonly prefillLegs: Int32Array;
  /** Per replica: requests it decoded from a remote prefill. */
  readonly remoteDecodes: Int32Array;
}

/** Per-replica time series (sampled every `sampleIntervalS`). */
export interface TimeSeries {
  readonly interval: number;
  readonly time: number[];
  /** [replica][sample] */
  readonly waiting: number[][];
  readonly running: number[][];
  readonly kvUsage: number[][];
  /**
   * Gateway, for the whole cluster: counts in the window that ends at `time[i]` (since the previous sample) of
   * attempts reaching the gateway (offered load: first arrivals + retries), retries, refused attempts (429/503/403)
   * and completions; `gatewayQueue` = requests held in flow-control queues at `time[i]`.
   */
  readonly attempts: number[];
  readonly retries: number[];
  readonly shed: number[];
  readonly completed: number[];
  readonly gatewayQueue: number[];
}

export interface SimResult {
  readonly records: RequestTable;
  readonly itl: WeightedSamples;
  readonly replicas: readonly Replica[];
  readonly pools: readonly PoolSpec[];
  readonly series: TimeSeries;
  /** Events processed by the heap. */
  readonly events: number;
  /** Time of the last event (all requests done). */
  readonly endTime: number;
  /** Reasons of rejections, by text, with counts. */
  readonly rejectReasons: ReadonlyMap<string, number>;
  /** Admission-layer counters (zeros when the scenario has none). */
  readonly gateway: GatewayStats;
  /** SLO targets of the run (for goodput), when given. */
  readonly slo?: SloTargets | undefined;
  /** P/D disaggregation counters. */
  readonly pd: PdStats;
}

const EV_ARRIVAL_OPEN = 0;
const EV_ARRIVAL_FOLLOW = 1;
const EV_DELIVER = 2;
const EV_STEP = 3;
const EV_SCRAPE = 4;
const EV_SAMPLE = 5;
/** P/D: the KV of a disaggregated request has reached its decode pod (arg: request id). */
const EV_KV_DONE = 6;
/** Kinds from here on are components' timers (`Timers`): kind − EV_TIMER indexes `timerFns`. */
const EV_TIMER = 7;

/** Entries of a column set's change log at least (`EndpointColumns.changes`; else one per position). */
const COLUMN_LOG_MIN = 64;

/** The columns as the engine writes them: values and change log. */
interface LoggedColumns extends EndpointColumns {
  readonly changes: Int32Array;
  changeCount: number;
}

/** Mutable endpoint snapshot; routers see it through the read-only `EndpointView`. */
class View implements EndpointView {
  index: number;
  name: string;
  pool: string;
  model: string;
  waiting = 0;
  running = 0;
  kvCacheUsage = 0;
  runningAdapters: Set<string> = new Set();
  waitingAdapters: Set<string> = new Set();
  residentAdapters: Set<string> = new Set();
  maxLora = 0;
  blockSize: number;
  numGpuBlocks: number;
  maxNumSeqs: number;
  gpuBusyTime = 0;
  /** Every view's scrape time, by replica index (the engine's `scrapeTimes`: an idle replica's scrape writes only there). */
  private readonly times: Float64Array;
  /** The columns of the candidate list this endpoint is in, and its position there (`EndpointColumns`). */
  cols: LoggedColumns | undefined;
  pos = 0;
  constructor(r: Replica, times: Float64Array) {
    this.times = times;
    this.index = r.index;
    this.name = r.name;
    this.pool = r.pool;
    this.model = r.model;
    this.blockSize = r.cfg.blockSize;
    this.numGpuBlocks = r.cfg.numGpuBlocks;
    this.maxNumSeqs = r.cfg.maxNumSeqs;
    this.maxLora = r.lora !== undefined ? r.lora.settings.maxLoras : 0;
  }
  scrape(r: Replica, now: number, pushedAt: number): void {
    r.settle(now, pushedAt);
    if (this.running > 0) this.gpuBusyTime += now - this.times[this.index]!;
    this.waiting = r.numWaiting;
    this.running = r.numRunning;
    this.kvCacheUsage = r.kv.usage;
    const c = this.cols;
    if (c !== undefined) {
      const p = this.pos;
      const changed =
        c.waiting[p] !== this.waiting || c.running[p] !== this.running || c.kvCacheUsage[p] !== this.kvCacheUsage;
      c.waiting[p] = this.waiting;
      c.running[p] = this.running;
      c.kvCacheUsage[p] = this.kvCacheUsage;
      if (changed) c.changes[c.changeCount++ % c.changes.length] = p;
    }
    // `vllm:lora_requests_info{running_lora_adapters, waiting_lora_adapters, max_lora}` (sets reused).
    if (r.lora !== undefined) r.lora.fillSets(this.runningAdapters, this.waitingAdapters, this.residentAdapters);
    this.times[this.index] = now;
  }
  get scrapeTime(): number {
    return this.times[this.index]!;
  }
}

/** The routing context, one object reused for every decision (no allocation per request). */
class RouteCtx implements RoutingContext {
  now = 0;
  endpoints: readonly EndpointView[] = [];
  columns: EndpointColumns | undefined;
  live: Live | undefined;
  readonly local: LocalLoad;
  readonly rng: Rng;
  constructor(local: LocalLoad, rng: Rng) {
    this.local = local;
    this.rng = rng;
  }
  promptHashes(bs: number): Float64Array {
    const live = this.live!;
    if (live.hashBs === bs && live.hashes !== undefined) return live.hashes;
    const h = promptBlockHashes(live.req, bs);
    // Keep the first block size asked for (the router's; usually the replicas' too).
    if (live.hashes === undefined) {
      live.hashes = h;
      live.hashBs = bs;
    }
    return h;
  }
  promptHashPrefix(bs: number, count: number): Float64Array {
    const live = this.live!;
    if (live.hashBs === bs && live.hashes !== undefined) return live.hashes;
    // Not kept: the replica takes only a whole array (`deliver`).
    return promptBlockHashes(live.req, bs, count);
  }
}

interface Live extends Attempt {
  /** The replica that decodes (and, unless disaggregated, prefills). */
  replica: number;
  /**
   * The endpoint the router picked (the router-local counters and the router's hooks are keyed by it): `replica`,
   * except behind a data-parallel pod endpoint, where vLLM's DP balancer picked the rank (its rank 0's index).
   */
  endpoint: number;
  seq: Seq | undefined;
  /** P/D: the replica that runs the prefill leg (-1: not disaggregated). */
  prefill: number;
  /** P/D: the prefill leg's sequence on `prefill`. */
  pseq: Seq | undefined;
  /** Prompt block hashes computed for the router (at `hashBs` tokens per block), reused by the replica. */
  hashes: Float64Array | undefined;
  hashBs: number;
}

export class Simulation implements ReplicaListener, Timers {
  readonly replicas: Replica[] = [];
  readonly pools: readonly PoolSpec[];
  private readonly heap = new EventHeap(4096);
  private readonly views: View[] = [];
  private readonly viewsByModel = new Map<string, View[]>();
  private readonly viewsByPool = new Map<string, View[]>();
  /** The columns of each model's endpoint list (`EndpointColumns`; none with `endpointColumns: false`). */
  private readonly columnsByModel = new Map<string, EndpointColumns>();
  private readonly defaultModel: string;
  private readonly local: LocalLoad;
  private readonly rng: Rng;
  /** In-flight requests by id (an `IdTable`, not a `Map`: see there why). */
  private readonly live = new IdTable<Live>();
  private readonly ctx: RouteCtx;
  private readonly pendingOpen: (Request | undefined)[] = [undefined];
  private readonly follow = new IdTable<Request>();
  /** KV events on their way to the router (undefined: the router reads none). */
  private readonly kvEvents: KvEventQueues | undefined;
  private readonly kvSink = (ev: KvEvent, due: number): void => this.router.onKvEvent?.(ev, due);
  /** The router reads the `KvCacheView` and none of the events. */
  private kvViewOnly = false;
  private readonly kvPrefetch = (hashes: Float64Array, from: number, to: number): number =>
    this.router.prefetchKvEvents?.(hashes, from, to) ?? 0;
  readonly records: RequestTable;
  readonly itl = new WeightedSamples();
  private readonly series: TimeSeries;
  private readonly rejectReasons = new Map<string, number>();
  /** Handle of each replica's pending step event (cancelled when an arrival truncates a fast-forward stretch). */
  private readonly stepEvents: number[] = [];
  /**
   * Per replica: 0 when its view saw it idle (nothing waiting or running) at its last scrape and nothing a scrape reads
   * has changed since (the replica sets 1 when it may have: `Replica.trackChanges`). Such a scrape only moves the
   * view's scrape time (`scrapeTimes`), reading no object: at 1,024 replicas half the scrapes, each of which would
   * read the view, replica, queues, stretch and KV cache out of the processor's caches.
   */
  private readonly changed: Uint8Array;
  /** Each view's last scrape time (`View.scrapeTime`), by replica index. */
  private readonly scrapeTimes: Float64Array;
  /** The gateway's admission component (undefined: no admission layer; arrivals are routed directly). */
  private readonly gw: Admission | undefined;
  /** Gateway series counters of the current sample window. */
  private readonly window: WindowCounters = { attempts: 0, retries: 0, shed: 0, completed: 0 };
  /** Callbacks of components' timers, by event kind − EV_TIMER. */
  private readonly timerFns: ((arg: number) => void)[] = [];
  now = 0;
  private events = 0;
  /** Requests pending arrival or in flight; periodic events stop when it reaches 0 and the source is exhausted. */
  private work = 0;
  private sourceDone = false;

  private readonly source: RequestSource;
  private readonly router: Router;
  private readonly opts: SimOptions;
  private readonly link: KvTransferLink;
  private readonly pd: PdStats;
  /** By endpoint index: vLLM's DP balancer of a data-parallel pod seen as one endpoint (undefined: none). */
  private readonly balancers: (DpBalancer | undefined)[] = [];
  /** By replica index: the endpoint the router sees it as (itself, or its pod's rank 0). */
  private readonly endpointOf: Int32Array;

  constructor(pools: readonly PoolSpec[], source: RequestSource, router: Router, opts: SimOptions) {
    if (pools.length === 0) throw new Error("a cluster needs at least one pool");
    this.pools = pools;
    this.source = source;
    this.router = router;
    this.opts = opts;
    // Sized from the scenario's request count when known (at most 2^24 rows up front; more rows grow it).
    this.records = new RequestTable(Math.min(opts.expectedRequests ?? 1024, 1 << 24), opts.admission !== undefined);
    let index = 0;
    const endpointOf: number[] = [];
    this.scrapeTimes = new Float64Array(pools.reduce((n, p) => n + p.replicas, 0));
    for (const p of pools) {
      const dp = p.dataParallelSize ?? 1;
      // A DP pod behind one endpoint (the pod's API port): the router sees rank 0's metrics, as the Endpoint
      // Picker's extractor reads the first series of `vllm:num_requests_waiting{engine="0"|"1"|…}` (llm-d-router
      // pkg/epp/framework/plugins/datalayer/extractor/metrics/spec.go L103–L127: the latest timestamp; vLLM exports
      // none, so the first), and vLLM's DP balancer picks the rank (src/models/dp-balancer.ts).
      const podEndpoint = dp > 1 && !p.rankEndpoints && router.dataParallelRanks !== true;
      for (let i = 0; i < p.replicas; i++) {
        const rank = i % dp;
        endpointOf.push(podEndpoint ? index - rank : index);
        this.balancers.push(podEndpoint && rank === 0 ? new DpBalancer(index, dp) : undefined);
        const r = new Replica(index++, p.name, i, p.model, p.engine, p.cost, this);
        // KV events of fast-forwarded steps are replayed with their step's time (`kv-events.ts`).
        r.fastForward = opts.fastForward !== false;
        r.ownBlocks = opts.ownBlocks !== false;
        if (p.cpuKvBlocks !== undefined && p.cpuKvBlocks > 0) attachCpuOffload(r, p.model, p.tp, p.cpuKvBlocks);
        this.replicas.push(r);
        const v = new View(r, this.scrapeTimes);
        this.views.push(v);
        if (podEndpoint && rank > 0) continue; // not an endpoint of its own
        let list = this.viewsByModel.get(p.model);
        if (!list) this.viewsByModel.set(p.model, (list = []));
        list.push(v);
        let byPool = this.viewsByPool.get(p.name);
        if (!byPool) this.viewsByPool.set(p.name, (byPool = []));
        byPool.push(v);
      }
    }
    this.changed = new Uint8Array(this.replicas.length).fill(1);
    for (const r of this.replicas) r.trackChanges(this.changed);
    if (opts.endpointColumns !== false) {
      for (const [model, list] of this.viewsByModel) {
        const n = list.length;
        const cols: LoggedColumns = {
          index: Int32Array.from(list, (v) => v.index),
          waiting: new Float64Array(n),
          running: new Float64Array(n),
          kvCacheUsage: new Float64Array(n),
          changes: new Int32Array(Math.max(COLUMN_LOG_MIN, n)),
          changeCount: 0,
        };
        list.forEach((v, pos) => {
          v.cols = cols;
          v.pos = pos;
        });
        this.columnsByModel.set(model, cols);
      }
    }
    this.endpointOf = Int32Array.from(endpointOf);
    // Enqueue times follow from the dispatch and the replica's pre-queue overheads (see `deliver`): not stored.
    this.records.deriveEnqueue(
      Float64Array.from(this.replicas, (r) => r.cost.overheads.preQueue),
      Float64Array.from(this.replicas, (r) => r.cost.overheads.preQueuePerInputToken),
    );
    this.defaultModel = pools[0]!.model;
    const n = this.replicas.length;
    this.link = opts.kvTransfer ?? kvTransferLink();
    this.pd = {
      link: this.link,
      transfers: 0,
      bytes: 0,
      times: [],
      prefillLegs: new Int32Array(n),
      remoteDecodes: new Int32Array(n),
    };
    this.local = {
      inFlight: new Int32Array(n),
      inFlightPrefillTokens: new Float64Array(n),
      inFlightTokens: new Float64Array(n),
    };
    this.rng = rngStream(opts.seed, "routing");
    this.ctx = new RouteCtx(this.local, this.rng);
    this.series = {
      interval: opts.sampleIntervalS,
      time: [],
      waiting: [],
      running: [],
      kvUsage: [],
      attempts: [],
      retries: [],
      shed: [],
      completed: [],
      gatewayQueue: [],
    };
    this.gw =
      opts.admission !== undefined ? new Admission(opts.admission, pools, opts.seed, this.admissionHost()) : undefined;
    for (let i = 0; i < n; i++) {
      this.series.waiting.push([]);
      this.series.running.push([]);
      this.series.kvUsage.push([]);
    }
    if (router.wantsKvEvents && router.onKvEvent) {
      const q = new KvEventQueues(n);
      this.kvEvents = q;
      // Up to KV_VIEW_MAX_REPLICAS replicas, each its own endpoint, a router may read the caches as of the delivered
      // events (`KvCacheView`) instead of indexing every event; the events still travel, for what they leave unsaid.
      let identity = true;
      for (let i = 0; i < n; i++) if (this.endpointOf[i] !== i) identity = false;
      if (opts.kvView !== false && identity && n <= KV_VIEW_MAX_REPLICAS && router.attachKvView !== undefined) {
        this.kvViewOnly = router.attachKvView(
          new KvCacheView(
            q,
            this.replicas.map((r) => r.kv),
          ),
        );
      }
      const delay = opts.kvEventDelayS;
      for (const r of this.replicas) {
        const kv = r.kv;
        const idx = r.index;
        kv.listener = (kind, hash) => {
          q.push(idx, (kv.eventTime >= 0 ? kv.eventTime : this.now) + delay, kind === "stored", hash);
        };
      }
    }
  }

  timer(fire: (arg: number) => void): Timer {
    const kind = EV_TIMER + this.timerFns.length;
    this.timerFns.push(fire);
    const heap = this.heap;
    return { at: (t, arg) => heap.push(t, kind, arg) };
  }

  /** The cluster as the admission component sees it. */
  private admissionHost(): AdmissionHost {
    return {
      timers: this,
      records: this.records,
      local: this.local,
      window: this.window,
      defaultModel: this.defaultModel,
      endpointsFor: (model) => this.viewsByModel.get(model) ?? [],
      poolEndpoints: (name) => this.viewsByPool.get(name) ?? [],
      refresh: (cands) => {
        if (this.opts.scrapeIntervalS === 0) {
          for (const v of cands) (v as View).scrape(this.replicas[v.index]!, this.now, this.heap.lastPushTime);
        }
      },
      attempt: (id) => this.live.get(id)!,
      route: (a) => this.route(a as Live),
      refuse: (a, status, reason, retryAfterS, cause) => this.refuse(a as Live, status, reason, retryAfterS, cause),
    };
  }

  /** Runs to completion (every request ends) and returns the results. */
  run(): SimResult {
    const heap = this.heap;
    this.pullOpen();
    // Scrapes start at a seeded random phase per replica, as independent pollers would.
    if (this.opts.scrapeIntervalS > 0) {
      const phase = rngStream(this.opts.seed, "scrape-phase");
      for (const r of this.replicas) heap.push(phase.next() * this.opts.scrapeIntervalS, EV_SCRAPE, r.index);
    }
    heap.push(0, EV_SAMPLE, 0);
    for (const v of this.views) v.scrape(this.replicas[v.index]!, 0, 0);

    while (heap.pop()) {
      const t = heap.lastTime;
      if (t < this.now) throw new Error(`internal: time went back from ${this.now} to ${t}`);
      this.now = t;
      heap.now = t;
      this.events++;
      if (heap.lastCancelled) continue;
      const arg = heap.lastArg;
      switch (heap.lastKind) {
        case EV_ARRIVAL_OPEN: {
          const req = this.pendingOpen[0]!;
          this.pendingOpen[0] = undefined;
          this.pullOpen();
          this.arrive(req);
          break;
        }
        case EV_ARRIVAL_FOLLOW: {
          const req = this.follow.get(arg)!;
          this.follow.delete(arg);
          this.arrive(req);
          break;
        }
        case EV_DELIVER:
          this.deliver(arg);
          break;
        case EV_STEP: {
          const r = this.replicas[arg]!;
          const next = r.checkpoint(t);
          if (next >= 0) {
            // A fast-forward stretch goes on past a chunk boundary: no per-request work here.
            this.stepEvents[arg] = heap.push(next, EV_STEP, arg);
            break;
          }
          r.finishStep(t);
          this.kick(r);
          if (this.opts.checkInvariants) checkReplica(r);
          break;
        }
        case EV_SCRAPE:
          if (this.work > 0 || !this.sourceDone) {
            if (this.changed[arg] === 0) {
              // Idle at its last scrape and unchanged since: the same metrics, scraped now.
              if (this.opts.checkInvariants) checkUnchanged(this.views[arg]!, this.replicas[arg]!);
              this.scrapeTimes[arg] = t;
            } else {
              const v = this.views[arg]!;
              v.scrape(this.replicas[arg]!, t, heap.lastPushTime);
              if (v.running === 0 && v.waiting === 0) this.changed[arg] = 0;
            }
            heap.pushLast(t + this.opts.scrapeIntervalS, EV_SCRAPE, arg);
            if (this.gw?.queueing) this.gw.wake(); // fresh metrics: re-check capacity
          }
          break;
        case EV_SAMPLE:
          this.sample(t);
          if (this.work > 0 || !this.sourceDone) heap.push(t + this.opts.sampleIntervalS, EV_SAMPLE, 0);
          break;
        case EV_KV_DONE:
          this.kvDone(arg);
          break;
        default:
          this.timerFns[heap.lastKind - EV_TIMER]!(arg);
      }
    }
    return {
      records: this.records,
      itl: this.itl,
      replicas: this.replicas,
      pools: this.pools,
      series: this.series,
      events: this.events,
      endTime: this.now,
      rejectReasons: this.rejectReasons,
      gateway: this.gw !== undefined ? this.gw.finalize() : emptyGatewayStats(),
      slo: this.opts.slo,
      pd: this.pd,
    };
  }

  private pullOpen(): void {
    const req = this.source.next();
    if (req === undefined) {
      this.sourceDone = true;
      return;
    }
    if (req.arrival < this.now) {
      throw new Error(`workload produced request ${req.id} at ${req.arrival}s, before the current time ${this.now}s`);
    }
    this.pendingOpen[0] = req;
    this.work++;
    this.heap.push(req.arrival, EV_ARRIVAL_OPEN, req.id);
  }

  private arrive(req: Request): void {
    const rec = this.records;
    const id = req.id;
    rec.ensure(id);
    rec.arrival[id] = req.arrival;
    rec.setInput(id, req.inputTokens);
    rec.setGroups(
      id,
      rec.classes.id(req.sloClass ?? "default"),
      rec.tenants.id(req.tenant ?? "default"),
      rec.sources.id(req.source ?? "default"),
    );
    rec.setAttempts(id, 1);
    const live: Live = {
      req,
      replica: -1,
      endpoint: -1,
      seq: undefined,
      prefill: -1,
      pseq: undefined,
      hashes: undefined,
      hashBs: 0,
      orig: req,
      attempt: 1,
      cands: undefined,
      queuedAt: -1,
    };
    this.live.set(id, live);
    if (this.gw !== undefined) this.gw.arrive(live);
    else {
      this.window.attempts++;
      this.route(live);
    }
  }

  private route(live: Live): void {
    const req = live.req;
    const t = this.now;
    if (this.opts.scrapeIntervalS === 0) {
      for (const v of this.views) v.scrape(this.replicas[v.index]!, t, this.heap.lastPushTime);
    }
    this.flushKvEvents(t);
    const model = req.model ?? this.defaultModel;
    const candidates = live.cands ?? this.viewsByModel.get(model) ?? [];
    const ctx = this.ctx;
    ctx.now = t;
    ctx.endpoints = candidates;
    ctx.columns = live.cands === undefined ? this.columnsByModel.get(model) : undefined;
    ctx.live = live;
    const result =
      candidates.length === 0
        ? ({ refused: true, status: 503, reason: `no pool serves model ${req.model}` } as const)
        : this.router.route(req, ctx);
    this.opts.onDecision?.({ id: req.id, t, result, candidates });
    if (result.refused) {
      this.refuse(
        live,
        result.status,
        result.reason,
        -1,
        candidates.length === 0 ? DropReason.NoEndpoints : DropReason.Router,
      );
      return;
    }
    const ep = result.replica;
    if (!this.replicas[ep]) throw new Error(`router ${this.router.name} picked replica ${ep}, which does not exist`);
    const bal = this.balancers[ep];
    const r = this.replicas[bal === undefined ? ep : bal.pick(this.replicas, t, this.heap.lastPushTime)]!;
    live.replica = r.index;
    live.endpoint = ep;
    const rec = this.records;
    rec.setDispatch(req.id, t);
    rec.setReplica(req.id, r.index);
    const pf = result.prefill ?? -1;
    const p = pf >= 0 && pf !== r.index ? this.replicas[pf] : undefined;
    if (pf >= 0 && pf !== r.index && p === undefined) {
      throw new Error(`router ${this.router.name} picked prefill replica ${pf}, which does not exist`);
    }
    if (p !== undefined && (bal !== undefined || this.balancers[pf] !== undefined)) {
      throw new InputError(
        `${this.router.name}: recognised, not simulated: P/D disaggregation with a data-parallel pod behind one endpoint (${this.replicas[pf]!.pool}); set data_parallel_endpoints: ranks`,
      );
    }
    this.local.inFlight[ep]!++;
    this.local.inFlightTokens[ep]! += req.inputTokens;
    if (p === undefined) {
      live.prefill = -1;
      this.local.inFlightPrefillTokens[ep]! += req.inputTokens;
    } else {
      // P/D: the decode pod's sidecar sends the prefill leg to `p`; its prefill load is counted there.
      live.prefill = p.index;
      this.local.inFlight[p.index]!++;
      this.local.inFlightPrefillTokens[p.index]! += req.inputTokens;
      this.local.inFlightTokens[p.index]! += req.inputTokens;
    }
    live.pseq = undefined;
    this.router.onDispatch?.(req, ep, t);
    const oh = (p ?? r).cost.overheads;
    this.heap.push(t + oh.preQueue + oh.preQueuePerInputToken * req.inputTokens, EV_DELIVER, req.id);
  }

  private deliver(id: number): void {
    const live = this.live.get(id)!;
    if (live.prefill >= 0) {
      this.deliverPd(live);
      return;
    }
    const r = this.replicas[live.replica]!;
    const seq = r.makeSeq(live.req, live.hashBs === r.cfg.blockSize ? live.hashes : undefined);
    live.hashes = undefined;
    live.seq = seq;
    this.records.setEnqueue(id, this.now);
    if (r.enqueue(seq, this.now)) this.wake(r);
  }

  /**
   * P/D delivery, as llm-d's sidecar on the decode pod runs a disaggregated request (llm-d-router
   * pkg/sidecar/proxy/connector_nixlv2.go): first the prefill leg to the prefill pod with `max_tokens` 1 and
   * `do_remote_decode`; when it answers, the original request to the decode pod's vLLM with `do_remote_prefill`.
   */
  private deliverPd(live: Live): void {
    const id = live.req.id;
    if (live.pseq === undefined) {
      const p = this.replicas[live.prefill]!;
      const pseq = p.makeSeq(live.req, live.hashBs === p.cfg.blockSize ? live.hashes : undefined, 1);
      pseq.remoteDecode = true;
      live.pseq = pseq;
      this.records.setEnqueue(id, this.now);
      if (p.enqueue(pseq, this.now)) this.wake(p);
      return;
    }
    const r = this.replicas[live.replica]!;
    const p = this.replicas[live.prefill]!;
    const reuse = live.req.outputContentId === undefined && p.cfg.blockSize === r.cfg.blockSize;
    live.hashes = undefined;
    const seq = r.makeSeq(live.req, reuse ? live.pseq.ensureHashes() : undefined);
    seq.remotePrefill = true;
    live.seq = seq;
    if (r.enqueue(seq, this.now)) this.wake(r);
  }

  /** `r` got new work at `now`: start a step if idle, or end a fast-forward stretch where stepping would admit it. */
  private wake(r: Replica): void {
    if (r.inStretch) {
      // Stepping would admit the request at the end of the step in progress: end the stretch there.
      const end = r.truncate(this.now, this.heap.lastPushTime);
      if (end >= 0) {
        // The stretch's old end is superseded.
        this.heap.cancel(this.stepEvents[r.index]!);
        this.stepEvents[r.index] = this.heap.push(end, EV_STEP, r.index);
      }
    } else this.kick(r);
  }

  // P/D -------------------------------------------------------------------------------------------------------------

  onKvLoad(r: Replica, seq: Seq, blocks: number, t: number): void {
    const live = this.live.get(seq.req.id)!;
    const p = this.replicas[live.prefill]!;
    const perToken = Math.max(kvBytesPerToken(this.pools, r), kvBytesPerToken(this.pools, p));
    const bytes = blocks * r.cfg.blockSize * perToken;
    const dt = kvTransferTime(this.link, bytes);
    const pd = this.pd;
    pd.transfers++;
    pd.bytes += bytes;
    pd.times.push(dt);
    this.heap.push(t + dt, EV_KV_DONE, seq.req.id);
  }

  /** The KV of request `id` is on its decode pod: the prefill pod frees its blocks, the decode pod may run it. */
  private kvDone(id: number): void {
    const live = this.live.get(id)!;
    const t = this.now;
    const p = this.replicas[live.prefill]!;
    const r = this.replicas[live.replica]!;
    // Bring fast-forwarded replicas up to date before their KV caches change (same order of block operations as
    // stepping).
    p.settle(t, this.heap.lastPushTime);
    p.releaseHeld(live.pseq!);
    r.settle(t, this.heap.lastPushTime);
    if (r.kvLoaded(live.seq!)) this.wake(r);
    if (!p.busy) this.kick(p);
  }

  /** Starts a step on an idle replica if it has work. */
  private kick(r: Replica): void {
    if (r.busy) return;
    const end = r.startStep(this.now);
    if (end >= 0) this.stepEvents[r.index] = this.heap.push(end, EV_STEP, r.index);
  }

  /**
   * Delivers the KV events due by `t` to the router: every replica is first brought up to `t` (a fast-forward stretch
   * replays the block operations of its steps begun by then, with their step times), so the router sees the events
   * stepping would have delivered (a rank behind a pod endpoint publishes as the pod).
   */
  private flushKvEvents(t: number): void {
    const q = this.kvEvents;
    if (q === undefined) return;
    const p = this.heap.lastPushTime;
    for (const r of this.replicas) if (r.inStretch) r.settle(t, p);
    if (this.kvViewOnly) q.deliver(t, this.endpointOf);
    else q.deliver(t, this.endpointOf, this.kvSink, this.kvPrefetch);
  }

  private sample(t: number): void {
    const s = this.series;
    s.time.push(t);
    const w = this.window;
    s.attempts.push(w.attempts);
    s.retries.push(w.retries);
    s.shed.push(w.shed);
    s.completed.push(w.completed);
    s.gatewayQueue.push(this.gw !== undefined ? this.gw.queued() : 0);
    w.attempts = w.retries = w.shed = w.completed = 0;
    for (const r of this.replicas) {
      r.settle(t, this.heap.lastPushTime);
      s.waiting[r.index]!.push(r.numWaiting);
      s.running[r.index]!.push(r.numRunning);
      s.kvUsage[r.index]!.push(r.kv.usage);
    }
  }

  // ReplicaListener -------------------------------------------------------------------------------------------------

  onFirstToken(seq: Seq, t: number): void {
    const id = seq.req.id;
    const live = this.live.get(id)!;
    if (seq === live.pseq) {
      // P/D prefill leg: its one token goes back to the sidecar, not to the client. Queueing is the prefill pod's.
      this.records.admit[id] = seq.admitTime;
      this.local.inFlightPrefillTokens[live.prefill]! -= seq.req.inputTokens;
      return;
    }
    const r = this.replicas[live.replica]!;
    const oh = r.cost.overheads;
    this.records.firstToken[id] = t + oh.perOutputToken;
    if (live.prefill >= 0) {
      this.router.onFirstToken?.(seq.req, live.endpoint, t);
      return;
    }
    this.records.admit[id] = seq.admitTime;
    this.local.inFlightPrefillTokens[live.endpoint]! -= seq.req.inputTokens;
    this.router.onFirstToken?.(seq.req, live.endpoint, t);
  }

  onTokenRun(r: Replica, count: number, gap: number): void {
    // A fast-forwarded decode step: every running request of `r` got a token after the same gap.
    this.itl.add(gap + r.cost.overheads.perOutputToken, count);
  }

  onToken(r: Replica, _seq: Seq, gap: number): void {
    // Client-visible gap: each token also pays the per-output-token overhead.
    this.itl.add(gap + r.cost.overheads.perOutputToken);
  }

  onComplete(seq: Seq, t: number): void {
    const id = seq.req.id;
    const live = this.live.get(id)!;
    if (seq === live.pseq) {
      // P/D: the prefill leg answered the sidecar (one token, then the response ends); the sidecar sends the request
      // on to the decode pod's vLLM. The prefill pod keeps the blocks until the decode pod has read them.
      const p = this.replicas[live.prefill]!;
      this.releasePrefillLeg(live);
      this.pd.prefillLegs[p.index]!++;
      const po = p.cost.overheads;
      const ro = this.replicas[live.replica]!.cost.overheads;
      const back = t + po.perOutputToken + po.postDecode;
      this.heap.push(back + ro.preQueue + ro.preQueuePerInputToken * seq.req.inputTokens, EV_DELIVER, id);
      return;
    }
    const r = this.replicas[live.replica]!;
    const oh = r.cost.overheads;
    const rec = this.records;
    const done = t + seq.generated * oh.perOutputToken + oh.postDecode;
    rec.completion[id] = done;
    rec.setOutput(id, seq.generated);
    // P/D: the sidecar reports the prefill pod's cached tokens to the client (cached_tokens_usage_rewriter.go).
    rec.setCached(id, live.pseq !== undefined ? live.pseq.cachedTokens : seq.cachedTokens);
    if (live.prefill >= 0) this.pd.remoteDecodes[r.index]!++;
    rec.setPreemptions(id, seq.preemptions);
    rec.setEnd(id, Outcome.Completed, 200);
    this.window.completed++;
    this.release(live);
    this.finish(live.orig, done, true);
    if (this.gw?.queueing) {
      this.gw.completed(seq.req, seq.generated); // program-aware fairness: attained service
      this.gw.wake(); // capacity freed: re-check the queues
    }
  }

  onReject(seq: Seq, t: number, reason: string): void {
    const live = this.live.get(seq.req.id)!;
    if (seq === live.pseq) this.releasePrefillLeg(live);
    else if (live.pseq !== undefined) {
      // P/D: the decode pod refused the request after its prefill: the prefill pod frees the KV it held for it.
      const p = this.replicas[live.prefill]!;
      p.settle(t, this.heap.lastPushTime);
      p.releaseHeld(live.pseq);
      if (!p.busy) this.kick(p);
    }
    this.release(live);
    this.rejectReasons.set(reason, (this.rejectReasons.get(reason) ?? 0) + 1);
    this.records.setEnd(seq.req.id, Outcome.Rejected, 413);
    this.finish(live.orig, t, false);
  }

  /** The request ended on `live.replica`: the router-local counters and hooks of its endpoint, its DP balancer. */
  private release(live: Live): void {
    const req = live.req;
    const ep = live.endpoint;
    this.local.inFlight[ep]!--;
    this.local.inFlightTokens[ep]! -= req.inputTokens;
    if (live.prefill < 0 && live.seq && live.seq.firstTokenTime < 0) {
      this.local.inFlightPrefillTokens[ep]! -= req.inputTokens;
    }
    this.balancers[ep]?.done(live.replica);
    this.router.onComplete?.(req, ep, this.now);
  }

  /** P/D: the prefill leg ended (answered or rejected): the router-local counters of the prefill pod. */
  private releasePrefillLeg(live: Live): void {
    const p = live.prefill;
    const input = live.req.inputTokens;
    this.local.inFlight[p]!--;
    this.local.inFlightTokens[p]! -= input;
    if (live.pseq !== undefined && live.pseq.firstTokenTime < 0) this.local.inFlightPrefillTokens[p]! -= input;
  }

  private fail(live: Live, outcome: Outcome, status: number, reason: string): void {
    const id = live.req.id;
    this.records.setEnd(id, outcome, status);
    this.rejectReasons.set(reason, (this.rejectReasons.get(reason) ?? 0) + 1);
    this.finish(live.orig, this.now, false);
  }

  /**
   * An attempt was refused with `status` (Retry-After `retryAfterS`, < 0 if none). With an admission layer the client
   * may retry (`Admission.refused` schedules it); otherwise the request ends, dropped, with that status and `cause`.
   */
  private refuse(live: Live, status: number, reason: string, retryAfterS: number, cause: DropReason): void {
    this.window.shed++;
    if (this.gw?.refused(live, status, retryAfterS, cause)) return;
    this.records.setDropReason(live.orig.id, cause);
    this.fail(live, Outcome.Dropped, status, reason);
  }

  private finish(req: Request, t: number, completed: boolean): void {
    this.live.delete(req.id);
    const more = this.source.onFinish?.(req, t, completed);
    if (more) {
      for (const m of more) {
        if (m.arrival < this.now) throw new Error(`follow-up request ${m.id} arrives before now`);
        this.follow.set(m.id, m);
        this.work++;
        this.heap.push(m.arrival, EV_ARRIVAL_FOLLOW, m.id);
      }
    }
    this.work--;
  }
}

/** A scrape that only moved `scrapeTime` (idle, unchanged replica) saw what a full scrape would have. */
function checkUnchanged(v: View, r: Replica): void {
  if (r.inStretch || v.waiting !== r.numWaiting || v.running !== r.numRunning || v.kvCacheUsage !== r.kv.usage) {
    throw new Error(
      `internal: ${r.name} changed without a change mark (waiting ${v.waiting}/${r.numWaiting}, running ` +
        `${v.running}/${r.numRunning}, KV usage ${v.kvCacheUsage}/${r.kv.usage})`,
    );
  }
}

/** KV blocks in use never exceed capacity and are conserved (Σ references = Σ block-table entries). */
function checkReplica(r: Replica): void {
  const kv = r.kv;
  if (kv.usedBlocks > kv.numBlocks) throw new Error(`${r.name}: ${kv.usedBlocks} blocks in use > ${kv.numBlocks}`);
  const held = r.heldBlocks();
  if (kv.totalRefs() !== held.numbered)
    throw new Error(`${r.name}: block references ${kv.totalRefs()} != held ${held.numbered}`);
  // Blocks in use: numbered ones referenced at least once, and private ones (held by one request each).
  if (kv.usedBlocks !== kv.numberedInUse() + held.private)
    throw new Error(
      `${r.name}: ${kv.usedBlocks} blocks in use != ${kv.numberedInUse()} numbered + ${held.private} private`,
    );
  if (r.numRunning > r.cfg.maxNumSeqs) throw new Error(`${r.name}: ${r.numRunning} running > max_num_seqs`);
  r.lora?.checkInvariants();
}

/** KV bytes per token per rank of `r`'s pool (P/D transfers need it). */
function kvBytesPerToken(pools: readonly PoolSpec[], r: Replica): number {
  const p = pools.find((x) => x.name === r.pool)!;
  if (p.kvBytesPerToken === undefined) {
    throw new Error(`internal: pool ${p.name} has no kvBytesPerToken, needed for a P/D KV transfer`);
  }
  return p.kvBytesPerToken;
}

/** Convenience: build and run. */
export function simulate(
  pools: readonly PoolSpec[],
  source: RequestSource,
  router: Router,
  opts: SimOptions,
): SimResult {
  return new Simulation(pools, source, router, opts).run();
}
