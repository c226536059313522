/**
 * Recording a simulation for calibration: every step's start, duration and basis terms, and per completed request
 * the rows that make its TTFT, E2E and Σ inter-token gaps linear in (θ, α0, α1, α2) with the batches held fixed.
 */
import type { BatchShape, CostModel, RequestOverheads } from "../models/cost.ts";
import type { Replica } from "../models/replica.ts";
import { Outcome } from "../sim/request.ts";
import { type Family, overheadsOf } from "./fit-families.ts";
import { type Experiment, type ExperimentRun, simulateExperiment, type WorkloadMode } from "./validate.ts";

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
    const d = r.enqueueAt(i);
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
