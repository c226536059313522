import { z } from "zod";
import { exponential, normal, type Rng } from "../sim/rng.ts";

/**
 * Integer length distributions (token counts, turns per session, …). Every sample is rounded to an integer and clamped
 * to [min, max] (min defaults to 1: a request has at least one token; max to +∞). A bare number is a constant.
 */
const bounds = {
  min: z.number().nonnegative().optional(),
  max: z.number().positive().optional(),
};

export const ConstantDist = z.strictObject({ dist: z.literal("constant"), value: z.number().nonnegative() });
export const NormalDist = z.strictObject({
  dist: z.literal("normal"),
  mean: z.number(),
  std: z.number().nonnegative(),
  ...bounds,
});
/** Log-normal given by the mean and standard deviation of the variable itself (not of its logarithm). */
export const LognormalDist = z.strictObject({
  dist: z.literal("lognormal"),
  mean: z.number().positive(),
  std: z.number().nonnegative(),
  ...bounds,
});
/** Integer uniform on [min, max], both inclusive. */
export const UniformDist = z.strictObject({
  dist: z.literal("uniform"),
  min: z.number().nonnegative(),
  max: z.number().nonnegative(),
});
export const ExponentialDist = z.strictObject({
  dist: z.literal("exponential"),
  mean: z.number().positive(),
  ...bounds,
});
/** Values drawn with the given weights (equal weights if absent). */
export const EmpiricalDist = z
  .strictObject({
    dist: z.literal("empirical"),
    values: z.array(z.number().nonnegative()).min(1),
    weights: z.array(z.number().nonnegative()).optional(),
  })
  .refine((d) => d.weights === undefined || d.weights.length === d.values.length, {
    message: "weights must have as many entries as values",
    path: ["weights"],
  })
  .refine((d) => d.weights === undefined || d.weights.some((w) => w > 0), {
    message: "at least one weight must be positive",
    path: ["weights"],
  });

export const LengthDistSchema = z.union([
  z.number().nonnegative(),
  z.discriminatedUnion("dist", [ConstantDist, NormalDist, LognormalDist, UniformDist, ExponentialDist, EmpiricalDist]),
]);
export type LengthDist = z.infer<typeof LengthDistSchema>;

/** A sampler of non-negative integers. */
export type Sampler = () => number;

function clampReal(x: number, min: number, max: number): number {
  return x < min ? min : x > max ? max : x;
}

function clampRoundInt(x: number, min: number, max: number): number {
  const r = Math.round(x);
  return r < min ? min : r > max ? max : r;
}

/**
 * Durations in seconds (think time, tool latency): the same shapes as lengths but not rounded, min default 0. A bare
 * number is a constant.
 */
export const TimeDistSchema = LengthDistSchema;
export type TimeDist = LengthDist;

/** Sampler of non-negative reals (seconds) for `spec`. */
export function makeTimeSampler(spec: TimeDist, rng: Rng): Sampler {
  return makeSampler(spec, rng, 0, false);
}

/**
 * Builds a sampler for `spec` drawing from `rng`. `defaultMin` is the lower clamp when the spec gives none; `integer`
 * rounds every sample (lengths) or not (durations).
 */
export function makeSampler(spec: LengthDist, rng: Rng, defaultMin = 1, integer = true): Sampler {
  const clampRound = integer ? clampRoundInt : clampReal;
  const fix = integer ? Math.round : (x: number) => x;
  if (typeof spec === "number") {
    const v = fix(spec);
    return () => v;
  }
  switch (spec.dist) {
    case "constant": {
      const v = fix(spec.value);
      return () => v;
    }
    case "normal": {
      const { mean, std } = spec;
      const lo = spec.min ?? defaultMin;
      const hi = spec.max ?? Number.POSITIVE_INFINITY;
      if (std === 0) {
        const v = clampRound(mean, lo, hi);
        return () => v;
      }
      return () => clampRound(mean + std * normal(rng), lo, hi);
    }
    case "lognormal": {
      // X = exp(mu + sigma Z) with E[X] = mean and SD[X] = std: sigma² = ln(1 + std²/mean²), mu = ln(mean) − sigma²/2.
      const s2 = Math.log(1 + (spec.std * spec.std) / (spec.mean * spec.mean));
      const sigma = Math.sqrt(s2);
      const mu = Math.log(spec.mean) - s2 / 2;
      const lo = spec.min ?? defaultMin;
      const hi = spec.max ?? Number.POSITIVE_INFINITY;
      return () => clampRound(Math.exp(mu + sigma * normal(rng)), lo, hi);
    }
    case "uniform": {
      if (!integer) {
        const a = Math.min(spec.min, spec.max);
        const w = Math.max(spec.min, spec.max) - a;
        return () => a + w * rng.next();
      }
      const lo = Math.ceil(Math.min(spec.min, spec.max));
      const hi = Math.floor(Math.max(spec.min, spec.max));
      const span = hi - lo + 1;
      return () => lo + rng.int(span);
    }
    case "exponential": {
      const rate = 1 / spec.mean;
      const lo = spec.min ?? defaultMin;
      const hi = spec.max ?? Number.POSITIVE_INFINITY;
      return () => clampRound(exponential(rng, rate), lo, hi);
    }
    case "empirical": {
      const values = spec.values.map(fix);
      if (spec.weights === undefined) {
        const n = values.length;
        return () => values[rng.int(n)]!;
      }
      const cum = cumulative(spec.weights);
      return () => values[pickCumulative(cum, rng.next())]!;
    }
  }
}

/** Mean of a length distribution before clamping (used to convert request rates into session rates). */
export function distMean(spec: LengthDist): number {
  if (typeof spec === "number") return spec;
  switch (spec.dist) {
    case "constant":
      return spec.value;
    case "normal":
    case "lognormal":
    case "exponential":
      return spec.mean;
    case "uniform":
      return (spec.min + spec.max) / 2;
    case "empirical": {
      const w = spec.weights ?? spec.values.map(() => 1);
      let s = 0;
      let sw = 0;
      spec.values.forEach((v, i) => {
        s += v * w[i]!;
        sw += w[i]!;
      });
      return s / sw;
    }
  }
}

/** Normalised cumulative weights (last entry exactly 1). */
export function cumulative(weights: readonly number[]): Float64Array {
  const out = new Float64Array(weights.length);
  let s = 0;
  for (let i = 0; i < weights.length; i++) {
    s += weights[i]!;
    out[i] = s;
  }
  for (let i = 0; i < out.length; i++) out[i] = out[i]! / s;
  out[out.length - 1] = 1;
  return out;
}

/** Index of the first cumulative weight > u (binary search), u in [0, 1). */
export function pickCumulative(cum: Float64Array, u: number): number {
  let lo = 0;
  let hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[mid]! > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Zipf weights 1/(rank+1)^s for n items (rank 0 most popular). */
export function zipfWeights(n: number, s: number): number[] {
  const w = new Array<number>(n);
  for (let i = 0; i < n; i++) w[i] = 1 / (i + 1) ** s;
  return w;
}
