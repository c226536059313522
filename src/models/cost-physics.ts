/**
 * Physics cost model: BLIS's "trained-physics" step time — a roofline basis (FLOPs and bytes from the model config
 * and the GPU's peak numbers) multiplied by fitted corrections, plus fitted per-layer / per-request / per-step
 * overheads. Formula: BLIS `sim/latency/trained_physics_model.go` (docs/reference.md#blis-inference-sim-facts), all in µs:
 *
 *   step = β1a·T_pf_compute + β1b·T_pf_kv + β2a·T_dc_compute + β2b·T_dc_kv + β3·T_weight
 *        + β4·(T_tp_attn + T_tp_denseFFN + T_moe_reduce) + β5·L + β6·B + β7 + β8·nMoE_interleaved
 *   (× LoRA factor when adapters are active — added by the LoRA work; clamped ≥ 1 µs)
 *
 *   P = peak FLOP/µs (FP8 peak when weights are 1 byte and the GPU has FP8), W = HBM bytes/µs, per layer d hidden,
 *   h heads, d_h = d / h, d_kv = kv_heads·d_h, bpp = weight bytes/param, KV elements 2 bytes:
 *   T_pf_compute = [ L·2·T·d·(2d + 2d_kv)/tp + L·4·(h/tp)·d_h·X + L_dense·T·6·d·d_ff/tp + MoE FFN ] / P
 *   T_pf_kv      = L·2·(d_kv/tp)·2·T / W
 *   T_dc_compute = [ L·2·D·d·(2d + 2d_kv)/tp + L·4·(h/tp)·d_h·S + L_dense·D·6·d·d_ff/tp + MoE FFN ] / P
 *   T_dc_kv      = L·2·(d_kv/tp)·2·(S + D) / W
 *   T_weight     = [ L·d·(2d + 2d_kv)·bpp/tp + L_dense·3·d·d_ff·bpp/tp + MoE expert bytes ] / W
 *   T_tp         = units·(T + D)·d·2·2·(tp − 1)/tp / W, units = L (attention) + L_dense + L_moe (0 at tp = 1)
 *
 * Mapping from `BatchShape`: T = prefillTokens, D = decodeRequests, S = decodeContext, B = prefillRequests +
 * decodeRequests, and X (the prefill attention work Σ t_i·(s_i + t_i/2)) — see `PrefillAttentionBasis`.
 *
 * MoE terms (as BLIS with data-parallel size 1 and balanced expert placement; the MoE group is the TP group):
 *   FFN FLOPs of an MoE layer per token = k·6·d·d_expert/tp (k routed experts per token) + 6·d·d_shared/tp;
 *   expert weight bytes per MoE layer   = (E/tp)·3·d·d_expert·bpp + 3·d·d_shared·bpp/tp (all experts streamed);
 *   the MoE FFN all-reduces over TP like a dense FFN (one unit per MoE layer); β8 applies per MoE layer only to
 *   interleaved MoE/dense architectures. Expert-parallel dispatch (βEP) needs DP > 1 and is not modelled.
 * Layer split: for interleaved models (`interleave_moe_layer_step` > 0, Llama 4) we use BLIS's split,
 * nMoE = floor(L / (step + 1)), dense layers of width `intermediate_size_mlp`, no shared expert — the basis the iter29
 * coefficients were fitted on (4 of its 15 experiments are Llama-4-Scout), even though Hugging Face's Llama 4 code
 * makes every layer MoE at step 1 and adds a shared expert. For other MoE models (not in the fitted set) we use the
 * catalog's Hugging Face split (`first_k_dense_replace`, `decoder_sparse_step`) and shared experts
 * (`n_shared_experts`), where BLIS would treat every layer as MoE and ignore DeepSeek-style shared experts.
 */

import { type GpuSpec, kvHeadsPerRank, type ModelSpec, resolveGpu, resolveModel } from "./catalog.ts";
import type { BatchShape, CostModel, RequestOverheads } from "./cost.ts";

/** α (µs) and β coefficients of the trained-physics model, in BLIS's order. */
export interface PhysicsCoefficients {
  /** Name of the set, for provenance. */
  readonly name: string;
  /** [α0 queueing (µs), α1 post-decode fixed (µs), α2 per output token (µs)]. */
  readonly alpha: readonly [number, number, number];
  /** [β1a, β2a, β3, β4, β5 (µs/layer), β6 (µs/request), β7 (µs/step), β8 (µs/MoE layer), β1b, β2b, βEP]. */
  readonly beta: readonly [number, number, number, number, number, number, number, number, number, number, number];
  readonly source: string;
}

/**
 * BLIS trained-physics coefficients, "iter29, loss 34.57 %": BLIS `defaults.yaml` lines 163–186 at HEAD
 * f90a1e3a (copy: /work/shared/data/blis-inference-sim/defaults.head.yaml) (docs/reference.md#blis-inference-sim-facts).
 */
export const BLIS_TRAINED_PHYSICS_ITER29: PhysicsCoefficients = {
  name: "blis-trained-physics-iter29",
  alpha: [15563.199579, 777.3455, 45.907545],
  beta: [
    0.152128, // β1a prefill compute correction
    0.0, // β2a decode compute correction
    1.36252915, // β3 weight-load correction
    0.752037, // β4 TP all-reduce correction
    32.09546717, // β5 µs per layer
    4.41684444, // β6 µs per request in the batch
    126.024825, // β7 µs per step
    481.8613888, // β8 µs per MoE layer (interleaved architectures only)
    0.0, // β1b prefill KV-write correction
    1.94710771, // β2b decode KV-read correction
    0.752037, // βEP MoE dispatch/combine correction (= β4)
  ],
  source: "BLIS defaults.yaml L163-186 @ f90a1e3a (trained_physics_coefficients, iter29)",
};

/** Named coefficient sets accepted by the factory. */
export const PHYSICS_COEFFICIENT_SETS: Readonly<Record<string, PhysicsCoefficients>> = {
  [BLIS_TRAINED_PHYSICS_ITER29.name]: BLIS_TRAINED_PHYSICS_ITER29,
};

/**
 * How the prefill attention work X is taken from the batch shape.
 * - `blis` (default): X = Σ t_i·(s_i + t_i + t_i/2) = prefillAttnWork + prefillTokensSq. BLIS charges
 *   t_i·(input_len_i + t_i/2) with input_len the *whole* prompt; for a prefill that finishes in this step
 *   input_len = s_i + t_i, so this is BLIS exactly (the §2.4 worked table needs it: a 1 000-token prefill is charged
 *   1 000·1 500 pair-units). For an earlier chunk of a chunked prefill BLIS would use the whole prompt length, which
 *   the batch shape does not carry; we use the context reached by the chunk, a little less.
 * - `causal`: X = prefillAttnWork = Σ t_i·(s_i + t_i/2), the causal-attention work of the chunk. Physically right,
 *   but the iter29 β1a was fitted with the BLIS basis.
 */
export type PrefillAttentionBasis = "blis" | "causal";

/**
 * Which model geometry feeds the basis.
 * - `blis` (default): §2.4 as written — d_h = hidden / heads, attention projections d·(2d + 2d_kv), KV cache
 *   2·kv_heads·d_h elements per token per layer split across TP — the geometry the coefficients were fitted with.
 * - `config`: the config's own numbers — its `head_dim`, the catalog's exact attention parameter count (MLA
 *   included) and KV-cache size (MLA latent, not split across TP). Differs from `blis` only where head_dim ≠
 *   hidden / heads or the model uses MLA (Mistral-Nemo, Qwen3-30B-A3B, DeepSeek-V2-Lite, GLM-5.2).
 */
export type PhysicsGeometry = "blis" | "config";

export interface PhysicsCostModelOptions {
  readonly model: ModelSpec | string;
  readonly gpu: GpuSpec | string;
  readonly tp: number;
  readonly coefficients?: PhysicsCoefficients;
  readonly prefillAttention?: PrefillAttentionBasis;
  readonly geometry?: PhysicsGeometry;
  /** Replace the α-derived request overheads (seconds). */
  readonly overheads?: RequestOverheads;
  /**
   * Optional multiplier on the step time for the adapters of the batch (BLIS's LoRA factor
   * 1 + (k6/k7)·A_B). Not set here: the LoRA work supplies it. Must return ≥ 0.
   */
  readonly adapterFactor?: (batch: BatchShape) => number;
}

/** Per-token and per-step constants of the basis, in µs, precomputed once. */
export interface PhysicsBasis {
  /** µs of compute per token (projections + FFN), before β1a / β2a. */
  readonly computePerToken: number;
  /** µs of attention compute per unit of X (prefill) or S (decode). */
  readonly attentionPerUnit: number;
  /** µs of KV-cache traffic per token. */
  readonly kvPerToken: number;
  /** µs of weight streaming per step (T_weight). */
  readonly weight: number;
  /** µs of TP all-reduce per token (0 at TP 1). */
  readonly tpPerToken: number;
  readonly numLayers: number;
  /** MoE layers charged β8 (interleaved architectures only; 0 otherwise). */
  readonly interleavedMoeLayers: number;
}

/** The roofline basis of §2.4 for one (model, GPU, TP). */
export function physicsBasis(
  modelIn: ModelSpec | string,
  gpuIn: GpuSpec | string,
  tp: number,
  geometry: PhysicsGeometry = "blis",
): PhysicsBasis {
  const model = resolveModel(modelIn);
  const gpu = resolveGpu(gpuIn);
  const kvHeads = kvHeadsPerRank(model, tp); // validates tp
  const L = model.numLayers;
  const d = model.hiddenSize;
  const h = model.numHeads;
  const bpp = model.weightBytesPerParam;
  // BLIS: FP8 peak for 1-byte weights on an FP8-capable GPU, else BF16 peak. TFLOPS·1e6 = FLOP/µs.
  const peakFlops = bpp === 1 && gpu.peakFp8Flops !== null ? gpu.peakFp8Flops : gpu.peakBf16Flops;
  const P = peakFlops / 1e6;
  const W = gpu.memoryBandwidth / 1e6;
  const KV_BYTES = 2; // BLIS bytesPerKVElement: the KV cache is FP16/BF16 whatever the weights

  // Attention geometry.
  let attnParamsPerRank: number; // weights of one layer's attention projections on one rank
  let attnFlopsPerUnit: number; // FLOPs per (query, key) pair per layer on one rank
  let kvElementsPerRank: number; // KV elements per token per layer on one rank
  if (geometry === "blis") {
    const dh = d / h;
    const dkv = model.numKvHeads * dh;
    attnParamsPerRank = (d * (2 * d + 2 * dkv)) / tp;
    attnFlopsPerUnit = 4 * (h / tp) * dh;
    kvElementsPerRank = (2 * dkv) / tp;
  } else {
    attnParamsPerRank = model.attentionParamsPerLayer / tp;
    const mla = model.mla;
    attnFlopsPerUnit =
      mla === null
        ? 4 * (h / tp) * model.headDim
        : 2 * (h / tp) * (mla.qkNopeHeadDim + mla.qkRopeHeadDim + mla.vHeadDim);
    kvElementsPerRank = model.kvShardedAcrossTp
      ? (model.kvElementsPerTokenPerLayer / model.numKvHeads) * kvHeads
      : model.kvElementsPerTokenPerLayer;
  }

  // FFN geometry (see the header for the MoE layer split).
  let nDense = L;
  let nMoe = 0;
  let dffDense = model.intermediateSize;
  let dffExpert = 0;
  let dffShared = 0;
  let experts = 0;
  let topK = 0;
  let interleaved = false;
  const moe = model.moe;
  if (moe !== null) {
    experts = moe.numExperts;
    topK = Math.max(1, moe.expertsPerToken);
    dffExpert = moe.expertIntermediateSize;
    dffDense = moe.denseIntermediateSize;
    if (moe.interleaveMoeLayerStep !== null && moe.interleaveMoeLayerStep > 0) {
      interleaved = true;
      nMoe = Math.floor(L / (moe.interleaveMoeLayerStep + 1));
      nDense = L - nMoe;
      dffShared = 0;
    } else {
      nMoe = moe.numMoeLayers;
      nDense = moe.numDenseLayers;
      dffShared = moe.sharedExpertIntermediateSize;
    }
  }

  const flopsPerToken =
    L * 2 * attnParamsPerRank +
    (nDense * 2 * model.mlpMatrices * d * dffDense) / tp +
    nMoe * ((topK * 6 * d * dffExpert) / tp + (6 * d * dffShared) / tp);
  const weightBytes =
    L * attnParamsPerRank * bpp +
    (nDense * model.mlpMatrices * d * dffDense * bpp) / tp +
    nMoe * ((experts / tp) * 3 * d * dffExpert * bpp + (3 * d * dffShared * bpp) / tp);
  const allReduceUnits = L + nDense + nMoe;

  return {
    computePerToken: flopsPerToken / P,
    attentionPerUnit: (L * attnFlopsPerUnit) / P,
    kvPerToken: (L * kvElementsPerRank * KV_BYTES) / W,
    weight: weightBytes / W,
    tpPerToken: tp > 1 ? (allReduceUnits * d * 2 * 2 * (tp - 1)) / tp / W : 0,
    numLayers: L,
    interleavedMoeLayers: interleaved ? nMoe : 0,
  };
}

/** BLIS's request overheads from α (µs → s): α0 before enqueue, α2 per output token, α1 once after the last token. */
export function physicsOverheads(c: PhysicsCoefficients): RequestOverheads {
  const [a0, a1, a2] = c.alpha;
  return { preQueue: a0 * 1e-6, preQueuePerInputToken: 0, perOutputToken: a2 * 1e-6, postDecode: a1 * 1e-6 };
}

export class PhysicsCostModel implements CostModel {
  readonly kind = "physics";
  readonly source: string;
  readonly overheads: RequestOverheads;
  readonly basis: PhysicsBasis;
  readonly coefficients: PhysicsCoefficients;
  private readonly blisAttention: boolean;
  private readonly adapterFactor: ((batch: BatchShape) => number) | undefined;
  // Coefficient-weighted constants, precomputed.
  private readonly kPrefillToken: number;
  private readonly kPrefillAttn: number;
  private readonly kDecodeToken: number;
  private readonly kDecodeCtx: number;
  private readonly kRequest: number;
  private readonly kFixed: number;

  constructor(opts: PhysicsCostModelOptions) {
    const model = resolveModel(opts.model);
    const gpu = resolveGpu(opts.gpu);
    const c = opts.coefficients ?? BLIS_TRAINED_PHYSICS_ITER29;
    const geometry = opts.geometry ?? "blis";
    this.coefficients = c;
    this.basis = physicsBasis(model, gpu, opts.tp, geometry);
    this.blisAttention = (opts.prefillAttention ?? "blis") === "blis";
    this.adapterFactor = opts.adapterFactor;
    const [b1a, b2a, b3, b4, b5, b6, b7, b8, b1b, b2b] = c.beta;
    const bs = this.basis;
    // step(µs) = kPrefillToken·T + kPrefillAttn·X + kDecodeToken·D + kDecodeCtx·S + kRequest·B + kFixed
    this.kPrefillToken = b1a * bs.computePerToken + b1b * bs.kvPerToken + b4 * bs.tpPerToken;
    this.kPrefillAttn = b1a * bs.attentionPerUnit;
    // Decode KV traffic reads S context tokens and writes D new ones: β2b·kv·(S + D).
    this.kDecodeToken = b2a * bs.computePerToken + b2b * bs.kvPerToken + b4 * bs.tpPerToken;
    this.kDecodeCtx = b2a * bs.attentionPerUnit + b2b * bs.kvPerToken;
    this.kRequest = b6;
    this.kFixed = b3 * bs.weight + b5 * bs.numLayers + b7 + b8 * bs.interleavedMoeLayers;
    this.overheads = opts.overheads ?? physicsOverheads(c);
    this.source =
      `physics (${c.name}; ${c.source}) for ${model.name} on ${gpu.name} TP${opts.tp}, ` +
      `geometry ${geometry}, prefill attention ${this.blisAttention ? "blis" : "causal"}`;
  }

  /** Step time in µs (unrounded, ≥ 1). */
  stepMicros(b: BatchShape): number {
    const requests = b.prefillRequests + b.decodeRequests;
    if (requests === 0) return 1; // BLIS: an empty batch costs 1 µs
    const x = this.blisAttention ? b.prefillAttnWork + b.prefillTokensSq : b.prefillAttnWork;
    let us =
      this.kPrefillToken * b.prefillTokens +
      this.kPrefillAttn * x +
      this.kDecodeToken * b.decodeRequests +
      this.kDecodeCtx * b.decodeContext +
      this.kRequest * requests +
      this.kFixed;
    if (this.adapterFactor !== undefined) us *= this.adapterFactor(b);
    return us >= 1 ? us : 1;
  }

  stepTime(b: BatchShape): number {
    return this.stepMicros(b) * 1e-6;
  }
}
