import seedrandom from "seedrandom";
import { hashString, mix } from "./hash.ts";
import { SHUFFLE_KERNEL_MAX_N, type ShuffleKernel, shuffleKernel } from "./wasm-shuffle.ts";

/**
 * A seeded random stream (seedrandom's Alea). Each purpose gets its own stream derived from (seed, purpose name), so
 * that, for example, changing the routing policy never changes the generated workload (common random numbers).
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer uniform in [0, n). */
  int(n: number): number;
  /** Advances the stream by `k` draws, as `k` calls of `next()` would (their values unused). */
  skip(k: number): void;
  /**
   * Fisher–Yates shuffle of `perm` = 0, 1, …, n − 1 in place: for i = n − 1 down to 1, swap `perm[i]` with
   * `perm[int(i + 1)]` — the same n − 1 draws, the same permutation as calling `int` in that loop.
   */
  shuffleIndices(perm: Int32Array, n: number): void;
  /**
   * The permutation `shuffleIndices` would write (the same draws), in a buffer of at least n entries that the next
   * shuffle of any stream overwrites: read it before drawing again.
   */
  shuffled(n: number): Int32Array;
}

/** 2^32, the base of Alea's multiply-with-carry. */
const TWO32 = 4294967296;
const B = 1n << 32n;
/** Alea's multiplier (seedrandom `lib/alea.js`: `2091639 * me.s0 + …`). */
const A = 2091639n;
/** The modulus of the linear congruential generator equivalent to Alea's lag-3 multiply-with-carry: a·b³ − 1. */
const M = A * B * B * B - 1n;
/**
 * Below this many draws stepping is cheaper than the jump: ≈ 2 ns an integer step against ≈ 0.5 µs a jump once its
 * factor is cached (`skip(2047)` 4.0–4.3 µs against `skip(2048)` 0.50–0.94 µs, alternating in one process). The
 * max-score picker skips n − 1 draws when one candidate has the top score: at 1,024 endpoints a jump.
 */
const JUMP_MIN = 512;
/** Alea's multiplier as a number. */
const MUL = 2091639;
const jumpFactors = new Map<number, bigint>();

/** b⁻ᵏ mod M: the state number moves by this factor per k draws (see `AleaRng.skip`). */
function jumpFactor(k: number): bigint {
  let f = jumpFactors.get(k);
  if (f === undefined) {
    // b⁻¹ mod M = a·b² (since a·b³ ≡ 1), then square-and-multiply.
    let base = (A * B * B) % M;
    let e = BigInt(k);
    f = 1n;
    while (e > 0n) {
      if ((e & 1n) === 1n) f = (f * base) % M;
      base = (base * base) % M;
      e >>= 1n;
    }
    jumpFactors.set(k, f);
  }
  return f;
}

/**
 * seedrandom's Alea, seeded by seedrandom (its Mash of the seed string), then stepped here with the same recurrence
 * and floating-point operations as seedrandom's `lib/alea.js` `me.next` (a lag-3 multiply-with-carry, multiplier
 * 2091639, base 2^32), so every draw is bit-identical to seedrandom's generator — and the state can jump ahead.
 */
class AleaRng implements Rng {
  // Initialised with doubles so that V8 keeps the fields unboxed from the start.
  private s0 = 0.5;
  private s1 = 0.5;
  private s2 = 0.5;
  private c = 0;
  constructor(seed: string) {
    const st = (seedrandom.alea(seed, { state: true }) as unknown as { state(): AleaState }).state();
    this.s0 = st.s0;
    this.s1 = st.s1;
    this.s2 = st.s2;
    this.c = st.c;
  }
  next(): number {
    const t = 2091639 * this.s0 + this.c * 2.3283064365386963e-10; // 2^-32
    this.s0 = this.s1;
    this.s1 = this.s2;
    this.c = t | 0;
    this.s2 = t - this.c;
    return this.s2;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /**
   * k draws at once. With x the 32-bit digits (s·2^32) and c the carry, Y = x₀ + b·x₁ + b²·x₂ + b³·c (< a·b³) is the
   * state of a linear congruential generator Y' = b⁻¹·Y mod (a·b³ − 1) that Alea's multiply-with-carry steps exactly
   * (its next digit and carry are the remainder and quotient of a·x₀ + c by b, and a·b³ ≡ 1), so k draws multiply Y by
   * b⁻ᵏ. Short skips step instead (cheaper); `test/rng.test.ts` checks both against seedrandom.
   */
  skip(k: number): void {
    if (k < JUMP_MIN) {
      this.stepDigits(k, undefined, 0);
      return;
    }
    const y =
      BigInt(this.s0 * TWO32) +
      B * BigInt(this.s1 * TWO32) +
      B * B * BigInt(this.s2 * TWO32) +
      B * B * B * BigInt(this.c);
    const z = (y * jumpFactor(k)) % M;
    this.s0 = Number(z & 0xffffffffn) / TWO32;
    this.s1 = Number((z >> 32n) & 0xffffffffn) / TWO32;
    this.s2 = Number((z >> 64n) & 0xffffffffn) / TWO32;
    this.c = Number(z >> 96n);
  }

  shuffleIndices(perm: Int32Array, n: number): void {
    const k = kernelFor(n);
    if (k !== undefined) {
      perm.set(this.shuffleIn(k, n).subarray(0, n));
      return;
    }
    for (let i = 0; i < n; i++) perm[i] = i;
    if (n > 1) this.stepDigits(n - 1, perm, n);
  }

  shuffled(n: number): Int32Array {
    const k = kernelFor(n);
    if (k !== undefined) return this.shuffleIn(k, n);
    if (scratch.length < n) scratch = new Int32Array(Math.max(n, 2 * scratch.length));
    this.shuffleIndices(scratch, n);
    return scratch;
  }

  /** The shuffle of 0 … n − 1 by the WebAssembly kernel (`wasm-shuffle.ts`): the same draws and swaps. */
  private shuffleIn(k: ShuffleKernel, n: number): Int32Array {
    const st = k.state;
    st[0] = this.s0 * TWO32;
    st[1] = this.s1 * TWO32;
    st[2] = this.s2 * TWO32;
    st[3] = this.c;
    const perm = k.shuffle(n);
    const out = k.state; // a new view if the kernel's memory grew
    this.s0 = out[0]! / TWO32;
    this.s1 = out[1]! / TWO32;
    this.s2 = out[2]! / TWO32;
    this.c = out[3]!;
    return perm;
  }

  /**
   * `k` draws stepped on the 32-bit digits as integers (exact, the same recurrence as `next`: its floating-point
   * operations are exact on these magnitudes, every value a multiple of 2⁻³² below 2²¹). In `next` each draw waits
   * for the carry of the one before through a multiply, an add and two conversions; here the product's low and high
   * halves come from the digit drawn three steps earlier, and the carry only adds in (it overflows the low half
   * with probability below 2⁻¹¹, a well-predicted branch): about twice as fast in a loop. With `perm`, draw d
   * (d = 0 … k − 1) is Fisher–Yates's for i = n − 1 − d: `perm[i]` swaps with `perm[floor(u·(i + 1))]`, u the draw.
   */
  private stepDigits(k: number, perm: Int32Array | undefined, n: number): void {
    let x0 = this.s0 * TWO32;
    let x1 = this.s1 * TWO32;
    let x2 = this.s2 * TWO32;
    let c = this.c;
    for (let d = 0; d < k; d++) {
      const lo = Math.imul(MUL, x0 | 0) >>> 0; // (a·x0) mod 2^32
      const hi = (MUL * x0 - lo) / TWO32; // floor(a·x0 / 2^32), exact: a·x0 < 2^53
      let x = lo + c;
      if (x >= TWO32) {
        x -= TWO32;
        c = hi + 1;
      } else c = hi;
      x0 = x1;
      x1 = x2;
      x2 = x;
      if (perm !== undefined) {
        const i = n - 1 - d;
        const j = Math.floor(x * 2.3283064365386963e-10 * (i + 1)); // int(i + 1): floor(next() · (i + 1))
        const t = perm[i]!;
        perm[i] = perm[j]!;
        perm[j] = t;
      }
    }
    this.s0 = x0 / TWO32;
    this.s1 = x1 / TWO32;
    this.s2 = x2 / TWO32;
    this.c = c;
  }
}

interface AleaState {
  readonly c: number;
  readonly s0: number;
  readonly s1: number;
  readonly s2: number;
}

let useKernel = true;
/** `shuffled`'s buffer where the kernel does not run. */
let scratch = new Int32Array(16);

/** The WebAssembly kernel for a shuffle of n (undefined: the JavaScript loop; n ≤ 1, past its bound, or switched off). */
function kernelFor(n: number): ShuffleKernel | undefined {
  return n > 1 && n <= SHUFFLE_KERNEL_MAX_N && useKernel ? shuffleKernel() : undefined;
}

/**
 * Whether shuffles may run on the WebAssembly kernel (default true, where WebAssembly is available); false runs the
 * JavaScript loop, the reference (tests compare the two).
 */
export function setShuffleKernel(on: boolean): void {
  useKernel = on;
}

/** The stream for `purpose` under `seed` (e.g. `rngStream(42, "arrivals")`). */
export function rngStream(seed: number, purpose: string): Rng {
  return new AleaRng(`${seed}:${purpose}:${mix(hashString(purpose), seed >>> 0)}`);
}

/** Exponential variate with the given rate (events per second). */
export function exponential(rng: Rng, rate: number): number {
  let u = rng.next();
  if (u <= 0) u = Number.MIN_VALUE;
  return -Math.log(u) / rate;
}

/** Standard normal variate (Box–Muller, one of the pair). */
export function normal(rng: Rng): number {
  let u = rng.next();
  if (u <= 0) u = Number.MIN_VALUE;
  const v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Fisher–Yates shuffle in place with `rng`. */
export function shuffle<T>(rng: Rng, a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}
