/**
 * KV-cache capacity of one replica, in blocks, derived from GPU memory the way vLLM sizes its cache:
 *
 *   blocks = floor( (gpu_memory × gpu_memory_utilization − weights / tp − activation reserve − non-torch reserve)
 *                   / (layers × kv_elements_per_token_per_layer(/tp) × bytes_per_element × block_size) )
 *
 * with kv_elements_per_token_per_layer = 2 × kv_heads × head_dim (K and V; vLLM gives each TP rank kv_heads / tp
 * heads, at least one), or kv_lora_rank + qk_rope_head_dim for MLA models (one latent per token, held whole by every
 * rank). Everything is per TP rank: each rank has its own memory and holds its share of every block, so the count per
 * rank is the replica's block count (vLLM's `num_gpu_blocks`).
 *
 * Reserves (source: BLIS `sim/latency/kv_capacity.go`, constants "matching the llm-d-benchmark capacity_planner.py
 * reference"; docs/reference.md#blis-inference-sim-facts): activation memory 5.5 GiB for a dense model and 8.0 GiB for an MoE model,
 * per replica; non-torch memory (CUDA context, NCCL buffers) 0.15 GiB per GPU at TP 1 and 0.6 GiB per GPU at TP > 1.
 * BLIS charges the activation reserve once per replica against the pooled memory of its TP GPUs, so the per-rank share
 * is activation / tp; we keep that accounting. (BLIS then divides the pooled memory by a per-rank block size, which
 * yields tp × the per-rank count; we return the per-rank count, as vLLM reports it.)
 *
 * Check (test/catalog.test.ts): Llama-3.1-8B-Instruct, H100 (80 GiB), TP 1, 90 %: weights 16,060,522,496 B; usable
 * 72 − 5.5 − 0.15 GiB − weights = 55,182,018,150 B; block = 32 × 2·8·128 × 2 B × 16 = 2,097,152 B → 26,313 blocks
 * (BLIS logs 26,312 for the same case).
 */
import { InputError } from "../errors.ts";
import { type GpuSpec, kvHeadsPerRank, type ModelSpec, resolveGpu, resolveModel } from "./catalog.ts";

const GIB = 1024 ** 3;

/** Activation reserve of a dense model, GiB per replica (BLIS kv_capacity.go `activationMemoryDenseGiB`). */
export const ACTIVATION_RESERVE_DENSE_GIB = 5.5;
/** Activation reserve of an MoE model, GiB per replica (BLIS kv_capacity.go `activationMemoryMoEGiB`). */
export const ACTIVATION_RESERVE_MOE_GIB = 8.0;
/** Non-torch memory per GPU at TP 1, GiB (BLIS kv_capacity.go `nonTorchMemoryTP1GiB`). */
export const NON_TORCH_RESERVE_TP1_GIB = 0.15;
/** Non-torch memory per GPU at TP > 1, GiB (BLIS kv_capacity.go `nonTorchMemoryTPMultiGiB`). */
export const NON_TORCH_RESERVE_TP_MULTI_GIB = 0.6;
/** vLLM's default `gpu_memory_utilization`. */
export const DEFAULT_GPU_MEMORY_UTILIZATION = 0.9;
/** vLLM's default `block_size` (tokens per KV block). */
export const DEFAULT_BLOCK_SIZE = 16;

export interface KvCapacityInput {
  readonly model: ModelSpec | string;
  readonly gpu: GpuSpec | string;
  /** Tensor-parallel degree of one replica. */
  readonly tp: number;
  /** Fraction of GPU memory vLLM may use (default 0.9). */
  readonly gpuMemoryUtilization?: number;
  /** Tokens per block (default 16). */
  readonly blockSize?: number;
  /** Bytes per cached K/V element (default 2: BF16/FP16 KV cache; 1 for an FP8 KV cache). */
  readonly kvBytesPerElement?: number;
  /** Override of the activation reserve, GiB per replica (default 5.5 dense, 8.0 MoE). */
  readonly activationReserveGiB?: number;
  /** Override of the non-torch reserve, GiB per GPU (default 0.15 at TP 1, 0.6 at TP > 1). */
  readonly nonTorchReserveGiB?: number;
}

export interface KvCapacity {
  /** KV blocks of the replica (= per TP rank). */
  readonly blocks: number;
  /** Bytes one block occupies on one rank. */
  readonly bytesPerBlock: number;
  /** Per-rank bytes left for the KV cache. */
  readonly kvBytesPerRank: number;
  readonly weightBytesPerRank: number;
  readonly activationBytesPerRank: number;
  readonly nonTorchBytesPerRank: number;
}

/**
 * Layers whose KV a block of the simulator's single pool stands for. Without sliding-window layers: every layer. With
 * sliding and full layers, vLLM's hybrid KV-cache manager (vllm/v1/core/kv_cache_utils.py,
 * `_get_kv_cache_groups_uniform_page_size` and `get_num_blocks`; design doc docs/design/hybrid_kv_cache_manager.md)
 * splits the layers into groups of `group_size` = the smaller of the two layer counts, shares one block pool of
 * memory ÷ (page size × group_size) blocks among the groups, and a request takes blocks for its whole context in each
 * full-attention group but only for its window in a sliding group. The simulator counts full-attention blocks, so
 * one block stands for group_size × ⌈full layers ÷ group_size⌉ layers; a running request's sliding-window blocks
 * (≤ ⌈window ÷ block⌉ + 1 per sliding group) are not charged, which overstates capacity by that much per request.
 * Chunked local attention (Llama 4) does not change capacity: vLLM turns the hybrid manager off for it unless
 * VLLM_ALLOW_CHUNKED_LOCAL_ATTN_WITH_HYBRID_KV_CACHE is set (vllm/config/vllm.py), so those layers keep full KV.
 */
export function kvCapacityLayers(model: ModelSpec): number {
  const sliding = model.slidingLayers;
  const full = model.numLayers - sliding;
  if (sliding === 0 || full === 0) return model.numLayers;
  const groupSize = Math.min(sliding, full);
  return groupSize * Math.ceil(full / groupSize);
}

/** The capacity and its breakdown. Throws if the weights and reserves leave no room for a single block. */
export function kvCapacity(input: KvCapacityInput): KvCapacity {
  const model = resolveModel(input.model);
  const gpu = resolveGpu(input.gpu);
  const tp = input.tp;
  const util = input.gpuMemoryUtilization ?? DEFAULT_GPU_MEMORY_UTILIZATION;
  const blockSize = input.blockSize ?? DEFAULT_BLOCK_SIZE;
  const bytesPerElement = input.kvBytesPerElement ?? 2;
  if (!(util > 0 && util <= 1)) throw new InputError(`gpu_memory_utilization must be in (0, 1], got ${util}`);
  if (!Number.isInteger(blockSize) || blockSize < 1) throw new InputError(`block_size must be a positive integer`);
  if (!(bytesPerElement > 0)) throw new InputError(`KV bytes per element must be > 0, got ${bytesPerElement}`);
  const kvHeads = kvHeadsPerRank(model, tp); // also validates tp

  const elementsPerTokenPerLayer = model.kvShardedAcrossTp
    ? (model.kvElementsPerTokenPerLayer / model.numKvHeads) * kvHeads
    : model.kvElementsPerTokenPerLayer;
  const bytesPerBlock = kvCapacityLayers(model) * elementsPerTokenPerLayer * bytesPerElement * blockSize;

  const activationGiB =
    input.activationReserveGiB ?? (model.moe !== null ? ACTIVATION_RESERVE_MOE_GIB : ACTIVATION_RESERVE_DENSE_GIB);
  const nonTorchGiB =
    input.nonTorchReserveGiB ?? (tp === 1 ? NON_TORCH_RESERVE_TP1_GIB : NON_TORCH_RESERVE_TP_MULTI_GIB);
  const weightBytesPerRank = model.weightBytes / tp;
  const activationBytesPerRank = (activationGiB * GIB) / tp;
  const nonTorchBytesPerRank = nonTorchGiB * GIB;
  const kvBytesPerRank =
    gpu.memoryGiB * GIB * util - weightBytesPerRank - activationBytesPerRank - nonTorchBytesPerRank;
  const blocks = Math.floor(kvBytesPerRank / bytesPerBlock);
  if (!(blocks >= 1)) {
    const g = (x: number) => (x / GIB).toFixed(2);
    throw new InputError(
      `${model.name} on ${gpu.name} TP ${tp}: no room for the KV cache (per rank: ${gpu.memoryGiB} GiB × ${util} − ` +
        `weights ${g(weightBytesPerRank)} − activation ${g(activationBytesPerRank)} − non-torch ` +
        `${g(nonTorchBytesPerRank)} GiB = ${g(kvBytesPerRank)} GiB; a block needs ${bytesPerBlock} B)`,
    );
  }
  return { blocks, bytesPerBlock, kvBytesPerRank, weightBytesPerRank, activationBytesPerRank, nonTorchBytesPerRank };
}

/** KV blocks of one replica (see `kvCapacity`). */
export function kvBlocksFor(input: KvCapacityInput): number {
  return kvCapacity(input).blocks;
}

/**
 * KV bytes of one token on one TP rank, as `kvCapacity` sizes a block (block bytes ÷ block size): the layers a block
 * stands for × the rank's K/V elements per token per layer × bytes per element. What a P/D transfer moves per token
 * and per rank (`kv-transfer.ts`).
 */
export function kvBytesPerTokenPerRank(modelIn: ModelSpec | string, tp: number, kvBytesPerElement = 2): number {
  const model = resolveModel(modelIn);
  const kvHeads = kvHeadsPerRank(model, tp);
  const elementsPerTokenPerLayer = model.kvShardedAcrossTp
    ? (model.kvElementsPerTokenPerLayer / model.numKvHeads) * kvHeads
    : model.kvElementsPerTokenPerLayer;
  return kvCapacityLayers(model) * elementsPerTokenPerLayer * kvBytesPerElement;
}
