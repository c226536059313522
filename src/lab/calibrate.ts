/**
 * Calibration: fits a cost model's step coefficients θ and the request overheads α = [α0, α1, α2] to measured
 * end-to-end latencies (files in the schema of the sim-to-real calibration set, see `validate.ts`), by least squares
 * on relative errors, refined by simulation.
 *
 * Every cost model here is linear in its coefficients: step(µs) = Σ_k θ_k·f_k(batch), with basis terms f_k from the
 * kernel tables (`kernelBasis`), the physics roofline (`physicsBasis`) or the linear model's (1, prefill tokens, decode
 * tokens). With the batches of a simulation held fixed, every request's latencies are then linear in (θ, α):
 *
 *   TTFT_i = α0 + α2 + θ·G_i,   E2E_i = α0 + α1 + n_i·α2 + θ·H_i,   Σ gaps_i = (n_i − 1)·α2 + θ·(H_i − G_i)
 *
 * where G_i (H_i) sums the basis terms of the steps from the request's arrival at the replica to its first (last)
 * token — the step in progress on arrival counted by the fraction still to run. Means over the requests of a stage
 * are linear too (ITL mean = Σ gaps / Σ (n_i − 1)). The fit alternates:
 *   1. simulate every training experiment with the current coefficients, recording the step terms;
 *   2. solve the linear least-squares problem min Σ ((pred − measured)/measured)² over ttft_mean, e2e_mean and
 *      itl_mean of each experiment's whole run and stages, with coefficients ≥ 0 (Lawson–Hanson NNLS) and a
 *      Gaussian prior: the kernel tables are measurements, so their correction is expected at 1 ± 0.3 (σ), the
 *      overheads are loose; physics scales BLIS iter29's roofline by 1 ± 0.3; each fitted mean is given a 5 % noise,
 *      which sets the prior's weight (`FIT_NOISE`);
 *   3. under-relax (60 % of the step after the first solve) and repeat until the predicted means move by < 0.5 %
 *      (the batches depend on the coefficients only through the load).
 * A final simulation gives the exact fitted errors. Deterministic: no random restarts, fixed iteration order.
 *
 * Coefficients depend only on (model, GPU, TP) through the basis: one set of θ and α serves every model of the set
 * (linear: one θ per (model, GPU, TP), α0 shared). Leave-one-out fits on all experiments but one and predicts it.
 */
import { getGpu, getModel } from "../models/catalog.ts";
import type { BatchShape, CostModel, RequestOverheads } from "../models/cost.ts";
import { type CoefficientFile, CoefficientFileSchema } from "../models/cost-factory.ts";
import {
  findKernelProfile,
  KERNEL_RAW_TABLES,
  KERNEL_TERMS,
  type KernelBasisSpec,
  KernelCostModel,
  kernelBasis,
  kernelSpec,
} from "../models/cost-kernel.ts";
import { LinearCostModel } from "../models/cost-linear.ts";
import { BLIS_TRAINED_PHYSICS_ITER29, PhysicsCostModel, physicsBasis } from "../models/cost-physics.ts";
import type { Replica } from "../models/replica.ts";
import { Outcome } from "../sim/request.ts";
import {
  apeOf,
  type Experiment,
  type ExperimentRun,
  METRICS,
  type Metric,
  type Metrics,
  mapeOf,
  simulateExperiment,
  stageNames,
  type ValidationSet,
  type WorkloadMode,
} from "./validate.ts";

// ---------------------------------------------------------------------------------------------------------------
// Non-negative least squares (Lawson & Hanson 1974, "Solving Least Squares Problems", ch. 23)
// ---------------------------------------------------------------------------------------------------------------

/** Solves min ‖A x − b‖² over x (length n) with x[j] ≥ 0 for j where `nonNeg[j]`; A is m×n row-major. */
export function nnls(
  A: Float64Array,
  b: Float64Array,
  m: number,
  n: number,
  nonNeg?: readonly boolean[],
): Float64Array {
  const bounded = (j: number) => nonNeg === undefined || nonNeg[j] !== false;
  const x = new Float64Array(n);
  const passive = new Array<boolean>(n).fill(false);
  for (let j = 0; j < n; j++) if (!bounded(j)) passive[j] = true;
  const tol = 1e-12;
  const solvePassive = (): Float64Array => {
    const idx: number[] = [];
    for (let j = 0; j < n; j++) if (passive[j]) idx.push(j);
    const z = new Float64Array(n);
    if (idx.length === 0) return z;
    const sol = lstsq(A, b, m, n, idx);
    idx.forEach((j, k) => {
      z[j] = sol[k]!;
    });
    return z;
  };
  // Start from the unconstrained solution of the free (unbounded) variables.
  let z = solvePassive();
  for (let j = 0; j < n; j++) if (passive[j]) x[j] = z[j]!;
  for (let iter = 0; iter < 30 * n + 30; iter++) {
    // Gradient w = Aᵀ(b − A x).
    const r = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      let s = b[i]!;
      for (let j = 0; j < n; j++) s -= A[i * n + j]! * x[j]!;
      r[i] = s;
    }
    let best = -1;
    let bestW = tol;
    for (let j = 0; j < n; j++) {
      if (passive[j]) continue;
      let w = 0;
      for (let i = 0; i < m; i++) w += A[i * n + j]! * r[i]!;
      if (w > bestW) {
        bestW = w;
        best = j;
      }
    }
    if (best < 0) break;
    passive[best] = true;
    for (;;) {
      z = solvePassive();
      let ok = true;
      for (let j = 0; j < n; j++) if (passive[j] && bounded(j) && z[j]! <= 0) ok = false;
      if (ok) {
        x.set(z);
        break;
      }
      let alpha = 1;
      for (let j = 0; j < n; j++) {
        if (passive[j] && bounded(j) && z[j]! <= 0) {
          const a = x[j]! / (x[j]! - z[j]!);
          if (a < alpha) alpha = a;
        }
      }
      for (let j = 0; j < n; j++) x[j] = x[j]! + alpha * (z[j]! - x[j]!);
      for (let j = 0; j < n; j++) {
        if (passive[j] && bounded(j) && x[j]! <= tol) {
          passive[j] = false;
          x[j] = 0;
        }
      }
    }
  }
  return x;
}

/** Least squares on the columns `cols` of A (normal equations with Cholesky, tiny jitter for rank deficiency). */
function lstsq(A: Float64Array, b: Float64Array, m: number, n: number, cols: readonly number[]): Float64Array {
  const k = cols.length;
  const M = new Float64Array(k * k);
  const v = new Float64Array(k);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const ap = A[i * n + cols[p]!]!;
      if (ap === 0) continue;
      v[p]! += ap * b[i]!;
      for (let q = 0; q < k; q++) M[p * k + q]! += ap * A[i * n + cols[q]!]!;
    }
  }
  let trace = 0;
  for (let p = 0; p < k; p++) trace += M[p * k + p]!;
  const jitter = (trace / Math.max(1, k)) * 1e-12 + 1e-300;
  for (let p = 0; p < k; p++) M[p * k + p]! += jitter;
  // Cholesky M = L Lᵀ.
  const L = new Float64Array(k * k);
  for (let p = 0; p < k; p++) {
    for (let q = 0; q <= p; q++) {
      let s = M[p * k + q]!;
      for (let r = 0; r < q; r++) s -= L[p * k + r]! * L[q * k + r]!;
      if (p === q) L[p * k + p] = Math.sqrt(Math.max(s, 1e-300));
      else L[p * k + q] = s / L[q * k + q]!;
    }
  }
  const y = new Float64Array(k);
  for (let p = 0; p < k; p++) {
    let s = v[p]!;
    for (let r = 0; r < p; r++) s -= L[p * k + r]! * y[r]!;
    y[p] = s / L[p * k + p]!;
  }
  const x = new Float64Array(k);
  for (let p = k - 1; p >= 0; p--) {
    let s = y[p]!;
    for (let r = p + 1; r < k; r++) s -= L[r * k + p]! * x[r]!;
    x[p] = s / L[p * k + p]!;
  }
  return x;
}

// ---------------------------------------------------------------------------------------------------------------
// Model families: a basis per experiment and a cost model from (θ, α)
// ---------------------------------------------------------------------------------------------------------------

export type ModelKind = "linear" | "physics" | "kernel";
export const MODEL_KINDS: readonly ModelKind[] = ["linear", "physics", "kernel"];

/** α names and their prior standard deviations (µs): loose, the overheads are what the data tell. */
const ALPHA_NAMES = ["alpha0_pre_queue_us", "alpha1_post_decode_us", "alpha2_per_output_token_us"] as const;
const ALPHA_PRIOR_STD = [100_000, 100_000, 10_000];

/**
 * Expected relative error of one fitted mean (run-to-run noise and model error): the data rows are divided by it, so
 * that a prior of standard deviation σ on a coefficient weighs like (NOISE/σ)² in the least squares.
 */
export const FIT_NOISE = 0.05;

export interface Family {
  readonly kind: ModelKind;
  /** θ names. */
  readonly terms: readonly string[];
  /** Gaussian prior on θ: mean and standard deviation (same units as θ). */
  readonly prior: Float64Array;
  readonly priorStd: Float64Array;
  /** α prior (µs). */
  readonly alphaPrior: readonly [number, number, number];
  /** α indices that are fitted (others fixed at 0). */
  readonly fitAlpha: readonly [boolean, boolean, boolean];
  /** Basis terms of one experiment's steps, into `out` (length = terms). */
  basisFor(e: Experiment): (b: BatchShape, out: Float64Array) => void;
  /** The cost model of experiment `e` with these coefficients. */
  build(e: Experiment, theta: Float64Array, alpha: readonly number[]): CostModel;
  /** Whether θ can predict `e` (linear: its (model, GPU, TP) is fitted). */
  covers(e: Experiment): boolean;
}

function overheadsOf(alpha: readonly number[]): RequestOverheads {
  return {
    preQueue: alpha[0]! * 1e-6,
    preQueuePerInputToken: 0,
    perOutputToken: alpha[2]! * 1e-6,
    postDecode: alpha[1]! * 1e-6,
  };
}

export function kernelFamily(): Family {
  const specs = new Map<string, KernelBasisSpec>();
  const specOf = (e: Experiment): KernelBasisSpec => {
    let p = specs.get(e.id);
    if (p === undefined) specs.set(e.id, (p = kernelSpec(findKernelProfile(e.model, e.hardware, e.tp), e.model)));
    return p;
  };
  return {
    kind: "kernel",
    terms: KERNEL_TERMS,
    prior: Float64Array.from(KERNEL_RAW_TABLES.beta),
    // The tables are measurements: their correction is expected at 1 ± 0.3. The overheads are loose.
    priorStd: Float64Array.from([0.3, 1000, 1000, 100_000, 10_000, 10_000]),
    alphaPrior: [0, 0, 0],
    fitAlpha: [true, true, true],
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
  };
}

/** (model, GPU, TP) key of an experiment. */
export function groupKey(e: Experiment): string {
  return `${getModel(e.model).name}|${getGpu(e.hardware).name}|${e.tp}`;
}

/** Linear: θ = [β0, β1, β2] per (model, GPU, TP) of `experiments`, α0 shared (α1, α2 fixed at 0). */
export function linearFamily(experiments: readonly Experiment[]): Family {
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
  };
}

export function familyFor(kind: ModelKind, experiments: readonly Experiment[]): Family {
  return kind === "kernel" ? kernelFamily() : kind === "physics" ? physicsFamily() : linearFamily(experiments);
}

// ---------------------------------------------------------------------------------------------------------------
// Recording a simulation: per-request rows linear in (θ, α)
// ---------------------------------------------------------------------------------------------------------------

/** A cost model that evaluates θ·f and records every step's start, duration and terms. */
class RecordingCost implements CostModel {
  readonly kind: string;
  readonly source = "calibration recorder";
  readonly overheads: RequestOverheads;
  replica: Replica | undefined;
  starts = new Float64Array(1 << 16);
  durs = new Float64Array(1 << 16);
  terms: Float64Array;
  steps = 0;
  private readonly k: number;
  private readonly theta: Float64Array;
  private readonly basis: (b: BatchShape, out: Float64Array) => void;
  private readonly tmp: Float64Array;

  constructor(kind: string, basis: (b: BatchShape, out: Float64Array) => void, theta: Float64Array, alpha: number[]) {
    this.kind = kind;
    this.basis = basis;
    this.theta = theta;
    this.k = theta.length;
    this.tmp = new Float64Array(this.k);
    this.terms = new Float64Array((1 << 16) * this.k);
    this.overheads = overheadsOf(alpha);
  }

  stepTime(b: BatchShape): number {
    const k = this.k;
    const t = this.tmp;
    this.basis(b, t);
    let us = 0;
    for (let j = 0; j < k; j++) us += this.theta[j]! * t[j]!;
    if (us < 1) us = 1;
    const s = this.steps;
    if (s === this.starts.length) {
      const grow = (a: Float64Array, n: number) => {
        const x = new Float64Array(n);
        x.set(a);
        return x;
      };
      this.starts = grow(this.starts, s * 2);
      this.durs = grow(this.durs, s * 2);
      this.terms = grow(this.terms, s * 2 * k);
    }
    this.starts[s] = this.replica!.stepStart;
    this.durs[s] = us * 1e-6;
    this.terms.set(t, s * k);
    this.steps = s + 1;
    return us * 1e-6;
  }
}

/** One simulated experiment, linearised in p = (θ, α0, α1, α2) (times in µs). */
export interface Recording {
  readonly experiment: Experiment;
  readonly run: ExperimentRun;
  /** Parameter count (θ + 3). */
  readonly np: number;
  /** Completed requests. */
  readonly n: number;
  /** Per request: TTFT, E2E and Σ gap rows (n × np, row-major) and their constant parts (µs). */
  readonly ttft: Float64Array;
  readonly e2e: Float64Array;
  readonly gaps: Float64Array;
  readonly ttftC: Float64Array;
  readonly e2eC: Float64Array;
  readonly gapsC: Float64Array;
  /** Output tokens − 1 per request. */
  readonly gapCount: Float64Array;
  /** Stage index per request. */
  readonly stage: Int32Array;
}

/** Largest index s in [0, n) with starts[s] ≤ t (strict: < t), or -1. */
function lastStart(starts: Float64Array, n: number, t: number, strict: boolean): number {
  let lo = -1;
  let hi = n;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const v = starts[mid]!;
    if (strict ? v < t : v <= t) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** Simulates `e` with (θ, α) of `family` and linearises every completed request. */
export function record(
  e: Experiment,
  family: Family,
  theta: Float64Array,
  alpha: number[],
  workloadMode: WorkloadMode = "fresh",
): Recording {
  const rec = new RecordingCost(family.kind, family.basisFor(e), theta, alpha);
  const run = simulateExperiment(e, rec, {
    workloadMode,
    stepByStep: true,
    beforeRun: (sim) => {
      rec.replica = sim.replicas[0];
    },
  });
  const K = theta.length;
  const np = K + 3;
  const steps = rec.steps;
  const F = rec.terms;
  // Prefix sums of the terms over steps.
  const P = new Float64Array((steps + 1) * K);
  for (let s = 0; s < steps; s++) for (let j = 0; j < K; j++) P[(s + 1) * K + j] = P[s * K + j]! + F[s * K + j]!;
  const r = run.result.records;
  const ids: number[] = [];
  for (let i = 0; i < r.size; i++) if (r.outcome[i] === Outcome.Completed) ids.push(i);
  const n = ids.length;
  const ttft = new Float64Array(n * np);
  const e2e = new Float64Array(n * np);
  const gaps = new Float64Array(n * np);
  const ttftC = new Float64Array(n);
  const e2eC = new Float64Array(n);
  const gapsC = new Float64Array(n);
  const gapCount = new Float64Array(n);
  const stage = new Int32Array(n);
  const [a0, a1, a2] = alpha;
  const G = new Float64Array(K);
  const H = new Float64Array(K);
  const span = (d: number, t: number, out: Float64Array): void => {
    const s1 = lastStart(rec.starts, steps, t, true);
    let s0 = lastStart(rec.starts, steps, d, false);
    if (s0 < 0) s0 = 0;
    if (s1 < s0) {
      out.fill(0);
      return;
    }
    const dur = rec.durs[s0]!;
    let rho = dur > 0 ? (rec.starts[s0]! + dur - d) / dur : 1;
    rho = rho < 0 ? 0 : rho > 1 ? 1 : rho;
    for (let j = 0; j < K; j++) out[j] = P[(s1 + 1) * K + j]! - P[s0 * K + j]! - (1 - rho) * F[s0 * K + j]!;
  };
  const dot = (row: Float64Array, off: number, v: Float64Array): number => {
    let s = 0;
    for (let j = 0; j < K; j++) s += row[off + j]! * v[j]!;
    return s;
  };
  for (let q = 0; q < n; q++) {
    const i = ids[q]!;
    const arr = r.arrival[i]!;
    const d = r.enqueue[i]!;
    const nOut = r.output[i]!;
    const tFirst = r.firstToken[i]! - a2! * 1e-6;
    const tLast = r.completion[i]! - nOut * a2! * 1e-6 - a1! * 1e-6;
    span(d, tFirst, G);
    span(d, tLast, H);
    const o = q * np;
    ttft.set(G, o);
    e2e.set(H, o);
    for (let j = 0; j < K; j++) gaps[o + j] = H[j]! - G[j]!;
    ttft[o + K] = 1; // α0
    ttft[o + K + 2] = 1; // α2 once
    e2e[o + K] = 1;
    e2e[o + K + 1] = 1; // α1
    e2e[o + K + 2] = nOut;
    gaps[o + K + 2] = nOut - 1;
    gapCount[q] = nOut - 1;
    stage[q] = run.stageOf[i]!;
    // Constant parts: whatever the rows miss at the current point (loads, clamps, pre-queue per input token).
    const pT = dot(ttft, o, theta) + a0! + a2!;
    const pE = dot(e2e, o, theta) + a0! + a1! + nOut * a2!;
    const pG = dot(gaps, o, theta) + (nOut - 1) * a2!;
    ttftC[q] = (r.firstToken[i]! - arr) * 1e6 - pT;
    e2eC[q] = (r.completion[i]! - arr) * 1e6 - pE;
    gapsC[q] = (r.completion[i]! - r.firstToken[i]! - a1! * 1e-6) * 1e6 - pG;
  }
  return { experiment: e, run, np, n, ttft, e2e, gaps, ttftC, e2eC, gapsC, gapCount, stage };
}

// ---------------------------------------------------------------------------------------------------------------
// Fitting
// ---------------------------------------------------------------------------------------------------------------

/** The metrics fitted (means; percentiles are reported, not fitted). */
export const FIT_METRICS: readonly Metric[] = ["ttft_mean", "e2e_mean", "itl_mean"];

/** A linear row (mean over a stage's requests) and its constant, for one metric. */
function meanRow(rc: Recording, m: Metric, keep: (q: number) => boolean): { row: Float64Array; c: number } {
  const np = rc.np;
  const row = new Float64Array(np);
  let c = 0;
  if (m === "itl_mean") {
    let cnt = 0;
    for (let q = 0; q < rc.n; q++) {
      if (!keep(q)) continue;
      for (let j = 0; j < np; j++) row[j]! += rc.gaps[q * np + j]!;
      c += rc.gapsC[q]!;
      cnt += rc.gapCount[q]!;
    }
    if (cnt > 0) {
      for (let j = 0; j < np; j++) row[j]! /= cnt;
      c /= cnt;
    }
    return { row, c };
  }
  const A = m === "ttft_mean" ? rc.ttft : rc.e2e;
  const C = m === "ttft_mean" ? rc.ttftC : rc.e2eC;
  let cnt = 0;
  for (let q = 0; q < rc.n; q++) {
    if (!keep(q)) continue;
    for (let j = 0; j < np; j++) row[j]! += A[q * np + j]!;
    c += C[q]!;
    cnt++;
  }
  if (cnt > 0) {
    for (let j = 0; j < np; j++) row[j]! /= cnt;
    c /= cnt;
  }
  return { row, c };
}

export interface FitOptions {
  readonly workloadMode?: WorkloadMode;
  /** Multiplies the prior's weight (default 1; 0 = plain least squares, with a tiny ridge for conditioning). */
  readonly priorWeight?: number;
  /** Outer iterations at most (default 8). */
  readonly maxIterations?: number;
  /** Start here instead of the prior (θ, α). */
  readonly start?: { theta: Float64Array; alpha: number[] };
  /** Progress lines (stderr in the CLI). */
  readonly log?: (line: string) => void;
  /** Fit this family (e.g. one whose prior is a step-time fit) instead of the kind's default. */
  readonly family?: Family;
}

export interface FitResult {
  readonly kind: ModelKind;
  readonly family: Family;
  readonly theta: Float64Array;
  /** [α0, α1, α2] µs. */
  readonly alpha: number[];
  readonly iterations: number;
  readonly experiments: readonly string[];
  /** Fitted (training) APE per experiment and MAPE, from a final simulation with the fitted coefficients. */
  readonly ape: Readonly<Record<string, Metrics>>;
  readonly mape: Partial<Metrics>;
  readonly runs: readonly ExperimentRun[];
}

/** Measured targets (e, stage, metric) of the training experiments: whole run and each stage. */
function targets(e: Experiment): { stage: string; k: number; m: Metric; y: number }[] {
  const a = e.actual_vllm_ms;
  if (a === undefined) return [];
  const out: { stage: string; k: number; m: Metric; y: number }[] = [];
  const names = stageNames(e);
  names.forEach((stage, idx) => {
    const v = a[stage];
    if (v === undefined) return;
    // A single-stage run's stage_0 repeats its summary: count it once.
    if (names.length === 2 && idx === 1) return;
    for (const m of FIT_METRICS) out.push({ stage, k: idx - 1, m, y: v[m] * 1000 }); // ms → µs
  });
  return out;
}

/** One least-squares solve on the recordings. Returns the new (θ, α). */
function solve(
  recs: readonly Recording[],
  family: Family,
  priorWeight: number,
): { theta: Float64Array; alpha: number[]; predicted: number[] } {
  const K = family.terms.length;
  const np = K + 3;
  const rows: Float64Array[] = [];
  const ys: number[] = [];
  for (const rc of recs) {
    for (const t of targets(rc.experiment)) {
      const { row, c } = meanRow(rc, t.m, t.k < 0 ? () => true : (q) => rc.stage[q] === t.k);
      // Relative residual in units of the expected noise: (row·p + c − y) / (y·NOISE).
      const w = 1 / (t.y * FIT_NOISE);
      const r = new Float64Array(np);
      for (let j = 0; j < np; j++) r[j] = row[j]! * w;
      rows.push(r);
      ys.push((t.y - c) * w);
    }
  }
  // Prior rows: (p_j − prior_j)/σ_j in units of the data rows' noise, plus a tiny ridge for conditioning.
  const priorP = new Float64Array(np);
  priorP.set(family.prior);
  priorP.set(family.alphaPrior, K);
  const std = new Float64Array(np);
  std.set(family.priorStd);
  std.set(ALPHA_PRIOR_STD, K);
  for (let j = 0; j < np; j++) {
    const wj = Math.sqrt((FIT_NOISE / std[j]!) ** 2 * priorWeight + 1e-12);
    const r = new Float64Array(np);
    r[j] = wj;
    rows.push(r);
    ys.push(wj * priorP[j]!);
  }
  // Fixed α (not fitted) leave the problem: their contribution moves to the right-hand side.
  const free: number[] = [];
  for (let j = 0; j < np; j++) if (j < K || family.fitAlpha[j - K]) free.push(j);
  const nf = free.length;
  const m = rows.length;
  const A = new Float64Array(m * nf);
  const y = Float64Array.from(ys);
  rows.forEach((r, i) => {
    free.forEach((j, c) => {
      A[i * nf + c] = r[j]!;
    });
    for (let j = K; j < np; j++) if (!family.fitAlpha[j - K]) y[i]! -= r[j]! * priorP[j]!;
  });
  const sol = nnls(A, y, m, nf);
  const p = Float64Array.from(priorP);
  free.forEach((j, c) => {
    p[j] = sol[c]!;
  });
  const theta = p.slice(0, K);
  const alpha = [p[K]!, p[K + 1]!, p[K + 2]!];
  const predicted: number[] = [];
  for (const rc of recs) {
    for (const t of targets(rc.experiment)) {
      const { row, c } = meanRow(rc, t.m, t.k < 0 ? () => true : (q) => rc.stage[q] === t.k);
      let s = c;
      for (let j = 0; j < np; j++) s += row[j]! * p[j]!;
      predicted.push(s);
    }
  }
  return { theta, alpha, predicted };
}

/** Summary-level predicted metrics of a recording's run vs measured: APE. */
function runApe(run: ExperimentRun): Metrics | undefined {
  const a = run.experiment.actual_vllm_ms?.summary;
  return a !== undefined ? apeOf(run.predicted.summary!, a) : undefined;
}

/** Fits (θ, α) of `kind` on the measured experiments of `experiments`. */
export function fitCoefficients(experiments: readonly Experiment[], kind: ModelKind, o: FitOptions = {}): FitResult {
  const train = experiments.filter((e) => e.actual_vllm_ms !== undefined);
  if (train.length === 0) throw new Error("calibration needs at least one experiment with actual_vllm_ms");
  const family = o.family ?? familyFor(kind, train);
  const priorWeight = o.priorWeight ?? 1;
  const maxIter = o.maxIterations ?? 8;
  const workloadMode = o.workloadMode ?? "fresh";
  let theta = o.start ? Float64Array.from(o.start.theta) : Float64Array.from(family.prior);
  let alpha = o.start ? [...o.start.alpha] : [...family.alphaPrior];
  let prev: number[] | undefined;
  let iterations = 0;
  for (let it = 0; it < maxIter; it++) {
    iterations = it + 1;
    const recs = train.map((e) => record(e, family, theta, alpha, workloadMode));
    const s = solve(recs, family, priorWeight);
    // Under-relax after the first solve: the batches move with the coefficients (more time per step, more requests
    // in flight), which the linearisation ignores, so plain iteration oscillates.
    const w = it === 0 && o.start === undefined ? 1 : 0.6;
    const next = Float64Array.from(s.theta, (x, j) => theta[j]! + w * (x - theta[j]!));
    const nextAlpha = s.alpha.map((x, j) => alpha[j]! + w * (x - alpha[j]!));
    const change = prev === undefined ? Number.POSITIVE_INFINITY : maxRelChange(prev, s.predicted);
    o.log?.(`  iteration ${iterations}: ${train.length} runs simulated, predicted means moved ${fmtChange(change)}`);
    o.log?.(
      `    θ ${[...next].map((x) => x.toPrecision(4)).join(" ")} α ${s.alpha.map((x) => x.toFixed(0)).join(" ")}`,
    );
    theta = next;
    alpha = nextAlpha;
    prev = s.predicted;
    if (change < 5e-3) break;
  }
  const runs = train.map((e) => simulateExperiment(e, family.build(e, theta, alpha), { workloadMode }));
  const ape: Record<string, Metrics> = {};
  for (const r of runs) {
    const x = runApe(r);
    if (x !== undefined) ape[r.experiment.id] = x;
  }
  return {
    kind,
    family,
    theta,
    alpha,
    iterations,
    experiments: train.map((e) => e.id),
    ape,
    mape: mapeOf(Object.values(ape)),
    runs,
  };
}

function maxRelChange(a: readonly number[], b: readonly number[]): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(b[i]! - a[i]!) / Math.max(Math.abs(a[i]!), 1e-9));
  return m;
}

function fmtChange(x: number): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(2)} %` : "(first solve)";
}

// ---------------------------------------------------------------------------------------------------------------
// Leave-one-out
// ---------------------------------------------------------------------------------------------------------------

export interface LooFold {
  readonly id: string;
  /** Predicted summary metrics of the held-out experiment with coefficients fitted on the others; absent if the
   * family cannot predict it (linear: no other run of its model). */
  readonly predicted?: Metrics;
  readonly actual: Metrics;
  readonly ape?: Metrics;
  readonly blis?: Metrics;
  readonly blisApe?: Metrics;
  readonly theta?: readonly number[];
  readonly alpha?: readonly number[];
}

export interface LooResult {
  readonly kind: ModelKind;
  readonly folds: readonly LooFold[];
  /** MAPE over the folds that could be predicted. */
  readonly mape: Partial<Metrics>;
  /** BLIS's MAPE over the same folds. */
  readonly blisMape: Partial<Metrics>;
  readonly predictedFolds: number;
}

/** Leave-one-out: for each measured experiment, fit on the others and predict it. */
export function leaveOneOut(
  experiments: readonly Experiment[],
  kind: ModelKind,
  o: FitOptions & { blis?: (e: Experiment) => Metrics | undefined } = {},
): LooResult {
  const measured = experiments.filter((e) => e.actual_vllm_ms !== undefined);
  const folds: LooFold[] = [];
  for (const held of measured) {
    const rest = measured.filter((e) => e !== held);
    const actual = held.actual_vllm_ms!.summary!;
    const blis = o.blis?.(held);
    const blisPart = blis !== undefined ? { blis, blisApe: apeOf(blis, actual) } : {};
    const family = familyFor(kind, rest);
    if (!family.covers(held) || rest.length === 0) {
      o.log?.(`fold ${held.id}: not predictable by ${kind} (no other run of ${groupKey(held)})`);
      folds.push({ id: held.id, actual, ...blisPart });
      continue;
    }
    o.log?.(`fold ${held.id}: fitting on ${rest.length} experiments`);
    const f = fitCoefficients(rest, kind, o);
    const run = simulateExperiment(held, f.family.build(held, f.theta, f.alpha), {
      workloadMode: o.workloadMode ?? "fresh",
    });
    const predicted = run.predicted.summary!;
    folds.push({
      id: held.id,
      predicted,
      actual,
      ape: apeOf(predicted, actual),
      ...blisPart,
      theta: [...f.theta],
      alpha: f.alpha,
    });
  }
  const done = folds.filter((f) => f.ape !== undefined);
  return {
    kind,
    folds,
    mape: mapeOf(done.map((f) => f.ape!)),
    blisMape: mapeOf(done.map((f) => f.blisApe).filter((x): x is Metrics => x !== undefined)),
    predictedFolds: done.length,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Coefficient files
// ---------------------------------------------------------------------------------------------------------------

export interface CoefficientFileOptions {
  readonly name: string;
  readonly data: readonly string[];
  readonly source?: string;
  readonly loo?: LooResult;
}

/** The coefficient file of a fit (schema `CoefficientFileSchema`; `coefficients: FILE.json` in a scenario). */
export function coefficientFile(f: FitResult, o: CoefficientFileOptions): CoefficientFile {
  const round = (x: number) => Number(x.toPrecision(10));
  const fitInfo: Record<string, unknown> = {
    method:
      "least squares on relative errors of ttft/e2e/itl means (whole runs and stages), non-negative, with a " +
      "Gaussian prior (kernel: table corrections 1 ± 0.3), refined by re-simulation (src/lab/calibrate.ts)",
    data: o.data,
    experiments: f.experiments,
    iterations: f.iterations,
    terms: [...f.family.terms],
    alpha_terms: [...ALPHA_NAMES],
    fitted_mape: roundMetrics(f.mape),
    fitted_ape: Object.fromEntries(Object.entries(f.ape).map(([k, v]) => [k, roundMetrics(v)])),
  };
  if (o.loo !== undefined) {
    fitInfo.leave_one_out_mape = roundMetrics(o.loo.mape);
    fitInfo.leave_one_out_blis_mape = roundMetrics(o.loo.blisMape);
    fitInfo.leave_one_out_folds = o.loo.predictedFolds;
  }
  const source =
    o.source ??
    `gatelab calibrate --model ${f.kind} on ${f.experiments.length} measured vLLM runs (${o.data.join(", ")})`;
  const base = {
    format: "gatelab-coefficients/1" as const,
    name: o.name,
    model: f.kind,
    source,
    alpha_us: [round(f.alpha[0]!), round(f.alpha[1]!), round(f.alpha[2]!)] as [number, number, number],
  };
  let out: CoefficientFile;
  if (f.kind === "linear") {
    const rows = f.experiments
      .map((id) => f.runs.find((r) => r.experiment.id === id)!.experiment)
      .map((e) => groupKey(e));
    const groups = [...new Set(rows)].sort();
    const all = f.family.terms;
    out = {
      ...base,
      alpha_us: [base.alpha_us[0], 0, base.alpha_us[2]],
      linear: groups.map((g) => {
        const k = all.indexOf(`${g}:beta0_us`);
        const [model, gpu, tp] = g.split("|") as [string, string, string];
        return {
          model,
          gpu,
          tp: Number(tp),
          beta_us: [round(f.theta[k]!), round(f.theta[k + 1]!), round(f.theta[k + 2]!)] as [number, number, number],
        };
      }),
      fit: fitInfo,
    };
  } else {
    fitInfo.theta = [...f.theta].map(round);
    const beta = f.kind === "physics" ? physicsBeta(f.theta) : [...f.theta];
    out = { ...base, beta: beta.map(round), fit: fitInfo };
  }
  return CoefficientFileSchema.parse(out);
}

function roundMetrics(m: Partial<Metrics>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Number((v as number).toFixed(5))]));
}

/** The whole `calibrate` workflow on loaded sets (CLI and scripts). */
export interface CalibrateOptions extends FitOptions {
  readonly kind: ModelKind;
  readonly leaveOneOut?: boolean;
  readonly name?: string;
}

export interface CalibrationOutput {
  readonly fit: FitResult;
  readonly loo?: LooResult;
  readonly file: CoefficientFile;
}

export function calibrate(sets: readonly ValidationSet[], o: CalibrateOptions): CalibrationOutput {
  const experiments = sets.flatMap((s) => s.experiments);
  const blis = (e: Experiment) => {
    const b = e.blis_trained_physics_iter29_predicted_summary_ms;
    if (b === undefined) return undefined;
    const out: Partial<Metrics> = {};
    for (const m of METRICS) {
      const v = b[`${m}_ms`];
      if (typeof v !== "number") return undefined;
      out[m] = v;
    }
    return out as Metrics;
  };
  o.log?.(`fitting ${o.kind} on ${experiments.filter((e) => e.actual_vllm_ms).length} experiments`);
  const f = fitCoefficients(experiments, o.kind, o);
  const loo = o.leaveOneOut ? leaveOneOut(experiments, o.kind, { ...o, blis }) : undefined;
  const file = coefficientFile(f, {
    name: o.name ?? `calibrated-${o.kind}`,
    data: sets.map((s) => s.file),
    ...(loo !== undefined ? { loo } : {}),
  });
  return { fit: f, ...(loo !== undefined ? { loo } : {}), file };
}
