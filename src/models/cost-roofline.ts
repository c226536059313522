/**
 * Roofline cost model (`type: roofline`, the default): one engine step priced operator by operator from the model's
 * config and the GPU's datasheet peaks, with efficiencies fitted once per GPU on measured data (never per model).
 *
 * Per TP rank (ranks run in parallel, so a rank's time is the step's), with N = prefill tokens + decode requests:
 *
 *   op time       = max( FLOPs ÷ (peak × η_c),  bytes ÷ (HBM bandwidth × η_m) )        (no overlap between ops)
 *   GEMMs         per layer: QKV + O projections (GQA: q + 2·kv heads) and the gated MLP (3 matrices), or for an MoE
 *                 layer the shared expert(s) and router; η_c(M) = η_max · M ÷ (M + m_half), M = tokens of the GEMM;
 *                 bytes = weights once per step + activations in and out
 *   MoE experts   per MoE layer: FLOPs of k experts per token; bytes of the experts the step touches,
 *                 E·(1 − (1 − k/E)^N) in expectation (uniform routing); η_c at the tokens per touched expert
 *   attention     prefill: 4·(heads/tp)·head_dim FLOPs per (query, key) pair, Σ t·(s + t/2) pairs (causal, chunk t
 *                 after s cached tokens), capped at t·window on sliding layers and t·chunk on chunked layers; bytes =
 *                 KV read for the context + KV written; decode: 4·(heads/tp)·head_dim FLOPs per context token (MLA:
 *                 the absorbed latent form), bytes = every sequence's KV read + one token's KV written; attention runs
 *                 in BF16 whatever the weights (KV cache BF16)
 *   all-reduce    TP > 1: two per layer (after attention and after the MLP), each latency (base + per-log2(tp)
 *                 step) + N·hidden·2 B × 2(tp − 1)/tp ÷ (link bandwidth × η_link) (ring all-reduce traffic per rank;
 *                 η_link drops above a fitted message size)
 *   logits        one GEMM of the sampled rows (prefill requests + decode requests) against vocab × hidden / tp
 *   overheads     per_layer_us × layers + per_step_us + per_request_us × requests (kernel launches, scheduling)
 *
 * FP8 weights (quantization fp8, compressed-tensors 8-bit float) use the GPU's dense FP8 peak and 1 byte per weight;
 * MXFP4 experts (gpt-oss) are 4.25 bits per weight and computed at the BF16 peak (Hopper/Ampere dequantize MXFP4 to
 * BF16 — vLLM's Marlin / Triton MoE kernels on those GPUs). No step is priced below the roofline of the same FLOPs
 * and minimum bytes (`rooflineBound`): the result is max(sum of ops, bound).
 *
 * Coefficients (η, all-reduce, overheads, request α) are per GPU, in `data/roofline/coefficients.json`, fitted by
 * `npx tsx scripts/fit-roofline.ts` (docs/fidelity.md).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { schemaIssueText } from "../errors.ts";
import { BLIS_DATA_DIR, type GpuSpec, kvHeadsPerRank, type ModelSpec, resolveGpu, resolveModel } from "./catalog.ts";
import type { BatchShape, CostModel, RequestOverheads } from "./cost.ts";

const finite = z.number().refine(Number.isFinite, "must be a finite number");
const nonNeg = finite.refine((x) => x >= 0, "must be ≥ 0");
const eta = finite.refine((x) => x > 0 && x <= 1, "must be in (0, 1]");

/** One GPU's fitted coefficients. */
export const RooflineCoefficientsSchema = z.strictObject({
  /** Catalog GPU name this set is for. */
  gpu: z.string().min(1),
  /** GEMM compute efficiency η_c(M) = eta_max · M / (M + m_half). */
  gemm_eta_max: eta,
  gemm_m_half: nonNeg,
  /** Efficiency of weight / activation streaming from HBM. */
  memory_eta: eta,
  /**
   * Prefill attention compute efficiency (FlashAttention-style kernels): attention_prefill_eta × K ÷ (K +
   * attention_prefill_t_half), K = X ÷ T, the mean number of keys a query attends to (short rows leave the
   * tensor cores idle between softmax passes).
   */
  attention_prefill_eta: eta,
  attention_prefill_t_half: nonNeg,
  /** Decode attention: efficiency of the KV-cache read. */
  attention_decode_memory_eta: eta,
  /**
   * All-reduce: latency per call = allreduce_latency_us + allreduce_hop_us × log2(tp) (small messages go through
   * tree / one-shot algorithms whose step count grows with log2 of the ranks), plus the traffic at the interconnect
   * bandwidth × allreduce_eta.
   */
  allreduce_latency_us: nonNeg,
  allreduce_hop_us: nonNeg,
  allreduce_eta: eta,
  /**
   * Per-rank traffic (bytes) above which an all-reduce moves at `allreduce_large_eta` instead of `allreduce_eta`
   * (collective libraries switch algorithm and protocol with message size; fitted, see docs/fidelity.md).
   */
  allreduce_knee_bytes: nonNeg,
  allreduce_large_eta: eta,
  /**
   * vLLM's custom all-reduce (vllm/distributed/device_communicators/custom_all_reduce.py, `max_size` 8 MiB by
   * default): an all-reduce whose input tensor is smaller than this many bytes takes one kernel of latency
   * `custom_allreduce_latency_us` instead of allreduce_latency_us + hop × log2(tp). Absent: every call pays the
   * collective library's latency (the 2023 stacks Splitwise measured).
   */
  custom_allreduce_max_bytes: nonNeg.optional(),
  custom_allreduce_latency_us: nonNeg.optional(),
  /**
   * The same custom all-reduce outside CUDA graphs (`engine.enforce_eager`): the kernel launch and the copy of the
   * input into the registered buffer are no longer hidden. Absent: custom_allreduce_latency_us.
   */
  custom_allreduce_eager_latency_us: nonNeg.optional(),
  /**
   * The collective library's (NCCL's) all-reduce latency inside a CUDA-graph-replayed step, i.e. with
   * `engine.disable_custom_all_reduce` and graphs on: GPU time of one call without host launch (vidur's NCCL profile).
   * Absent: allreduce_latency_us + allreduce_hop_us × log2(tp), the latency eager steps pay.
   */
  nccl_latency_us: nonNeg.optional(),
  per_layer_us: nonNeg,
  /** Per MoE layer and step (routing, token permutation, grouped-GEMM launches); BLIS has the same term (β8). */
  per_moe_layer_us: nonNeg,
  per_step_us: nonNeg,
  per_request_us: nonNeg,
  /** Request overheads [before enqueue, after the last token, per output token] (µs), as BLIS's α. */
  alpha_us: z.tuple([nonNeg, nonNeg, nonNeg]),
  /** Where this set comes from (data and fit, or which GPU's set it borrows). */
  source: z.string().min(1),
});
export type RooflineCoefficients = z.infer<typeof RooflineCoefficientsSchema>;

export const RooflineFileSchema = z.strictObject({
  format: z.literal("gatelab-roofline/1"),
  name: z.string().min(1),
  description: z.string(),
  sets: z.array(RooflineCoefficientsSchema).min(1),
  /** Provenance and fit quality, free-form. */
  fit: z.record(z.string(), z.unknown()).optional(),
});
export type RooflineFile = z.infer<typeof RooflineFileSchema>;

/** `data/roofline/coefficients.json`. */
export const ROOFLINE_COEFFICIENTS_PATH: string = join(BLIS_DATA_DIR, "..", "roofline", "coefficients.json");

let shipped: RooflineFile | undefined;

/** Parses a roofline coefficient file's text; throws naming the file and field. */
export function parseRooflineFile(text: string, path: string): RooflineFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  const r = RooflineFileSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new Error(`${path}: ${i.path.join(".") || "(root)"}: ${schemaIssueText(i, raw)}`);
  }
  return r.data;
}

/** The shipped per-GPU coefficients. */
export function shippedRooflineFile(): RooflineFile {
  if (shipped === undefined) {
    if (!existsSync(ROOFLINE_COEFFICIENTS_PATH)) {
      throw new Error(`roofline: missing ${ROOFLINE_COEFFICIENTS_PATH}`);
    }
    shipped = parseRooflineFile(readFileSync(ROOFLINE_COEFFICIENTS_PATH, "utf8"), "data/roofline/coefficients.json");
  }
  return shipped;
}

/**
 * Named efficiency sets (`cost_model: {type: roofline, efficiency_set: NAME}`): `default` is
 * data/roofline/coefficients.json (H100 decode priced like vLLM 0.15.1, prefill anchored on Splitwise);
 * `splitwise-2023` is data/roofline/splitwise-2023.json (every GPU fitted on Splitwise's 2023 stack, prefill and decode).
 */
export const ROOFLINE_EFFICIENCY_SETS = ["default", "splitwise-2023"] as const;
export type RooflineEfficiencySet = (typeof ROOFLINE_EFFICIENCY_SETS)[number];
/** The set `gatelab calibrate --model roofline` scales (and the shipped calibrated files were fitted on). */
export const ROOFLINE_CALIBRATION_BASE: RooflineEfficiencySet = "default";
const namedFiles = new Map<string, RooflineFile>();

/** The coefficient file of a named efficiency set. */
export function rooflineEfficiencySet(name: RooflineEfficiencySet = "default"): RooflineFile {
  if (name === "default") return shippedRooflineFile();
  let f = namedFiles.get(name);
  if (f === undefined) {
    const path = join(ROOFLINE_COEFFICIENTS_PATH, "..", `${name}.json`);
    f = parseRooflineFile(readFileSync(path, "utf8"), `data/roofline/${name}.json`);
    namedFiles.set(name, f);
  }
  return f;
}

/** The two vLLM engine knobs that change how a step's all-reduces are launched (`engine:` in a scenario). */
export interface EngineStack {
  /** vLLM `--enforce-eager` (`ModelConfig.enforce_eager`, default false): no CUDA graphs. */
  readonly enforceEager?: boolean | undefined;
  /** vLLM `--disable-custom-all-reduce` (`ParallelConfig.disable_custom_all_reduce`, default false). */
  readonly disableCustomAllReduce?: boolean | undefined;
}

/**
 * `c` as vLLM runs with these knobs. A set's custom all-reduce fields describe the default stack: steps whose
 * all-reduce input is under `custom_allreduce_max_bytes` (decode and small chunks, the steps vLLM replays as CUDA
 * graphs) take the one-shot custom kernel at `custom_allreduce_latency_us`; larger ones pay the eager NCCL latency
 * (allreduce_latency_us + allreduce_hop_us × log2 tp). Then:
 *   - `disableCustomAllReduce` alone: the small ones pay NCCL inside the graph (`nccl_latency_us`);
 *   - `enforceEager` alone: the small ones take the custom kernel launched eagerly (`custom_allreduce_eager_latency_us`);
 *   - both (or disableCustomAllReduce on a set without `nccl_latency_us`): every all-reduce pays the eager NCCL
 *     latency (what Splitwise's 2023 stack measured).
 * Sets without a custom all-reduce (splitwise-2023, L40S) already price every all-reduce as eager NCCL and are
 * returned unchanged. Nothing else in the step changes (see docs/models.md for what eager mode is not priced for).
 */
export function withEngineStack(c: RooflineCoefficients, stack: EngineStack): RooflineCoefficients {
  const eager = stack.enforceEager === true;
  const nccl = stack.disableCustomAllReduce === true;
  if ((!eager && !nccl) || c.custom_allreduce_max_bytes === undefined) return c;
  const knobs = [eager ? "enforce_eager" : "", nccl ? "disable_custom_all_reduce" : ""].filter((k) => k !== "");
  const source = `${c.source}; engine ${knobs.join(" + ")}`;
  if (nccl && (eager || c.nccl_latency_us === undefined)) {
    const { custom_allreduce_max_bytes: _max, custom_allreduce_latency_us: _lat, ...rest } = c;
    return { ...rest, source };
  }
  const latency = nccl ? c.nccl_latency_us : (c.custom_allreduce_eager_latency_us ?? c.custom_allreduce_latency_us);
  return { ...c, ...(latency !== undefined ? { custom_allreduce_latency_us: latency } : {}), source };
}

/** The coefficient set of `gpu` in `file` (default: the shipped file). */
export function rooflineCoefficientsFor(
  gpu: GpuSpec,
  file: RooflineFile = shippedRooflineFile(),
): RooflineCoefficients {
  const set = file.sets.find((s) => resolveGpu(s.gpu).name === gpu.name);
  if (set === undefined) {
    throw new Error(`roofline coefficients "${file.name}" have no set for ${gpu.name}: ${file.sets.map((s) => s.gpu)}`);
  }
  return set;
}

/** Multipliers on the three kinds of operator time, fitted by `gatelab calibrate --model roofline` (1 = as shipped). */
export interface RooflineScales {
  readonly compute: number;
  readonly memory: number;
  /** All-reduce traffic time. */
  readonly comm: number;
  /** All-reduce latency (engines differ most here: custom one-shot all-reduce vs NCCL). */
  readonly commLatency: number;
}

export const UNIT_SCALES: RooflineScales = { compute: 1, memory: 1, comm: 1, commLatency: 1 };

/** Per-step decomposition in µs: compute-bound op time, memory-bound op time, communication, overhead terms. */
export interface RooflineTerms {
  compute: number;
  memory: number;
  /** All-reduce traffic time and latency, µs. */
  comm: number;
  commLatency: number;
  layers: number;
  /** MoE layers (when the step has requests). */
  moeLayers: number;
  requests: number;
  /** FLOPs ÷ peak and minimum bytes ÷ bandwidth (µs): the physical floor. */
  boundCompute: number;
  boundMemory: number;
}

export function emptyTerms(): RooflineTerms {
  return {
    compute: 0,
    memory: 0,
    comm: 0,
    commLatency: 0,
    layers: 0,
    moeLayers: 0,
    requests: 0,
    boundCompute: 0,
    boundMemory: 0,
  };
}

const KV_BYTES = 2; // BF16 KV cache (vLLM's default kv_cache_dtype "auto" for BF16 checkpoints)
const ACT_BYTES = 2;

/** Geometry of one (model, GPU, TP), per rank, precomputed once. */
interface Geometry {
  readonly L: number;
  readonly d: number;
  readonly tp: number;
  readonly nDense: number;
  readonly nMoe: number;
  readonly slidingLayers: number;
  readonly chunkedLayers: number;
  readonly window: number;
  readonly chunk: number;
  /** GEMM weights per rank of a dense layer / an MoE layer's non-expert part (params). */
  readonly denseGemmParams: number;
  readonly moeGemmParams: number;
  readonly bpp: number;
  /** Activation elements per token through a layer's GEMMs (per rank). */
  readonly denseActElems: number;
  readonly moeActElems: number;
  readonly experts: number;
  readonly topK: number;
  readonly expertParams: number;
  readonly expertBpp: number;
  /** Attention FLOPs per (query, key) pair per layer, prefill and decode (MLA differs). */
  readonly attnFlopsPrefill: number;
  readonly attnFlopsDecode: number;
  /** KV bytes per token per layer on one rank. */
  readonly kvBytes: number;
  /** Query/output activation bytes per token per layer for attention. */
  readonly attnActBytes: number;
  readonly logitsParams: number;
  /** FLOP/µs and B/µs. */
  readonly peak: number;
  readonly peakAttention: number;
  readonly bandwidth: number;
  readonly link: number;
}

function geometry(model: ModelSpec, gpu: GpuSpec, tp: number): Geometry {
  const kvHeads = kvHeadsPerRank(model, tp); // validates tp
  const d = model.hiddenSize;
  const L = model.numLayers;
  const hR = model.numHeads / tp;
  const moe = model.moe;
  const nMoe = moe?.numMoeLayers ?? 0;
  const nDense = L - nMoe;
  const attnParams = model.attentionParamsPerLayer / tp;
  const ffDense = moe?.denseIntermediateSize ?? model.intermediateSize;
  const ffShared = moe?.sharedExpertIntermediateSize ?? 0;
  const qkvOut = model.mla === null ? (model.numHeads + 2 * model.numKvHeads) * model.headDim : 0;
  const qOut = model.mla === null ? model.numHeads * model.headDim : model.numHeads * model.mla.vHeadDim;
  // Activations through a layer's GEMMs: a gated FFN reads x and writes gate and up (then down reads their product),
  // a plain one writes up only: (matrices − 1) × ff + the down projection's input.
  const act = (ff: number, matrices: number) => 4 * d + (qkvOut + qOut) / tp + (matrices * ff) / tp;
  let attnFlopsPrefill: number;
  let attnFlopsDecode: number;
  let kvElems: number;
  const mla = model.mla;
  if (mla === null) {
    attnFlopsPrefill = 4 * hR * model.headDim;
    attnFlopsDecode = attnFlopsPrefill;
    kvElems = model.kvShardedAcrossTp
      ? (model.kvElementsPerTokenPerLayer / model.numKvHeads) * kvHeads
      : model.kvElementsPerTokenPerLayer;
  } else {
    // Prefill attends with decompressed keys/values (qk = nope + rope, v); decode with the absorbed latent
    // (scores over kv_lora_rank + rope, output over kv_lora_rank), as vLLM's MLA backends do.
    attnFlopsPrefill = 2 * hR * (mla.qkNopeHeadDim + mla.qkRopeHeadDim + mla.vHeadDim);
    attnFlopsDecode = 2 * hR * (2 * mla.kvLoraRank + mla.qkRopeHeadDim);
    kvElems = model.kvElementsPerTokenPerLayer;
  }
  const fp8 = model.quantization === "fp8" && gpu.peakFp8Flops !== null;
  const peakFlops = fp8 ? gpu.peakFp8Flops! : gpu.peakBf16Flops;
  return {
    L,
    d,
    tp,
    nDense,
    nMoe,
    slidingLayers: model.slidingLayers,
    chunkedLayers: model.chunkedLayers,
    window: model.slidingWindow ?? Number.POSITIVE_INFINITY,
    chunk: model.attentionChunkSize ?? Number.POSITIVE_INFINITY,
    denseGemmParams: attnParams + (model.mlpMatrices * d * ffDense) / tp,
    moeGemmParams: attnParams + (3 * d * ffShared) / tp + (moe !== null ? (d * moe.numExperts) / tp : 0),
    bpp: model.weightBytesPerParam,
    denseActElems: act(ffDense, model.mlpMatrices),
    moeActElems: act(ffShared, 3),
    experts: moe?.numExperts ?? 0,
    topK: moe?.expertsPerToken ?? 0,
    expertParams: moe !== null ? (3 * d * moe.expertIntermediateSize) / tp : 0,
    expertBpp: model.expertWeightBytesPerParam,
    attnFlopsPrefill,
    attnFlopsDecode,
    kvBytes: kvElems * KV_BYTES,
    attnActBytes: ((2 * qOut) / tp) * ACT_BYTES,
    logitsParams: (model.vocabSize * d) / tp,
    peak: peakFlops / 1e6,
    peakAttention: gpu.peakBf16Flops / 1e6,
    bandwidth: gpu.memoryBandwidth / 1e6,
    link: gpu.interconnectBandwidth / 1e6,
  };
}

/**
 * Operator-by-operator evaluation shared by the cost model, the calibration basis and the bound. Fills `out` (µs);
 * with `c` undefined only the bound fields are meaningful.
 */
export class RooflineEvaluator {
  readonly g: Geometry;
  private readonly c: RooflineCoefficients;

  constructor(model: ModelSpec, gpu: GpuSpec, tp: number, c: RooflineCoefficients) {
    this.g = geometry(model, gpu, tp);
    this.c = c;
  }

  private etaGemm(m: number): number {
    return (this.c.gemm_eta_max * m) / (m + this.c.gemm_m_half);
  }

  evaluate(b: BatchShape, out: RooflineTerms): void {
    out.compute = 0;
    out.memory = 0;
    out.comm = 0;
    out.commLatency = 0;
    out.boundCompute = 0;
    out.boundMemory = 0;
    const requests = b.prefillRequests + b.decodeRequests;
    out.requests = requests;
    out.layers = requests > 0 ? this.g.L : 0;
    out.moeLayers = requests > 0 ? this.g.nMoe : 0;
    if (requests === 0) return;
    const g = this.g;
    const c = this.c;
    const T = b.prefillTokens;
    const D = b.decodeRequests;
    const N = T + D;
    const etaM = c.memory_eta;

    // Dense-layer and MoE-layer GEMMs (weights once per layer per step).
    if (N > 0) {
      const etaN = this.etaGemm(N);
      if (g.nDense > 0) {
        const flops = 2 * N * g.denseGemmParams;
        const bytes = g.denseGemmParams * g.bpp + N * g.denseActElems * ACT_BYTES;
        this.opTimes(out, g.nDense, flops, bytes, etaN, etaM, false);
      }
      if (g.nMoe > 0) {
        const flops = 2 * N * g.moeGemmParams;
        const bytes = g.moeGemmParams * g.bpp + N * g.moeActElems * ACT_BYTES;
        this.opTimes(out, g.nMoe, flops, bytes, etaN, etaM, false);
        // Routed experts: k per token; the step streams the experts its tokens touch.
        const E = g.experts;
        const k = g.topK;
        const touched = E * (1 - (1 - k / E) ** N);
        const eflops = 2 * N * k * g.expertParams;
        const eact = N * k * (2 * g.d) * ACT_BYTES;
        const ebytes = touched * g.expertParams * g.expertBpp + eact;
        const ec = eflops / (g.peak * this.etaGemm((N * k) / Math.max(1, touched)));
        const em = ebytes / (g.bandwidth * etaM);
        if (ec >= em) out.compute += g.nMoe * ec;
        else out.memory += g.nMoe * em;
        out.boundCompute += (g.nMoe * eflops) / g.peak;
        // The floor streams k experts per layer, the fewest a step can touch.
        out.boundMemory += (g.nMoe * (k * g.expertParams * g.expertBpp + eact)) / g.bandwidth;
      }
      // Logits of the sampled rows.
      const rows = requests;
      this.opTimes(
        out,
        1,
        2 * rows * g.logitsParams,
        g.logitsParams * g.bpp + rows * (g.d + g.logitsParams / g.d) * ACT_BYTES,
        this.etaGemm(rows),
        etaM,
        false,
      );
    }

    // Attention: full, sliding and chunked layers.
    const full = g.L - g.slidingLayers - g.chunkedLayers;
    const X = b.prefillAttnWork;
    const P = b.prefillContext;
    const S = b.decodeContext;
    const Pr = b.prefillRequests;
    this.attention(out, full, T, X, P, D, S);
    if (g.slidingLayers > 0) {
      const w = g.window;
      this.attention(out, g.slidingLayers, T, Math.min(X, T * w), Math.min(P, Pr * w + T), D, Math.min(S, D * w));
    }
    if (g.chunkedLayers > 0) {
      const w = g.chunk;
      this.attention(out, g.chunkedLayers, T, Math.min(X, T * w), Math.min(P, Pr * w + T), D, Math.min(S, D * w));
    }

    // Tensor-parallel all-reduce, two per layer.
    if (g.tp > 1 && N > 0) {
      const lat = this.allReduceLatency(N);
      out.commLatency = 2 * g.L * lat;
      out.comm = 2 * g.L * (this.allReduceMicros(N) - lat);
    }
  }

  /** One dense layer's GEMMs (µs, the larger of compute and memory time), for per-operator comparisons. */
  denseGemmMicros(N: number): number {
    const g = this.g;
    const t = emptyTerms();
    this.opTimes(
      t,
      1,
      2 * N * g.denseGemmParams,
      g.denseGemmParams * g.bpp + N * g.denseActElems * ACT_BYTES,
      this.etaGemm(N),
      this.c.memory_eta,
      false,
    );
    return t.compute + t.memory;
  }

  /** One full-attention layer's attention (µs) for a prefill (T tokens, X pairs, P context) and a decode (D, S). */
  attentionMicros(T: number, X: number, P: number, D: number, S: number): number {
    const t = emptyTerms();
    this.attention(t, 1, T, X, P, D, S);
    return t.compute + t.memory;
  }

  /** Fixed cost of one all-reduce of N tokens' hidden states (µs): the custom kernel below its size limit. */
  private allReduceLatency(N: number): number {
    const c = this.c;
    const input = N * this.g.d * ACT_BYTES;
    if (c.custom_allreduce_max_bytes !== undefined && input < c.custom_allreduce_max_bytes) {
      return c.custom_allreduce_latency_us ?? 0;
    }
    return c.allreduce_latency_us + c.allreduce_hop_us * Math.log2(this.g.tp);
  }

  /** One all-reduce of N tokens' hidden states (µs); 0 at TP 1. */
  allReduceMicros(N: number): number {
    const g = this.g;
    if (g.tp === 1) return 0;
    const c = this.c;
    const bytes = N * g.d * ACT_BYTES * ((2 * (g.tp - 1)) / g.tp);
    const small = Math.min(bytes, c.allreduce_knee_bytes);
    return (
      this.allReduceLatency(N) + small / (g.link * c.allreduce_eta) + (bytes - small) / (g.link * c.allreduce_large_eta)
    );
  }

  private opTimes(
    out: RooflineTerms,
    count: number,
    flops: number,
    bytes: number,
    etaC: number,
    etaM: number,
    attention: boolean,
  ): void {
    if (count === 0) return;
    const g = this.g;
    const peak = attention ? g.peakAttention : g.peak;
    const c = flops / (peak * etaC);
    const m = bytes / (g.bandwidth * etaM);
    if (c >= m) out.compute += count * c;
    else out.memory += count * m;
    out.boundCompute += (count * flops) / peak;
    out.boundMemory += (count * bytes) / g.bandwidth;
  }

  private attention(out: RooflineTerms, layers: number, T: number, X: number, P: number, D: number, S: number): void {
    if (layers === 0) return;
    const g = this.g;
    const c = this.c;
    if (T > 0) {
      const flops = g.attnFlopsPrefill * X;
      const bytes = (P + T) * g.kvBytes + T * g.attnActBytes;
      const keys = X / T;
      const etaAttn = (c.attention_prefill_eta * keys) / (keys + c.attention_prefill_t_half);
      this.opTimes(out, layers, flops, bytes, etaAttn, c.memory_eta, true);
    }
    if (D > 0) {
      const flops = g.attnFlopsDecode * S;
      const bytes = (S + D) * g.kvBytes + D * g.attnActBytes;
      this.opTimes(out, layers, flops, bytes, c.attention_prefill_eta, c.attention_decode_memory_eta, true);
    }
  }
}

export interface RooflineCostModelOptions {
  readonly model: ModelSpec | string;
  readonly gpu: GpuSpec | string;
  readonly tp: number;
  /** Default: the shipped set of this GPU. */
  readonly coefficients?: RooflineCoefficients;
  readonly scales?: RooflineScales;
  /** Replace the coefficient set's request overheads (seconds). */
  readonly overheads?: RequestOverheads;
  /** Name of the coefficient source, for `source`. */
  readonly setName?: string;
}

export function rooflineOverheads(c: RooflineCoefficients): RequestOverheads {
  const [a0, a1, a2] = c.alpha_us;
  return { preQueue: a0 * 1e-6, preQueuePerInputToken: 0, perOutputToken: a2 * 1e-6, postDecode: a1 * 1e-6 };
}

export class RooflineCostModel implements CostModel {
  readonly kind = "roofline";
  readonly source: string;
  readonly overheads: RequestOverheads;
  readonly coefficients: RooflineCoefficients;
  readonly evaluator: RooflineEvaluator;
  private readonly scales: RooflineScales;
  private readonly terms: RooflineTerms = emptyTerms();

  constructor(opts: RooflineCostModelOptions) {
    const model = resolveModel(opts.model);
    const gpu = resolveGpu(opts.gpu);
    const c = opts.coefficients ?? rooflineCoefficientsFor(gpu);
    this.coefficients = c;
    this.scales = opts.scales ?? UNIT_SCALES;
    this.evaluator = new RooflineEvaluator(model, gpu, opts.tp, c);
    this.overheads = opts.overheads ?? rooflineOverheads(c);
    const s = this.scales;
    this.source =
      `roofline (${opts.setName ?? shippedRooflineFile().name}, ${c.gpu} set; ${c.source}) for ${model.name} on ` +
      `${gpu.name} TP${opts.tp}` +
      (s === UNIT_SCALES
        ? ""
        : `, scales compute ${s.compute} memory ${s.memory} comm ${s.comm} comm latency ${s.commLatency}`);
  }

  /** Step time in µs. */
  stepMicros(b: BatchShape): number {
    const t = this.terms;
    this.evaluator.evaluate(b, t);
    if (t.requests === 0) return 1;
    const c = this.coefficients;
    const s = this.scales;
    const us =
      s.compute * t.compute +
      s.memory * t.memory +
      s.comm * t.comm +
      s.commLatency * t.commLatency +
      c.per_layer_us * t.layers +
      c.per_moe_layer_us * t.moeLayers +
      c.per_request_us * t.requests +
      c.per_step_us;
    const floor = Math.max(t.boundCompute, t.boundMemory);
    return us > floor ? us : floor;
  }

  stepTime(b: BatchShape): number {
    return this.stepMicros(b) * 1e-6;
  }
}

/**
 * The physical floor of one step (seconds): max(FLOPs ÷ peak, minimum bytes ÷ HBM bandwidth) per rank, with the
 * same operator inventory as the roofline model at η = 1 and no overheads (MoE weights: k experts, the fewest a
 * token touches). No cost model may predict less.
 */
/** Every efficiency 1 and every overhead 0: the hardware's own limit, used for the floor and to vet measurements. */
export function unitRooflineCoefficients(gpu: string, source: string): RooflineCoefficients {
  return {
    gpu,
    gemm_eta_max: 1,
    gemm_m_half: 0,
    memory_eta: 1,
    attention_prefill_eta: 1,
    attention_prefill_t_half: 0,
    attention_decode_memory_eta: 1,
    allreduce_latency_us: 0,
    allreduce_hop_us: 0,
    allreduce_eta: 1,
    allreduce_knee_bytes: 0,
    allreduce_large_eta: 1,
    per_layer_us: 0,
    per_moe_layer_us: 0,
    per_step_us: 0,
    per_request_us: 0,
    alpha_us: [0, 0, 0],
    source,
  };
}

export class RooflineBound {
  private readonly evaluator: RooflineEvaluator;
  private readonly terms: RooflineTerms = emptyTerms();

  constructor(model: ModelSpec | string, gpu: GpuSpec | string, tp: number) {
    const g = resolveGpu(gpu);
    const unit = unitRooflineCoefficients(g.name, "bound");
    this.evaluator = new RooflineEvaluator(resolveModel(model), g, tp, unit);
  }

  /** Seconds: the larger of the compute and the memory floor. */
  seconds(b: BatchShape): number {
    const t = this.terms;
    this.evaluator.evaluate(b, t);
    return Math.max(t.boundCompute, t.boundMemory) * 1e-6;
  }

  /** Both floors, µs. */
  floors(b: BatchShape): { compute: number; memory: number } {
    const t = this.terms;
    this.evaluator.evaluate(b, t);
    return { compute: t.boundCompute, memory: t.boundMemory };
  }
}

/** Wraps any cost model so that no step is faster than the roofline bound of its (model, GPU, TP). */
export class BoundedCostModel implements CostModel {
  readonly kind: string;
  readonly source: string;
  readonly overheads: RequestOverheads;
  readonly inner: CostModel;
  private readonly bound: RooflineBound;

  constructor(inner: CostModel, bound: RooflineBound) {
    this.inner = inner;
    this.bound = bound;
    this.kind = inner.kind;
    this.source = `${inner.source}; bounded below by the roofline`;
    this.overheads = inner.overheads;
  }

  stepTime(b: BatchShape): number {
    const t = this.inner.stepTime(b);
    if (b.prefillRequests + b.decodeRequests === 0) return t;
    const floor = this.bound.seconds(b);
    return t > floor ? t : floor;
  }
}
