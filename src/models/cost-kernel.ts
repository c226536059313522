/**
 * Kernel-table cost model: step time from measured per-layer kernel latencies, interpolated, times layers, plus
 * fitted corrections and overheads.
 *
 * Tables: `data/blis/kernel_profiles/*.yaml` (BLIS `training/kernel_profiles/` at 1ee65f56, generated from NVIDIA
 * AIConfigurator's measured H100-SXM perf database for vLLM 0.14.0; Apache-2.0, see that folder's README). Latencies
 * are µs **per layer** (logits: per step):
 *   gemm(tokens)                    all dense GEMMs of one layer
 *   context_attention[isl][batch]   prefill attention of `batch` requests of `isl` tokens each
 *   generation_attention[ctx][batch] decode attention of `batch` requests with `ctx` tokens of context each
 *   allreduce(tokens)               TP all-reduce of one layer (zeros at TP 1)
 *   moe_compute(tokens)             routed experts of one MoE layer (MoE models only)
 *   logits_gemm(tokens)             LM head, once per step
 *
 * Step time in µs for a batch with T new prefill tokens over P prefilling requests (attention work
 * X = Σ t_i·(s_i + t_i/2)), D decoding requests with summed context S, N = T + D tokens and B = P + D requests:
 *
 *   tables = L·gemm(N) + L_moe·moe(N) + logits(B) + L·ctx_attn(isl = √(2X/P), batch = P) + L·dec_attn(S, D)
 *            + L·allreduce(N)
 *   step   = β0·tables + β1·L + β2·B + β3 + β4·L_moe + β5·L_moe·(1 − (1 − k/E)^N)
 *
 * β0 is one dimensionless correction for all tables (they come from one source; per-table corrections overfit the
 * calibration set, docs/fidelity.md), β1 µs per layer (norms, rotary, activations and launches the tables leave out),
 * β2 µs per request in the batch (sampling, input preparation), β3 µs per step (scheduler, CPU–GPU synchronisation),
 * β4 µs per MoE layer (routing, permutation; cf. BLIS's β8) and β5 µs per MoE layer when every expert is active: with
 * E routed experts and k per token, N tokens activate an expected share 1 − (1 − k/E)^N of them, and a decode step
 * streams the weights of those only (the `moe_compute` table, flat up to 64 tokens, does not show it).
 *
 * A chunk of a prefill with s_i tokens of context is priced on the full-prefill row whose causal work isl²/2 equals
 * the chunks' mean work t_i·(s_i + t_i/2), so a table of fresh prefills prices chunks and cached prefixes.
 * Decode attention (`DecodeAttentionMode`): by default the profile's generation-attention table is fitted once to
 * a + b·(batch·context) + c·batch per layer (least squares on relative errors), evaluated at (S, D): the memory-bound
 * KV read plus per-request work. The tables are uneven at mid sizes (Llama-2-7B: 41 → 155 µs from batch 16 to 32 at
 * 512 tokens of context, twice the HBM bound), while the fit's b is the HBM bound (KV bytes per token per layer on a
 * rank / 3.35 TB/s) within 11 % for the six dense-model profiles (Scout's is 38 % under it, as if its KV were FP8);
 * `table` uses the raw table instead.
 *
 * Interpolation: piecewise linear in the table axes (tokens, isl, context, batch), bilinear in 2-D tables. Below the
 * first grid point the first value is used (latency floors: small kernels are launch-bound). Above the last point
 * tables are extrapolated by their physics: GEMMs, all-reduce, MoE and logits proportionally to tokens (compute- or
 * bandwidth-bound at ≥ 4096 tokens), prefill attention quadratically in isl and linearly in batch, decode attention
 * linearly in context and in batch (KV reads).
 *
 * Request overheads α = [α0 before enqueue, α1 after the last token, α2 per output token] (µs), as in
 * `cost-physics.ts`. Coefficients come from a calibration (`src/lab/calibrate.ts`); the default set is the one fitted
 * on the 7 H100 vLLM runs of `data/calibrated/` (see docs/fidelity.md).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { InputError, schemaIssueText } from "../errors.ts";
import { BLIS_DATA_DIR, type GpuSpec, type ModelSpec, resolveGpu, resolveModel } from "./catalog.ts";
import type { BatchShape, CostModel, RequestOverheads } from "./cost.ts";

/** Folder of the shipped kernel tables. */
export const KERNEL_PROFILE_DIR: string = join(BLIS_DATA_DIR, "kernel_profiles");

/** A 1-D table: latency (µs) against tokens. */
export interface Table1 {
  readonly x: Float64Array;
  readonly y: Float64Array;
}

/** A 2-D table: latency (µs) `z[row][col]` against a row axis and a column axis (batch). */
export interface Table2 {
  readonly rows: Float64Array;
  readonly cols: Float64Array;
  /** Row-major, rows.length × cols.length. */
  readonly z: Float64Array;
}

export interface KernelProfile {
  /** File stem (`h100-llama-2-7b-hf-tp1`). */
  readonly name: string;
  readonly path: string;
  readonly gpu: string;
  readonly backend: string;
  readonly version: string;
  /** Model id as written in the profile (Hugging Face id). */
  readonly model: string;
  readonly tp: number;
  readonly numLayers: number;
  readonly numMoeLayers: number;
  readonly hiddenDim: number;
  readonly gemm: Table1;
  readonly contextAttention: Table2;
  readonly generationAttention: Table2;
  readonly allreduce: Table1;
  readonly moeCompute: Table1 | null;
  readonly logitsGemm: Table1;
}

// ---------------------------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------------------------

const axis = z.array(z.number().positive()).min(1);
const lat = z.array(z.number().nonnegative()).min(1);
const Table1Schema = z.object({ tokens: axis, latency_us: lat });
const ProfileSchema = z.object({
  gpu: z.string(),
  backend: z.string(),
  version: z.union([z.string(), z.number()]).transform(String),
  model: z.string(),
  tp: z.number().int().positive(),
  num_layers: z.number().int().positive(),
  num_moe_layers: z.number().int().nonnegative().default(0),
  hidden_dim: z.number().int().positive(),
  gemm: Table1Schema,
  context_attention: z.object({ batch_size: axis, isl: axis, latency_us: z.array(lat).min(1) }),
  generation_attention: z.object({ tokens: axis, context: axis, latency_us: z.array(lat).min(1) }),
  allreduce: Table1Schema,
  moe_compute: Table1Schema.optional(),
  logits_gemm: Table1Schema,
});

function increasing(xs: readonly number[], what: string): void {
  for (let i = 1; i < xs.length; i++) {
    if (!(xs[i]! > xs[i - 1]!))
      throw new InputError(`${what}: axis values must increase, got ${xs[i - 1]} then ${xs[i]}`);
  }
}

function table1(t: z.infer<typeof Table1Schema>, what: string): Table1 {
  if (t.tokens.length !== t.latency_us.length) {
    throw new InputError(`${what}: ${t.tokens.length} tokens but ${t.latency_us.length} latencies`);
  }
  increasing(t.tokens, `${what}.tokens`);
  return { x: Float64Array.from(t.tokens), y: Float64Array.from(t.latency_us) };
}

function table2(rows: number[], cols: number[], z2: number[][], what: string): Table2 {
  increasing(rows, `${what} rows`);
  increasing(cols, `${what} columns`);
  if (z2.length !== rows.length) throw new InputError(`${what}: ${rows.length} rows expected, got ${z2.length}`);
  const z = new Float64Array(rows.length * cols.length);
  z2.forEach((r, i) => {
    if (r.length !== cols.length)
      throw new InputError(`${what}: row ${i} has ${r.length} values, expected ${cols.length}`);
    z.set(r, i * cols.length);
  });
  return { rows: Float64Array.from(rows), cols: Float64Array.from(cols), z };
}

/** Parses a kernel profile YAML. Throws `Error` naming the file and the field. */
export function parseKernelProfile(text: string, path: string): KernelProfile {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new InputError(`${path}: not valid YAML: ${(e as Error).message}`);
  }
  const r = ProfileSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new InputError(`${path}: ${i.path.join(".") || "(root)"}: ${schemaIssueText(i, raw)}`);
  }
  const p = r.data;
  const ca = p.context_attention;
  const ga = p.generation_attention;
  const at = (what: string): string => `${path}: ${what}`;
  return {
    name: basename(path).replace(/\.ya?ml$/i, ""),
    path,
    gpu: p.gpu,
    backend: p.backend,
    version: p.version,
    model: p.model,
    tp: p.tp,
    numLayers: p.num_layers,
    numMoeLayers: p.num_moe_layers,
    hiddenDim: p.hidden_dim,
    gemm: table1(p.gemm, at("gemm")),
    contextAttention: table2(ca.isl, ca.batch_size, ca.latency_us, at("context_attention")),
    generationAttention: table2(ga.context, ga.tokens, ga.latency_us, at("generation_attention")),
    allreduce: table1(p.allreduce, at("allreduce")),
    moeCompute: p.moe_compute !== undefined ? table1(p.moe_compute, at("moe_compute")) : null,
    logitsGemm: table1(p.logits_gemm, at("logits_gemm")),
  };
}

const profileCache = new Map<string, KernelProfile>();

/** Stems of the shipped profiles, sorted. */
export function listKernelProfiles(): string[] {
  if (!existsSync(KERNEL_PROFILE_DIR)) return [];
  return readdirSync(KERNEL_PROFILE_DIR)
    .filter((f) => /\.ya?ml$/i.test(f))
    .map((f) => f.replace(/\.ya?ml$/i, ""))
    .sort();
}

/** Loads a shipped profile by file stem, or any profile by path (`.yaml`). Cached. */
export function loadKernelProfile(stemOrPath: string): KernelProfile {
  const cached = profileCache.get(stemOrPath);
  if (cached !== undefined) return cached;
  let path: string;
  if (/\.ya?ml$/i.test(stemOrPath)) path = stemOrPath;
  else {
    path = join(KERNEL_PROFILE_DIR, `${stemOrPath}.yaml`);
    if (!existsSync(path)) {
      throw new InputError(
        `unknown kernel profile "${stemOrPath}"; shipped profiles: ${listKernelProfiles().join(", ")}`,
      );
    }
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new InputError(`cannot read kernel profile ${path}: ${(e as Error).message}`);
  }
  const p = parseKernelProfile(text, path);
  profileCache.set(stemOrPath, p);
  return p;
}

/** AIConfigurator's GPU names → catalog GPUs. */
const PROFILE_GPUS: Readonly<Record<string, string>> = { h100_sxm: "H100" };

/**
 * The shipped profile for (model, GPU, TP): its `model` is the catalog model's HF id or an alias and its `tp` equals
 * `tp`. Throws, listing the profiles, if none.
 */
export function findKernelProfile(modelIn: ModelSpec | string, gpuIn: GpuSpec | string, tp: number): KernelProfile {
  const model = resolveModel(modelIn);
  const gpu = resolveGpu(gpuIn);
  const names = new Set([model.name, model.hfId, ...model.aliases].map((n) => n.toLowerCase()));
  const all = listKernelProfiles().map(loadKernelProfile);
  const hit = all.find(
    (p) => names.has(p.model.toLowerCase()) && p.tp === tp && (PROFILE_GPUS[p.gpu] ?? p.gpu) === gpu.name,
  );
  if (hit !== undefined) return hit;
  const have = all.map((p) => `${p.name} (${p.model} TP${p.tp} ${PROFILE_GPUS[p.gpu] ?? p.gpu})`).join("; ");
  throw new InputError(`no kernel profile for ${model.name} on ${gpu.name} TP${tp}; shipped profiles: ${have}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Interpolation
// ---------------------------------------------------------------------------------------------------------------

/** Index i with xs[i] ≤ x < xs[i+1], for xs[0] ≤ x < xs[last]. */
function bracket(xs: Float64Array, x: number): number {
  let lo = 0;
  let hi = xs.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! <= x) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * Piecewise-linear interpolation of a 1-D table at x: the first value below the grid, `y_last·(x/x_last)^power`
 * above it (power 1: proportional).
 */
export function interp1(t: Table1, x: number, power = 1): number {
  const xs = t.x;
  const n = xs.length;
  if (x <= xs[0]!) return t.y[0]!;
  const last = xs[n - 1]!;
  if (x >= last) return t.y[n - 1]! * (power === 1 ? x / last : (x / last) ** power);
  const i = bracket(xs, x);
  const x0 = xs[i]!;
  const f = (x - x0) / (xs[i + 1]! - x0);
  return t.y[i]! + f * (t.y[i + 1]! - t.y[i]!);
}

/**
 * Bilinear interpolation of a 2-D table at (r, c); below an axis the first row/column is used, above it the value at
 * the edge is scaled by (r/r_last)^rowPower and (c/c_last)^colPower.
 */
export function interp2(t: Table2, r: number, c: number, rowPower: number, colPower: number): number {
  const R = t.rows;
  const C = t.cols;
  const nc = C.length;
  let scale = 1;
  const rLast = R[R.length - 1]!;
  const cLast = C[nc - 1]!;
  if (r > rLast) {
    scale *= (r / rLast) ** rowPower;
    r = rLast;
  }
  if (c > cLast) {
    scale *= (c / cLast) ** colPower;
    c = cLast;
  }
  let i = 0;
  let fr = 0;
  if (R.length > 1 && r > R[0]!) {
    i = r >= rLast ? R.length - 2 : bracket(R, r);
    fr = (r - R[i]!) / (R[i + 1]! - R[i]!);
  }
  let j = 0;
  let fc = 0;
  if (nc > 1 && c > C[0]!) {
    j = c >= cLast ? nc - 2 : bracket(C, c);
    fc = (c - C[j]!) / (C[j + 1]! - C[j]!);
  }
  const z = t.z;
  const i1 = R.length > 1 ? i + 1 : i;
  const j1 = nc > 1 ? j + 1 : j;
  const a = z[i * nc + j]! + fc * (z[i * nc + j1]! - z[i * nc + j]!);
  const b = z[i1 * nc + j]! + fc * (z[i1 * nc + j1]! - z[i1 * nc + j]!);
  return (a + fr * (b - a)) * scale;
}

// ---------------------------------------------------------------------------------------------------------------
// Step-time basis and model
// ---------------------------------------------------------------------------------------------------------------

/** Names of the basis terms, in the order of the β coefficients. */
export const KERNEL_TERMS = [
  "tables", // β0 × (compute + attention + all-reduce from the tables), µs
  "layers", // β1 µs × L
  "requests", // β2 µs × B
  "step", // β3 µs
  "moe_layers", // β4 µs × L_moe
  "moe_experts", // β5 µs × L_moe × expected share of the experts that the step's tokens activate
] as const;
export const KERNEL_TERM_COUNT = KERNEL_TERMS.length;

/**
 * How decode attention is priced: `fit` (default) — the profile's generation-attention table fitted to
 * a + b·(Σ context) + c·batch, see `decodeAttentionFit`; `table` — bilinear in (mean context, batch).
 */
export type DecodeAttentionMode = "fit" | "table";

export interface KernelBasisSpec {
  readonly profile: KernelProfile;
  /** Routed experts per MoE layer and experts per token (0 for dense models). */
  readonly experts: number;
  readonly topK: number;
  readonly decodeAttention: DecodeAttentionMode;
}

/** The basis inputs of a model on a profile. */
export function kernelSpec(
  profile: KernelProfile,
  modelIn: ModelSpec | string,
  decodeAttention: DecodeAttentionMode = "fit",
): KernelBasisSpec {
  const model = resolveModel(modelIn);
  const moe = model.moe;
  return {
    profile,
    experts: moe?.numExperts ?? 0,
    topK: moe !== null ? Math.max(1, moe.expertsPerToken) : 0,
    decodeAttention,
  };
}

/** The table parts of one step, µs (already × layers): what `kernelBasis` sums into its first term. */
export interface KernelParts {
  /** L·gemm(N) */
  gemm: number;
  /** L_moe·moe_compute(N) */
  moe: number;
  /** logits_gemm(B) */
  logits: number;
  /** L·context_attention(isl, P) */
  prefillAttention: number;
  /** L·decode attention */
  decodeAttention: number;
  /** L·allreduce(N) (0 at TP 1) */
  allreduce: number;
}

export function emptyParts(): KernelParts {
  return { gemm: 0, moe: 0, logits: 0, prefillAttention: 0, decodeAttention: 0, allreduce: 0 };
}

/** Fills `out` with the table parts of a step (see the header for N, B, P, X, D, S). */
export function kernelParts(spec: KernelBasisSpec, b: BatchShape, out: KernelParts): KernelParts {
  const p = spec.profile;
  const L = p.numLayers;
  const requests = b.prefillRequests + b.decodeRequests;
  const tokens = b.prefillTokens + b.decodeRequests;
  out.gemm = tokens > 0 ? L * interp1(p.gemm, tokens) : 0;
  out.moe =
    p.moeCompute !== null && p.numMoeLayers > 0 && tokens > 0 ? p.numMoeLayers * interp1(p.moeCompute, tokens) : 0;
  out.logits = requests > 0 ? interp1(p.logitsGemm, requests) : 0;
  out.prefillAttention = 0;
  if (b.prefillRequests > 0 && b.prefillAttnWork > 0) {
    const isl = Math.sqrt((2 * b.prefillAttnWork) / b.prefillRequests);
    out.prefillAttention = L * interp2(p.contextAttention, isl, b.prefillRequests, 2, 1);
  }
  out.decodeAttention = 0;
  if (b.decodeRequests > 0) {
    if (spec.decodeAttention === "fit") {
      const g = decodeAttentionFit(p);
      out.decodeAttention = L * Math.max(0, g[0]! + g[1]! * b.decodeContext + g[2]! * b.decodeRequests);
    } else {
      out.decodeAttention =
        L * interp2(p.generationAttention, b.decodeContext / b.decodeRequests, b.decodeRequests, 1, 1);
    }
  }
  out.allreduce = p.tp > 1 && tokens > 0 ? L * interp1(p.allreduce, tokens) : 0;
  return out;
}

const partsScratch = emptyParts();

/**
 * Writes the basis terms of one step into `out` (length ≥ 6, in `KERNEL_TERMS` order). An empty batch gives zeros.
 * The calibration uses it directly; `KernelCostModel.stepMicros` is Σ β_k·out[k].
 */
export function kernelBasis(spec: KernelBasisSpec, b: BatchShape, out: Float64Array): void {
  const requests = b.prefillRequests + b.decodeRequests;
  if (requests === 0) {
    out.fill(0, 0, KERNEL_TERM_COUNT);
    return;
  }
  const p = spec.profile;
  const q = kernelParts(spec, b, partsScratch);
  out[0] = q.gemm + q.moe + q.logits + q.prefillAttention + q.decodeAttention + q.allreduce;
  out[1] = p.numLayers;
  out[2] = requests;
  out[3] = 1;
  out[4] = p.numMoeLayers;
  // Expected share of a layer's experts hit by N tokens each routed to topK of E experts (uniformly): the expert
  // weights a step streams grow with it until every expert is active.
  const tokens = b.prefillTokens + b.decodeRequests;
  out[5] = spec.experts > 0 ? p.numMoeLayers * (1 - (1 - spec.topK / spec.experts) ** tokens) : 0;
}

const decodeFits = new WeakMap<KernelProfile, Float64Array>();

/**
 * Least-squares fit of a profile's decode-attention table to a + b·(batch·context) + c·batch (µs per layer), on
 * relative errors: the memory-bound KV read (b ≈ KV bytes per token per layer / HBM bandwidth) plus per-request work.
 */
export function decodeAttentionFit(p: KernelProfile): Float64Array {
  const hit = decodeFits.get(p);
  if (hit !== undefined) return hit;
  const t = p.generationAttention;
  const M = new Float64Array(9);
  const v = new Float64Array(3);
  const x = new Float64Array(3);
  for (let i = 0; i < t.rows.length; i++) {
    for (let j = 0; j < t.cols.length; j++) {
      const y = t.z[i * t.cols.length + j]!;
      if (!(y > 0)) continue;
      x[0] = 1 / y;
      x[1] = (t.cols[j]! * t.rows[i]!) / y;
      x[2] = t.cols[j]! / y;
      for (let a = 0; a < 3; a++) {
        v[a]! += x[a]!; // (y / y) · x
        for (let c = 0; c < 3; c++) M[a * 3 + c]! += x[a]! * x[c]!;
      }
    }
  }
  const det = (m: Float64Array) =>
    m[0]! * (m[4]! * m[8]! - m[5]! * m[7]!) -
    m[1]! * (m[3]! * m[8]! - m[5]! * m[6]!) +
    m[2]! * (m[3]! * m[7]! - m[4]! * m[6]!);
  const d = det(M);
  const out = new Float64Array(3);
  for (let k = 0; k < 3; k++) {
    const m = Float64Array.from(M);
    for (let r = 0; r < 3; r++) m[r * 3 + k] = v[r]!;
    out[k] = det(m) / d; // Cramer's rule
  }
  decodeFits.set(p, out);
  return out;
}

/** α (µs) and β of the kernel model. */
export interface KernelCoefficients {
  readonly name: string;
  /** [α0 before enqueue, α1 after the last token, α2 per output token], µs. */
  readonly alpha: readonly [number, number, number];
  /** β in `KERNEL_TERMS` order: the tables' correction, then µs per layer, per request, per step, per MoE layer, per
   * MoE layer at full expert activation. */
  readonly beta: readonly number[];
  readonly source: string;
}

/** The raw tables, no overheads: β = [1, 0, 0, 0, 0, 0], α = 0. */
export const KERNEL_RAW_TABLES: KernelCoefficients = {
  name: "raw-tables",
  alpha: [0, 0, 0],
  beta: [1, 0, 0, 0, 0, 0],
  source: "kernel tables as measured, no corrections or overheads",
};

export function kernelOverheads(c: KernelCoefficients): RequestOverheads {
  const [a0, a1, a2] = c.alpha;
  return { preQueue: a0 * 1e-6, preQueuePerInputToken: 0, perOutputToken: a2 * 1e-6, postDecode: a1 * 1e-6 };
}

export interface KernelCostModelOptions {
  readonly model: ModelSpec | string;
  readonly gpu: GpuSpec | string;
  readonly tp: number;
  /** A profile stem, path, or a loaded profile; default: `findKernelProfile(model, gpu, tp)`. */
  readonly profile?: string | KernelProfile;
  /** Decode attention from the fitted table (default) or the raw table. */
  readonly decodeAttention?: DecodeAttentionMode;
  readonly coefficients: KernelCoefficients;
  /** Replace the α-derived request overheads (seconds). */
  readonly overheads?: RequestOverheads;
}

export class KernelCostModel implements CostModel {
  readonly kind = "kernel";
  readonly source: string;
  readonly overheads: RequestOverheads;
  readonly profile: KernelProfile;
  readonly spec: KernelBasisSpec;
  readonly coefficients: KernelCoefficients;
  private readonly terms = new Float64Array(KERNEL_TERM_COUNT);
  private readonly beta: Float64Array;

  constructor(opts: KernelCostModelOptions) {
    const model = resolveModel(opts.model);
    const gpu = resolveGpu(opts.gpu);
    const p =
      opts.profile === undefined
        ? findKernelProfile(model, gpu, opts.tp)
        : typeof opts.profile === "string"
          ? loadKernelProfile(opts.profile)
          : opts.profile;
    if (p.tp !== opts.tp)
      throw new InputError(`kernel profile ${p.name} is for TP${p.tp}, the replica has TP${opts.tp}`);
    this.profile = p;
    this.spec = kernelSpec(p, model, opts.decodeAttention ?? "fit");
    if (opts.coefficients.beta.length !== KERNEL_TERM_COUNT) {
      throw new InputError(
        `kernel coefficients need ${KERNEL_TERM_COUNT} beta values, got ${opts.coefficients.beta.length}`,
      );
    }
    this.coefficients = opts.coefficients;
    this.beta = Float64Array.from(opts.coefficients.beta);
    this.overheads = opts.overheads ?? kernelOverheads(opts.coefficients);
    const c = opts.coefficients;
    this.source =
      `kernel tables ${p.name} (${p.model} TP${p.tp}, ${p.gpu}, ${p.backend} ${p.version}; BLIS/AIConfigurator) ` +
      `for ${model.name} on ${gpu.name}, decode attention ${this.spec.decodeAttention}, coefficients ${c.name} ` +
      `(${c.source})`;
  }

  /** Step time in µs (≥ 1). */
  stepMicros(b: BatchShape): number {
    if (b.prefillRequests + b.decodeRequests === 0) return 1;
    const t = this.terms;
    kernelBasis(this.spec, b, t);
    const beta = this.beta;
    let us = 0;
    for (let k = 0; k < KERNEL_TERM_COUNT; k++) us += beta[k]! * t[k]!;
    return us >= 1 ? us : 1;
  }

  stepTime(b: BatchShape): number {
    return this.stepMicros(b) * 1e-6;
  }
}
