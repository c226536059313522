/**
 * The batch limits `vllm serve` picks when `--max-num-batched-tokens` / `--max-num-seqs` are not given.
 *
 * Source: vllm-project/vllm `vllm/engine/arg_utils.py`, `EngineArgs._set_default_args` (read at commit 99d7eb5d,
 * the section after "Use different default values for different hardware"; newer trees moved the same table into
 * `EngineArgs.get_batch_defaults`): for the OpenAI API server usage context (`vllm serve`),
 *   - device memory ≥ 70 GiB and a device name without "a100" (H100, H200, MI300x): max_num_batched_tokens 8192,
 *     max_num_seqs 1024;
 *   - any other GPU ("TODO: tune the default values for other hardware", and A100 excluded on purpose: vLLM PR
 *     #17885 found the large budget lowers A100 throughput): 2048 and 256;
 *   - then max_num_seqs = min(that default, max_num_batched_tokens), and with chunked prefill off
 *     max_num_batched_tokens = max_model_len.
 * The offline `LLM` class uses larger budgets (16384 / 8192); gatelab models servers, so it uses the server's.
 *
 * `vllm-legacy` keeps the values gatelab (and BLIS) used before: 2048 / 256 on every GPU — vLLM's server defaults
 * before the per-GPU table, and what the BLIS replays were configured with.
 */
import type { GpuSpec } from "./catalog.ts";

export const ENGINE_DEFAULTS = ["vllm", "vllm-legacy"] as const;
export type EngineDefaults = (typeof ENGINE_DEFAULTS)[number];

export interface BatchLimits {
  readonly maxNumBatchedTokens: number;
  readonly maxNumSeqs: number;
}

/** vLLM's device-memory threshold for the large defaults (`70 * GiB_bytes`). */
export const LARGE_GPU_MIN_GIB = 70;

/** Whether `vllm serve` gives this GPU the large (8192 / 1024) defaults. */
export function isLargeDefaultGpu(gpu: GpuSpec): boolean {
  const names = [gpu.name, ...gpu.aliases].map((n) => n.toLowerCase());
  return gpu.memoryGiB >= LARGE_GPU_MIN_GIB && !names.some((n) => n.includes("a100"));
}

/**
 * The limits a server would run with on `gpu`, given the user's explicit values (undefined = not given). With
 * `enableChunkedPrefill` false and no explicit budget, vLLM uses `max_model_len` as the token budget.
 */
export function vllmBatchLimits(
  gpu: GpuSpec,
  o: {
    readonly defaults?: EngineDefaults;
    readonly maxNumBatchedTokens?: number | undefined;
    readonly maxNumSeqs?: number | undefined;
    readonly enableChunkedPrefill?: boolean;
    readonly maxModelLen?: number;
  } = {},
): BatchLimits {
  const legacy = o.defaults === "vllm-legacy";
  const large = !legacy && isLargeDefaultGpu(gpu);
  let tokens = o.maxNumBatchedTokens;
  if (tokens === undefined) {
    if (!legacy && o.enableChunkedPrefill === false && o.maxModelLen !== undefined) tokens = o.maxModelLen;
    else tokens = large ? 8192 : 2048;
  }
  const seqs = o.maxNumSeqs ?? (legacy ? 256 : Math.min(large ? 1024 : 256, tokens));
  return { maxNumBatchedTokens: tokens, maxNumSeqs: seqs };
}
