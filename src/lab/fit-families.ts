/**
 * The calibration families of the cost models that have one (the registry, src/models/cost-factory.ts
 * `COST_MODELS`, names each model's basis; src/models/cost-calibration.ts holds them), and the fit's own constants.
 */
import type { Family, FitTarget } from "../models/cost-calibration.ts";
import { COST_MODEL_KINDS, COST_MODELS, type CostModelKind } from "../models/cost-factory.ts";

export { type Family, groupKey, overheadsOf, physicsBeta } from "../models/cost-calibration.ts";

/** The cost models `gatelab calibrate` can fit: those whose registry entry has a calibration family. */
export type ModelKind = CostModelKind;
export const MODEL_KINDS: readonly ModelKind[] = COST_MODEL_KINDS.filter(
  (k) => COST_MODELS[k].calibration !== undefined,
);

/** The calibration family of `kind` over `experiments`. Throws if `kind` has none (callers check `MODEL_KINDS`). */
export function familyFor(kind: ModelKind, experiments: readonly FitTarget[]): Family {
  const c = COST_MODELS[kind].calibration;
  if (c === undefined) throw new Error(`cost model ${kind} has no calibration family`);
  return c.family(experiments);
}

/** α names and their prior standard deviations (µs): loose, the overheads are what the data tell. */
export const ALPHA_NAMES = ["alpha0_pre_queue_us", "alpha1_post_decode_us", "alpha2_per_output_token_us"] as const;
export const ALPHA_PRIOR_STD = [100_000, 100_000, 10_000];

/**
 * Expected relative error of one fitted mean (run-to-run noise and model error): the data rows are divided by it, so
 * that a prior of standard deviation σ on a coefficient weighs like (NOISE/σ)² in the least squares.
 */
export const FIT_NOISE = 0.05;
