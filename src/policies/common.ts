/**
 * Small helpers shared by the routers and the Endpoint Picker plugins: refusals, clamping, seeded tie-breaks,
 * hash-set membership lists, durations and a consistent-hash ring. No policy logic lives here.
 */
import { hashString, mix, type Segment } from "../sim/hash.ts";
import { NumMap } from "../sim/num-map.ts";
import type { Rng } from "../sim/rng.ts";
import type { EndpointView, RoutingRefusal } from "./types.ts";

/** No endpoint serves the request's model (the EPP's "no candidate pods" → 503). */
export const NO_CANDIDATES: RoutingRefusal = { refused: true, status: 503, reason: "no endpoint serves the model" };

/** Clamps a scorer output to [0, 1] (NaN → 0), as the EPP's weighted scorer does before weighting. */
export function clamp01(x: number): number {
  if (!(x > 0)) return 0;
  return x > 1 ? 1 : x;
}

/**
 * Index of the minimum of `key(i)` over `0..n-1`, ties broken uniformly at random with `rng` (reservoir sampling over
 * the tied indices: one draw per tie after the first). Returns -1 when n = 0.
 */
export function argminRandomTie(n: number, key: (i: number) => number, rng: Rng): number {
  let best = Number.POSITIVE_INFINITY;
  let pick = -1;
  let ties = 0;
  for (let i = 0; i < n; i++) {
    const k = key(i);
    if (k < best) {
      best = k;
      pick = i;
      ties = 1;
    } else if (k === best) {
      ties++;
      if (rng.int(ties) === 0) pick = i;
    }
  }
  return pick;
}

/** Fisher–Yates shuffle of `perm[0..n)` in place (same draws as `shuffle` in src/sim/rng.ts). */
export function shuffleIndices(rng: Rng, perm: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
}

/** Adds `replica` to a holder list (no duplicates). */
export function addHolder(list: number[], replica: number): void {
  if (!list.includes(replica)) list.push(replica);
}

/** Removes `replica` from a holder list (order not kept). Returns true when it was present. */
export function removeHolder(list: number[], replica: number): boolean {
  const i = list.indexOf(replica);
  if (i < 0) return false;
  list[i] = list[list.length - 1]!;
  list.pop();
  return true;
}

/**
 * Hash of the partial block at the end of a prompt (tokens after the last full `blockSize` block), chained on
 * `prev` (the last full block's hash). Used by the prefix producers that hash the final short block too (GIE v1.5+,
 * llm-d). Returns -1 when the prompt ends on a block boundary.
 */
export function partialTailHash(
  segments: readonly Segment[],
  blockSize: number,
  fullBlocks: number,
  prev: number,
): number {
  let skip = fullBlocks * blockSize;
  let h = mix(prev, 0x7a11b0c5);
  let any = false;
  for (const seg of segments) {
    let off = seg.offset ?? 0;
    let left = seg.tokens;
    if (skip >= left) {
      skip -= left;
      continue;
    }
    off += skip;
    left -= skip;
    skip = 0;
    h = mix(mix(mix(h, seg.id), off), left);
    any = true;
  }
  return any ? h : -1;
}

const DURATION = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$/;
const UNIT_SECONDS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** Parses a Go/Kubernetes duration such as `200ms`, `2s`, `1m` into seconds; undefined when malformed. */
export function parseDurationSeconds(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_SECONDS[m[2]!]!;
}

/** Population mean and standard deviation of `values[i]` for the endpoints in `eps`. */
export function meanStd(eps: readonly EndpointView[], values: ArrayLike<number>): { mean: number; std: number } {
  const n = eps.length;
  if (n === 0) return { mean: 0, std: 0 };
  let s = 0;
  for (const ep of eps) s += values[ep.index]!;
  const mean = s / n;
  let v = 0;
  for (const ep of eps) {
    const d = values[ep.index]! - mean;
    v += d * d;
  }
  return { mean, std: Math.sqrt(v / n) };
}

/**
 * A consistent-hash ring over endpoint names with `vnodes` virtual nodes per endpoint (Karger et al.; as uhashring
 * and SGLang's `consistent_hash` build theirs). Points are 52-bit hashes of `name#v`; a key maps to the first point
 * clockwise. Rebuilt only when the candidate set changes.
 */
export class HashRing {
  private readonly vnodes: number;
  private signature = Number.NaN;
  private points = new Float64Array(0);
  private owners = new Int32Array(0);

  constructor(vnodes: number) {
    this.vnodes = vnodes;
  }

  /** The endpoint (replica index) owning `keyHash` among `eps`; -1 when `eps` is empty. */
  lookup(eps: readonly EndpointView[], keyHash: number): number {
    if (eps.length === 0) return -1;
    let sig = eps.length;
    for (const ep of eps) sig = mix(sig, ep.index + 1);
    if (sig !== this.signature) this.build(eps, sig);
    const pts = this.points;
    let lo = 0;
    let hi = pts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pts[mid]! < keyHash) lo = mid + 1;
      else hi = mid;
    }
    return this.owners[lo === pts.length ? 0 : lo]!;
  }

  private build(eps: readonly EndpointView[], sig: number): void {
    const pairs: [number, number][] = [];
    for (const ep of eps) {
      for (let v = 0; v < this.vnodes; v++) pairs.push([hashString(`${ep.name}#${v}`), ep.index]);
    }
    pairs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    this.points = Float64Array.from(pairs, (p) => p[0]);
    this.owners = Int32Array.from(pairs, (p) => p[1]);
    this.signature = sig;
  }
}

/**
 * An LRU set of numeric keys (block hashes) with lazy deletion: a touch is one lookup + one store of the key's new
 * stamp (in a `NumMap`, gatelab's open-addressing map for 52-bit keys) and an append to a queue of (key, stamp)
 * records; eviction pops records from the front and skips the stale ones (whose key was touched again since). Same
 * order as a list-based LRU, without reordering a hash table on every refresh. The queue is compacted when it fills.
 */
export class StampLru {
  private readonly stamps = new NumMap();
  private keys = new Float64Array(1024);
  private marks = new Int32Array(1024);
  private head = 0;
  private tail = 0;
  private clock = 0;

  get size(): number {
    return this.stamps.size;
  }

  has(key: number): boolean {
    return this.stamps.has(key);
  }

  /** Inserts `key` as most recent, or refreshes it; returns true when it was not present. */
  touch(key: number): boolean {
    const fresh = !this.stamps.has(key);
    if (this.tail === this.keys.length || this.clock >= 0x7ffffff0) this.compact();
    const s = ++this.clock;
    this.stamps.set(key, s);
    this.keys[this.tail] = key;
    this.marks[this.tail++] = s;
    return fresh;
  }

  /** Removes and returns the least recently touched key (NaN when empty). */
  evict(): number {
    while (this.head < this.tail) {
      const k = this.keys[this.head]!;
      const s = this.marks[this.head++]!;
      if (this.stamps.get(k) === s) {
        this.stamps.delete(k);
        return k;
      }
    }
    return Number.NaN;
  }

  /** Keys from least to most recent (tests, reports). */
  order(): number[] {
    const out: number[] = [];
    for (let i = this.head; i < this.tail; i++)
      if (this.stamps.get(this.keys[i]!) === this.marks[i]) out.push(this.keys[i]!);
    return out;
  }

  /** Drops stale records; renumbers the stamps (1…live) so that the int32 clock never overflows. */
  private compact(): void {
    let w = 0;
    for (let i = this.head; i < this.tail; i++) {
      const k = this.keys[i]!;
      if (this.stamps.get(k) === this.marks[i]) {
        const stamp = w + 1;
        this.keys[w] = k;
        this.marks[w] = stamp;
        this.stamps.set(k, stamp);
        w = stamp;
      }
    }
    this.clock = w;
    this.head = 0;
    this.tail = w;
    if (w * 4 > this.keys.length) {
      const keys = new Float64Array(this.keys.length * 2);
      const marks = new Int32Array(this.keys.length * 2);
      keys.set(this.keys.subarray(0, w));
      marks.set(this.marks.subarray(0, w));
      this.keys = keys;
      this.marks = marks;
    }
  }
}

/**
 * hash → set of replicas holding it. Up to 31 replicas the set is a bit mask in a `NumMap` value (no allocation per
 * hash); beyond that, an array of replica indices in a `Map`.
 */
export class HolderIndex {
  private readonly masks: NumMap | undefined;
  private readonly lists: Map<number, number[]> | undefined;

  constructor(replicas: number) {
    if (replicas <= 31) this.masks = new NumMap();
    else this.lists = new Map();
  }

  add(hash: number, replica: number): void {
    if (this.masks !== undefined) {
      this.masks.set(hash, this.masks.get(hash, 0) | (1 << replica));
      return;
    }
    const lists = this.lists!;
    let l = lists.get(hash);
    if (l === undefined) lists.set(hash, (l = []));
    addHolder(l, replica);
  }

  remove(hash: number, replica: number): void {
    if (this.masks !== undefined) {
      const m = this.masks.get(hash, 0) & ~(1 << replica);
      if (m === 0) this.masks.delete(hash);
      else this.masks.set(hash, m);
      return;
    }
    const l = this.lists!.get(hash);
    if (l !== undefined && removeHolder(l, replica) && l.length === 0) this.lists!.delete(hash);
  }

  holds(hash: number, replica: number): boolean {
    if (this.masks !== undefined) return (this.masks.get(hash, 0) & (1 << replica)) !== 0;
    return this.lists!.get(hash)?.includes(replica) ?? false;
  }

  /** Replicas holding `hash`, ascending (tests). */
  holders(hash: number): number[] {
    const out: number[] = [];
    this.holdersInto(hash, out);
    return out.sort((a, b) => a - b);
  }

  /** Writes the replicas holding `hash` into `out` (cleared first); returns how many. */
  holdersInto(hash: number, out: number[]): number {
    out.length = 0;
    if (this.masks !== undefined) {
      let m = this.masks.get(hash, 0);
      while (m !== 0) {
        const low = m & -m;
        out.push(31 - Math.clz32(low));
        m ^= low;
      }
      return out.length;
    }
    const l = this.lists!.get(hash);
    if (l !== undefined) for (const r of l) out.push(r);
    return out.length;
  }

  /**
   * The EPP's greedy walk: for each hash in order, every replica holding it gets +1 in `counts`; stops at the first
   * hash nobody holds. Returns the number of hashes walked with at least one holder.
   */
  walk(hashes: Float64Array, n: number, counts: Int32Array): number {
    let i = 0;
    if (this.masks !== undefined) {
      const masks = this.masks;
      for (; i < n; i++) {
        let m = masks.get(hashes[i]!, 0);
        if (m === 0) break;
        while (m !== 0) {
          const low = m & -m;
          counts[31 - Math.clz32(low)]!++;
          m ^= low;
        }
      }
      return i;
    }
    const lists = this.lists!;
    for (; i < n; i++) {
      const l = lists.get(hashes[i]!);
      if (l === undefined || l.length === 0) break;
      for (const r of l) counts[r]!++;
    }
    return i;
  }
}
