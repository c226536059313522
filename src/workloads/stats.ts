import { blockHashes, type Segment } from "../sim/hash.ts";
import { quantileSorted } from "../sim/quantile.ts";
import type { Request } from "../sim/request.ts";

/** Open-addressing set of non-negative 52-bit integers (block hashes) in a Float64Array. */
export class HashSet52 {
  private keys: Float64Array;
  private mask: number;
  size = 0;

  constructor(capacity = 1 << 16) {
    let c = 16;
    while (c < capacity * 2) c *= 2;
    this.keys = new Float64Array(c).fill(-1);
    this.mask = c - 1;
  }

  private static slot(h: number, mask: number): number {
    return ((h % 4294967296) ^ Math.floor(h / 4294967296)) & mask;
  }

  has(h: number): boolean {
    const K = this.keys;
    let i = HashSet52.slot(h, this.mask);
    for (;;) {
      const k = K[i]!;
      if (k === h) return true;
      if (k === -1) return false;
      i = (i + 1) & this.mask;
    }
  }

  /** Adds h; returns true if it was new. */
  add(h: number): boolean {
    if ((this.size + 1) * 2 > this.keys.length) this.grow();
    const K = this.keys;
    let i = HashSet52.slot(h, this.mask);
    for (;;) {
      const k = K[i]!;
      if (k === h) return false;
      if (k === -1) {
        K[i] = h;
        this.size++;
        return true;
      }
      i = (i + 1) & this.mask;
    }
  }

  private grow(): void {
    const old = this.keys;
    this.keys = new Float64Array(old.length * 2).fill(-1);
    this.mask = this.keys.length - 1;
    this.size = 0;
    for (const k of old) if (k !== -1) this.add(k);
  }
}

/**
 * An LRU cache of `capacity` blocks keyed by block hash: a linear-probing index (backward-shift deletion) over slots
 * linked in recency order (typed arrays; no allocation per access).
 */
export class BlockLru {
  readonly capacity: number;
  private readonly key: Float64Array;
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private readonly table: Int32Array; // slot index + 1; 0 = empty
  private readonly mask: number;
  private head = -1; // most recent
  private tail = -1; // least recent
  size = 0;

  constructor(capacity: number) {
    this.capacity = Math.max(0, Math.floor(capacity));
    const n = Math.max(1, this.capacity);
    this.key = new Float64Array(n);
    this.prev = new Int32Array(n);
    this.next = new Int32Array(n);
    let c = 16;
    while (c < n * 2) c *= 2;
    this.table = new Int32Array(c);
    this.mask = c - 1;
  }

  private home(h: number): number {
    return ((h % 4294967296) ^ Math.floor(h / 4294967296)) & this.mask;
  }

  private find(h: number): number {
    let i = this.home(h);
    for (;;) {
      const s = this.table[i]!;
      if (s === 0) return -1;
      if (this.key[s - 1] === h) return i;
      i = (i + 1) & this.mask;
    }
  }

  has(h: number): boolean {
    return this.capacity > 0 && this.find(h) >= 0;
  }

  private unlink(s: number): void {
    const p = this.prev[s]!;
    const n = this.next[s]!;
    if (p >= 0) this.next[p] = n;
    else this.head = n;
    if (n >= 0) this.prev[n] = p;
    else this.tail = p;
  }

  private pushFront(s: number): void {
    this.prev[s] = -1;
    this.next[s] = this.head;
    if (this.head >= 0) this.prev[this.head] = s;
    this.head = s;
    if (this.tail < 0) this.tail = s;
  }

  private removeAt(i: number): void {
    // Backward-shift deletion keeps probe chains intact.
    const T = this.table;
    T[i] = 0;
    let j = (i + 1) & this.mask;
    while (T[j] !== 0) {
      const s = T[j]!;
      const h = this.home(this.key[s - 1]!);
      // Move s back to i if its home is not cyclically in (i, j].
      if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
        T[i] = s;
        T[j] = 0;
        i = j;
      }
      j = (j + 1) & this.mask;
    }
  }

  /** Inserts h as most recent (or touches it). */
  touch(h: number): void {
    if (this.capacity === 0) return;
    const i = this.find(h);
    if (i >= 0) {
      const s = this.table[i]! - 1;
      if (this.head !== s) {
        this.unlink(s);
        this.pushFront(s);
      }
      return;
    }
    let s: number;
    if (this.size < this.capacity) s = this.size++;
    else {
      s = this.tail;
      this.unlink(s);
      this.removeAt(this.find(this.key[s]!));
    }
    this.key[s] = h;
    this.pushFront(s);
    let j = this.home(h);
    while (this.table[j] !== 0) j = (j + 1) & this.mask;
    this.table[j] = s + 1;
  }
}

export interface LengthStats {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
}

export interface TraceStats {
  requests: number;
  /** Last arrival − first arrival (s). */
  duration_s: number;
  first_arrival_s: number;
  rate: {
    /** Requests / duration. */
    mean_per_s: number;
    mean_per_min: number;
    /** Most requests in one 1-s bin [k, k+1) and one 60-s bin [60k, 60k+60) of the stream's clock. */
    peak_per_s: number;
    peak_per_min: number;
  };
  /** Coefficient of variation (population std / mean) of inter-arrival times. */
  interarrival_cv: number;
  input_tokens: LengthStats;
  output_tokens: LengthStats;
  sessions: number;
  prefix_cache: {
    block_size: number;
    /** Infinite cache: Σ hit tokens / Σ prompt tokens (at most prompt − 1 tokens of a prompt can hit, as vLLM). */
    ideal_hit_rate: number;
    /** Same with one LRU cache of `capacity_tokens` (leading hits counted, then every block inserted/touched). */
    lru?: { capacity_tokens: number; hit_rate: number };
  };
}

class IntVec {
  a = new Float64Array(1024);
  n = 0;
  push(x: number): void {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = x;
  }
  stats(): LengthStats {
    const s = this.a.subarray(0, this.n).sort();
    let sum = 0;
    for (const x of s) sum += x;
    return {
      mean: this.n ? sum / this.n : Number.NaN,
      p50: quantileSorted(s, 0.5),
      p90: quantileSorted(s, 0.9),
      p99: quantileSorted(s, 0.99),
      min: this.n ? s[0]! : Number.NaN,
      max: this.n ? s[this.n - 1]! : Number.NaN,
    };
  }
}

export interface StatsOptions {
  /** KV block size for the prefix-cache figures (default 16). */
  blockSize?: number;
  /** Capacity of the LRU cache in tokens (omitted: no LRU figure). */
  cacheTokens?: number | undefined;
}

/**
 * Statistics of a request stream, in one pass (lengths are kept for the percentiles, 16 bytes per request; the
 * infinite cache keeps every distinct block hash). Generated blocks count as cached after a request whose
 * `outputContentId` is set (vLLM caches the full blocks of prompt + output).
 */
export function traceStats(src: { next(): Request | undefined }, opts: StatsOptions = {}): TraceStats {
  const B = opts.blockSize ?? 16;
  const ideal = new HashSet52();
  const lru = opts.cacheTokens !== undefined ? new BlockLru(Math.floor(opts.cacheTokens / B)) : undefined;
  const inputs = new IntVec();
  const outputs = new IntVec();
  const sessions = new Set<string>();
  let n = 0;
  let first = Number.NaN;
  let last = Number.NaN;
  // Welford on inter-arrival gaps.
  let gN = 0;
  let gMean = 0;
  let gM2 = 0;
  let secBin = Number.NaN;
  let secCount = 0;
  let secPeak = 0;
  let minBin = Number.NaN;
  let minCount = 0;
  let minPeak = 0;
  let promptTokens = 0;
  let hitIdeal = 0;
  let hitLru = 0;
  const ext: Segment[] = [];
  for (let r = src.next(); r !== undefined; r = src.next()) {
    const t = r.arrival;
    if (n === 0) first = t;
    else {
      const g = t - last;
      gN++;
      const d = g - gMean;
      gMean += d / gN;
      gM2 += d * (g - gMean);
    }
    last = t;
    n++;
    const sb = Math.floor(t);
    if (sb === secBin) secCount++;
    else {
      secBin = sb;
      secCount = 1;
    }
    if (secCount > secPeak) secPeak = secCount;
    const mb = Math.floor(t / 60);
    if (mb === minBin) minCount++;
    else {
      minBin = mb;
      minCount = 1;
    }
    if (minCount > minPeak) minPeak = minCount;
    inputs.push(r.inputTokens);
    outputs.push(r.outputTokens);
    if (r.session !== undefined) sessions.add(r.session);

    // Prefix cache.
    let segs: readonly Segment[] = r.prompt;
    if (r.outputContentId !== undefined && r.outputTokens > 0) {
      ext.length = 0;
      for (const s of r.prompt) ext.push(s);
      ext.push({ id: r.outputContentId, tokens: r.outputTokens });
      segs = ext;
    }
    const hs = blockHashes(segs, B);
    const nPrompt = Math.min(hs.length, Math.floor(r.inputTokens / B));
    const cap = Math.max(0, r.inputTokens - 1);
    promptTokens += r.inputTokens;
    let k = 0;
    while (k < nPrompt && ideal.has(hs[k]!)) k++;
    hitIdeal += Math.min(k * B, cap);
    for (let i = 0; i < hs.length; i++) ideal.add(hs[i]!);
    if (lru) {
      let j = 0;
      while (j < nPrompt && lru.has(hs[j]!)) j++;
      hitLru += Math.min(j * B, cap);
      for (let i = 0; i < hs.length; i++) lru.touch(hs[i]!);
    }
  }
  const duration = n > 0 ? last - first : 0;
  const mean = duration > 0 ? n / duration : Number.NaN;
  const out: TraceStats = {
    requests: n,
    duration_s: duration,
    first_arrival_s: n > 0 ? first : Number.NaN,
    rate: { mean_per_s: mean, mean_per_min: mean * 60, peak_per_s: secPeak, peak_per_min: minPeak },
    interarrival_cv: gN > 0 && gMean > 0 ? Math.sqrt(gM2 / gN) / gMean : Number.NaN,
    input_tokens: inputs.stats(),
    output_tokens: outputs.stats(),
    sessions: sessions.size,
    prefix_cache: {
      block_size: B,
      ideal_hit_rate: promptTokens > 0 ? hitIdeal / promptTokens : 0,
    },
  };
  if (lru && opts.cacheTokens !== undefined)
    out.prefix_cache.lru = {
      capacity_tokens: opts.cacheTokens,
      hit_rate: promptTokens > 0 ? hitLru / promptTokens : 0,
    };
  return out;
}

function fmt(x: number, d = 1): string {
  if (!Number.isFinite(x)) return "-";
  return x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: 0 });
}

/** Human-readable report of `traceStats`. */
export function formatStats(s: TraceStats, title?: string): string {
  const L = (name: string, l: LengthStats) =>
    `${name.padEnd(14)} mean ${fmt(l.mean)}  p50 ${fmt(l.p50)}  p90 ${fmt(l.p90)}  p99 ${fmt(l.p99)}  min ${fmt(l.min, 0)}  max ${fmt(l.max, 0)}`;
  const lines = [
    ...(title ? [title] : []),
    `requests       ${fmt(s.requests, 0)}${s.sessions ? `  (${fmt(s.sessions, 0)} sessions)` : ""}`,
    `duration       ${fmt(s.duration_s, 3)} s (first arrival at ${fmt(s.first_arrival_s, 3)} s)`,
    `rate           mean ${fmt(s.rate.mean_per_s, 3)}/s (${fmt(s.rate.mean_per_min, 1)}/min)  peak ${fmt(s.rate.peak_per_s, 0)} in 1 s, ${fmt(s.rate.peak_per_min, 0)} in 1 min`,
    `inter-arrival  CV ${fmt(s.interarrival_cv, 3)}`,
    L("input tokens", s.input_tokens),
    L("output tokens", s.output_tokens),
    `prefix cache   ideal hit rate ${fmt(100 * s.prefix_cache.ideal_hit_rate, 2)} % (infinite cache, ${s.prefix_cache.block_size}-token blocks)`,
  ];
  if (s.prefix_cache.lru)
    lines.push(
      `               LRU ${fmt(s.prefix_cache.lru.capacity_tokens, 0)} tokens: hit rate ${fmt(100 * s.prefix_cache.lru.hit_rate, 2)} %`,
    );
  return lines.join("\n");
}
