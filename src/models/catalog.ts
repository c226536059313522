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
import { parseHfConfig } from "./hf-config.ts";
import type { ModelSpec } from "./model-spec.ts";

export type { LayerAttention, MlaSpec, ModelSpec, MoeSpec, Quantization } from "./model-spec.ts";

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
  /**
   * GPU-to-GPU bandwidth inside a node for tensor-parallel collectives, bytes/s per direction (NVLink; PCIe where the
   * GPU has no NVLink).
   */
  readonly interconnectBandwidth: number;
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
function gpuFromBlis(
  name: string,
  aliases: readonly string[],
  key: string,
  interconnect: { readonly bandwidth: number; readonly source: string },
  fp8Override?: { readonly flops: number; readonly source: string },
): GpuSpec {
  const e = blisHardware(key);
  return {
    name,
    aliases,
    // Rounded to whole FLOP/s and B/s so that 2.039 TB/s is exactly 2.039e12 (no binary-fraction residue).
    peakBf16Flops: Math.round(e.TFlopsPeak * 1e12),
    peakFp8Flops:
      fp8Override !== undefined ? fp8Override.flops : e.TFlopsFP8 > 0 ? Math.round(e.TFlopsFP8 * 1e12) : null,
    memoryBandwidth: Math.round(e.BwPeakTBs * 1e12),
    memoryGiB: e.MemoryGiB,
    interconnectBandwidth: interconnect.bandwidth,
    mfuPrefill: e.mfuPrefill,
    mfuDecode: e.mfuDecode,
    source:
      `data/blis/hardware_config.json "${key}" (BLIS inference-sim); interconnect: ${interconnect.source}` +
      (fp8Override !== undefined ? `; FP8: ${fp8Override.source}` : ""),
  };
}

const GPUS: readonly GpuSpec[] = [
  // H100 SXM: 989.5 TFLOPS BF16, 1979 TFLOPS FP8 (dense), 3.35 TB/s, 80 GiB — data/blis/hardware_config.json "H100".
  gpuFromBlis("H100", ["H100-SXM", "H100-SXM5", "H100-80GB"], "H100", {
    bandwidth: 450e9,
    source: "NVIDIA H100 SXM datasheet: NVLink 900 GB/s (bidirectional) = 450 GB/s per direction",
  }),
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
    // Same datasheet: NVLink 900 GB/s bidirectional.
    interconnectBandwidth: 450e9,
    mfuPrefill: null,
    mfuDecode: null,
    source: "NVIDIA H200 SXM datasheet (989.5 TFLOPS dense BF16, 1979 dense FP8, 4.8 TB/s, 141 GB, NVLink 900 GB/s)",
  },
  // A100 SXM 80 GB: 312 TFLOPS BF16, no FP8, 2.039 TB/s, 80 GiB — data/blis/hardware_config.json "A100-SXM"
  // (BLIS's "A100-80" entry is an identical alias; the blackbox CSV names it A100-80).
  gpuFromBlis("A100-80GB", ["A100-80", "A100-SXM", "A100-SXM4-80GB"], "A100-SXM", {
    bandwidth: 300e9,
    source: "NVIDIA A100 datasheet: NVLink 600 GB/s (bidirectional) = 300 GB/s per direction",
  }),
  // L40S: 362.05 TFLOPS BF16, 0.864 TB/s, 48 GiB — data/blis/hardware_config.json "L40S". BLIS's FP8 figure (1466)
  // is the datasheet's *with sparsity* number; the dense FP8 peak is 733 TFLOPS (NVIDIA L40S datasheet). No NVLink:
  // PCIe Gen4 x16, 64 GB/s bidirectional.
  gpuFromBlis(
    "L40S",
    [],
    "L40S",
    { bandwidth: 32e9, source: "NVIDIA L40S datasheet: PCIe Gen4 x16 64 GB/s (bidirectional), no NVLink" },
    { flops: 733e12, source: "NVIDIA L40S datasheet: 733 TFLOPS dense FP8 (1466 with sparsity)" },
  ),
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

interface ModelEntry {
  /** Folder under `data/blis/model_configs/` or `data/model-configs/` (for BLIS folders also the canonical name). */
  readonly dir: string;
  /** Which data folder holds it. */
  readonly from: "blis" | "model-configs";
  /** Canonical name (default: `dir`). */
  readonly name?: string;
  readonly hfId: string;
  readonly extraAliases: readonly string[];
  /** Caveat from the data folder's README, appended to the source. */
  readonly caveat?: string;
}

/** The BLIS model_configs folders and their Hugging Face ids (ids as in BLIS defaults.yaml / iter29 where listed). */
const MODEL_ENTRIES: readonly ModelEntry[] = [
  {
    dir: "codellama-34b-instruct-hf",
    from: "blis",
    hfId: "codellama/CodeLlama-34b-Instruct-hf",
    extraAliases: ["codellama-34b"],
  },
  { dir: "deepseek-v2-lite", from: "blis", hfId: "deepseek-ai/DeepSeek-V2-Lite", extraAliases: [] },
  { dir: "glm-5.2-fp8", from: "blis", hfId: "zai-org/GLM-5.2-FP8", extraAliases: [] },
  { dir: "llama-2-7b-hf", from: "blis", hfId: "meta-llama/Llama-2-7b-hf", extraAliases: ["llama-2-7b"] },
  {
    dir: "llama-3.1-70b-instruct",
    from: "blis",
    hfId: "meta-llama/Llama-3.1-70B-Instruct",
    extraAliases: ["meta-llama/Meta-Llama-3.1-70B-Instruct"],
  },
  {
    dir: "llama-3.1-8b-instruct",
    from: "blis",
    hfId: "meta-llama/Llama-3.1-8B-Instruct",
    extraAliases: ["meta-llama/Meta-Llama-3.1-8B-Instruct"],
  },
  {
    dir: "llama-4-scout-17b-16e-instruct-fp8-dynamic",
    from: "blis",
    hfId: "RedHatAI/Llama-4-Scout-17B-16E-Instruct-FP8-dynamic",
    extraAliases: ["llama-4-scout-fp8"],
  },
  {
    dir: "mistral-nemo-instruct-2407",
    from: "blis",
    hfId: "mistralai/Mistral-Nemo-Instruct-2407",
    extraAliases: ["mistral-nemo"],
  },
  // The Instruct checkpoint has the same architecture config as the base one.
  {
    dir: "mixtral-8x7b-v0.1",
    from: "blis",
    hfId: "mistralai/Mixtral-8x7B-v0.1",
    extraAliases: ["mixtral-8x7b", "mistralai/Mixtral-8x7B-Instruct-v0.1"],
  },
  { dir: "qwen2.5-7b-instruct", from: "blis", hfId: "Qwen/Qwen2.5-7B-Instruct", extraAliases: [] },
  { dir: "qwen3-14b", from: "blis", hfId: "Qwen/Qwen3-14B", extraAliases: [] },
  { dir: "qwen3-30b-a3b", from: "blis", hfId: "Qwen/Qwen3-30B-A3B", extraAliases: [] },
  { dir: "yi-34b", from: "blis", hfId: "01-ai/Yi-34B", extraAliases: [] },
  // data/model-configs/ (copied from ../shared/data/model-configs/, provenance and caveats in its README.md).
  { dir: "qwen--qwen3-8b", from: "model-configs", name: "qwen3-8b", hfId: "Qwen/Qwen3-8B", extraAliases: [] },
  { dir: "qwen--qwen3-32b", from: "model-configs", name: "qwen3-32b", hfId: "Qwen/Qwen3-32B", extraAliases: [] },
  {
    dir: "qwen--qwen3-235b-a22b",
    from: "model-configs",
    name: "qwen3-235b-a22b",
    hfId: "Qwen/Qwen3-235B-A22B",
    extraAliases: [],
  },
  {
    dir: "qwen--qwen3-coder-480b-a35b-instruct",
    from: "model-configs",
    name: "qwen3-coder-480b-a35b-instruct",
    hfId: "Qwen/Qwen3-Coder-480B-A35B-Instruct",
    extraAliases: ["qwen3-coder-480b"],
  },
  {
    dir: "deepseek-ai--deepseek-v3",
    from: "model-configs",
    name: "deepseek-v3",
    hfId: "deepseek-ai/DeepSeek-V3",
    extraAliases: [],
  },
  {
    dir: "deepseek-ai--deepseek-r1",
    from: "model-configs",
    name: "deepseek-r1",
    hfId: "deepseek-ai/DeepSeek-R1",
    extraAliases: [],
  },
  {
    dir: "openai--gpt-oss-20b",
    from: "model-configs",
    name: "gpt-oss-20b",
    hfId: "openai/gpt-oss-20b",
    extraAliases: [],
  },
  {
    dir: "openai--gpt-oss-120b",
    from: "model-configs",
    name: "gpt-oss-120b",
    hfId: "openai/gpt-oss-120b",
    extraAliases: [],
  },
  {
    dir: "meta-llama--llama-3.3-70b-instruct",
    from: "model-configs",
    name: "llama-3.3-70b-instruct",
    hfId: "meta-llama/Llama-3.3-70B-Instruct",
    extraAliases: [],
    caveat: "unverified copy; architecture numbers match Llama-3.1-70B",
  },
  {
    dir: "meta-llama--llama-4-maverick-17b-128e-instruct",
    from: "model-configs",
    name: "llama-4-maverick-17b-128e-instruct",
    hfId: "meta-llama/Llama-4-Maverick-17B-128E-Instruct",
    extraAliases: ["llama-4-maverick"],
    caveat: "trimmed text_config (no no_rope_layers/moe_layers); transformers defaults assumed",
  },
  {
    dir: "qwen--qwen2.5-72b",
    from: "model-configs",
    name: "qwen2.5-72b",
    hfId: "Qwen/Qwen2.5-72B",
    extraAliases: ["Qwen/Qwen2.5-72B-Instruct", "qwen2.5-72b-instruct"],
    caveat: "base-model config, used for Instruct too (same architecture)",
  },
  { dir: "microsoft--phi-4", from: "model-configs", name: "phi-4", hfId: "microsoft/phi-4", extraAliases: [] },
  {
    dir: "bigscience--bloom",
    from: "model-configs",
    name: "bloom-176b",
    hfId: "bigscience/bloom",
    extraAliases: ["bloom"],
    caveat: "hand-written config.json with the published architecture numbers only (data/model-configs/README.md)",
  },
  {
    dir: "mistralai--mistral-small-24b-instruct-2501",
    from: "model-configs",
    name: "mistral-small-24b-instruct-2501",
    hfId: "mistralai/Mistral-Small-24B-Instruct-2501",
    extraAliases: ["mistral-small-24b"],
  },
  {
    dir: "google--gemma-3-27b-it",
    from: "model-configs",
    name: "gemma-3-27b-it",
    hfId: "google/gemma-3-27b-it",
    extraAliases: [],
    caveat: "sparse HF file: vocab_size, max_position_embeddings and the sliding pattern from transformers defaults",
  },
];

/** Absolute path of `data/model-configs/`. */
export const MODEL_CONFIGS_DIR: string = join(BLIS_DATA_DIR, "..", "model-configs");

function parseModel(entry: ModelEntry): ModelSpec {
  const rel = `${entry.from === "blis" ? "data/blis/model_configs" : "data/model-configs"}/${entry.dir}/config.json`;
  const path =
    entry.from === "blis"
      ? join(BLIS_DATA_DIR, "model_configs", entry.dir, "config.json")
      : join(MODEL_CONFIGS_DIR, entry.dir, "config.json");
  let root: Record<string, unknown>;
  try {
    root = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`catalog: cannot read ${path}: ${(e as Error).message}`);
  }
  const via = entry.from === "blis" ? "via BLIS" : "see data/model-configs/README.md";
  return parseHfConfig(root, rel, {
    name: entry.name ?? entry.dir,
    hfId: entry.hfId,
    aliases: [entry.hfId, ...entry.extraAliases],
    source: `${rel} (Hugging Face config of ${entry.hfId}, ${via}${entry.caveat !== undefined ? `; ${entry.caveat}` : ""})`,
  });
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
