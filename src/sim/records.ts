/**
 * Per-request records, columnar (one typed array per field, indexed by request id), and the ITL sample store.
 * Times are seconds from the start of the run, client-visible (per-request overheads included).
 */
import { Outcome } from "./outcomes.ts";

class F64Col {
  data: Float64Array;
  constructor(cap: number, fill = 0) {
    this.data = new Float64Array(cap);
    if (fill !== 0) this.data.fill(fill);
  }
}

/** Interns strings to small integers (class, tenant, source names) in first-seen order. */
export class Interner {
  readonly names: string[] = [];
  private readonly map = new Map<string, number>();
  id(name: string): number {
    let i = this.map.get(name);
    if (i === undefined) {
      i = this.names.length;
      this.names.push(name);
      this.map.set(name, i);
    }
    return i;
  }
}

export class RequestTable {
  /** Rows in use (max request id + 1). */
  size = 0;
  private cap: number;
  arrival: Float64Array;
  dispatch: Float64Array;
  enqueue: Float64Array;
  admit: Float64Array;
  firstToken: Float64Array;
  completion: Float64Array;
  input: Float64Array;
  output: Float64Array;
  cached: Float64Array;
  replica: Int32Array;
  outcome: Uint8Array;
  /** HTTP-like status for failures (429, 503, 413 for never-fits), 200 for completed. */
  status: Int16Array;
  attempts: Int32Array;
  preemptions: Int32Array;
  sloClass: Int32Array;
  tenant: Int32Array;
  source: Int32Array;
  /** Why the gateway dropped the request (`DROP_REASONS`), 0 otherwise: summaries split drops by cause. */
  dropReason: Uint8Array;
  /** Seconds spent in the gateway's flow-control queue, over all attempts (empty when the run has no admission
   * layer: nothing writes it then, and it would cost 8 bytes a request). */
  gatewayWait: Float64Array;
  /** Degradation applied to the last attempt: bit 1 rerouted to another pool, bit 2 output capped (empty without an
   * admission layer). */
  degraded: Uint8Array;
  /** Whether the admission-layer columns (`gatewayWait`, `degraded`) are kept. */
  private readonly gateway: boolean;
  readonly classes = new Interner();
  readonly tenants = new Interner();
  readonly sources = new Interner();

  /**
   * `cap`: rows allocated up front (the engine passes the scenario's request count, so a run of known size never
   * copies its columns to grow them: doubling holds old and new columns at once, 1.5× the table at its peak).
   * `gateway`: keep the admission-layer columns.
   */
  constructor(cap = 1024, gateway = true) {
    cap = Math.max(1, cap);
    this.cap = cap;
    this.gateway = gateway;
    this.arrival = new Float64Array(cap);
    this.dispatch = new F64Col(cap, -1).data;
    this.enqueue = new F64Col(cap, -1).data;
    this.admit = new F64Col(cap, -1).data;
    this.firstToken = new F64Col(cap, -1).data;
    this.completion = new F64Col(cap, -1).data;
    this.input = new Float64Array(cap);
    this.output = new Float64Array(cap);
    this.cached = new Float64Array(cap);
    this.replica = new Int32Array(cap).fill(-1);
    this.outcome = new Uint8Array(cap);
    this.status = new Int16Array(cap);
    this.attempts = new Int32Array(cap);
    this.preemptions = new Int32Array(cap);
    this.sloClass = new Int32Array(cap);
    this.tenant = new Int32Array(cap);
    this.source = new Int32Array(cap);
    this.dropReason = new Uint8Array(cap);
    this.gatewayWait = new Float64Array(gateway ? cap : 0);
    this.degraded = new Uint8Array(gateway ? cap : 0);
  }

  /** Makes room for row `id`. */
  ensure(id: number): void {
    if (id >= this.cap) {
      let cap = this.cap * 2;
      while (cap <= id) cap *= 2;
      const g64 = (a: Float64Array, fill: number) => {
        const b = new Float64Array(cap);
        if (fill !== 0) b.fill(fill, a.length);
        b.set(a);
        return b;
      };
      const g32 = (a: Int32Array, fill: number) => {
        const b = new Int32Array(cap);
        if (fill !== 0) b.fill(fill, a.length);
        b.set(a);
        return b;
      };
      this.arrival = g64(this.arrival, 0);
      this.dispatch = g64(this.dispatch, -1);
      this.enqueue = g64(this.enqueue, -1);
      this.admit = g64(this.admit, -1);
      this.firstToken = g64(this.firstToken, -1);
      this.completion = g64(this.completion, -1);
      this.input = g64(this.input, 0);
      this.output = g64(this.output, 0);
      this.cached = g64(this.cached, 0);
      this.replica = g32(this.replica, -1);
      const o = new Uint8Array(cap);
      o.set(this.outcome);
      this.outcome = o;
      const st = new Int16Array(cap);
      st.set(this.status);
      this.status = st;
      this.attempts = g32(this.attempts, 0);
      this.preemptions = g32(this.preemptions, 0);
      this.sloClass = g32(this.sloClass, 0);
      this.tenant = g32(this.tenant, 0);
      this.source = g32(this.source, 0);
      const dr = new Uint8Array(cap);
      dr.set(this.dropReason);
      this.dropReason = dr;
      if (this.gateway) {
        this.gatewayWait = g64(this.gatewayWait, 0);
        const dg = new Uint8Array(cap);
        dg.set(this.degraded);
        this.degraded = dg;
      }
      this.cap = cap;
    }
    if (id >= this.size) this.size = id + 1;
  }

  /** Count of rows with each outcome. */
  countOutcomes(): { total: number; completed: number; rejected: number; dropped: number; pending: number } {
    let completed = 0;
    let rejected = 0;
    let dropped = 0;
    let pending = 0;
    for (let i = 0; i < this.size; i++) {
      const o = this.outcome[i];
      if (o === Outcome.Completed) completed++;
      else if (o === Outcome.Rejected) rejected++;
      else if (o === Outcome.Dropped) dropped++;
      else pending++;
    }
    return { total: this.size, completed, rejected, dropped, pending };
  }
}

/**
 * Inter-token latency samples as (value, count) pairs, one per distinct value: in a step every decoding request gets
 * a token after the same gap, and steps of equal shape repeat the same gap, so equal values are merged wherever they
 * occur (an open-addressing index over the values' bits finds a value's pair). Percentiles over the pairs are exact
 * (numpy linear interpolation over the expanded sample list) and depend only on the multiset of samples, while memory
 * grows with distinct gaps, not with tokens or steps (at 1M chat requests the per-step runs were ~190 bytes a
 * request). `values[0..runs)` / `counts[0..runs)` are in first-seen order.
 */
export class WeightedSamples {
  values: Float64Array = new Float64Array(1024);
  counts: Float64Array = new Float64Array(1024);
  /** Pairs in use. */
  runs = 0;
  total = 0;
  /** Slot → pair index (-1: empty), keyed by a hash of the value's bits; twice as many slots as pairs at most. */
  private slots: Int32Array = new Int32Array(2048).fill(-1);
  private readonly bits = new Float64Array(1);
  private readonly words = new Int32Array(this.bits.buffer);

  add(v: number, count = 1): void {
    this.total += count;
    const r = this.runs;
    // The common case: the same gap as the previous sample (a step's decoding requests).
    if (r > 0 && this.values[r - 1] === v) {
      this.counts[r - 1]! += count;
      return;
    }
    const slots = this.slots;
    const mask = slots.length - 1;
    let i = this.slotOf(v) & mask;
    for (;;) {
      const p = slots[i]!;
      if (p < 0) break;
      if (this.values[p] === v) {
        this.counts[p]! += count;
        return;
      }
      i = (i + 1) & mask;
    }
    if (r === this.values.length) {
      const nv = new Float64Array(r * 2);
      nv.set(this.values);
      this.values = nv;
      const nc = new Float64Array(r * 2);
      nc.set(this.counts);
      this.counts = nc;
    }
    this.values[r] = v;
    this.counts[r] = count;
    this.runs = r + 1;
    if ((r + 1) * 2 > slots.length) this.reindex(slots.length * 2);
    else slots[i] = r;
  }

  /** A hash of `v`'s bits (both halves mixed). */
  private slotOf(v: number): number {
    this.bits[0] = v;
    return Math.imul(this.words[0]! ^ Math.imul(this.words[1]!, 0x9e3779b1), 0x85ebca6b) >>> 7;
  }

  private reindex(size: number): void {
    const slots = new Int32Array(size).fill(-1);
    const mask = size - 1;
    for (let p = 0; p < this.runs; p++) {
      let i = this.slotOf(this.values[p]!) & mask;
      while (slots[i] !== -1) i = (i + 1) & mask;
      slots[i] = p;
    }
    this.slots = slots;
  }
}
