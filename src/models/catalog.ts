/**
 * Hardware and model catalog.
 *
 * GPUs: peak dense tensor-core FLOP/s (BF16 and FP8), HBM bandwidth and memory, each with its source.
 * Models: read at import from the Hugging Face `config.json` copies in `data/blis/model_configs/` (BLIS, Apache-2.0,
 * see `data/blis/README.md`), with a short canonical name and case-insensitive aliases (the HF id among them).
 *
 * Everything here is computed once at import; lookups are map reads.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { InputError } from "../errors.ts";

// ---------------------------------------------------------------------------------------------------------------
// Package data directory
// ---------------------------------------------------------------------------------------------------------------

/**
 * The package root: the nearest directory above this file that holds `package.json`. Works both from `src/models/`
 * (tests, tsx) and from the compiled `dist/src/models/`.
 */
function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`catalog: no package.json found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** Absolute path of `data/blis/` (the BLIS files the catalog and the linear cost model read). */
export const BLIS_DATA_DIR: string = join(findPackageRoot(), "data", "blis");

function readJson(relPath: string): unknown {
  const path = join(BLIS_DATA_DIR, relPath);
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`catalog: cannot read ${path}: ${(e as Error).message}`);
  }
}

function normalise(name: string): string {
  return name.trim().toLowerCase();
}

// ---------------------------------------------------------------------------------------------------------------
// GPUs
// ---------------------------------------------------------------------------------------------------------------

export interface GpuSpec {
  /** Canonical name (`H100`, `H200`, `A100-80GB`, `L40S`). */
  readonly name: string;
  /** Other accepted names (matched case-insensitively, as is the canonical name). */
  readonly aliases: readonly string[];
  /** Peak dense BF16 tensor-core throughput, FLOP/s. */
  readonly peakBf16Flops: number;
  /** Peak dense FP8 tensor-core throughput, FLOP/s; null where the GPU has no FP8 tensor cores. */
  readonly peakFp8Flops: number | null;
  /** Peak HBM (or GDDR) bandwidth, bytes/s. */
  readonly memoryBandwidth: number;
  /** Device memory in GiB, as the capacity planners use it. */
  readonly memoryGiB: number;
  /** BLIS's calibrated model-FLOPs utilisation for its pure roofline model, where known. */
  readonly mfuPrefill: number | null;
  readonly mfuDecode: number | null;
  /** Where the figures come from. */
  readonly source: string;
}

interface BlisHardwareEntry {
  TFlopsPeak: number;
  TFlopsFP8: number;
  BwPeakTBs: number;
  mfuPrefill: number;
  mfuDecode: number;
  MemoryGiB: number;
}

function blisHardware(key: string): BlisHardwareEntry {
  const all = readJson("hardware_config.json") as Record<string, Partial<BlisHardwareEntry>>;
  const e = all[key];
  if (
    e === undefined ||
    typeof e.TFlopsPeak !== "number" ||
    typeof e.TFlopsFP8 !== "number" ||
    typeof e.BwPeakTBs !== "number" ||
    typeof e.mfuPrefill !== "number" ||
    typeof e.mfuDecode !== "number" ||
    typeof e.MemoryGiB !== "number"
  ) {
    throw new Error(`catalog: data/blis/hardware_config.json has no complete entry "${key}"`);
  }
  return e as BlisHardwareEntry;
}

/** A GPU whose figures are BLIS's `hardware_config.json` entry `key` (TFLOPS → FLOP/s, TB/s → B/s). */
function gpuFromBlis(name: string, aliases: readonly string[], key: string): GpuSpec {
  const e = blisHardware(key);
  return {
    name,
    aliases,
    // Rounded to whole FLOP/s and B/s so that 2.039 TB/s is exactly 2.039e12 (no binary-fraction residue).
    peakBf16Flops: Math.round(e.TFlopsPeak * 1e12),
    peakFp8Flops: e.TFlopsFP8 > 0 ? Math.round(e.TFlopsFP8 * 1e12) : null,
    memoryBandwidth: Math.round(e.BwPeakTBs * 1e12),
    memoryGiB: e.MemoryGiB,
    mfuPrefill: e.mfuPrefill,
    mfuDecode: e.mfuDecode,
    source: `data/blis/hardware_config.json "${key}" (BLIS inference-sim)`,
  };
}

const GPUS: readonly GpuSpec[] = [
  // H100 SXM: 989.5 TFLOPS BF16, 1979 TFLOPS FP8 (dense), 3.35 TB/s, 80 GiB — data/blis/hardware_config.json "H100".
  gpuFromBlis("H100", ["H100-SXM", "H100-SXM5", "H100-80GB"], "H100"),
  {
    // NVIDIA H200 SXM datasheet (nvidia.com/en-us/data-center/h200): 1,979 TFLOPS BF16 and 3,958 TFLOPS FP8 *with
    // sparsity*, i.e. 989.5 / 1,979 TFLOPS dense (same compute die as H100 SXM); 4.8 TB/s HBM3e; 141 GB. The 141 is
    // used as GiB, the convention BLIS's hardware_config.json applies to the H100's nominal 80 GB.
    name: "H200",
    aliases: ["H200-SXM", "H200-141GB"],
    peakBf16Flops: 989.5e12,
    peakFp8Flops: 1979e12,
    memoryBandwidth: 4.8e12,
    memoryGiB: 141,
    mfuPrefill: null,
    mfuDecode: null,
    source: "NVIDIA H200 SXM datasheet (989.5 TFLOPS dense BF16, 1979 dense FP8, 4.8 TB/s, 141 GB)",
  },
  // A100 SXM 80 GB: 312 TFLOPS BF16, no FP8, 2.039 TB/s, 80 GiB — data/blis/hardware_config.json "A100-SXM"
  // (BLIS's "A100-80" entry is an identical alias; the blackbox CSV names it A100-80).
  gpuFromBlis("A100-80GB", ["A100-80", "A100-SXM", "A100-SXM4-80GB"], "A100-SXM"),
  // L40S: 362.05 TFLOPS BF16, 1466 TFLOPS FP8, 0.864 TB/s, 48 GiB — data/blis/hardware_config.json "L40S".
  gpuFromBlis("L40S", [], "L40S"),
];

function buildIndex<T extends { readonly name: string; readonly aliases: readonly string[] }>(
  what: string,
  items: readonly T[],
): Map<string, T> {
  const index = new Map<string, T>();
  for (const item of items) {
    for (const key of [item.name, ...item.aliases]) {
      const k = normalise(key);
      const prev = index.get(k);
      if (prev !== undefined && prev !== item) {
        throw new Error(`catalog: ${what} name "${key}" is used by both ${prev.name} and ${item.name}`);
      }
      index.set(k, item);
    }
  }
  return index;
}

const GPU_INDEX = buildIndex("GPU", GPUS);

/** Every GPU in the catalog, in catalog order. */
export function listGpus(): readonly GpuSpec[] {
  return GPUS;
}

function describeNames(items: readonly { readonly name: string; readonly aliases: readonly string[] }[]): string {
  return items.map((g) => (g.aliases.length > 0 ? `${g.name} (${g.aliases.join(", ")})` : g.name)).join("; ");
}

/** The GPU called `name` (canonical name or alias, case-insensitive). Throws, listing the accepted names, if none. */
/** A GPU by any accepted name; undefined when unknown. */
export function findGpu(name: string): GpuSpec | undefined {
  return GPU_INDEX.get(normalise(name));
}

export function getGpu(name: string): GpuSpec {
  const g = GPU_INDEX.get(normalise(name));
  if (g === undefined) throw new InputError(`Unknown GPU "${name}". Accepted names: ${describeNames(GPUS)}`);
  return g;
}

// ---------------------------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------------------------

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

export type Quantization = "fp8" | "int8" | "int4";

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
  /** `intermediate_size` as written in the config (for MoE models see `moe` for what it means). */
  readonly intermediateSize: number;
  readonly vocabSize: number;
  /** `max_position_embeddings` (the model's native context length); null when the config lacks it. */
  readonly maxPositionEmbeddings: number | null;
  readonly tieWordEmbeddings: boolean;
  /** `torch_dtype` / `dtype` of the checkpoint (`bfloat16`, `float16`). */
  readonly dtype: string;
  /** Weight quantization read from `quantization_config`; null when unquantized. */
  readonly quantization: Quantization | null;
  /** Bytes per weight: 2 for bf16/fp16, 1 for fp8/int8, 0.5 for int4. Applied to every parameter (as BLIS does). */
  readonly weightBytesPerParam: number;
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
  /** paramCount × weightBytesPerParam. */
  readonly weightBytes: number;
  /** Where the architecture numbers come from. */
  readonly source: string;
}

interface ModelEntry {
  /** Folder under data/blis/model_configs/ (also the canonical name). */
  readonly dir: string;
  readonly hfId: string;
  readonly extraAliases: readonly string[];
}

/** The BLIS model_configs folders and their Hugging Face ids (ids as in BLIS defaults.yaml / iter29 where listed). */
const MODEL_ENTRIES: readonly ModelEntry[] = [
  { dir: "codellama-34b-instruct-hf", hfId: "codellama/CodeLlama-34b-Instruct-hf", extraAliases: ["codellama-34b"] },
  { dir: "deepseek-v2-lite", hfId: "deepseek-ai/DeepSeek-V2-Lite", extraAliases: [] },
  { dir: "glm-5.2-fp8", hfId: "zai-org/GLM-5.2-FP8", extraAliases: [] },
  { dir: "llama-2-7b-hf", hfId: "meta-llama/Llama-2-7b-hf", extraAliases: ["llama-2-7b"] },
  {
    dir: "llama-3.1-70b-instruct",
    hfId: "meta-llama/Llama-3.1-70B-Instruct",
    extraAliases: ["meta-llama/Meta-Llama-3.1-70B-Instruct"],
  },
  {
    dir: "llama-3.1-8b-instruct",
    hfId: "meta-llama/Llama-3.1-8B-Instruct",
    extraAliases: ["meta-llama/Meta-Llama-3.1-8B-Instruct"],
  },
  {
    dir: "llama-4-scout-17b-16e-instruct-fp8-dynamic",
    hfId: "RedHatAI/Llama-4-Scout-17B-16E-Instruct-FP8-dynamic",
    extraAliases: ["llama-4-scout-fp8"],
  },
  { dir: "mistral-nemo-instruct-2407", hfId: "mistralai/Mistral-Nemo-Instruct-2407", extraAliases: ["mistral-nemo"] },
  // The Instruct checkpoint has the same architecture config as the base one.
  {
    dir: "mixtral-8x7b-v0.1",
    hfId: "mistralai/Mixtral-8x7B-v0.1",
    extraAliases: ["mixtral-8x7b", "mistralai/Mixtral-8x7B-Instruct-v0.1"],
  },
  { dir: "qwen2.5-7b-instruct", hfId: "Qwen/Qwen2.5-7B-Instruct", extraAliases: [] },
  { dir: "qwen3-14b", hfId: "Qwen/Qwen3-14B", extraAliases: [] },
  { dir: "qwen3-30b-a3b", hfId: "Qwen/Qwen3-30B-A3B", extraAliases: [] },
  { dir: "yi-34b", hfId: "01-ai/Yi-34B", extraAliases: [] },
];

type Json = Record<string, unknown>;

function intField(cfg: Json, key: string, file: string): number;
function intField(cfg: Json, key: string, file: string, fallback: number | null): number | null;
function intField(cfg: Json, key: string, file: string, fallback?: number | null): number | null {
  const v = cfg[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new Error(`catalog: ${file}: missing integer field "${key}"`);
  }
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
    throw new Error(`catalog: ${file}: field "${key}" must be a non-negative integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Weight quantization from `quantization_config` (`fp8` method, or compressed-tensors weight groups). */
function readQuantization(cfg: Json, file: string): Quantization | null {
  const q = cfg.quantization_config as Json | undefined;
  if (q === undefined || q === null) return null;
  if (q.quant_method === "fp8") return "fp8";
  const groups = q.config_groups as Record<string, Json> | undefined;
  if (groups !== undefined) {
    for (const g of Object.values(groups)) {
      const w = g.weights as Json | undefined;
      if (w === undefined) continue;
      if (w.num_bits === 8) return w.type === "float" ? "fp8" : "int8";
      if (w.num_bits === 4) return "int4";
    }
  }
  throw new Error(`catalog: ${file}: unsupported quantization_config ${JSON.stringify(q).slice(0, 200)}`);
}

const BYTES_PER_PARAM: Record<Quantization, number> = { fp8: 1, int8: 1, int4: 0.5 };

/** Which decoder layers carry an MoE FFN, following each architecture's Hugging Face modelling code. */
function isMoeLayer(cfg: Json, i: number, file: string): boolean {
  const step = intField(cfg, "interleave_moe_layer_step", file, null);
  if (step !== null && step > 0) return (i + 1) % step === 0; // Llama 4: layers step-1, 2·step-1, …
  const firstK = intField(cfg, "first_k_dense_replace", file, null);
  if (firstK !== null) {
    const freq = intField(cfg, "moe_layer_freq", file, 1) ?? 1; // DeepSeek / GLM
    return i >= firstK && i % freq === 0;
  }
  const sparseStep = intField(cfg, "decoder_sparse_step", file, null);
  if (sparseStep !== null && sparseStep > 0) {
    const mlpOnly = Array.isArray(cfg.mlp_only_layers) ? (cfg.mlp_only_layers as unknown[]) : [];
    return !mlpOnly.includes(i) && (i + 1) % sparseStep === 0; // Qwen MoE
  }
  return true; // Mixtral: every layer
}

function parseModel(entry: ModelEntry): ModelSpec {
  const rel = `model_configs/${entry.dir}/config.json`;
  const file = `data/blis/${rel}`;
  const root = readJson(rel) as Json;
  // Multimodal wrappers (Llama 4) keep the language model's numbers in text_config.
  const text = (root.text_config as Json | undefined) ?? {};
  const cfg: Json = { ...root, ...text };

  const L = intField(cfg, "num_hidden_layers", file);
  const d = intField(cfg, "hidden_size", file);
  const h = intField(cfg, "num_attention_heads", file);
  const kvH = intField(cfg, "num_key_value_heads", file, h) ?? h;
  const headDim = intField(cfg, "head_dim", file, null) ?? d / h;
  const ff = intField(cfg, "intermediate_size", file);
  const vocab = intField(cfg, "vocab_size", file);
  const tied = cfg.tie_word_embeddings === true;
  const dtype = String(root.torch_dtype ?? root.dtype ?? text.torch_dtype ?? "bfloat16");
  const quantization = readQuantization(root, file);
  const bpp = quantization === null ? 2 : BYTES_PER_PARAM[quantization];

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

  // --- FFN blocks ---
  const numExperts =
    intField(cfg, "num_local_experts", file, null) ??
    intField(cfg, "n_routed_experts", file, null) ??
    intField(cfg, "num_experts", file, null) ??
    0;
  let moe: MoeSpec | null = null;
  if (numExperts > 1) {
    const expertsPerToken = intField(cfg, "num_experts_per_tok", file);
    const expertFf = intField(cfg, "moe_intermediate_size", file, null) ?? ff;
    const nShared = intField(cfg, "n_shared_experts", file, null);
    const sharedFf =
      intField(cfg, "shared_expert_intermediate_size", file, null) ??
      (nShared !== null
        ? nShared * expertFf
        : String(cfg.model_type).startsWith("llama4")
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

  // --- parameter count (SwiGLU FFN: gate, up, down = 3 matrices; 2 RMSNorms per layer) ---
  const norms = 2 * d;
  const embeddings = vocab * d + (tied ? 0 : vocab * d) + d; // input embedding, lm_head, final norm
  let params: number;
  let active: number;
  if (moe === null) {
    params = embeddings + L * (attnParams + norms + 3 * d * ff);
    active = params;
  } else {
    const dense = 3 * d * moe.denseIntermediateSize;
    const expert = 3 * d * moe.expertIntermediateSize;
    const shared = 3 * d * moe.sharedExpertIntermediateSize;
    const router = moe.numExperts * d;
    const common = embeddings + L * (attnParams + norms) + moe.numDenseLayers * dense;
    params = common + moe.numMoeLayers * (moe.numExperts * expert + shared + router);
    active = common + moe.numMoeLayers * (moe.expertsPerToken * expert + shared + router);
  }

  return {
    name: entry.dir,
    hfId: entry.hfId,
    aliases: [entry.hfId, ...entry.extraAliases],
    architecture: String((root.architectures as unknown[] | undefined)?.[0] ?? ""),
    modelType: String(cfg.model_type ?? ""),
    numLayers: L,
    hiddenSize: d,
    numHeads: h,
    numKvHeads: kvH,
    headDim,
    intermediateSize: ff,
    vocabSize: vocab,
    maxPositionEmbeddings: intField(cfg, "max_position_embeddings", file, null),
    tieWordEmbeddings: tied,
    dtype,
    quantization,
    weightBytesPerParam: bpp,
    moe,
    mla,
    attentionParamsPerLayer: attnParams,
    kvElementsPerTokenPerLayer: kvElements,
    kvShardedAcrossTp: kvSharded,
    paramCount: params,
    activeParamCount: active,
    weightBytes: params * bpp,
    source: `${file} (Hugging Face config of ${entry.hfId}, via BLIS)`,
  };
}

const MODELS: readonly ModelSpec[] = MODEL_ENTRIES.map(parseModel);
const MODEL_INDEX = buildIndex("model", MODELS);

/** Every model in the catalog, in catalog order. */
export function listModels(): readonly ModelSpec[] {
  return MODELS;
}

/** The model called `name` (canonical name, HF id or alias; case-insensitive). Throws, listing names, if none. */
/** A model by any accepted name; undefined when unknown. */
export function findModel(name: string): ModelSpec | undefined {
  return MODEL_INDEX.get(normalise(name));
}

export function getModel(name: string): ModelSpec {
  const m = MODEL_INDEX.get(normalise(name));
  if (m === undefined) {
    throw new InputError(
      `Unknown model "${name}". Accepted names: ${MODELS.map((x) => `${x.name} (${x.hfId})`).join("; ")}`,
    );
  }
  return m;
}

/** Resolve a model given by name or already resolved. */
export function resolveModel(model: string | ModelSpec): ModelSpec {
  return typeof model === "string" ? getModel(model) : model;
}

/** Resolve a GPU given by name or already resolved. */
export function resolveGpu(gpu: string | GpuSpec): GpuSpec {
  return typeof gpu === "string" ? getGpu(gpu) : gpu;
}

/**
 * Checks a tensor-parallel degree as vLLM does: attention heads must split evenly, and KV heads either split evenly
 * (kv_heads ≥ tp) or are replicated (tp a multiple of kv_heads). Returns the KV heads each rank holds.
 */
export function kvHeadsPerRank(model: ModelSpec, tp: number): number {
  if (!Number.isInteger(tp) || tp < 1) throw new InputError(`tensor parallelism must be a positive integer, got ${tp}`);
  if (model.numHeads % tp !== 0) {
    throw new InputError(`${model.name}: ${model.numHeads} attention heads are not divisible by TP ${tp}`);
  }
  const kv = model.numKvHeads;
  if (kv >= tp ? kv % tp !== 0 : tp % kv !== 0) {
    throw new InputError(`${model.name}: ${kv} KV heads cannot be split or replicated evenly across TP ${tp}`);
  }
  return Math.max(1, kv / tp);
}
