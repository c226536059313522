/**
 * Linear cost model: BLIS's legacy "blackbox" per-(model, GPU, TP, vLLM version) regression
 * (data/blis/README.md; semantics from BLIS `sim/latency/latency.go` at 87cc70ed), all coefficients in µs:
 *
 *   step_time          = β0 + β1 · (new prefill tokens computed this step, prefix-cache misses only)
 *                           + β2 · (decode tokens this step = decoding requests)
 *   queueing_time(req) = α0 + α1 · input_len     (API / tokenise / queue, before the request is scheduled)
 *   per output token   = α2                      (streaming / detokenise)
 *
 * Coefficients come from `data/blis/blackbox_coefficients.csv` (111 fits) or are given explicitly.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../errors.ts";
import { BLIS_DATA_DIR, findModel, getGpu, type ModelSpec } from "./catalog.ts";
import type { BatchShape, CostModel, RequestOverheads } from "./cost.ts";

export type Triple = readonly [number, number, number];

export interface LinearCoefficients {
  /** [β0 µs/step, β1 µs/prefill token, β2 µs/decode token]. */
  readonly beta: Triple;
  /** [α0 µs/request, α1 µs/input token, α2 µs/output token]. */
  readonly alpha: Triple;
  /** Provenance. */
  readonly source: string;
}

/** One row of the BLIS blackbox CSV. */
export interface BlackboxRow extends LinearCoefficients {
  readonly modelId: string;
  readonly gpu: string;
  readonly tp: number;
  /** As written in the CSV, e.g. `vllm/vllm-openai:v0.11.0`. */
  readonly vllmVersion: string;
  /** The trainer's fit loss (relative; units undocumented); null where the CSV leaves it empty. */
  readonly bestLoss: number | null;
  /** 1-based line number in the CSV. */
  readonly line: number;
}

const CSV_NAME = "blackbox_coefficients.csv";
const CSV_COLUMNS = [
  "model_id",
  "gpu",
  "tensor_parallelism",
  "vllm_version",
  "alpha0_us",
  "alpha1_us_per_input_token",
  "alpha2_us_per_output_token",
  "beta0_us_per_step",
  "beta1_us_per_cache_miss_prefill_token",
  "beta2_us_per_decode_token",
  "best_loss",
];

function loadBlackboxCsv(): readonly BlackboxRow[] {
  const path = join(BLIS_DATA_DIR, CSV_NAME);
  const lines = readFileSync(path, "utf8").split(/\r?\n/);
  if (lines[0]?.trim() !== CSV_COLUMNS.join(",")) {
    throw new Error(`${path}: unexpected header, expected ${CSV_COLUMNS.join(",")}`);
  }
  const rows: BlackboxRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const text = lines[i]?.trim() ?? "";
    if (text === "") continue;
    const f = text.split(",");
    const num = (k: number): number => {
      const v = Number(f[k]);
      if (f[k] === undefined || f[k] === "" || !Number.isFinite(v)) {
        throw new Error(`${path}:${i + 1}: column ${CSV_COLUMNS[k]} is not a number: ${JSON.stringify(f[k])}`);
      }
      return v;
    };
    if (f.length !== CSV_COLUMNS.length) throw new Error(`${path}:${i + 1}: expected ${CSV_COLUMNS.length} fields`);
    const modelId = f[0] ?? "";
    const gpu = f[1] ?? "";
    const vllmVersion = f[3] ?? "";
    rows.push({
      modelId,
      gpu,
      tp: num(2),
      vllmVersion,
      alpha: [num(4), num(5), num(6)],
      beta: [num(7), num(8), num(9)],
      bestLoss: f[10] === "" ? null : num(10),
      line: i + 1,
      source: `data/blis/${CSV_NAME}:${i + 1} (BLIS blackbox fit ${modelId} ${gpu} TP${num(2)} ${vllmVersion})`,
    });
  }
  return rows;
}

/** The 111 BLIS blackbox fits, in file order. */
export const BLACKBOX_ROWS: readonly BlackboxRow[] = loadBlackboxCsv();

/** `vllm/vllm-openai:v0.10.1.1`, `v0.10.1.1` or `0.10.1.1` → [0, 10, 1, 1]. */
function parseVersion(v: string): number[] {
  const tail = v.includes(":") ? v.slice(v.lastIndexOf(":") + 1) : v;
  return tail
    .trim()
    .replace(/^v/i, "")
    .split(".")
    .map((p) => Number.parseInt(p, 10));
}

function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x - y;
  }
  return 0;
}

function sameVersion(a: string, b: string): boolean {
  return compareVersions(a, b) === 0;
}

/** Lower-case names under which `model` may appear in the CSV: the catalog's HF id and aliases, or itself. */
function modelKeys(model: string | ModelSpec): Set<string> {
  // A name not in the catalog: the CSV has fits for models the catalog lacks; match the id as given.
  const spec: ModelSpec | null = typeof model !== "string" ? model : (findModel(model) ?? null);
  const keys = new Set<string>();
  if (typeof model === "string") keys.add(model.trim().toLowerCase());
  if (spec !== null) for (const k of [spec.name, spec.hfId, ...spec.aliases]) keys.add(k.toLowerCase());
  return keys;
}

/**
 * The BLIS blackbox fit for (model, GPU, TP[, vLLM version]). `model` is a catalog name or alias, or any model id of
 * the CSV (case-insensitive); `gpu` a catalog GPU name or alias (the CSV's `A100-80` is the catalog's `A100-80GB`).
 * Without a version, the newest vLLM version present wins. When one combination has several rows (the CSV repeats
 * some quantized models with different fits), the row with the lowest `best_loss` wins (an empty loss never wins). Throws, listing the
 * available combinations, when there is no row.
 */
export function linearCoefficients(
  model: string | ModelSpec,
  gpu: string,
  tp: number,
  vllmVersion?: string,
): BlackboxRow {
  const keys = modelKeys(model);
  const gpuName = getGpu(gpu).name;
  const forModel = BLACKBOX_ROWS.filter((r) => keys.has(r.modelId.toLowerCase()));
  const matches = forModel.filter(
    (r) =>
      getGpu(r.gpu).name === gpuName &&
      r.tp === tp &&
      (vllmVersion === undefined || sameVersion(r.vllmVersion, vllmVersion)),
  );
  if (matches.length === 0) {
    const label = typeof model === "string" ? model : model.name;
    const want = `${label} on ${gpuName} TP${tp}${vllmVersion !== undefined ? ` vLLM ${vllmVersion}` : ""}`;
    if (forModel.length > 0) {
      const combos = forModel.map((r) => `${r.gpu} TP${r.tp} ${r.vllmVersion}`);
      throw new InputError(`No BLIS linear coefficients for ${want}. Available for this model: ${combos.join("; ")}`);
    }
    const ids = [...new Set(BLACKBOX_ROWS.map((r) => r.modelId))].sort();
    throw new InputError(`No BLIS linear coefficients for ${want}. Models with fits: ${ids.join(", ")}`);
  }
  let best = matches[0]!;
  for (const r of matches) {
    const byVersion = compareVersions(r.vllmVersion, best.vllmVersion);
    const better = r.bestLoss !== null && (best.bestLoss === null || r.bestLoss < best.bestLoss);
    if (byVersion > 0 || (byVersion === 0 && better)) best = r;
  }
  return best;
}

export interface LinearCostModelOptions extends LinearCoefficients {
  /** Replace the α-derived request overheads (seconds). */
  readonly overheads?: RequestOverheads;
}

/** The blackbox model's request overheads from α (µs → s): α0 + α1·input before scheduling, α2 per output token. */
export function linearOverheads(alpha: Triple): RequestOverheads {
  const [a0, a1, a2] = alpha;
  return { preQueue: a0 * 1e-6, preQueuePerInputToken: a1 * 1e-6, perOutputToken: a2 * 1e-6, postDecode: 0 };
}

export class LinearCostModel implements CostModel {
  readonly kind = "linear";
  readonly source: string;
  readonly overheads: RequestOverheads;
  readonly beta: Triple;
  readonly alpha: Triple;
  private readonly b0: number;
  private readonly b1: number;
  private readonly b2: number;

  constructor(opts: LinearCostModelOptions) {
    for (const [name, xs] of [
      ["beta", opts.beta],
      ["alpha", opts.alpha],
    ] as const) {
      if (xs.length !== 3 || xs.some((x) => !Number.isFinite(x))) {
        throw new InputError(`linear cost model: ${name} must be 3 finite numbers (µs), got ${JSON.stringify(xs)}`);
      }
    }
    this.beta = opts.beta;
    this.alpha = opts.alpha;
    [this.b0, this.b1, this.b2] = opts.beta;
    this.overheads = opts.overheads ?? linearOverheads(opts.alpha);
    this.source = `linear (${opts.source})`;
  }

  /** Step time in µs, ≥ 1 (a guard for fits with a near-zero β0; BLIS's blackbox model had none). */
  stepMicros(b: BatchShape): number {
    const us = this.b0 + this.b1 * b.prefillTokens + this.b2 * b.decodeRequests;
    return us >= 1 ? us : 1;
  }

  stepTime(b: BatchShape): number {
    return this.stepMicros(b) * 1e-6;
  }
}
