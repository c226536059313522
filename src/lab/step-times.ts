/**
 * Step-time measurements: a small CSV of measured engine steps (prefill and decode times on one GPU), parsed and
 * fitted directly — every cost model is linear in its step coefficients θ (step µs = Σ θ_k·f_k(batch), see
 * calibrate.ts), so a table of (batch shape, measured time) is an ordinary least-squares problem, no simulation.
 *
 * File format (docs/calibration.md): a header line naming the columns (any order), then one row per measured step
 * shape; `#` starts a comment line. Columns:
 *
 *   time_ms           measured duration of one engine step, milliseconds (mean over `count` repetitions) — required
 *   prefill_tokens    new prompt tokens computed in the step, all prefill requests together (default 0)
 *   prefill_requests  requests those tokens belong to, split evenly (default 1 when prefill_tokens > 0, else 0)
 *   cached_tokens     tokens each prefill request already had in the KV cache before this chunk (default 0)
 *   decode_batch      sequences decoding one token each in the step (default 0)
 *   decode_context    mean context (tokens in the KV cache) of the decoding sequences (default 0)
 *   count             repetitions averaged into time_ms: the row's weight (default 1)
 *   model, gpu, tp    the catalog model, GPU and tensor parallelism (default: the command line's)
 *
 * Every row needs prefill_tokens > 0 or decode_batch > 0. Errors name `FILE:LINE: COLUMN` and what was expected.
 */
import { readFileSync } from "node:fs";
import { InputError, inputError } from "../errors.ts";
import { getGpu, getModel } from "../models/catalog.ts";
import { type BatchShape, emptyBatch } from "../models/cost.ts";
import type { CoefficientFile } from "../models/cost-factory.ts";
import { CoefficientFileSchema } from "../models/cost-factory.ts";
import { splitCsv } from "../workloads/lines.ts";
import { type Family, familyFor, groupKey, type ModelKind } from "./fit-families.ts";
import { nnls } from "./nnls.ts";
import type { Experiment } from "./validate.ts";

export const STEP_COLUMNS = [
  "time_ms",
  "prefill_tokens",
  "prefill_requests",
  "cached_tokens",
  "decode_batch",
  "decode_context",
  "count",
  "model",
  "gpu",
  "tp",
] as const;

/** One measured step shape. */
export interface StepRow {
  /** Line of the row in its file (for messages). */
  readonly line: number;
  readonly model: string;
  readonly gpu: string;
  readonly tp: number;
  readonly prefillTokens: number;
  readonly prefillRequests: number;
  readonly cachedTokens: number;
  readonly decodeBatch: number;
  readonly decodeContext: number;
  readonly timeMs: number;
  readonly count: number;
}

export interface StepTable {
  readonly file: string;
  readonly rows: readonly StepRow[];
}

/** Where a row's model, GPU and TP come from when the file has no such column (the CLI's --model-name etc.). */
export interface StepDefaults {
  readonly model?: string;
  readonly gpu?: string;
  readonly tp?: number;
}

/** Parses a step-time CSV's text. Throws InputError naming `FILE:LINE: COLUMN`. */
export function parseStepTable(text: string, file: string, defaults: StepDefaults = {}): StepTable {
  const lines = text.split("\n");
  let header: string[] | undefined;
  let headerLine = 0;
  const col = new Map<string, number>();
  const rows: StepRow[] = [];
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (i === 0 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    const ln = i + 1;
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const f = splitCsv(line);
    if (typeof f === "string") throw inputError(file, ln, "line", f);
    if (header === undefined) {
      header = f.map((x) => x.trim());
      headerLine = ln;
      header.forEach((name, k) => {
        if (!(STEP_COLUMNS as readonly string[]).includes(name)) {
          throw inputError(
            file,
            ln,
            name || `column ${k + 1}`,
            `unknown column; expected some of ${STEP_COLUMNS.join(", ")}`,
          );
        }
        if (col.has(name)) throw inputError(file, ln, name, "column named twice");
        col.set(name, k);
      });
      if (!col.has("time_ms")) throw inputError(file, ln, "time_ms", "expected a column named time_ms (step time, ms)");
      if (!col.has("prefill_tokens") && !col.has("decode_batch")) {
        throw inputError(file, ln, "header", "expected a prefill_tokens or a decode_batch column (or both)");
      }
      for (const [k, name] of [
        ["model", defaults.model],
        ["gpu", defaults.gpu],
        ["tp", defaults.tp],
      ] as const) {
        if (!col.has(k) && name === undefined) {
          throw inputError(
            file,
            ln,
            k,
            `expected a ${k} column, or give it on the command line (--${k === "model" ? "model-name" : k})`,
          );
        }
      }
      continue;
    }
    if (f.length !== header.length) {
      throw inputError(file, ln, "line", `expected ${header.length} comma-separated fields, got ${f.length}`);
    }
    const raw = (name: string): string | undefined => {
      const k = col.get(name);
      return k === undefined ? undefined : f[k]!.trim();
    };
    const num = (name: string, o: { int?: boolean; positive?: boolean; dflt?: number }): number => {
      const s = raw(name);
      if (s === undefined || s === "") {
        if (o.dflt !== undefined) return o.dflt;
        throw inputError(file, ln, name, `expected ${o.int ? "an integer" : "a number"}, got nothing`);
      }
      const v = Number(s);
      const shown = s.length > 40 ? `${s.slice(0, 40)}…` : s;
      const what = `${o.positive ? "a positive" : "a non-negative"} ${o.int ? "integer" : "number"}`;
      if (!Number.isFinite(v) || (o.int && !Number.isInteger(v)) || v < 0 || (o.positive && v === 0)) {
        throw inputError(file, ln, name, `expected ${what}, got "${shown}"`);
      }
      return v;
    };
    const prefillTokens = num("prefill_tokens", { int: true, dflt: 0 });
    const prefillRequests = num("prefill_requests", { int: true, dflt: prefillTokens > 0 ? 1 : 0 });
    const decodeBatch = num("decode_batch", { int: true, dflt: 0 });
    if (prefillTokens === 0 && decodeBatch === 0) {
      throw inputError(file, ln, "prefill_tokens", "expected prefill_tokens > 0 or decode_batch > 0 (an empty step)");
    }
    if (prefillTokens > 0 && prefillRequests === 0) {
      throw inputError(file, ln, "prefill_requests", "expected ≥ 1 when prefill_tokens > 0");
    }
    if (prefillRequests > prefillTokens) {
      throw inputError(
        file,
        ln,
        "prefill_requests",
        `expected ≤ prefill_tokens (${prefillTokens}), got ${prefillRequests}`,
      );
    }
    const model = raw("model") || defaults.model;
    const gpu = raw("gpu") || defaults.gpu;
    if (model === undefined || model === "") throw inputError(file, ln, "model", "expected a catalog model name");
    if (gpu === undefined || gpu === "") throw inputError(file, ln, "gpu", "expected a GPU name");
    let modelName: string;
    let gpuName: string;
    try {
      modelName = getModel(model).name;
    } catch (e) {
      throw inputError(file, ln, "model", (e as Error).message);
    }
    try {
      gpuName = getGpu(gpu).name;
    } catch (e) {
      throw inputError(file, ln, "gpu", (e as Error).message);
    }
    rows.push({
      line: ln,
      model: modelName,
      gpu: gpuName,
      tp: num("tp", { int: true, positive: true, ...(defaults.tp !== undefined ? { dflt: defaults.tp } : {}) }),
      prefillTokens,
      prefillRequests,
      cachedTokens: num("cached_tokens", { dflt: 0 }),
      decodeBatch,
      decodeContext: num("decode_context", { dflt: 0 }),
      timeMs: num("time_ms", { positive: true }),
      count: num("count", { positive: true, dflt: 1 }),
    });
  }
  if (header === undefined)
    throw inputError(file, 1, "header", "expected a header line naming the columns, got an empty file");
  if (rows.length === 0)
    throw inputError(file, headerLine, "rows", "expected at least one measured step after the header");
  return { file, rows };
}

/** Reads and parses a step-time CSV (InputError if unreadable or malformed). */
export function loadStepTable(file: string, defaults: StepDefaults = {}): StepTable {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new InputError(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseStepTable(text, file, defaults);
}

/** The batch shape of a row, with its prefill split evenly over its prefill requests (`BatchShape` semantics). */
export function rowBatch(r: StepRow, out: BatchShape = emptyBatch()): BatchShape {
  const T = r.prefillTokens;
  const R = r.prefillRequests;
  const t = R > 0 ? T / R : 0;
  out.prefillRequests = R;
  out.prefillTokens = T;
  out.prefillAttnWork = T * (r.cachedTokens + t / 2);
  out.prefillContext = R * r.cachedTokens + T;
  out.prefillTokensSq = T * t;
  out.decodeRequests = r.decodeBatch;
  out.decodeContext = r.decodeBatch * r.decodeContext;
  out.distinctAdapters = 0;
  out.maxAdapterRank = 0;
  return out;
}

/**
 * A stand-in experiment for a (model, GPU, TP) group: the cost-model families key their basis on these three fields
 * and the id; the server and workload fields are placeholders that the step fit never reads.
 */
export function groupExperiment(model: string, gpu: string, tp: number): Experiment {
  return {
    id: `${model}|${gpu}|${tp}`,
    model,
    hardware: gpu,
    tp,
    max_num_seqs: 1,
    max_num_batched_tokens: 1,
    total_kv_blocks_gpu: 1,
    cpu_kv_blocks: 0,
    kv_block_size_tokens: 16,
    workload: {
      inference_perf: {
        shared_prefix: {
          num_unique_system_prompts: 1,
          num_users_per_system_prompt: 1,
          system_prompt_len: 0,
          question_len: 1,
          output_len: 1,
          enable_multi_turn_chat: false,
        },
        stages: [{ rate: 1, duration: 1 }],
      },
      seed: 0,
    },
  };
}

/** Expected relative error of one measured step time (timer noise, run-to-run variation): sets the prior's weight. */
export const STEP_NOISE = 0.02;

export interface StepFit {
  readonly kind: ModelKind;
  readonly family: Family;
  readonly theta: Float64Array;
  readonly groups: readonly Experiment[];
  /** Predicted step time (ms) and absolute percentage error per row, in file order (all tables). */
  readonly predictedMs: Float64Array;
  readonly ape: Float64Array;
  readonly mape: number;
  readonly rows: number;
  readonly files: readonly string[];
}

/**
 * Fits θ of `kind` to measured step times: non-negative least squares on relative errors (each row weighted by its
 * `count`), with the family's Gaussian prior weighted as one measurement of STEP_NOISE per coefficient — it only
 * decides what the data cannot (terms that are constant over every row, e.g. per-layer vs per-step overhead of one
 * model, are split as the prior says).
 */
export function fitStepTimes(tables: readonly StepTable[], kind: ModelKind, o: { priorWeight?: number } = {}): StepFit {
  const rows = tables.flatMap((t) => t.rows);
  if (rows.length === 0) throw new InputError("step times: no measured step");
  const groupOf = new Map<string, Experiment>();
  for (const r of rows) {
    const e = groupExperiment(r.model, r.gpu, r.tp);
    if (!groupOf.has(e.id)) groupOf.set(e.id, e);
  }
  const groups = [...groupOf.values()];
  const family = familyFor(kind, groups);
  const K = family.terms.length;
  const basis = new Map<string, (b: BatchShape, out: Float64Array) => void>();
  for (const g of groups) {
    try {
      basis.set(g.id, family.basisFor(g));
    } catch (e) {
      throw new InputError(`step times: ${kind} cannot price ${groupKey(g)}: ${(e as Error).message}`);
    }
  }
  const priorWeight = o.priorWeight ?? 1;
  const m = rows.length + K;
  const A = new Float64Array(m * K);
  const y = new Float64Array(m);
  const f = new Float64Array(K);
  const b = emptyBatch();
  const features: Float64Array[] = [];
  rows.forEach((r, i) => {
    basis.get(`${r.model}|${r.gpu}|${r.tp}`)!(rowBatch(r, b), f);
    features.push(Float64Array.from(f));
    const yUs = r.timeMs * 1000;
    const w = Math.sqrt(r.count) / yUs;
    for (let j = 0; j < K; j++) A[i * K + j] = f[j]! * w;
    y[i] = Math.sqrt(r.count);
  });
  for (let j = 0; j < K; j++) {
    const wj = Math.sqrt((STEP_NOISE / (family.stepPrior?.std ?? family.priorStd)[j]!) ** 2 * priorWeight + 1e-12);
    const i = rows.length + j;
    A[i * K + j] = wj;
    y[i] = wj * (family.stepPrior?.mean ?? family.prior)[j]!;
  }
  const theta = nnls(A, y, m, K);
  const predictedMs = new Float64Array(rows.length);
  const ape = new Float64Array(rows.length);
  let sum = 0;
  rows.forEach((r, i) => {
    let us = 0;
    for (let j = 0; j < K; j++) us += theta[j]! * features[i]![j]!;
    predictedMs[i] = us / 1000;
    ape[i] = Math.abs(us / 1000 - r.timeMs) / r.timeMs;
    sum += ape[i]!;
  });
  return {
    kind,
    family,
    theta,
    groups,
    predictedMs,
    ape,
    mape: sum / rows.length,
    rows: rows.length,
    files: tables.map((t) => t.file),
  };
}

/** The coefficient file of a step fit, with request overheads `alphaUs` (default 0: steps say nothing of them). */
export function stepCoefficientFile(
  fit: StepFit,
  o: { name: string; alphaUs?: readonly [number, number, number]; source?: string },
): CoefficientFile {
  const round = (x: number) => Number(x.toPrecision(10));
  const alpha = (o.alphaUs ?? [0, 0, 0]).map(round) as [number, number, number];
  const fitInfo: Record<string, unknown> = {
    method:
      "non-negative least squares on relative errors of measured step times, with the cost model's Gaussian prior " +
      "(src/lab/step-times.ts)",
    data: fit.files,
    step_rows: fit.rows,
    terms: [...fit.family.terms],
    theta: [...fit.theta].map(round),
    fitted_step_mape: Number(fit.mape.toFixed(5)),
  };
  const source =
    o.source ?? `gatelab calibrate --model ${fit.kind} on ${fit.rows} measured step times (${fit.files.join(", ")})`;
  const base = { format: "gatelab-coefficients/1" as const, name: o.name, model: fit.kind, source, alpha_us: alpha };
  const groups = fit.groups.map((g) => ({ model: g.model, gpu: g.hardware, tp: g.tp }));
  return CoefficientFileSchema.parse({
    ...base,
    ...fit.family.fileFields(fit.theta, alpha, groups, round),
    fit: fitInfo,
  });
}

/**
 * `family` with its θ prior moved to a step-time fit (terms matched by name; the others keep the family's prior):
 * mean θ, standard deviation `relStd`·θ (at least `floor`·the family's own σ). A simulation fit on end-to-end
 * measurements then keeps the measured step costs and learns mainly the request overheads α, which step times cannot
 * show.
 */
export function withStepPrior(family: Family, steps: StepFit, relStd = 0.02, floor = 1e-6): Family {
  const prior = Float64Array.from(family.prior);
  const priorStd = Float64Array.from(family.priorStd);
  family.terms.forEach((name, j) => {
    const k = steps.family.terms.indexOf(name);
    if (k < 0) return;
    const t = steps.theta[k]!;
    prior[j] = t;
    priorStd[j] = Math.max(Math.abs(t) * relStd, family.priorStd[j]! * floor);
  });
  return { ...family, prior, priorStd };
}
