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
import { type CoefficientFile, CoefficientFileSchema } from "../models/cost-factory.ts";
import {
  ALPHA_NAMES,
  ALPHA_PRIOR_STD,
  type Family,
  FIT_NOISE,
  familyFor,
  groupKey,
  type ModelKind,
} from "./fit-families.ts";
import { nnls } from "./nnls.ts";
import { type Recording, record } from "./recording.ts";
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

export { kernelFamily } from "../models/cost-calibration.ts";
export { MODEL_KINDS, type ModelKind, physicsBeta } from "./fit-families.ts";
export { nnls } from "./nnls.ts";
export { record } from "./recording.ts";

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
  const priorWeight = (o.priorWeight ?? 1) * (family.priorWeight ?? 1);
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
    // The first solve is taken whole even from a given start (a step-time fit's θ with α = 0): relaxing it left α
    // at 60 % of its solution when the next solve already moved the means < 0.5 %, and the fit stopped there.
    const w = it === 0 ? 1 : 0.6;
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
  // The fitted (model, GPU, TP) as the catalog names them (a linear file has one row each).
  const groups = [
    ...new Set(f.experiments.map((id) => groupKey(f.runs.find((r) => r.experiment.id === id)!.experiment))),
  ]
    .sort()
    .map((g) => {
      const [model, gpu, tp] = g.split("|") as [string, string, string];
      return { model, gpu, tp: Number(tp) };
    });
  const fields = f.family.fileFields(f.theta, base.alpha_us, groups, round);
  if ("beta" in fields) fitInfo.theta = [...f.theta].map(round);
  const out: CoefficientFile = { ...base, ...fields, fit: fitInfo };
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
