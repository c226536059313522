/**
 * The flow controller's queue (EPP `pkg/epp/flowcontrol/`, docs/reference.md#flow-control): one band per priority,
 * strict priority across bands, caps in requests and bytes per band and globally. Inside a band, one queue per flow
 * (fairness id × priority) and the band's fairness policy picks the flow; inside a flow, the band's ordering policy
 * orders (`policies.ts` has the semantics and sources).
 *
 * Global-strict fairness takes the best head by the ordering policy across all flows, so it is kept as one queue per
 * band ordered by that policy (same order; ties by arrival). Round-robin and program-aware fairness keep a queue per
 * flow. FCFS and EDF queues are ring buffers (typed arrays, grown by doubling); SLO-deadline queues are binary heaps
 * on (deadline, received time, arrival sequence).
 */
import {
  DEFAULT_FAIRNESS_ID,
  type FairnessSpec,
  type OrderingType,
  ProgramAwareFairness,
  UsageLimit,
} from "./policies.ts";
import { type BandLimits, bandLimits, type FlowControlSettings } from "./settings.ts";

/** Why an enqueue was refused. */
export const EnqueueResult = { Ok: 0, GlobalFull: 1, BandFull: 2 } as const;
export type EnqueueResult = (typeof EnqueueResult)[keyof typeof EnqueueResult];

/** Ordered items of one flow (or of a global-strict band). The last `shift` leaves the item's fields in `out*`. */
interface Store {
  count: number;
  bytes: number;
  push(id: number, t: number, size: number, flow: number, deadline: number, seq: number): void;
  headTime(): number;
  shift(): number;
  outSize: number;
  outFlow: number;
  outTime: number;
  /** Removes the items queued at or before `cutoff`, in arrival order, calling `each(id, size, flow, t)`. */
  expire(cutoff: number, each: (id: number, size: number, flow: number, t: number) => void): void;
}

/** FCFS (and EDF: same order, see policies.ts) ring buffer. */
class Fifo implements Store {
  private ids = new Int32Array(64);
  private times = new Float64Array(64);
  private sizes = new Float64Array(64);
  private flows = new Int32Array(64);
  private head = 0;
  count = 0;
  bytes = 0;
  outSize = 0;
  outFlow = -1;
  outTime = 0;
  push(id: number, t: number, size: number, flow: number): void {
    if (this.count === this.ids.length) this.grow();
    const i = (this.head + this.count) & (this.ids.length - 1);
    this.ids[i] = id;
    this.times[i] = t;
    this.sizes[i] = size;
    this.flows[i] = flow;
    this.count++;
    this.bytes += size;
  }
  headTime(): number {
    return this.times[this.head]!;
  }
  shift(): number {
    const i = this.head;
    const id = this.ids[i]!;
    this.outSize = this.sizes[i]!;
    this.outFlow = this.flows[i]!;
    this.outTime = this.times[i]!;
    this.bytes -= this.outSize;
    this.head = (i + 1) & (this.ids.length - 1);
    this.count--;
    if (this.count === 0) this.bytes = 0;
    return id;
  }
  expire(cutoff: number, each: (id: number, size: number, flow: number, t: number) => void): void {
    while (this.count > 0 && this.headTime() <= cutoff) {
      const id = this.shift();
      each(id, this.outSize, this.outFlow, this.outTime);
    }
  }
  private grow(): void {
    const n = this.ids.length * 2;
    const ids = new Int32Array(n);
    const times = new Float64Array(n);
    const sizes = new Float64Array(n);
    const flows = new Int32Array(n);
    for (let k = 0; k < this.count; k++) {
      const j = (this.head + k) & (this.ids.length - 1);
      ids[k] = this.ids[j]!;
      times[k] = this.times[j]!;
      sizes[k] = this.sizes[j]!;
      flows[k] = this.flows[j]!;
    }
    this.ids = ids;
    this.times = times;
    this.sizes = sizes;
    this.flows = flows;
    this.head = 0;
  }
}

function sw(arr: number[], a: number, b: number): void {
  const x = arr[a]!;
  arr[a] = arr[b]!;
  arr[b] = x;
}

/** SLO-deadline binary heap: earliest deadline, then earliest received time, then arrival order. */
class DeadlineHeap implements Store {
  private ids: number[] = [];
  private deadlines: number[] = [];
  private times: number[] = [];
  private seqs: number[] = [];
  private sizes: number[] = [];
  private flows: number[] = [];
  count = 0;
  bytes = 0;
  outSize = 0;
  outFlow = -1;
  outTime = 0;
  private less(a: number, b: number): boolean {
    const da = this.deadlines[a]!;
    const db = this.deadlines[b]!;
    if (da !== db) return da < db;
    const ta = this.times[a]!;
    const tb = this.times[b]!;
    if (ta !== tb) return ta < tb;
    return this.seqs[a]! < this.seqs[b]!;
  }
  private swap(a: number, b: number): void {
    sw(this.ids, a, b);
    sw(this.deadlines, a, b);
    sw(this.times, a, b);
    sw(this.seqs, a, b);
    sw(this.sizes, a, b);
    sw(this.flows, a, b);
  }
  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  private down(i: number): void {
    const n = this.count;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(r, l) ? r : l;
      if (!this.less(c, i)) break;
      this.swap(c, i);
      i = c;
    }
  }
  push(id: number, t: number, size: number, flow: number, deadline: number, seq: number): void {
    const i = this.count++;
    this.ids[i] = id;
    this.deadlines[i] = deadline;
    this.times[i] = t;
    this.seqs[i] = seq;
    this.sizes[i] = size;
    this.flows[i] = flow;
    this.bytes += size;
    this.up(i);
  }
  headTime(): number {
    return this.times[0]!;
  }
  shift(): number {
    const id = this.ids[0]!;
    this.outSize = this.sizes[0]!;
    this.outFlow = this.flows[0]!;
    this.outTime = this.times[0]!;
    this.bytes -= this.outSize;
    const last = --this.count;
    if (last > 0) {
      this.swap(0, last);
      this.down(0);
    }
    this.ids.length = last;
    this.deadlines.length = last;
    this.times.length = last;
    this.seqs.length = last;
    this.sizes.length = last;
    this.flows.length = last;
    if (this.count === 0) this.bytes = 0;
    return id;
  }
  expire(cutoff: number, each: (id: number, size: number, flow: number, t: number) => void): void {
    const gone: number[] = [];
    for (let i = 0; i < this.count; i++) if (this.times[i]! <= cutoff) gone.push(i);
    if (gone.length === 0) return;
    gone.sort((a, b) => this.seqs[a]! - this.seqs[b]!);
    const out = gone.map((i) => [this.ids[i]!, this.sizes[i]!, this.flows[i]!, this.times[i]!] as const);
    const keep: number[] = [];
    for (let i = 0; i < this.count; i++) if (!(this.times[i]! <= cutoff)) keep.push(i);
    const arrays = [this.ids, this.deadlines, this.times, this.seqs, this.sizes, this.flows];
    const kept = arrays.map((arr) => keep.map((i) => arr[i]!));
    [this.ids, this.deadlines, this.times, this.seqs, this.sizes, this.flows] = kept as [
      number[],
      number[],
      number[],
      number[],
      number[],
      number[],
    ];
    this.count = keep.length;
    this.bytes = 0;
    for (let i = 0; i < this.count; i++) this.bytes += this.sizes[i]!;
    for (let i = (this.count >> 1) - 1; i >= 0; i--) this.down(i);
    for (const [id, size, flow, t] of out) each(id, size, flow, t);
  }
}

function newStore(ordering: OrderingType): Store {
  return ordering === "slo-deadline-ordering-policy" ? new DeadlineHeap() : new Fifo();
}

/** One flow of a per-flow band. */
interface FlowQ {
  readonly id: string;
  /** Index into the queue's flow table (stats). */
  readonly index: number;
  readonly store: Store;
}

/** Counters of one flow (fairness id × priority). */
export interface FlowStats {
  readonly fairnessId: string;
  readonly priority: number;
  enqueued: number;
  dispatched: number;
  expired: number;
  /** Sum and maximum of the dispatched requests' queue waits (seconds). */
  waitSumS: number;
  waitMaxS: number;
}

class Band {
  readonly priority: number;
  readonly limits: BandLimits;
  readonly fairness: FairnessSpec;
  readonly ordering: OrderingType;
  /** program-aware: the queue's instance of the band's plugin. */
  readonly programAware: ProgramAwareFairness | undefined;
  /** Global-strict: one store for every flow. */
  readonly shared: Store | undefined;
  /** Per-flow fairness: flows sorted by fairness id (`FlowKey.Compare` within a band). */
  readonly flows: FlowQ[] = [];
  private readonly byId = new Map<string, FlowQ>();
  /** Round-robin cursor: the flow picked last. */
  last: FlowQ | undefined;
  count = 0;
  bytes = 0;
  constructor(priority: number, limits: BandLimits, programAware: ProgramAwareFairness | undefined) {
    this.priority = priority;
    this.limits = limits;
    this.fairness = limits.fairness;
    this.ordering = limits.ordering;
    this.programAware = programAware;
    this.shared = this.fairness.type === "global-strict-fairness-policy" ? newStore(this.ordering) : undefined;
  }
  flow(id: string, index: number): FlowQ {
    let f = this.byId.get(id);
    if (f === undefined) {
      f = { id, index, store: newStore(this.ordering) };
      this.byId.set(id, f);
      this.flows.push(f);
      this.flows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    }
    return f;
  }
}

export class FlowQueue {
  private readonly settings: FlowControlSettings;
  /** Bands by priority, highest first. */
  private bands: Band[] = [];
  private readonly byPriority = new Map<number, Band>();
  private readonly usage: UsageLimit;
  /** One instance per program-aware-fairness plugin (by name). */
  readonly programAware = new Map<string, ProgramAwareFairness>();
  private ceilings = new Float64Array(4);
  /** Per-flow counters (kept when some band has per-flow fairness). */
  readonly flowStats: FlowStats[] = [];
  /** Priority → fairness id → index into `flowStats`. */
  private readonly flowIndex = new Map<number, Map<string, number>>();
  private seq = 0;
  size = 0;
  bytes = 0;
  /** Largest number of queued requests seen. */
  peak = 0;
  /** The band index the last `pop` stopped at because saturation reached its ceiling (-1: none). */
  blockedAt = -1;

  constructor(settings: FlowControlSettings) {
    this.settings = settings;
    this.usage = new UsageLimit(settings.usageLimit);
    for (const { name, params } of settings.programAware) {
      this.programAware.set(name, new ProgramAwareFairness(name, params));
    }
    // Configured bands exist from the start (the registry provisions them, `registry.go` L173–L177); others on first
    // use (gatelab has no InferenceObjectives: a priority a request carries is a wanted band, never collected).
    for (const p of settings.bands.keys()) this.band(p);
  }

  /** Whether some band keeps per-flow queues (round-robin or program-aware fairness). */
  get perFlow(): boolean {
    return this.settings.perFlow;
  }

  private band(priority: number): Band {
    let b = this.byPriority.get(priority);
    if (b === undefined) {
      const limits = bandLimits(this.settings, priority);
      const pa = limits.fairness.programAware;
      b = new Band(priority, limits, pa !== undefined ? this.programAware.get(pa.name) : undefined);
      this.byPriority.set(priority, b);
      this.bands = [...this.bands, b].sort((x, y) => y.priority - x.priority);
      if (this.ceilings.length < this.bands.length) this.ceilings = new Float64Array(this.bands.length * 2);
    }
    return b;
  }

  private statIndex(fairnessId: string, priority: number): number {
    let byId = this.flowIndex.get(priority);
    if (byId === undefined) {
      byId = new Map();
      this.flowIndex.set(priority, byId);
    }
    let i = byId.get(fairnessId);
    if (i === undefined) {
      i = this.flowStats.length;
      this.flowStats.push({ fairnessId, priority, enqueued: 0, dispatched: 0, expired: 0, waitSumS: 0, waitMaxS: 0 });
      byId.set(fairnessId, i);
    }
    return i;
  }

  /**
   * Queues request `id` (priority, body bytes, fairness id, SLO deadline: absolute seconds, Infinity for none) at
   * `now`, unless a global or band cap would be exceeded.
   */
  enqueue(
    id: number,
    priority: number,
    bytes: number,
    now: number,
    fairnessId: string | undefined = undefined,
    deadline = Number.POSITIVE_INFINITY,
  ): EnqueueResult {
    const s = this.settings;
    if (this.size + 1 > s.maxRequests || this.bytes + bytes > s.maxBytes) return EnqueueResult.GlobalFull;
    const b = this.band(priority);
    if (b.count + 1 > b.limits.maxRequests || b.bytes + bytes > b.limits.maxBytes) return EnqueueResult.BandFull;
    const fid = fairnessId ?? DEFAULT_FAIRNESS_ID;
    const stat = s.perFlow ? this.statIndex(fid, priority) : -1;
    const seq = this.seq++;
    if (b.shared !== undefined) b.shared.push(id, now, bytes, stat, deadline, seq);
    else b.flow(fid, stat).store.push(id, now, bytes, stat, deadline, seq);
    if (stat >= 0) this.flowStats[stat]!.enqueued++;
    b.count++;
    b.bytes += bytes;
    this.size++;
    this.bytes += bytes;
    if (this.size > this.peak) this.peak = this.size;
    return EnqueueResult.Ok;
  }

  /**
   * One dispatch cycle's pick (`processor.go` L485–L528): the usage-limit policy's ceilings for the bands, highest
   * first; the first band whose ceiling `saturation` has reached stops the cycle (`blockedAt` says which); else the
   * first non-empty band's fairness policy picks a flow and its head leaves. Returns the request id, or -1.
   */
  pop(saturation = 0, now = 0): number {
    const n = this.bands.length;
    this.usage.compute(saturation, n, this.ceilings);
    this.blockedAt = -1;
    for (let i = 0; i < n; i++) {
      if (saturation >= this.ceilings[i]!) {
        this.blockedAt = i;
        return -1;
      }
      const b = this.bands[i]!;
      if (b.count > 0) return this.take(b, now);
    }
    return -1;
  }

  /** The flow stats index of the request the last `pop` returned (-1 when flows are not tracked). */
  lastFlow = -1;
  /** The program-aware plugin of the band the last `pop` picked from, when it picked by it. */
  lastProgramAware: ProgramAwareFairness | undefined;
  /** The fairness id of the flow the last `pop` picked from (per-flow bands only). */
  lastFairnessId: string | undefined;

  private take(b: Band, now: number): number {
    let store: Store;
    this.lastProgramAware = undefined;
    this.lastFairnessId = undefined;
    if (b.shared !== undefined) store = b.shared;
    else {
      const f = b.fairness.type === "round-robin-fairness-policy" ? this.roundRobin(b) : this.pickProgramAware(b, now);
      store = f.store;
      this.lastFairnessId = f.id;
      this.lastProgramAware = b.programAware;
    }
    const id = store.shift();
    this.lastFlow = store.outFlow;
    b.count--;
    b.bytes -= store.outSize;
    if (b.count === 0) b.bytes = 0;
    this.size--;
    this.bytes -= store.outSize;
    if (this.size === 0) this.bytes = 0;
    if (store.outFlow >= 0) {
      const st = this.flowStats[store.outFlow]!;
      st.dispatched++;
      const w = now - store.outTime;
      st.waitSumS += w;
      if (w > st.waitMaxS) st.waitMaxS = w;
    }
    return id;
  }

  /** `roundrobin.go` L81–L127: the next non-empty flow after the last one picked, in sorted order. */
  private roundRobin(b: Band): FlowQ {
    const flows = b.flows;
    const n = flows.length;
    const last = b.last !== undefined ? flows.indexOf(b.last) : -1;
    const start = last >= 0 ? (last + 1) % n : 0;
    for (let k = 0; k < n; k++) {
      const f = flows[(start + k) % n]!;
      if (f.store.count > 0) {
        b.last = f;
        return f;
      }
    }
    throw new Error("round-robin: band count > 0 but every flow is empty");
  }

  /** `program-aware-fairness` (LAS) over the band's non-empty flows (policies.ts). */
  private pickProgramAware(b: Band, now: number): FlowQ {
    const pa = b.programAware!;
    let minS = 0;
    let maxS = 0;
    let minW = 0;
    let maxW = 0;
    let first = true;
    for (const f of b.flows) {
      if (f.store.count === 0) continue;
      const s = pa.service(f.id, now);
      // time.Since(enqueue).Milliseconds(): whole milliseconds, truncated.
      const w = Math.trunc((now - f.store.headTime()) * 1000 + 1e-9);
      if (first) {
        minS = maxS = s;
        minW = maxW = w;
        first = false;
      } else {
        minS = Math.min(minS, s);
        maxS = Math.max(maxS, s);
        minW = Math.min(minW, w);
        maxW = Math.max(maxW, w);
      }
    }
    let best: FlowQ | undefined;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (const f of b.flows) {
      if (f.store.count === 0) continue;
      const s = pa.service(f.id, now);
      const w = Math.trunc((now - f.store.headTime()) * 1000 + 1e-9);
      const score = pa.score(s, w, minS, maxS, minW, maxW);
      if (score > bestScore) {
        bestScore = score;
        best = f;
      }
    }
    return best!;
  }

  /** Removes every request queued at or before `deadline` (enqueue time ≤ now − TTL), calling `expire(id)`. */
  expire(deadline: number, expire: (id: number) => void): void {
    const each = (id: number, size: number, flow: number, b: Band) => {
      b.count--;
      b.bytes -= size;
      if (b.count === 0) b.bytes = 0;
      this.size--;
      this.bytes -= size;
      if (this.size === 0) this.bytes = 0;
      if (flow >= 0) this.flowStats[flow]!.expired++;
      expire(id);
    };
    for (const b of this.bands) {
      if (b.count === 0) continue;
      if (b.shared !== undefined) b.shared.expire(deadline, (id, size, flow) => each(id, size, flow, b));
      else for (const f of b.flows) f.store.expire(deadline, (id, size, flow) => each(id, size, flow, b));
    }
  }

  /** Requests queued per band, highest priority first (reports, tests). */
  bandSizes(): { priority: number; count: number; bytes: number }[] {
    return this.bands.map((b) => ({ priority: b.priority, count: b.count, bytes: b.bytes }));
  }
}
