/**
 * Calibration families: for each cost model that is linear in its coefficients, a basis per measured setup
 * (step(µs) = Σ_k θ_k·f_k(batch)), the prior on θ and α, the cost model built from fitted (θ, α), and the coefficient
 * file fields of a fit. The cost-model registry (cost-factory.ts `COST_MODELS`) names each model's family; the lab
 * (src/lab/calibrate.ts, step-times.ts) fits any of them without knowing which it is.
 */
import { getGpu, getModel } from "./catalog.ts";
import type { BatchShape, CostModel, RequestOverheads } from "./cost.ts";
import {
  findKernelProfile,
  KERNEL_RAW_TABLES,
  KERNEL_TERMS,
  type KernelBasisSpec,
  KernelCostModel,
  kernelBasis,
  kernelSpec,
} from "./cost-kernel.ts";
import { LinearCostModel } from "./cost-linear.ts";
import { BLIS_TRAINED_PHYSICS_ITER29, PhysicsCostModel, physicsBasis } from "./cost-physics.ts";
import {
  emptyTerms,
  ROOFLINE_CALIBRATION_BASE,
  RooflineCostModel,
  RooflineEvaluator,
  rooflineCoefficientsFor,
  rooflineEfficiencySet,
} from "./cost-roofline.ts";

/**
 * θ of a calibrated roofline set: [compute scale, memory scale, all-reduce traffic scale, all-reduce latency scale,
 * µs/layer, µs/request, µs/step, µs/MoE layer].
 */
export const ROOFLINE_TERMS = [
  "compute_scale",
  "memory_scale",
  "comm_scale",
  "comm_latency_scale",
  "us_per_layer",
  "us_per_request",
  "us_per_step",
  "us_per_moe_layer",
] as const;

/** 1 / FIT_NOISE² (src/lab/fit-families.ts: 5 % noise per fitted mean): a prior row weighted as a plain Gaussian. */
export const GAUSSIAN_PRIOR_WEIGHT = 1 / 0.05 ** 2;

/** What a family needs of a measured setup (the lab's `Experiment` is one): an id and its (model, GPU, TP). */
export interface FitTarget {
  readonly id: string;
  readonly model: string;
  readonly hardware: string;
  readonly tp: number;
}

/** One (model, GPU, TP) row of a linear coefficient file, as written. */
export interface LinearFitRow {
  readonly model: string;
  readonly gpu: string;
  readonly tp: number;
  readonly beta_us: [number, number, number];
}

/** The model-specific fields of a coefficient file: `beta`, or one `linear` row per (model, GPU, TP). */
export type FittedCoefficients =
  | { alpha_us: [number, number, number]; beta: number[] }
  | { alpha_us: [number, number, number]; linear: LinearFitRow[] };

export interface Family {
  /** The cost model's kind (its `cost_model.type`). */
  readonly kind: string;
  /** θ names. */
  readonly terms: readonly string[];
  /** Gaussian prior on θ: mean and standard deviation (same units as θ). */
  readonly prior: Float64Array;
  readonly priorStd: Float64Array;
  /** α prior (µs). */
  readonly alphaPrior: readonly [number, number, number];
  /** α indices that are fitted (others fixed at 0). */
  readonly fitAlpha: readonly [boolean, boolean, boolean];
  /**
   * Multiplies the prior rows' weight in the run calibration (src/lab/calibrate.ts; default 1, where a coefficient
   * one σ off its prior weighs like FIT_NOISE² of one 5 % miss). `GAUSSIAN_PRIOR_WEIGHT` = 1/FIT_NOISE² makes σ a
   * plain Gaussian standard deviation against the data rows' 5 % noise.
   */
  readonly priorWeight?: number;
  /**
   * The prior of a fit on measured step times (src/lab/step-times.ts), where the data see every term directly and the
   * run calibration's physics priors would only bias it; default `prior` / `priorStd`.
   */
  readonly stepPrior?: { readonly mean: Float64Array; readonly std: Float64Array };
  /** Basis terms of one experiment's steps, into `out` (length = terms). */
  basisFor(e: FitTarget): (b: BatchShape, out: Float64Array) => void;
  /** The cost model of experiment `e` with these coefficients. */
  build(e: FitTarget, theta: Float64Array, alpha: readonly number[]): CostModel;
  /** Whether θ can predict `e` (linear: its (model, GPU, TP) is fitted). */
  covers(e: FitTarget): boolean;
  /**
   * The coefficient-file fields of fitted θ (each value through `round`) with request overheads `alpha` (µs, already
   * rounded): `beta` in the model's own order, or (linear) one row per (model, GPU, TP) of `groups`.
   */
  fileFields(
    theta: ArrayLike<number>,
    alpha: readonly [number, number, number],
    groups: readonly { readonly model: string; readonly gpu: string; readonly tp: number }[],
    round: (x: number) => number,
  ): FittedCoefficients;
}

/** `fileFields` of a family whose file `beta` is θ itself. */
function thetaAsBeta(theta: ArrayLike<number>, alpha: readonly [number, number, number], round: (x: number) => number) {
  return { alpha_us: [alpha[0], alpha[1], alpha[2]] as [number, number, number], beta: Array.from(theta, round) };
}

export function overheadsOf(alpha: readonly number[]): RequestOverheads {
  return {
    preQueue: alpha[0]! * 1e-6,
    preQueuePerInputToken: 0,
    perOutputToken: alpha[2]! * 1e-6,
    postDecode: alpha[1]! * 1e-6,
  };
}

export function kernelFamily(): Family {
  const specs = new Map<string, KernelBasisSpec>();
  const specOf = (e: FitTarget): KernelBasisSpec => {
    let p = specs.get(e.id);
    if (p === undefined) specs.set(e.id, (p = kernelSpec(findKernelProfile(e.model, e.hardware, e.tp), e.model)));
    return p;
  };
  return {
    kind: "kernel",
    terms: KERNEL_TERMS,
    // The tables are measurements: their correction is expected at 1 ± 0.3 (a plain Gaussian: `priorWeight`). They
    // hold every kernel of a layer, so no per-layer overhead is expected (0 ± 10 µs); per request and per step the
    // scheduler's CPU work as BLIS iter29's β6 / β7 (4.4 ± 3, 126 ± 100 µs, as the roofline family); MoE terms free.
    // α1 = α2 = 0 as in the roofline family (async output processing; α2 is the per-step column of every ITL row).
    prior: Float64Array.from([KERNEL_RAW_TABLES.beta[0], 0, 4.41684444, 126.024825, 0, 0]),
    priorStd: Float64Array.from([0.3, 10, 3, 100, 10_000, 10_000]),
    alphaPrior: [0, 0, 0],
    fitAlpha: [true, false, false],
    priorWeight: GAUSSIAN_PRIOR_WEIGHT,
    stepPrior: {
      mean: Float64Array.from(KERNEL_RAW_TABLES.beta),
      std: Float64Array.from([0.3, 1000, 1000, 100_000, 10_000, 10_000]),
    },
    basisFor(e) {
      const p = specOf(e);
      return (b, out) => kernelBasis(p, b, out);
    },
    build(e, theta, alpha) {
      const t = theta;
      return new KernelCostModel({
        model: e.model,
        gpu: e.hardware,
        tp: e.tp,
        profile: specOf(e).profile,
        coefficients: {
          name: "fit",
          alpha: [alpha[0]!, alpha[1]!, alpha[2]!],
          beta: [...t],
          source: "calibration in progress",
        },
      });
    },
    covers: () => true,
    fileFields: (theta, alpha, _groups, round) => thetaAsBeta(theta, alpha, round),
  };
}

const PHYSICS_TERMS = [
  "roofline_scale",
  "b5_us_per_layer",
  "b6_us_per_request",
  "b7_us_per_step",
  "b8_us_per_moe_layer",
];

/** Expands physics θ (a scale on BLIS iter29's roofline corrections, then β5..β8) into BLIS's 11 β. */
export function physicsBeta(theta: ArrayLike<number>): number[] {
  const b = BLIS_TRAINED_PHYSICS_ITER29.beta;
  const s = theta[0]!;
  // [β1a, β2a, β3, β4, β5, β6, β7, β8, β1b, β2b, βEP]
  return [
    s * b[0],
    s * b[1],
    s * b[2],
    s * b[3],
    theta[1]!,
    theta[2]!,
    theta[3]!,
    theta[4]!,
    s * b[8],
    s * b[9],
    s * b[10],
  ];
}

/**
 * Physics: BLIS's trained-physics roofline terms with iter29's corrections, scaled together by one factor (1 ± 0.3),
 * plus refitted per-layer, per-request, per-step and per-MoE-layer overheads (prior: iter29's values, loose). Fitting
 * the 11 corrections one by one overfits 7 runs (leave-one-out errors > 30 %).
 */
export function physicsFamily(): Family {
  const b = BLIS_TRAINED_PHYSICS_ITER29.beta;
  return {
    kind: "physics",
    terms: PHYSICS_TERMS,
    prior: Float64Array.from([1, b[4], b[5], b[6], b[7]]),
    priorStd: Float64Array.from([0.3, 1000, 1000, 100_000, 10_000]),
    alphaPrior: [0, 0, 0],
    fitAlpha: [true, true, true],
    basisFor(e) {
      const bs = physicsBasis(e.model, e.hardware, e.tp);
      // Same mapping as PhysicsCostModel.stepMicros (prefill attention "blis", geometry "blis").
      return (batch, out) => {
        const req = batch.prefillRequests + batch.decodeRequests;
        if (req === 0) {
          out.fill(0);
          return;
        }
        const T = batch.prefillTokens;
        const D = batch.decodeRequests;
        const S = batch.decodeContext;
        const X = batch.prefillAttnWork + batch.prefillTokensSq;
        out[0] =
          b[0] * (bs.computePerToken * T + bs.attentionPerUnit * X) +
          b[1] * (bs.computePerToken * D + bs.attentionPerUnit * S) +
          b[2] * bs.weight +
          b[3] * bs.tpPerToken * (T + D) +
          b[8] * bs.kvPerToken * T +
          b[9] * bs.kvPerToken * (S + D);
        out[1] = bs.numLayers;
        out[2] = req;
        out[3] = 1;
        out[4] = bs.interleavedMoeLayers;
      };
    },
    build(e, theta, alpha) {
      const beta = physicsBeta(theta);
      return new PhysicsCostModel({
        model: e.model,
        gpu: e.hardware,
        tp: e.tp,
        coefficients: {
          name: "fit",
          alpha: [alpha[0]!, alpha[1]!, alpha[2]!],
          beta: [
            beta[0]!,
            beta[1]!,
            beta[2]!,
            beta[3]!,
            beta[4]!,
            beta[5]!,
            beta[6]!,
            beta[7]!,
            beta[8]!,
            beta[9]!,
            beta[10]!,
          ],
          source: "calibration in progress",
        },
      });
    },
    covers: () => true,
    fileFields: (theta, alpha, _groups, round) => ({
      alpha_us: [alpha[0], alpha[1], alpha[2]],
      beta: physicsBeta(theta).map(round),
    }),
  };
}

/** (model, GPU, TP) key of an experiment. */
export function groupKey(e: FitTarget): string {
  return linearKey(e.model, e.hardware, e.tp);
}

function linearKey(model: string, gpu: string, tp: number): string {
  return `${getModel(model).name}|${getGpu(gpu).name}|${tp}`;
}

/** Linear: θ = [β0, β1, β2] per (model, GPU, TP) of `experiments`, α0 shared (α1, α2 fixed at 0). */
export function linearFamily(experiments: readonly FitTarget[]): Family {
  const groups = [...new Set(experiments.map(groupKey))].sort();
  const index = new Map(groups.map((g, i) => [g, i]));
  const terms = groups.flatMap((g) => [`${g}:beta0_us`, `${g}:beta1_us_per_prefill_token`, `${g}:beta2_us_per_decode`]);
  const prior = new Float64Array(terms.length);
  const priorStd = Float64Array.from(terms.map((_, k) => [100_000, 1000, 10_000][k % 3]!));
  for (let g = 0; g < groups.length; g++) prior.set([5000, 20, 100], 3 * g);
  return {
    kind: "linear",
    terms,
    prior,
    priorStd,
    alphaPrior: [0, 0, 0],
    // α0 only: a per-output-token α2 is collinear with β0 per model, and α1 (post-decode) is not in this model.
    fitAlpha: [true, false, false],
    basisFor(e) {
      const g = index.get(groupKey(e));
      if (g === undefined) throw new Error(`linear family: experiment ${e.id} is not in the fitted set`);
      return (b, out) => {
        out.fill(0);
        if (b.prefillRequests + b.decodeRequests === 0) return;
        out[3 * g] = 1;
        out[3 * g + 1] = b.prefillTokens;
        out[3 * g + 2] = b.decodeRequests;
      };
    },
    build(e, theta, alpha) {
      const g = index.get(groupKey(e));
      if (g === undefined) throw new Error(`no linear fit for ${groupKey(e)}`);
      return new LinearCostModel({
        beta: [theta[3 * g]!, theta[3 * g + 1]!, theta[3 * g + 2]!],
        alpha: [alpha[0]!, 0, alpha[2]!],
        source: "calibration in progress",
        overheads: overheadsOf(alpha),
      });
    },
    covers: (e) => index.has(groupKey(e)),
    fileFields(theta, alpha, fitted, round) {
      return {
        alpha_us: [alpha[0], 0, alpha[2]],
        linear: fitted.map((g) => {
          const k = terms.indexOf(`${linearKey(g.model, g.gpu, g.tp)}:beta0_us`);
          return {
            model: g.model,
            gpu: g.gpu,
            tp: g.tp,
            beta_us: [round(theta[k]!), round(theta[k + 1]!), round(theta[k + 2]!)],
          };
        }),
      };
    },
  };
}

/**
 * Roofline: θ = [compute scale, memory scale, all-reduce traffic and latency scales, µs per layer, µs per request,
 * µs per step, µs per MoE layer] on the shipped default per-GPU set (`ROOFLINE_CALIBRATION_BASE`; the split of each
 * operator into its compute- or memory-bound side is the set's). α0 (before the queue) is fitted; α1 and α2 are 0:
 * vLLM's API server detokenises and streams while the engine runs the next step, so neither adds to a gap the client
 * sees that the step period does not already hold, and a per-token α2 is the same column as the per-step overhead
 * in every ITL row (fitted together they trade freely, 1.3 ms α2 against 0 µs per step in a leave-one-out fold).
 *
 * The prior is a plain Gaussian against the data rows' 5 % noise (`priorWeight`), so that 7 runs of 5 models cannot
 * pull a term far from its physics on their own:
 *   - compute 1 ± 0.3, memory 1 ± 0.1 (HBM streaming efficiency is known to ± 10 %);
 *   - all-reduce traffic 0.6 ± 0.2: the set's traffic η is Splitwise's 2023 stack (0.29 of NVLink); vidur's NCCL
 *     profile (vidur/profiling/network/h100_dgx/all_reduce.csv) takes 61 µs for 8 MB at TP 4 and 70 µs at TP 8,
 *     0.6× what the set charges (TP 2, 4 MB: 1.3×; the large TP 4/8 messages of 70B-class prefills dominate);
 *   - all-reduce latency 1 ± 0.3: the set's 5 µs per custom all-reduce call (data/roofline/coefficients.json);
 *   - µs per layer 32.1 ± 10, per request 4.42 ± 3, per step 126 ± 100: BLIS trained-physics iter29 β5 / β6 / β7,
 *     fitted on other real vLLM H100 runs (docs/reference.md); per MoE layer 0 ± 1000 (free: only the Llama-4-Scout
 *     runs see it, BLIS's β8 is for interleaved MoE).
 */
export const ROOFLINE_PRIOR = {
  mean: [1, 1, 0.6, 1, 32.09546717, 4.41684444, 126.024825, 0],
  std: [0.3, 0.1, 0.2, 0.3, 10, 3, 100, 1000],
} as const;

export function rooflineFamily(): Family {
  const evaluators = new Map<string, RooflineEvaluator>();
  const evalOf = (e: FitTarget): RooflineEvaluator => {
    let ev = evaluators.get(e.id);
    if (ev === undefined) {
      const gpu = getGpu(e.hardware);
      evaluators.set(
        e.id,
        (ev = new RooflineEvaluator(
          getModel(e.model),
          gpu,
          e.tp,
          rooflineCoefficientsFor(gpu, rooflineEfficiencySet(ROOFLINE_CALIBRATION_BASE)),
        )),
      );
    }
    return ev;
  };
  return {
    kind: "roofline",
    terms: ROOFLINE_TERMS,
    prior: Float64Array.from(ROOFLINE_PRIOR.mean),
    priorStd: Float64Array.from(ROOFLINE_PRIOR.std),
    alphaPrior: [0, 0, 0],
    fitAlpha: [true, false, false],
    priorWeight: GAUSSIAN_PRIOR_WEIGHT,
    stepPrior: {
      mean: Float64Array.from([1, 1, 1, 1, ...ROOFLINE_PRIOR.mean.slice(4, 7), 0]),
      std: Float64Array.from([0.3, 0.3, 0.6, 0.6, 1000, 1000, 100_000, 10_000]),
    },
    basisFor(e) {
      const ev = evalOf(e);
      const t = emptyTerms();
      return (b, out) => {
        ev.evaluate(b, t);
        out[0] = t.compute;
        out[1] = t.memory;
        out[2] = t.comm;
        out[3] = t.commLatency;
        out[4] = t.layers;
        out[5] = t.requests;
        out[6] = t.requests > 0 ? 1 : 0;
        out[7] = t.moeLayers;
      };
    },
    build(e, theta, alpha) {
      const gpu = getGpu(e.hardware);
      const base = rooflineCoefficientsFor(gpu, rooflineEfficiencySet(ROOFLINE_CALIBRATION_BASE));
      return new RooflineCostModel({
        model: e.model,
        gpu,
        tp: e.tp,
        coefficients: {
          ...base,
          per_layer_us: theta[4]!,
          per_request_us: theta[5]!,
          per_step_us: theta[6]!,
          per_moe_layer_us: theta[7]!,
          alpha_us: [alpha[0]!, alpha[1]!, alpha[2]!],
        },
        scales: { compute: theta[0]!, memory: theta[1]!, comm: theta[2]!, commLatency: theta[3]! },
        setName: "calibration in progress",
      });
    },
    covers: () => true,
    fileFields: (theta, alpha, _groups, round) => thetaAsBeta(theta, alpha, round),
  };
}
