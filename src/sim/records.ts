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

/** A copy of `a` with `cap` elements, of the same type (new elements `fill`). */
function grow<T extends Int32Array | Float64Array | Uint8Array | Uint16Array | Int16Array>(
  a: T,
  cap: number,
  fill = 0,
): T {
  const b = new (a.constructor as new (n: number) => T)(cap);
  if (fill !== 0) b.fill(fill, a.length);
  b.set(a);
  return b;
}

/** A token-count column that holds `v`: Uint16 while every value is a 16-bit count, then Int32, then Float64. */
function tokensFit(col: Uint16Array | Int32Array | Float64Array, v: number): Uint16Array | Int32Array | Float64Array {
  if (col instanceof Float64Array) return col;
  if ((v | 0) !== v) return Float64Array.from(col);
  if (col instanceof Uint16Array && (v < 0 || v > 0xffff)) return Int32Array.from(col);
  return col;
}

/** The status a row with outcome `o` has unless told otherwise (`RequestTable.status`). */
function usualStatus(o: number): number {
  return o === Outcome.Completed ? 200 : o === Outcome.Rejected ? 413 : 0;
}

/** A small-count column that holds `v`: Uint8 while every value is below 256, then Int32. */
function smallFit(col: Uint8Array | Int32Array, v: number): Uint8Array | Int32Array {
  return col instanceof Uint8Array && (v < 0 || v > 255) ? Int32Array.from(col) : col;
}

export class RequestTable {
  /** Rows in use (max request id + 1). */
  size = 0;
  private cap: number;
  arrival: Float64Array;
  /** Dispatch times (see `dispatch`); empty while they are derived. */
  private dispatchCol: Float64Array;
  /**
   * Whether dispatch times are derived, not stored: without an admission layer the router runs at the arrival, so a
   * routed row's dispatch time is its arrival (and -1 while unrouted) — 8 bytes a request not kept. The first
   * dispatch at another time stores the column (`setDispatch`).
   */
  private dispatchDerived: boolean;
  /**
   * Enqueue times (when a replica's engine got the request): derived while they follow the engine's rule — the
   * dispatch, plus the replica's `preQueue` and `preQueuePerInputToken` × prompt tokens, the same float operations
   * the engine does (`deriveEnqueue`) — and stored from the first one that does not (a P/D request enqueued on its
   * prefill pod): 8 bytes a request not kept. Read `enqueueAt(i)`.
   */
  private enqueueCol: Float64Array | undefined;
  private enqueueRule: { readonly pre: Float64Array; readonly perToken: Float64Array } | undefined;
  admit: Float64Array;
  firstToken: Float64Array;
  completion: Float64Array;
  /**
   * Token counts: whole numbers, kept in a Uint16Array (2 bytes a request instead of 8); a column becomes an
   * Int32Array at its first count above 65,535 and a Float64Array at its first value that is not a 32-bit integer,
   * so every value reads back exactly. Write through `setInput` / `setOutput` / `setCached`.
   */
  input: Uint16Array | Int32Array | Float64Array;
  output: Uint16Array | Int32Array | Float64Array;
  cached: Uint16Array | Int32Array | Float64Array;
  /** Replica of the last attempt (-1: never routed); an Int16Array up to 32,767 replicas. Write through `setReplica`. */
  replica: Int16Array | Int32Array;
  outcome: Uint8Array;
  /**
   * HTTP-like status for failures (429, 503, 413 for never-fits), 200 for completed. Not stored while every status
   * is its outcome's usual one (200 completed, 413 rejected by a replica, 0 pending): the first other status (a
   * drop), or a read of `status`, stores the column. Written with the outcome by `setEnd`.
   */
  private st: Int16Array | undefined;
  get status(): Int16Array {
    if (this.st === undefined) {
      const st = new Int16Array(this.cap);
      for (let i = 0; i < this.size; i++) st[i] = usualStatus(this.outcome[i]!);
      this.st = st;
    }
    return this.st;
  }
  /** Attempts and preemptions: Uint8Arrays while every count is below 256 (`setAttempts`, `setPreemptions`). */
  attempts: Uint8Array | Int32Array;
  preemptions: Uint8Array | Int32Array;
  /**
   * Interned class / tenant / source ids: a Uint8Array while every id is below 256, else an Int32Array (`setGroups`).
   * Not allocated while every id written is 0 (one class, one tenant, one source: most runs), nor the drop causes
   * while nothing was dropped: the first nonzero write, or the first read, allocates the column (zeros).
   */
  private cls: Uint8Array | Int32Array | undefined;
  private ten: Uint8Array | Int32Array | undefined;
  private src: Uint8Array | Int32Array | undefined;
  private drop: Uint8Array | undefined;
  get sloClass(): Uint8Array | Int32Array {
    if (this.cls === undefined) this.cls = new Uint8Array(this.cap);
    return this.cls;
  }
  get tenant(): Uint8Array | Int32Array {
    if (this.ten === undefined) this.ten = new Uint8Array(this.cap);
    return this.ten;
  }
  get source(): Uint8Array | Int32Array {
    if (this.src === undefined) this.src = new Uint8Array(this.cap);
    return this.src;
  }
  /** Why the gateway dropped the request (`DROP_REASONS`), 0 otherwise: summaries split drops by cause. */
  get dropReason(): Uint8Array {
    if (this.drop === undefined) this.drop = new Uint8Array(this.cap);
    return this.drop;
  }
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
    this.dispatchDerived = !gateway;
    this.dispatchCol = gateway ? new F64Col(cap, -1).data : new Float64Array(0);
    this.admit = new F64Col(cap, -1).data;
    this.firstToken = new F64Col(cap, -1).data;
    this.completion = new F64Col(cap, -1).data;
    this.input = new Uint16Array(cap);
    this.output = new Uint16Array(cap);
    this.cached = new Uint16Array(cap);
    this.replica = new Int16Array(cap).fill(-1);
    this.outcome = new Uint8Array(cap);
    this.attempts = new Uint8Array(cap);
    this.preemptions = new Uint8Array(cap);
    this.gatewayWait = new Float64Array(gateway ? cap : 0);
    this.degraded = new Uint8Array(gateway ? cap : 0);
  }

  /** Makes room for row `id`. */
  ensure(id: number): void {
    if (id >= this.cap) {
      let cap = this.cap * 2;
      while (cap <= id) cap *= 2;
      this.arrival = grow(this.arrival, cap);
      if (!this.dispatchDerived) this.dispatchCol = grow(this.dispatchCol, cap, -1);
      if (this.enqueueCol !== undefined) this.enqueueCol = grow(this.enqueueCol, cap, -1);
      this.admit = grow(this.admit, cap, -1);
      this.firstToken = grow(this.firstToken, cap, -1);
      this.completion = grow(this.completion, cap, -1);
      this.input = grow(this.input, cap);
      this.output = grow(this.output, cap);
      this.cached = grow(this.cached, cap);
      this.replica = grow(this.replica, cap, -1);
      this.outcome = grow(this.outcome, cap);
      if (this.st !== undefined) this.st = grow(this.st, cap);
      this.attempts = grow(this.attempts, cap);
      this.preemptions = grow(this.preemptions, cap);
      if (this.cls !== undefined) this.cls = grow(this.cls, cap);
      if (this.ten !== undefined) this.ten = grow(this.ten, cap);
      if (this.src !== undefined) this.src = grow(this.src, cap);
      if (this.drop !== undefined) this.drop = grow(this.drop, cap);
      if (this.gateway) {
        this.gatewayWait = grow(this.gatewayWait, cap);
        this.degraded = grow(this.degraded, cap);
      }
      this.cap = cap;
    }
    if (id >= this.size) this.size = id + 1;
  }

  /** When row `i` was dispatched to a replica (its last attempt), -1 if never. */
  dispatchAt(i: number): number {
    if (this.dispatchDerived) return this.replica[i]! >= 0 ? this.arrival[i]! : -1;
    return this.dispatchCol[i]!;
  }

  /**
   * Derive enqueue times from each replica's pre-queue overheads (by replica index) until one does not follow them.
   * Called by the engine before the first row.
   */
  deriveEnqueue(pre: Float64Array, perToken: Float64Array): void {
    if (this.size > 0 || this.enqueueCol !== undefined) return;
    this.enqueueRule = { pre, perToken };
  }

  /** When row `i` was enqueued on a replica (its last attempt), -1 if never. */
  enqueueAt(i: number): number {
    const rule = this.enqueueRule;
    if (rule === undefined) return this.enqueueCol !== undefined ? this.enqueueCol[i]! : -1;
    const r = this.replica[i]!;
    if (r < 0) return -1;
    return this.dispatchAt(i) + rule.pre[r]! + rule.perToken[r]! * this.input[i]!;
  }

  /** Row `id` enqueued at `t` (after its dispatch and replica are set). */
  setEnqueue(id: number, t: number): void {
    if (this.enqueueRule !== undefined) {
      if (this.enqueueAt(id) === t) return;
      this.storeEnqueue();
    }
    if (this.enqueueCol === undefined) this.enqueueCol = new F64Col(this.cap, -1).data;
    this.enqueueCol[id] = t;
  }

  /** Enqueue times of every row (-1: never enqueued); stores the column if it was derived. */
  get enqueue(): Float64Array {
    if (this.enqueueCol === undefined || this.enqueueRule !== undefined) this.storeEnqueue();
    return this.enqueueCol!;
  }

  private storeEnqueue(): void {
    const col = new F64Col(this.cap, -1).data;
    if (this.enqueueRule !== undefined) for (let i = 0; i < this.size; i++) col[i] = this.enqueueAt(i);
    else if (this.enqueueCol !== undefined) col.set(this.enqueueCol);
    this.enqueueCol = col;
    this.enqueueRule = undefined;
  }

  /** Row `id` dispatched at `t` (before its `replica` is set). */
  setDispatch(id: number, t: number): void {
    if (this.dispatchDerived) {
      if (t === this.arrival[id]) return;
      this.storeDispatch();
    }
    this.dispatchCol[id] = t;
  }

  /** Dispatch times of every row (-1: never dispatched); stores the column if it was derived. */
  get dispatch(): Float64Array {
    if (this.dispatchDerived) this.storeDispatch();
    return this.dispatchCol;
  }

  private storeDispatch(): void {
    const col = new Float64Array(this.cap).fill(-1);
    for (let i = 0; i < this.size; i++) if (this.replica[i]! >= 0) col[i] = this.arrival[i]!;
    this.dispatchCol = col;
    this.dispatchDerived = false;
  }

  /** How row `id` ended (so far): its outcome and status. */
  setEnd(id: number, outcome: Outcome, status: number): void {
    this.outcome[id] = outcome;
    if (this.st === undefined && status === usualStatus(outcome)) return;
    this.status[id] = status;
  }

  /** Prompt tokens of row `id`. */
  setInput(id: number, v: number): void {
    this.input = tokensFit(this.input, v);
    this.input[id] = v;
  }

  /** Output tokens of row `id`. */
  setOutput(id: number, v: number): void {
    this.output = tokensFit(this.output, v);
    this.output[id] = v;
  }

  /** Cached prompt tokens of row `id`. */
  setCached(id: number, v: number): void {
    this.cached = tokensFit(this.cached, v);
    this.cached[id] = v;
  }

  /** Replica of row `id`'s attempt. */
  setReplica(id: number, r: number): void {
    if (this.replica instanceof Int16Array && r > 0x7fff) this.replica = Int32Array.from(this.replica);
    this.replica[id] = r;
  }

  /** Attempts of row `id` so far. */
  setAttempts(id: number, n: number): void {
    this.attempts = smallFit(this.attempts, n);
    this.attempts[id] = n;
  }

  /** Preemptions of row `id`. */
  setPreemptions(id: number, n: number): void {
    this.preemptions = smallFit(this.preemptions, n);
    this.preemptions[id] = n;
  }

  /** Interned class, tenant and source ids of row `id`. */
  setGroups(id: number, cls: number, tenant: number, source: number): void {
    if (cls !== 0 || this.cls !== undefined) {
      this.cls = smallFit(this.sloClass, cls);
      this.cls[id] = cls;
    }
    if (tenant !== 0 || this.ten !== undefined) {
      this.ten = smallFit(this.tenant, tenant);
      this.ten[id] = tenant;
    }
    if (source !== 0 || this.src !== undefined) {
      this.src = smallFit(this.source, source);
      this.src[id] = source;
    }
  }

  /** Drop cause of row `id` (`DROP_REASONS`). */
  setDropReason(id: number, cause: number): void {
    if (cause !== 0 || this.drop !== undefined) this.dropReason[id] = cause;
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
 * occur. Percentiles over the pairs are exact (numpy linear interpolation over the expanded sample list) and depend
 * only on the multiset of samples, while memory grows with distinct gaps, not with tokens or steps (at 1M chat
 * requests the per-step runs were ~190 bytes a request; distinct gaps are ~2 a request).
 *
 * The pairs live in an open-addressing table keyed by a hash of the value's bits, value and count side by side (16
 * bytes a slot, at most 7/8 full): merging a gap reads one slot, one cache line. (Values, counts and an index of
 * pair numbers in three arrays took three cache misses an add at 1M chat requests, the index and the pairs being
 * tens of MB: 8 % of `chat-1m`'s CPU.) Counts are exact in float64 (to 2^53 tokens).
 */
export class WeightedSamples {
  /** Slot i: a value at `t[2i]` (NaN: empty), its count at `t[2i + 1]`. */
  private t: Float64Array = new Float64Array(2 * 2048).fill(Number.NaN);
  /** Slots − 1 (a power of two). */
  private mask = 2047;
  /** Distinct values. */
  runs = 0;
  /** Samples (Σ counts). */
  total = 0;
  /** The slot of the previous add's value (-1: none): the common case is the same gap again. */
  private last = -1;
  private readonly bits = new Float64Array(1);
  private readonly words = new Int32Array(this.bits.buffer);

  add(v: number, count = 1): void {
    this.total += count;
    const t = this.t;
    const l = this.last;
    if (l >= 0 && t[2 * l] === v) {
      t[2 * l + 1]! += count;
      return;
    }
    const mask = this.mask;
    let i = this.slotOf(v) & mask;
    for (;;) {
      const x = t[2 * i]!;
      if (x === v) {
        t[2 * i + 1]! += count;
        this.last = i;
        return;
      }
      if (Number.isNaN(x)) break; // empty
      i = (i + 1) & mask;
    }
    t[2 * i] = v;
    t[2 * i + 1] = count;
    this.last = i;
    if (++this.runs * 8 > (mask + 1) * 7) this.grow();
  }

  /**
   * The distinct values with their counts, in the table's order (no sort; counts a `Uint32Array` while the total
   * fits in 32 bits, else a `Float64Array`).
   */
  pairs(): { values: Float64Array; counts: Uint32Array | Float64Array } {
    const t = this.t;
    const n = this.runs;
    const values = new Float64Array(n);
    const counts = this.total <= 0xffffffff ? new Uint32Array(n) : new Float64Array(n);
    for (let i = 0, k = 0; k < n; i++) {
      const x = t[2 * i]!;
      if (Number.isNaN(x)) continue;
      values[k] = x;
      counts[k++] = t[2 * i + 1]!;
    }
    return { values, counts };
  }

  /** A hash of `v`'s bits (both halves mixed). */
  private slotOf(v: number): number {
    this.bits[0] = v;
    return Math.imul(this.words[0]! ^ Math.imul(this.words[1]!, 0x9e3779b1), 0x85ebca6b) >>> 7;
  }

  /** Twice the slots, every pair moved to its new place. */
  private grow(): void {
    const old = this.t;
    const oldSlots = this.mask + 1;
    const mask = oldSlots * 2 - 1;
    const t = new Float64Array(4 * oldSlots).fill(Number.NaN);
    for (let j = 0; j < oldSlots; j++) {
      const v = old[2 * j]!;
      if (Number.isNaN(v)) continue;
      let i = this.slotOf(v) & mask;
      while (!Number.isNaN(t[2 * i]!)) i = (i + 1) & mask;
      t[2 * i] = v;
      t[2 * i + 1] = old[2 * j + 1]!;
    }
    this.t = t;
    this.mask = mask;
    this.last = -1;
  }
}
