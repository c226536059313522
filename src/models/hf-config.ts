/**
 * Hugging Face `config.json` → `ModelSpec`: the architecture numbers a cost model and the KV-capacity calculation
 * need, for dense, GQA, MoE (Mixtral / Qwen-MoE / DeepSeek / Llama 4 / gpt-oss field names), MLA (DeepSeek
 * `kv_lora_rank`), sliding-window and chunked-attention layers, and FP8 / compressed-tensors / MXFP4 weights.
 *
 * Used for every catalog entry and for a scenario's own `model: ./path/config.json`. A field whose value this parser
 * cannot interpret (an unknown quantization method, a layer type it does not know, a state-space or linear-attention
 * block) is an error naming the field: silently ignoring it would price a different model.
 */
import { InputError, readTextInput } from "../errors.ts";
import type { LayerAttention, MlaSpec, ModelSpec, MoeSpec, Quantization } from "./model-spec.ts";

type Json = Record<string, unknown>;

/** A config.json that cannot be interpreted; `field` names the offending key. */
export class HfConfigError extends InputError {
  readonly file: string;
  readonly field: string;
  constructor(file: string, field: string, detail: string) {
    super(`${file}: field "${field}": ${detail}`);
    this.file = file;
    this.field = field;
  }
}

function intField(cfg: Json, key: string, file: string): number;
function intField(cfg: Json, key: string, file: string, fallback: number | null): number | null;
function intField(cfg: Json, key: string, file: string, fallback?: number | null): number | null {
  const v = cfg[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new HfConfigError(file, key, "missing (expected a non-negative integer)");
  }
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
    throw new HfConfigError(file, key, `expected a non-negative integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** The most layers a config may declare (real models have up to ~130; per-layer tables are built from it). */
const MAX_LAYERS = 10_000;

/** `v` (the integer field `key`) when it is > 0; a zero names the field ("layers, hidden and heads > 0" named one). */
function positive(key: string, file: string, v: number): number {
  if (!(v > 0)) throw new HfConfigError(file, key, `expected an integer > 0, got ${v}`);
  return v;
}

/** An optional integer field that must be > 0 when present (`fallback` when absent). */
function positiveOrNull(cfg: Json, key: string, file: string, fallback: number | null): number | null {
  const v = intField(cfg, key, file, fallback);
  return v === null ? null : positive(key, file, v);
}

/**
 * Keys that describe blocks this parser does not model (state-space / linear-attention / hybrid-Mamba layers,
 * vision-only wrappers without a text model). Their presence means the numbers below would describe another model.
 */
const UNSUPPORTED_KEYS: Readonly<Record<string, string>> = {
  ssm_state_size: "state-space (Mamba) layers are not modelled",
  mamba_d_state: "state-space (Mamba) layers are not modelled",
  layers_block_type: "hybrid attention/Mamba layer stacks are not modelled",
  linear_num_value_heads: "linear-attention (Gated DeltaNet) layers are not modelled",
  linear_conv_kernel_dim: "linear-attention (Gated DeltaNet) layers are not modelled",
};

/** Bytes per weight of each quantization. MXFP4: 4-bit values plus one 8-bit scale per 32 → 4.25 bits. */
const BYTES_PER_PARAM: Record<Quantization, number> = { fp8: 1, int8: 1, int4: 0.5, mxfp4: 4.25 / 8 };

/** Weight quantization from `quantization_config` (`fp8`, `mxfp4`, or compressed-tensors weight groups). */
function readQuantization(cfg: Json, file: string): Quantization | null {
  const q = cfg.quantization_config as Json | undefined;
  if (q === undefined || q === null) return null;
  if (q.quant_method === "fp8") return "fp8";
  if (q.quant_method === "mxfp4") return "mxfp4";
  const groups = q.config_groups as Record<string, Json> | undefined;
  if (groups !== undefined) {
    for (const g of Object.values(groups)) {
      const w = g.weights as Json | undefined;
      if (w === undefined) continue;
      if (w.num_bits === 8) return w.type === "float" ? "fp8" : "int8";
      if (w.num_bits === 4) return "int4";
    }
  }
  throw new HfConfigError(
    file,
    "quantization_config",
    `cannot interpret ${JSON.stringify(q).slice(0, 160)} (known: quant_method fp8, mxfp4, compressed-tensors groups)`,
  );
}

/** Which decoder layers carry an MoE FFN, following each architecture's Hugging Face modelling code. */
function isMoeLayer(cfg: Json, i: number, file: string): boolean {
  const step = intField(cfg, "interleave_moe_layer_step", file, null);
  if (step !== null && step > 0) return (i + 1) % step === 0; // Llama 4: layers step-1, 2·step-1, …
  const firstK = intField(cfg, "first_k_dense_replace", file, null);
  if (firstK !== null) {
    const freq = positive("moe_layer_freq", file, intField(cfg, "moe_layer_freq", file, 1) ?? 1); // DeepSeek / GLM
    return i >= firstK && i % freq === 0;
  }
  const sparseStep = intField(cfg, "decoder_sparse_step", file, null);
  if (sparseStep !== null && sparseStep > 0) {
    const mlpOnly = Array.isArray(cfg.mlp_only_layers) ? (cfg.mlp_only_layers as unknown[]) : [];
    return !mlpOnly.includes(i) && (i + 1) % sparseStep === 0; // Qwen MoE
  }
  return true; // Mixtral, gpt-oss: every layer
}

/**
 * Attention kind of every layer:
 * - `layer_types` (gpt-oss, recent transformers): "full_attention" | "sliding_attention" | "chunked_attention";
 * - Gemma 3 (`model_type` gemma3 / gemma3_text): 5 local (sliding) : 1 global, the transformers `Gemma3TextConfig`
 *   default `sliding_window_pattern` 6 when the file omits it (model-configs README: sparse HF file);
 * - Qwen2/3 `use_sliding_window: true`: sliding on layers ≥ `max_window_layers` (transformers Qwen2 modelling);
 * - Mistral-style `sliding_window` (no `use_sliding_window` key): every layer;
 * - Llama 4 `attention_chunk_size`: chunked local attention on RoPE layers, global on every 4th (NoPE) layer —
 *   transformers `Llama4TextConfig` default `no_rope_layer_interval` 4 when `no_rope_layers` is absent.
 */
function layerAttention(cfg: Json, L: number, file: string): { kinds: LayerAttention[]; window: number | null } {
  const kinds: LayerAttention[] = new Array<LayerAttention>(L).fill("full");
  const chunk = intField(cfg, "attention_chunk_size", file, null);
  const lt = cfg.layer_types;
  const modelType = String(cfg.model_type ?? "");
  let window = intField(cfg, "sliding_window", file, null);
  if (lt !== undefined && lt !== null) {
    if (!Array.isArray(lt) || lt.length !== L) {
      throw new HfConfigError(file, "layer_types", `expected a list of ${L} layer types (num_hidden_layers)`);
    }
    lt.forEach((t, i) => {
      if (t === "full_attention") kinds[i] = "full";
      else if (t === "sliding_attention") kinds[i] = "sliding";
      else if (t === "chunked_attention") kinds[i] = "chunked";
      else {
        throw new HfConfigError(
          file,
          `layer_types[${i}]`,
          `unknown layer type ${JSON.stringify(t)} (known: full_attention, sliding_attention, chunked_attention)`,
        );
      }
    });
    if (kinds.includes("sliding") && window === null) {
      throw new HfConfigError(file, "sliding_window", "sliding_attention layers need a sliding_window size");
    }
  } else if (modelType.startsWith("gemma3")) {
    const pattern = intField(cfg, "sliding_window_pattern", file, 6) ?? 6;
    window ??= 4096; // transformers Gemma3TextConfig default
    for (let i = 0; i < L; i++) kinds[i] = (i + 1) % pattern === 0 ? "full" : "sliding";
  } else if (cfg.use_sliding_window === true) {
    const from = intField(cfg, "max_window_layers", file, 0) ?? 0;
    if (window === null) throw new HfConfigError(file, "sliding_window", "use_sliding_window is true but no size");
    for (let i = from; i < L; i++) kinds[i] = "sliding";
  } else if (cfg.use_sliding_window === undefined && window !== null && !modelType.startsWith("qwen")) {
    kinds.fill("sliding"); // Mistral v0.1 style: one window on every layer
  } else {
    window = null;
  }
  if (chunk !== null && chunk > 0) {
    const noRope = cfg.no_rope_layers;
    for (let i = 0; i < L; i++) {
      const rope = Array.isArray(noRope) ? noRope[i] !== 0 : (i + 1) % 4 !== 0;
      if (rope) kinds[i] = "chunked";
    }
  }
  return { kinds, window };
}

/** Names under which a parsed model is known. */
export interface HfNames {
  readonly name: string;
  readonly hfId: string;
  readonly aliases: readonly string[];
  /** Provenance line (file and where it comes from). */
  readonly source: string;
}

/** Parses one config.json object; `file` names it in errors. */
export function parseHfConfig(root: Json, file: string, names: HfNames): ModelSpec {
  if (root === null || typeof root !== "object" || Array.isArray(root)) {
    throw new HfConfigError(file, "(root)", "expected a JSON object");
  }
  // Multimodal wrappers (Llama 4, Gemma 3) keep the language model's numbers in text_config.
  const text = (root.text_config as Json | undefined) ?? {};
  const cfg: Json = { ...root, ...text };
  for (const [k, why] of Object.entries(UNSUPPORTED_KEYS)) {
    if (cfg[k] !== undefined && cfg[k] !== null) throw new HfConfigError(file, k, why);
  }
  const modelType = String(cfg.model_type ?? "");
  const gemma3 = modelType.startsWith("gemma3");
  // BLOOM (transformers BloomConfig): n_layer / n_head for the layer and head counts, multi-head attention, a plain
  // GELU MLP of 4 × hidden (BloomMLP: dense_h_to_4h, dense_4h_to_h), ALiBi positions (no max_position_embeddings),
  // word embeddings tied to the LM head (PretrainedConfig's default).
  const bloom = modelType === "bloom";
  if (bloom) {
    for (const [from, to] of [
      ["n_layer", "num_hidden_layers"],
      ["n_head", "num_attention_heads"],
    ] as const) {
      if (cfg[to] === undefined && cfg[from] !== undefined) cfg[to] = cfg[from];
    }
    if (cfg.intermediate_size === undefined && typeof cfg.hidden_size === "number") {
      cfg.intermediate_size = 4 * cfg.hidden_size;
    }
    if (cfg.tie_word_embeddings === undefined) cfg.tie_word_embeddings = true;
  }
  const mlpMatrices = bloom ? 2 : 3;

  const L = positive("num_hidden_layers", file, intField(cfg, "num_hidden_layers", file));
  // Per-layer tables are built below: a layer count past any model (the largest have ~130) is a typo, not a model.
  if (L > MAX_LAYERS)
    throw new HfConfigError(file, "num_hidden_layers", `at most ${MAX_LAYERS.toLocaleString("en-US")}, got ${L}`);
  const d = positive("hidden_size", file, intField(cfg, "hidden_size", file));
  const h = positive("num_attention_heads", file, intField(cfg, "num_attention_heads", file));
  const kvH = intField(cfg, "num_key_value_heads", file, h) ?? h;
  const hd = intField(cfg, "head_dim", file, null);
  const headDim = hd === null ? d / h : positive("head_dim", file, hd);
  const ff = intField(cfg, "intermediate_size", file);
  // Gemma 3's HF file omits vocab_size; transformers Gemma3TextConfig default 262208 (model-configs README).
  const vocab = intField(cfg, "vocab_size", file, gemma3 ? 262208 : null);
  if (vocab === null) throw new HfConfigError(file, "vocab_size", "missing (expected a non-negative integer)");
  positive("vocab_size", file, vocab);
  // Gemma ties lm_head to the embeddings by default (transformers Gemma3TextConfig tie_word_embeddings=True).
  const tied = cfg.tie_word_embeddings === true || (gemma3 && cfg.tie_word_embeddings === undefined);
  const dtype = String(root.torch_dtype ?? root.dtype ?? text.torch_dtype ?? "bfloat16");
  const quantization = readQuantization(root, file);
  // MXFP4 (gpt-oss) quantizes the MoE experts only: attention, router, embeddings and lm_head stay BF16.
  const bpp = quantization === null || quantization === "mxfp4" ? 2 : BYTES_PER_PARAM[quantization];
  const expertBpp = quantization === null ? 2 : BYTES_PER_PARAM[quantization];

  // --- attention block ---
  let mla: MlaSpec | null = null;
  let attnParams: number;
  let kvElements: number;
  let kvSharded: boolean;
  const kvLora = intField(cfg, "kv_lora_rank", file, null);
  if (kvLora !== null) {
    mla = {
      kvLoraRank: kvLora,
      qLoraRank: intField(cfg, "q_lora_rank", file, null),
      qkNopeHeadDim: intField(cfg, "qk_nope_head_dim", file),
      qkRopeHeadDim: intField(cfg, "qk_rope_head_dim", file),
      vHeadDim: intField(cfg, "v_head_dim", file),
    };
    const qk = mla.qkNopeHeadDim + mla.qkRopeHeadDim;
    // HF DeepseekV2Attention: q (direct, or low-rank a/b with a norm), kv_a (latent + rope key), kv_a norm,
    // kv_b (latent → per-head nope key and value), o.
    const qParams = mla.qLoraRank === null ? d * h * qk : d * mla.qLoraRank + mla.qLoraRank + mla.qLoraRank * h * qk;
    attnParams =
      qParams +
      d * (kvLora + mla.qkRopeHeadDim) +
      kvLora +
      kvLora * h * (mla.qkNopeHeadDim + mla.vHeadDim) +
      h * mla.vHeadDim * d;
    // vLLM's MLA cache holds the compressed latent plus the rope key, one copy per rank.
    kvElements = kvLora + mla.qkRopeHeadDim;
    kvSharded = false;
  } else {
    const qDim = h * headDim;
    const kvDim = kvH * headDim;
    attnParams = d * qDim + 2 * d * kvDim + qDim * d; // q, k, v, o
    kvElements = 2 * kvDim;
    kvSharded = true;
  }
  const { kinds, window } = layerAttention(cfg, L, file);
  const chunkSize = intField(cfg, "attention_chunk_size", file, null);

  // --- FFN blocks ---
  const numExperts =
    intField(cfg, "num_local_experts", file, null) ??
    intField(cfg, "n_routed_experts", file, null) ??
    intField(cfg, "num_experts", file, null) ??
    0;
  let moe: MoeSpec | null = null;
  if (numExperts > 1) {
    const expertsPerToken =
      intField(cfg, "num_experts_per_tok", file, null) ?? intField(cfg, "experts_per_token", file, null);
    if (expertsPerToken === null) {
      throw new HfConfigError(file, "num_experts_per_tok", "an MoE config needs the experts per token");
    }
    // A token is routed to k of the E experts: 1 ≤ k ≤ E (k above E made the expected-experts arithmetic spin).
    if (expertsPerToken < 1 || expertsPerToken > numExperts) {
      const key = cfg.num_experts_per_tok !== undefined ? "num_experts_per_tok" : "experts_per_token";
      throw new HfConfigError(file, key, `expected 1 to ${numExperts} (the experts), got ${expertsPerToken}`);
    }
    const expertFf = intField(cfg, "moe_intermediate_size", file, null) ?? ff;
    const nShared = intField(cfg, "n_shared_experts", file, null);
    const sharedFf =
      intField(cfg, "shared_expert_intermediate_size", file, null) ??
      (nShared !== null
        ? nShared * expertFf
        : modelType.startsWith("llama4")
          ? ff // Llama4TextMoe has one shared expert of intermediate_size
          : 0);
    let numMoeLayers = 0;
    for (let i = 0; i < L; i++) if (isMoeLayer(cfg, i, file)) numMoeLayers++;
    moe = {
      numExperts,
      expertsPerToken,
      expertIntermediateSize: expertFf,
      sharedExpertIntermediateSize: sharedFf,
      denseIntermediateSize: intField(cfg, "intermediate_size_mlp", file, null) ?? ff,
      interleaveMoeLayerStep: intField(cfg, "interleave_moe_layer_step", file, null),
      firstKDenseReplace: intField(cfg, "first_k_dense_replace", file, null),
      numMoeLayers,
      numDenseLayers: L - numMoeLayers,
    };
  }

  // --- parameter count (gated FFN: gate, up, down = 3 matrices, BLOOM 2; 2 norms per layer, biases left out) ---
  const norms = 2 * d;
  const embeddings = vocab * d + (tied ? 0 : vocab * d) + d; // input embedding, lm_head, final norm
  let params: number;
  let active: number;
  let weightBytes: number;
  if (moe === null) {
    params = embeddings + L * (attnParams + norms + mlpMatrices * d * ff);
    active = params;
    weightBytes = params * bpp;
  } else {
    const dense = 3 * d * moe.denseIntermediateSize;
    const expert = 3 * d * moe.expertIntermediateSize;
    const shared = 3 * d * moe.sharedExpertIntermediateSize;
    const router = moe.numExperts * d;
    const common = embeddings + L * (attnParams + norms) + moe.numDenseLayers * dense;
    const experts = moe.numMoeLayers * moe.numExperts * expert;
    params = common + experts + moe.numMoeLayers * (shared + router);
    active = common + moe.numMoeLayers * (moe.expertsPerToken * expert + shared + router);
    weightBytes = (params - experts) * bpp + experts * expertBpp;
  }

  const count = (k: LayerAttention) => kinds.filter((x) => x === k).length;
  return {
    name: names.name,
    hfId: names.hfId,
    aliases: names.aliases,
    architecture: String((root.architectures as unknown[] | undefined)?.[0] ?? ""),
    modelType,
    numLayers: L,
    hiddenSize: d,
    numHeads: h,
    numKvHeads: kvH,
    headDim,
    intermediateSize: ff,
    mlpMatrices,
    vocabSize: vocab,
    maxPositionEmbeddings: positiveOrNull(cfg, "max_position_embeddings", file, gemma3 ? 131072 : null),
    tieWordEmbeddings: tied,
    dtype,
    quantization,
    weightBytesPerParam: bpp,
    expertWeightBytesPerParam: expertBpp,
    moe,
    mla,
    attentionParamsPerLayer: attnParams,
    kvElementsPerTokenPerLayer: kvElements,
    kvShardedAcrossTp: kvSharded,
    paramCount: params,
    activeParamCount: active,
    weightBytes,
    slidingWindow: window,
    attentionChunkSize: chunkSize !== null && chunkSize > 0 ? chunkSize : null,
    slidingLayers: count("sliding"),
    chunkedLayers: count("chunked"),
    source: names.source,
  };
}

/** Reads and parses a config.json file; errors name the file (as given) and the field. */
export function readHfConfigFile(path: string, shown: string, names?: Partial<HfNames>): ModelSpec {
  // Size-capped; folders, FIFOs and devices are refused with a message naming the file.
  const text = readTextInput(path, "model config.json", undefined, shown);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new HfConfigError(shown, "(file)", `not valid JSON: ${(e as Error).message}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new HfConfigError(shown, "(root)", "expected a JSON object");
  }
  const j = raw as Json;
  const nameOrPath = typeof j._name_or_path === "string" && j._name_or_path !== "" ? j._name_or_path : shown;
  return parseHfConfig(j, shown, {
    name: names?.name ?? shown,
    hfId: names?.hfId ?? nameOrPath,
    aliases: names?.aliases ?? [],
    source: names?.source ?? `${shown} (a Hugging Face config.json given by the scenario)`,
  });
}
