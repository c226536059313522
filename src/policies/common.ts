/**
 * Small helpers shared by the routers and the Endpoint Picker plugins: refusals, clamping, seeded tie-breaks,
 * durations, partial-block hashes and a consistent-hash ring. No policy logic lives here; the block-hash
 * indexes are in `indexes/`.
 */
import { hashString, mix, type Segment } from "../sim/hash.ts";
import type { Rng } from "../sim/rng.ts";
import type { EndpointView, RoutingDecision, RoutingRefusal } from "./types.ts";

/** No endpoint serves the request's model (the EPP's "no candidate pods" → 503). */
export const NO_CANDIDATES: RoutingRefusal = { refused: true, status: 503, reason: "no endpoint serves the model" };

const PICKED: RoutingDecision[] = [];

const PICKED_PD = new Map<number, RoutingDecision>();

/**
 * The decision "prefill on `prefill`, decode on `replica`" (P/D), shared and frozen like `picked`: one object per
 * (decode, prefill) pair for the whole process, none per request.
 */
export function pickedPd(replica: number, prefill: number): RoutingDecision {
  if (!(replica >= 0 && replica < 1 << 16 && prefill >= 0 && prefill < 1 << 16)) return { replica, prefill };
  const key = replica * 65536 + prefill;
  let d = PICKED_PD.get(key);
  if (d === undefined) PICKED_PD.set(key, (d = Object.freeze({ replica, prefill })));
  return d;
}

/**
 * The decision "route to `replica`" as a shared, frozen object: routers return it instead of allocating
 * `{ replica }` for every request (decisions that carry trace maps are still built per request).
 */
export function picked(replica: number): RoutingDecision {
  let d = PICKED[replica];
  if (d === undefined) {
    d = Object.freeze({ replica });
    if (replica >= 0 && replica < 1 << 16) PICKED[replica] = d;
  }
  return d;
}

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

/**
 * Endpoint lists of exact lengths, reused: `get(n)` returns the same array for the same `n`, to be filled by index.
 * Its length never changes, so V8 never reallocates its store (emptying an array and pushing into it again does):
 * no allocation once every length has been seen.
 */
export class EndpointLists {
  private readonly byLength: EndpointView[][] = [];

  get(n: number): EndpointView[] {
    let a = this.byLength[n];
    if (a === undefined) this.byLength[n] = a = new Array<EndpointView>(n);
    return a;
  }
}

/** Fisher–Yates shuffle of `perm[0..n)` = 0 … n − 1 in place (same draws as `shuffle` in src/sim/rng.ts). */
export function shuffleIndices(rng: Rng, perm: Int32Array, n: number): void {
  rng.shuffleIndices(perm, n);
}

const TWO32 = 4294967296;
const MASK20 = 0xfffff;

/**
 * MurmurHash3's 32-bit finaliser (public-domain algorithm), as `src/sim/hash.ts` applies it, on and to int32 bit
 * patterns (so that no value leaves the small-integer range and nothing is boxed).
 */
function fmix32i(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

// `mix` of src/sim/hash.ts on the state's (low 32 bits, high 20 bits) kept as int32 bit patterns in `mixState`, so
// that chaining allocates no heap number.
const mixState = new Int32Array(2);
function mixHalves(value: number): void {
  const sLo = mixState[0]!;
  const sHi = mixState[1]!;
  const vLo = (value % TWO32) | 0;
  const vHi = Math.floor(value / TWO32) | 0;
  let a = fmix32i(((sLo ^ Math.imul(vLo, 0x9e3779b1)) + 0x7f4a7c15) | 0);
  let b = fmix32i(((sHi ^ Math.imul(vHi, 0x85ebca77) ^ a) + 0x165667b1) | 0);
  a = fmix32i(a ^ Math.imul(b, 0xc2b2ae3d) ^ vHi);
  b = fmix32i(b ^ Math.imul(a, 0x27d4eb2f) ^ vLo);
  mixState[0] = a;
  mixState[1] = b & MASK20;
}

/**
 * Hash of the partial block at the end of a prompt (tokens after the last full `blockSize` block), chained on
 * `prev` (the last full block's hash): `mix(mix(mix(h, id), offset), tokens)` over the pieces of the tail, from
 * `h = mix(prev, 0x7a11b0c5)`. Used by the prefix producers that hash the final short block too (GIE v1.5+, llm-d).
 * Reads `prev` from `buf[at − 1]`, writes the hash to `buf[at]` and returns true, or returns false when the prompt
 * ends on a block boundary. Allocates nothing.
 */
export function partialTailHashInto(
  segments: readonly Segment[],
  blockSize: number,
  fullBlocks: number,
  buf: Float64Array,
  at: number,
): boolean {
  // A prompt shorter than one block chains from 0 (today's router hashes it as one partial block).
  const prev = at > 0 ? buf[at - 1]! : 0;
  let skip = fullBlocks * blockSize;
  mixState[0] = (prev % TWO32) | 0;
  mixState[1] = Math.floor(prev / TWO32) | 0;
  mixHalves(0x7a11b0c5);
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
    mixHalves(seg.id);
    mixHalves(off);
    mixHalves(left);
    any = true;
  }
  if (any) buf[at] = mixState[1]! * TWO32 + (mixState[0]! >>> 0);
  return any;
}

const tailScratch = new Float64Array(2);

/** `partialTailHashInto` as a value: the hash, or -1 when the prompt ends on a block boundary. */
export function partialTailHash(
  segments: readonly Segment[],
  blockSize: number,
  fullBlocks: number,
  prev: number,
): number {
  tailScratch[0] = prev;
  return partialTailHashInto(segments, blockSize, fullBlocks, tailScratch, 1) ? tailScratch[1]! : -1;
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
  if (eps.length === 0) return { mean: 0, std: 0 };
  const mean = meanOf(eps, values);
  return { mean, std: stdAround(eps, values, mean) };
}

/** `mean + k·std` (population) of `values[i]` for the endpoints in `eps`, as `meanStd` computes them; 0 when empty. */
export function meanPlusStd(eps: readonly EndpointView[], values: ArrayLike<number>, k: number): number {
  if (eps.length === 0) return 0;
  const mean = meanOf(eps, values);
  return mean + k * stdAround(eps, values, mean);
}

/** Mean of `values[i]` for the (non-empty) endpoints in `eps`. */
function meanOf(eps: readonly EndpointView[], values: ArrayLike<number>): number {
  let s = 0;
  for (const ep of eps) s += values[ep.index]!;
  return s / eps.length;
}

/** Population standard deviation of `values[i]` for the (non-empty) endpoints in `eps`, given their mean. */
function stdAround(eps: readonly EndpointView[], values: ArrayLike<number>, mean: number): number {
  let v = 0;
  for (const ep of eps) {
    const d = values[ep.index]! - mean;
    v += d * d;
  }
  return Math.sqrt(v / eps.length);
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
