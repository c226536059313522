import seedrandom from "seedrandom";
import { hashString, mix } from "./hash.ts";

/**
 * A seeded random stream (seedrandom's Alea). Each purpose gets its own stream derived from (seed, purpose name), so
 * that, for example, changing the routing policy never changes the generated workload (common random numbers).
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer uniform in [0, n). */
  int(n: number): number;
}

class AleaRng implements Rng {
  private readonly prng: () => number;
  constructor(seed: string) {
    this.prng = seedrandom.alea(seed);
  }
  next(): number {
    return this.prng();
  }
  int(n: number): number {
    return Math.floor(this.prng() * n);
  }
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
