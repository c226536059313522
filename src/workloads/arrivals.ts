import { z } from "zod";
import { exponential, normal, type Rng } from "../sim/rng.ts";

/**
 * Arrival processes. A process is a unit-rate renewal process (inter-arrival times with mean 1 and a chosen shape)
 * in *operational time*, mapped to real time through the integrated rate Λ(t) = ∫ λ(u) du of a piecewise-constant
 * rate profile λ(t) = base(t) × bursts(t) × spikes(t) × diurnal(t) (time rescaling: arrival n is at Λ⁻¹(S_n)). With a
 * constant profile this is exactly the renewal process at `rate`; a spike of factor k multiplies the arrival rate by k
 * inside its window while keeping the process's shape (CV).
 *
 * Shapes (inter-arrival distribution, mean 1/rate):
 * - `poisson`: exponential (CV 1);
 * - `gamma`: Gamma with coefficient of variation `cv` (shape k = 1/cv², as ServeGen's per-window Gamma fits);
 * - `weibull`: Weibull with coefficient of variation `cv` (shape solved from cv);
 * - `uniform`: deterministic spacing 1/rate (CV 0).
 *
 * Modulations:
 * - `stages: [{rate, duration}]`: piecewise-constant base rate; the stream ends after the last stage.
 * - `bursts: {mean_on_s, mean_off_s, off_level}`: on/off bursts, a two-state Markov-modulated Poisson process (MMPP)
 *   with exponential sojourn times (or fixed ones with `periodic: true`); the off state runs at `off_level` × the on
 *   rate and the on level is normalised so that the long-run mean rate stays `rate`.
 * - `spikes: [{at, duration, factor}]`: rate × factor in [at, at + duration).
 * - `diurnal: {period_s, amplitude, peak_s}`: rate × (1 + amplitude·cos(2π(t − peak_s)/period_s)), applied as a
 *   step function with 1/1440 of the period per step (one minute for a day).
 * - `start_s`: no arrivals before this time.
 */
export const ArrivalSchema = z.strictObject({
  process: z.enum(["poisson", "gamma", "weibull", "uniform"]).default("poisson"),
  /** Mean rate (per second); falls back to the source's `rate`. */
  rate: z.number().positive().optional(),
  /** Coefficient of variation of inter-arrival times (gamma, weibull). Default 1. */
  cv: z.number().positive().optional(),
  stages: z
    .array(z.strictObject({ rate: z.number().nonnegative(), duration: z.number().positive() }))
    .min(1)
    .optional(),
  bursts: z
    .strictObject({
      mean_on_s: z.number().positive(),
      mean_off_s: z.number().positive(),
      off_level: z.number().min(0).max(1).default(0),
      periodic: z.boolean().default(false),
    })
    .optional(),
  spikes: z
    .array(z.strictObject({ at: z.number().nonnegative(), duration: z.number().positive(), factor: z.number().min(0) }))
    .optional(),
  diurnal: z
    .strictObject({
      period_s: z.number().positive().default(86400),
      amplitude: z.number().min(0).max(1),
      peak_s: z.number().default(0),
    })
    .optional(),
  start_s: z.number().nonnegative().default(0),
});
export type ArrivalSpec = z.infer<typeof ArrivalSchema>;
export type ArrivalInput = z.input<typeof ArrivalSchema>;

/** A stream of absolute arrival times (seconds), non-decreasing; undefined when it ends. */
export interface ArrivalProcess {
  next(): number | undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Variates

/** ln Γ(x) for x > 0 (Lanczos approximation, g = 7, n = 9; accurate to ~1e-15). */
export function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  const xx = x - 1;
  let a = c[0]!;
  const t = xx + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (xx + i);
  return 0.5 * Math.log(2 * Math.PI) + (xx + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Gamma(shape, scale 1) variate (Marsaglia & Tsang 2000; shape < 1 boosted with U^(1/shape)). */
export function gammaVariate(rng: Rng, shape: number): number {
  if (shape < 1) {
    let u = rng.next();
    if (u <= 0) u = Number.MIN_VALUE;
    return gammaVariate(rng, shape + 1) * u ** (1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.next();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (u > 0 && Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Weibull shape k whose coefficient of variation is `cv` (bisection on CV² = Γ(1+2/k)/Γ(1+1/k)² − 1). */
export function weibullShapeForCv(cv: number): number {
  const cv2 = (k: number) => Math.exp(lnGamma(1 + 2 / k) - 2 * lnGamma(1 + 1 / k)) - 1;
  let lo = 0.05; // CV ≈ 1e5
  let hi = 500; // CV ≈ 0.0026
  const target = cv * cv;
  for (let i = 0; i < 200; i++) {
    const mid = Math.sqrt(lo * hi);
    if (cv2(mid) > target) lo = mid;
    else hi = mid;
  }
  return Math.sqrt(lo * hi);
}

/** Inter-arrival sampler with mean 1. */
export function unitInterval(spec: Pick<ArrivalSpec, "process" | "cv">, rng: Rng): () => number {
  const cv = spec.cv ?? 1;
  switch (spec.process) {
    case "poisson":
      return () => exponential(rng, 1);
    case "uniform":
      return () => 1;
    case "gamma": {
      if (cv === 1) return () => exponential(rng, 1);
      const k = 1 / (cv * cv);
      return () => gammaVariate(rng, k) / k;
    }
    case "weibull": {
      const k = weibullShapeForCv(cv);
      const scale = Math.exp(-lnGamma(1 + 1 / k)); // mean 1
      return () => {
        let u = rng.next();
        if (u <= 0) u = Number.MIN_VALUE;
        return scale * (-Math.log(u)) ** (1 / k);
      };
    }
  }
}

/** Poisson(mean) count, exact: the number of unit-rate exponential arrivals before `mean` (O(mean)). */
export function poissonCount(rng: Rng, mean: number): number {
  let n = 0;
  let t = exponential(rng, 1);
  while (t < mean) {
    n++;
    t += exponential(rng, 1);
  }
  return n;
}

// ---------------------------------------------------------------------------------------------------------------
// Rate profile

/** One factor of the rate profile: its value at t and the next time (> t) it may change. */
interface Factor {
  value(t: number): number;
  nextChange(t: number): number;
}

class StagesFactor implements Factor {
  private readonly starts: number[] = [];
  private readonly stages: readonly { rate: number; duration: number }[];
  readonly end: number;
  constructor(stages: readonly { rate: number; duration: number }[], offset: number) {
    this.stages = stages;
    let t = offset;
    for (const s of stages) {
      this.starts.push(t);
      t += s.duration;
    }
    this.end = t;
  }
  private index(t: number): number {
    let i = 0;
    while (i + 1 < this.starts.length && this.starts[i + 1]! <= t) i++;
    return i;
  }
  value(t: number): number {
    if (t < this.starts[0]! || t >= this.end) return 0;
    return this.stages[this.index(t)]!.rate;
  }
  nextChange(t: number): number {
    if (t < this.starts[0]!) return this.starts[0]!;
    const i = this.index(t);
    return i + 1 < this.starts.length ? this.starts[i + 1]! : this.end > t ? this.end : Number.POSITIVE_INFINITY;
  }
}

class SpikeFactor implements Factor {
  private readonly spikes: readonly { at: number; duration: number; factor: number }[];
  private readonly edges: number[];
  constructor(spikes: readonly { at: number; duration: number; factor: number }[]) {
    this.spikes = spikes;
    this.edges = [...new Set(spikes.flatMap((s) => [s.at, s.at + s.duration]))].sort((a, b) => a - b);
  }
  value(t: number): number {
    let f = 1;
    for (const s of this.spikes) if (t >= s.at && t < s.at + s.duration) f *= s.factor;
    return f;
  }
  nextChange(t: number): number {
    for (const e of this.edges) if (e > t) return e;
    return Number.POSITIVE_INFINITY;
  }
}

class DiurnalFactor implements Factor {
  private readonly step: number;
  private readonly period: number;
  private readonly amplitude: number;
  private readonly peak: number;
  constructor(d: { period_s: number; amplitude: number; peak_s: number }) {
    this.period = d.period_s;
    this.amplitude = d.amplitude;
    this.peak = d.peak_s;
    this.step = d.period_s / 1440;
  }
  value(t: number): number {
    const mid = (Math.floor(t / this.step) + 0.5) * this.step;
    return 1 + this.amplitude * Math.cos((2 * Math.PI * (mid - this.peak)) / this.period);
  }
  nextChange(t: number): number {
    return (Math.floor(t / this.step) + 1) * this.step;
  }
}

/** On/off bursts: state durations drawn lazily, in time order, from their own stream. */
class BurstFactor implements Factor {
  private on = true;
  private stateEnd: number;
  private readonly onLevel: number;
  private readonly offLevel: number;
  private readonly b: { mean_on_s: number; mean_off_s: number; periodic: boolean };
  private readonly rng: Rng;
  constructor(b: { mean_on_s: number; mean_off_s: number; off_level: number; periodic: boolean }, rng: Rng) {
    this.b = b;
    this.rng = rng;
    // Long-run mean = (on·L + off·off_level·L)/(on + off) = 1  ⇒  L = (on + off)/(on + off·off_level).
    this.onLevel = (b.mean_on_s + b.mean_off_s) / (b.mean_on_s + b.mean_off_s * b.off_level);
    this.offLevel = this.onLevel * b.off_level;
    this.stateEnd = this.draw(true);
  }
  private draw(on: boolean): number {
    const mean = on ? this.b.mean_on_s : this.b.mean_off_s;
    return this.b.periodic ? mean : exponential(this.rng, 1 / mean);
  }
  private advance(t: number): void {
    while (t >= this.stateEnd) {
      this.on = !this.on;
      this.stateEnd += this.draw(this.on);
    }
  }
  value(t: number): number {
    this.advance(t);
    return this.on ? this.onLevel : this.offLevel;
  }
  nextChange(t: number): number {
    this.advance(t);
    return this.stateEnd;
  }
}

/** Arrivals of a unit-rate renewal process warped through a piecewise-constant rate profile. */
class WarpedProcess implements ArrivalProcess {
  private readonly interval: () => number;
  private readonly base: number;
  private readonly factors: Factor[];
  private readonly end: number;
  /** Current profile segment [segStart, segEnd) with rate segRate and Λ(segStart) = lamStart. */
  private segStart: number;
  private segEnd: number;
  private segRate: number;
  private lamStart = 0;
  /** Operational time of the last arrival. */
  private s = 0;

  constructor(spec: ArrivalSpec, rate: number, rng: Rng, burstRng: Rng) {
    this.interval = unitInterval(spec, rng);
    this.factors = [];
    let start = spec.start_s;
    let end = Number.POSITIVE_INFINITY;
    if (spec.stages) {
      const st = new StagesFactor(spec.stages, spec.start_s);
      this.factors.push(st);
      this.base = 1;
      end = st.end;
    } else {
      this.base = rate;
    }
    if (spec.bursts) this.factors.push(new BurstFactor(spec.bursts, burstRng));
    if (spec.spikes?.length) this.factors.push(new SpikeFactor(spec.spikes));
    if (spec.diurnal) this.factors.push(new DiurnalFactor(spec.diurnal));
    this.end = end;
    if (start >= end) start = end;
    this.segStart = start;
    this.segEnd = start;
    this.segRate = 0;
    this.loadSegment(start);
  }

  private loadSegment(t: number): void {
    let r = this.base;
    let next = this.end;
    for (const f of this.factors) {
      r *= f.value(t);
      const c = f.nextChange(t);
      if (c < next) next = c;
    }
    this.segStart = t;
    this.segEnd = next;
    this.segRate = r;
  }

  next(): number | undefined {
    this.s += this.interval();
    const target = this.s;
    for (;;) {
      const span = this.segEnd - this.segStart;
      const lamEnd = this.lamStart + this.segRate * span;
      if (this.segRate > 0 && lamEnd >= target) return this.segStart + (target - this.lamStart) / this.segRate;
      if (!Number.isFinite(this.segEnd) || this.segEnd >= this.end) return undefined;
      this.lamStart = lamEnd;
      this.loadSegment(this.segEnd);
    }
  }
}

/**
 * The arrival process for `spec` (rate from `spec.rate`, else `defaultRate`). `rng` draws inter-arrival times; the
 * burst states use `burstRng` (a separate stream, so adding bursts never shifts the arrival draws).
 */
export function makeArrivals(
  spec: ArrivalSpec,
  defaultRate: number | undefined,
  rng: Rng,
  burstRng: Rng,
): ArrivalProcess {
  const rate = spec.rate ?? defaultRate;
  if (spec.stages === undefined && (rate === undefined || !(rate > 0)))
    throw new Error("arrival rate missing: give `rate` (or `arrival.rate`, or `arrival.stages`)");
  return new WarpedProcess(spec, rate ?? 0, rng, burstRng);
}

/** Long-run mean rate of a spec (stages: time-weighted mean over the stages; spikes and diurnal ignored). */
export function meanRate(spec: ArrivalSpec, defaultRate: number | undefined): number {
  if (spec.stages) {
    let n = 0;
    let d = 0;
    for (const s of spec.stages) {
      n += s.rate * s.duration;
      d += s.duration;
    }
    return n / d;
  }
  return spec.rate ?? defaultRate ?? 0;
}

// ---------------------------------------------------------------------------------------------------------------
// inference-perf load timers

/**
 * Arrival times of kubernetes-sigs/inference-perf's load generator (`inference_perf/loadgen/load_timer.py` and
 * `load_generator.py`, read at HEAD in 2026): each stage sends exactly int(rate × duration) requests.
 * - `constant` (inference-perf's default `load.type`): the stage's n inter-arrival gaps are drawn exponential and then
 *   scaled so that they sum to the stage duration (so the last request of a stage lands at its end, and the count is
 *   exact: uniform order statistics rather than a fixed 1/rate spacing).
 * - `poisson`: for each second, a Poisson(rate) count, spread over that second the same normalised way; seconds with
 *   no request are skipped; the stage ends after its n requests (its length is then only about `duration`).
 * Stage k starts when stage k−1 ends (inference-perf also waits for the previous stage to drain and sleeps
 * `load.interval` seconds; `stageGapS` adds such a gap).
 */
export class InferencePerfTimer implements ArrivalProcess {
  private readonly stages: readonly { rate: number; duration: number }[];
  private readonly type: "constant" | "poisson";
  private readonly rng: Rng;
  private readonly gap: number;
  private stage = -1;
  private stageStart = 0;
  private left = 0;
  private t = 0;
  // constant: the stage's normalised gaps
  private gaps: Float64Array = new Float64Array(0);
  private gi = 0;
  // poisson: the current second
  private secLeft = 0;
  private secGaps: number[] = [];

  constructor(
    stages: readonly { rate: number; duration: number }[],
    type: "constant" | "poisson",
    rng: Rng,
    startS = 0,
    stageGapS = 0,
  ) {
    this.stages = stages;
    this.type = type;
    this.rng = rng;
    this.gap = stageGapS;
    this.stageStart = startS;
    this.t = startS;
  }

  /** Index of the stage of the arrival last returned. */
  get stageIndex(): number {
    return this.stage;
  }

  /** Number of requests of stage `i`: Python's int(rate × duration). */
  static count(s: { rate: number; duration: number }): number {
    return Math.trunc(s.rate * s.duration);
  }

  private openStage(): boolean {
    for (;;) {
      // A poisson stage's arrivals may run past its nominal end (a Poisson count per second until int(rate ×
      // duration) requests); the next stage starts after the later of the two, so arrivals never go back in time.
      if (this.stage >= 0)
        this.stageStart = Math.max(this.stageStart + this.stages[this.stage]!.duration, this.t) + this.gap;
      this.stage++;
      const s = this.stages[this.stage];
      if (s === undefined) return false;
      this.t = this.stageStart;
      this.left = InferencePerfTimer.count(s);
      if (this.left === 0) continue;
      if (this.type === "constant") {
        const g = new Float64Array(this.left);
        let sum = 0;
        for (let i = 0; i < g.length; i++) sum += g[i] = exponential(this.rng, s.rate);
        const k = s.duration / sum;
        for (let i = 0; i < g.length; i++) g[i] = g[i]! * k;
        this.gaps = g;
        this.gi = 0;
      } else {
        this.secLeft = 0;
        this.secGaps = [];
      }
      return true;
    }
  }

  next(): number | undefined {
    if (this.left === 0 && !this.openStage()) return undefined;
    this.left--;
    if (this.type === "constant") {
      this.t += this.gaps[this.gi++]!;
      return this.t;
    }
    const rate = this.stages[this.stage]!.rate;
    while (this.secLeft === 0) {
      const n = poissonCount(this.rng, rate);
      if (n === 0) {
        this.t += 1;
        continue;
      }
      const g: number[] = [];
      let sum = 0;
      for (let i = 0; i < n; i++) {
        const x = exponential(this.rng, n);
        g.push(x);
        sum += x;
      }
      this.secGaps = g.map((x) => x / sum).reverse();
      this.secLeft = n;
    }
    this.secLeft--;
    this.t += this.secGaps.pop()!;
    return this.t;
  }
}
