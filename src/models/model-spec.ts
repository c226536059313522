/**
 * The architecture numbers of a model, as the catalog (catalog.ts) and a bring-your-own `config.json` (hf-config.ts)
 * both produce them; a file of its own so that the parser and the catalog that calls it import one another's types
 * without an import cycle.
 */

/** Mixture-of-experts fields. Layer counts follow the Hugging Face modelling code's semantics. */
export interface MoeSpec {
  /** Routed experts per MoE layer (`num_local_experts`, `n_routed_experts` or `num_experts`). */
  readonly numExperts: number;
  /** Routed experts per token (`num_experts_per_tok`). */
  readonly expertsPerToken: number;
  /** FFN width of one routed expert (`moe_intermediate_size`, else `intermediate_size`). */
  readonly expertIntermediateSize: number;
  /** Total FFN width of the shared expert(s) of an MoE layer; 0 if none. */
  readonly sharedExpertIntermediateSize: number;
  /** FFN width of the dense (non-MoE) layers (`intermediate_size_mlp`, else `intermediate_size`). */
  readonly denseIntermediateSize: number;
  /** `interleave_moe_layer_step` (Llama 4) when present. */
  readonly interleaveMoeLayerStep: number | null;
  /** `first_k_dense_replace` (DeepSeek, GLM) when present. */
  readonly firstKDenseReplace: number | null;
  readonly numMoeLayers: number;
  readonly numDenseLayers: number;
}

/** Multi-head latent attention fields (DeepSeek-V2 style). */
export interface MlaSpec {
  readonly kvLoraRank: number;
  readonly qLoraRank: number | null;
  readonly qkNopeHeadDim: number;
  readonly qkRopeHeadDim: number;
  readonly vHeadDim: number;
}

export type Quantization = "fp8" | "int8" | "int4" | "mxfp4";

/** Attention kind of one decoder layer: full (global), sliding-window, or chunked local attention (Llama 4). */
export type LayerAttention = "full" | "sliding" | "chunked";

export interface ModelSpec {
  /** Canonical short name (the BLIS `model_configs` folder name, e.g. `llama-3.1-8b-instruct`). */
  readonly name: string;
  /** Hugging Face repository id. */
  readonly hfId: string;
  /** Other accepted names, the HF id among them (matched case-insensitively). */
  readonly aliases: readonly string[];
  readonly architecture: string;
  readonly modelType: string;
  readonly numLayers: number;
  readonly hiddenSize: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  /** `head_dim` when the config gives it, else hidden / heads. */
  readonly headDim: number;
  /** `intermediate_size` as written in the config (for MoE models see `moe` for what it means); BLOOM: 4 × hidden. */
  readonly intermediateSize: number;
  /**
   * Weight matrices of a dense FFN: 3 for a gated MLP (gate, up, down: SwiGLU / GeGLU, every model but BLOOM here),
   * 2 for a plain one (BLOOM's dense_h_to_4h and dense_4h_to_h, GELU). MoE experts are gated.
   */
  readonly mlpMatrices: 2 | 3;
  readonly vocabSize: number;
  /** `max_position_embeddings` (the model's native context length); null when the config lacks it. */
  readonly maxPositionEmbeddings: number | null;
  readonly tieWordEmbeddings: boolean;
  /** `torch_dtype` / `dtype` of the checkpoint (`bfloat16`, `float16`). */
  readonly dtype: string;
  /** Weight quantization read from `quantization_config`; null when unquantized. */
  readonly quantization: Quantization | null;
  /**
   * Bytes per weight: 2 for bf16/fp16, 1 for fp8/int8, 0.5 for int4. Applied to every parameter (as BLIS does), except
   * for MXFP4 checkpoints (gpt-oss), which quantize only the MoE experts (see `expertWeightBytesPerParam`).
   */
  readonly weightBytesPerParam: number;
  /** Bytes per routed-expert weight (MXFP4: 4.25 bits; otherwise = weightBytesPerParam). */
  readonly expertWeightBytesPerParam: number;
  readonly moe: MoeSpec | null;
  readonly mla: MlaSpec | null;
  /** Weights of one layer's attention block (projections only; no norms, biases or sparse-attention indexers). */
  readonly attentionParamsPerLayer: number;
  /** KV-cache elements stored per token per layer: 2·kv_heads·head_dim (K and V), or kv_lora_rank + rope dim (MLA). */
  readonly kvElementsPerTokenPerLayer: number;
  /** Whether tensor parallelism splits the KV cache across ranks (true for K/V heads; false for MLA's latent). */
  readonly kvShardedAcrossTp: boolean;
  /** Total parameters of the language model (all experts; vision towers and MTP heads excluded). */
  readonly paramCount: number;
  /** Parameters used per token (shared weights plus `expertsPerToken` routed experts per MoE layer). */
  readonly activeParamCount: number;
  /** Bytes of all weights (paramCount × weightBytesPerParam; routed experts at expertWeightBytesPerParam). */
  readonly weightBytes: number;
  /** Sliding-window size (tokens) of the sliding layers; null when no layer slides. */
  readonly slidingWindow: number | null;
  /** Chunk size (tokens) of chunked local attention layers (Llama 4 `attention_chunk_size`); null when none. */
  readonly attentionChunkSize: number | null;
  /** Layers with sliding-window attention. */
  readonly slidingLayers: number;
  /** Layers with chunked local attention. */
  readonly chunkedLayers: number;
  /** Where the architecture numbers come from. */
  readonly source: string;
}
