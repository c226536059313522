/**
 * The event queue: a binary min-heap on (time, seq) in parallel typed arrays, with an int32 kind and an int32 argument
 * per event. Equal times pop in insertion (seq) order, which makes the simulation deterministic. `push` returns the
 * event's handle (its seq); `cancel(handle)` marks it, and it pops with `lastCancelled` set (its time still passes, so
 * cancelling changes no other event's order).
 *
 * Written by hand because measurement says so: 4–6× faster than every npm heap tried, half the memory
 * (docs/reference.md#event-heap).
 */
export class EventHeap {
  private time: Float64Array;
  private seq: Float64Array;
  private kind: Int32Array;
  private arg: Int32Array;
  /** Simulated time at which each event was pushed (orders ties the way a step-by-step run would, see replica.ts). */
  private pushed: Float64Array;
  private n = 0;
  private nextSeq = 0;
  /** Time, kind and argument of the event last popped. */
  lastTime = 0;
  lastKind = 0;
  lastArg = 0;
  /** Push time of the event last popped. */
  lastPushTime = 0;
  /** Current simulated time, set by the engine; recorded as the push time of new events. */
  now = 0;
  /** Whether the event last popped had been cancelled (its owner no longer wants it). */
  lastCancelled = false;
  /** Handles of cancelled events not popped yet. */
  private readonly cancelled = new Set<number>();

  constructor(capacity = 1024) {
    this.time = new Float64Array(capacity);
    this.seq = new Float64Array(capacity);
    this.kind = new Int32Array(capacity);
    this.arg = new Int32Array(capacity);
    this.pushed = new Float64Array(capacity);
  }

  get size(): number {
    return this.n;
  }

  /** Time of the earliest event (Infinity when empty). */
  peekTime(): number {
    return this.n > 0 ? this.time[0]! : Number.POSITIVE_INFINITY;
  }

  /** Schedules an event; returns its handle (for `cancel`). */
  push(t: number, kind: number, arg: number): number {
    if (this.n === this.time.length) this.grow();
    const s = this.nextSeq++;
    const T = this.time;
    const S = this.seq;
    const K = this.kind;
    const A = this.arg;
    const P = this.pushed;
    let i = this.n++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = T[p]!;
      if (pt < t || (pt === t && S[p]! < s)) break;
      T[i] = pt;
      S[i] = S[p]!;
      K[i] = K[p]!;
      A[i] = A[p]!;
      P[i] = P[p]!;
      i = p;
    }
    T[i] = t;
    S[i] = s;
    K[i] = kind;
    A[i] = arg;
    P[i] = this.now;
    return s;
  }

  /** Cancels a pending event by the handle `push` returned. */
  cancel(handle: number): void {
    this.cancelled.add(handle);
  }

  /** Removes the earliest event into `lastTime`, `lastKind`, `lastArg`. Returns false when empty. */
  pop(): boolean {
    if (this.n === 0) return false;
    const T = this.time;
    const S = this.seq;
    const K = this.kind;
    const A = this.arg;
    const P = this.pushed;
    this.lastTime = T[0]!;
    this.lastKind = K[0]!;
    this.lastArg = A[0]!;
    this.lastPushTime = P[0]!;
    this.lastCancelled = this.cancelled.size > 0 && this.cancelled.delete(S[0]!);
    const last = --this.n;
    if (last === 0) return true;
    const t = T[last]!;
    const s = S[last]!;
    const k = K[last]!;
    const a = A[last]!;
    const pp = P[last]!;
    let i = 0;
    const half = last >> 1;
    while (i < half) {
      let c = 2 * i + 1;
      const r = c + 1;
      if (r < last && (T[r]! < T[c]! || (T[r] === T[c] && S[r]! < S[c]!))) c = r;
      const ct = T[c]!;
      if (t < ct || (t === ct && s < S[c]!)) break;
      T[i] = ct;
      S[i] = S[c]!;
      K[i] = K[c]!;
      A[i] = A[c]!;
      P[i] = P[c]!;
      i = c;
    }
    T[i] = t;
    S[i] = s;
    K[i] = k;
    A[i] = a;
    P[i] = pp;
    return true;
  }

  private grow(): void {
    const cap = this.time.length * 2;
    const t = new Float64Array(cap);
    t.set(this.time);
    this.time = t;
    const s = new Float64Array(cap);
    s.set(this.seq);
    this.seq = s;
    const k = new Int32Array(cap);
    k.set(this.kind);
    this.kind = k;
    const a = new Int32Array(cap);
    a.set(this.arg);
    this.arg = a;
    const p = new Float64Array(cap);
    p.set(this.pushed);
    this.pushed = p;
  }
}
