/** Pools of replicas from a scenario's `pools:` section: catalog model, KV capacity, cost model, engine knobs. */

import { isAbsolute, resolve } from "node:path";
import type { PoolSpec } from "../cluster/engine.ts";
import { InputError } from "../errors.ts";
import { getGpu, getModel, type ModelSpec } from "../models/catalog.ts";
import { createCostModel } from "../models/cost-factory.ts";
import { readHfConfigFile } from "../models/hf-config.ts";
import { kvBytesPerTokenPerRank, kvCapacity } from "../models/kv-capacity.ts";
import {
  adapterBytesPerRank,
  DEFAULT_MAX_LORA_RANK,
  type LoraSettings,
  loraSettings,
  TARGET_MODULES,
} from "../models/lora.ts";
import type { EngineConfig } from "../models/replica.ts";
import { vllmBatchLimits } from "../models/vllm-defaults.ts";
import type { PoolConfig, Scenario } from "../scenario.ts";

/** Runs `f`, naming `field` in the input errors it raises (any other error is a bug and keeps its stack). */
function wrap<T>(field: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof InputError) throw new InputError(`${field}: ${e.message}`);
    throw e;
  }
}

/**
 * A pool's `model`: a catalog name, or a path ending in `.json` to a Hugging Face config.json (relative to the
 * scenario's folder), parsed by `hf-config.ts`.
 */
export function resolvePoolModel(ref: string, baseDir?: string): ModelSpec {
  if (!ref.endsWith(".json")) return getModel(ref);
  const path = isAbsolute(ref) ? ref : resolve(baseDir ?? process.cwd(), ref);
  return readHfConfigFile(path, ref);
}

/** Resolves one pool of the scenario into replica specs (model, KV blocks, cost model). */
export function buildPool(p: PoolConfig, index: number, baseDir?: string): PoolSpec {
  const field = `pools.${index}`;
  const model = wrap(`${field}.model`, () => resolvePoolModel(p.model, baseDir));
  const e = p.engine;
  const lora = buildLora(p, model);
  const numGpuBlocks =
    e.total_kv_blocks ??
    wrap(`${field}.engine`, () => {
      const cap = kvCapacity({
        model,
        gpu: p.gpu,
        tp: p.tp,
        gpuMemoryUtilization: e.gpu_memory_utilization,
        blockSize: e.block_size,
      });
      if (lora === undefined) return cap.blocks;
      // LoRA: vLLM preallocates max_loras slots of max_lora_rank for every LoRA-able linear layer (BLIS subtracts the
      // same reservation from the KV capacity), sharded across TP ranks.
      const reserve = (lora.maxLoras * lora.maxLoraRank * adapterBytesPerRank(model, TARGET_MODULES)) / p.tp;
      return Math.max(0, cap.blocks - Math.ceil(reserve / cap.bytesPerBlock));
    });
  if (!(numGpuBlocks > 0)) {
    throw new InputError(
      `${field}: the model's weights leave no room for a KV cache on ${p.tp}× ${p.gpu}; raise tp or set engine.total_kv_blocks`,
    );
  }
  const maxModelLen = e.max_model_len ?? model.maxPositionEmbeddings ?? 131072;
  const limits = vllmBatchLimits(getGpu(p.gpu), {
    defaults: e.defaults,
    maxNumSeqs: e.max_num_seqs,
    maxNumBatchedTokens: e.max_num_batched_tokens,
    enableChunkedPrefill: e.enable_chunked_prefill,
    maxModelLen,
  });
  const engine: EngineConfig = {
    maxNumSeqs: limits.maxNumSeqs,
    maxNumBatchedTokens: limits.maxNumBatchedTokens,
    blockSize: e.block_size,
    enablePrefixCaching: e.enable_prefix_caching,
    enableChunkedPrefill: e.enable_chunked_prefill,
    longPrefillTokenThreshold: e.long_prefill_token_threshold,
    maxModelLen,
    numGpuBlocks,
    schedulingPolicy: e.scheduling_policy,
    asyncScheduling: e.async_scheduling,
    ...(e.sync_cpu_overhead !== undefined
      ? {
          syncCpuOverhead: {
            perStep: e.sync_cpu_overhead.per_step_ms / 1000,
            perRequest: e.sync_cpu_overhead.per_request_ms / 1000,
          },
        }
      : {}),
    ...(lora !== undefined ? { lora } : {}),
  };
  const cost = wrap(`${field}.cost_model`, () =>
    createCostModel(p.cost_model, {
      model,
      gpu: p.gpu,
      tp: p.tp,
      ...(baseDir !== undefined ? { baseDir } : {}),
      ...(e.enforce_eager ? { enforceEager: true } : {}),
      ...(e.disable_custom_all_reduce ? { disableCustomAllReduce: true } : {}),
    }),
  );
  return {
    name: p.name,
    model: model.name,
    gpu: p.gpu,
    tp: p.tp,
    // Data parallelism: every pod runs `data_parallel_size` engine ranks, each a replica here (own KV cache of the
    // capacity computed above for `tp` GPUs, own queue and batch); pod k holds replicas k·N … k·N+N−1.
    replicas: p.replicas * (p.data_parallel_size ?? 1),
    ...((p.data_parallel_size ?? 1) > 1
      ? { dataParallelSize: p.data_parallel_size ?? 1, rankEndpoints: p.data_parallel_endpoints === "ranks" }
      : {}),
    engine,
    cost,
    gpuHourUsd: p.gpu_hour_usd * p.tp,
    ...(e.cpu_kv_blocks !== undefined && e.cpu_kv_blocks > 0 ? { cpuKvBlocks: e.cpu_kv_blocks } : {}),
    ...kvBytesOf(model, p.tp),
    ...(Object.keys(p.labels).length > 0 ? { labels: p.labels } : {}),
  };
}

/** KV bytes per token per rank for P/D transfers; none when the model cannot be split at this TP (the cost model or
 * the KV capacity says so where it matters). */
function kvBytesOf(model: ModelSpec, tp: number): { kvBytesPerToken?: number } {
  try {
    return { kvBytesPerToken: kvBytesPerTokenPerRank(model, tp) };
  } catch (e) {
    if (e instanceof InputError) return {};
    throw e;
  }
}

/** LoRA settings of a pool (`engine.max_loras` on), from its engine knobs and `lora:` section. */
function buildLora(p: PoolConfig, model: ReturnType<typeof getModel>): LoraSettings | undefined {
  const e = p.engine;
  if (e.max_loras === undefined) return undefined;
  const maxLoraRank = e.max_lora_rank ?? DEFAULT_MAX_LORA_RANK;
  const l = p.lora;
  const load = l?.load;
  const oh = l?.step_overhead;
  return loraSettings(
    {
      maxLoras: e.max_loras,
      maxCpuLoras: e.max_cpu_loras ?? e.max_loras,
      maxLoraRank,
      defaultRank: l?.default_rank ?? Math.min(8, maxLoraRank),
      ranks: new Map(Object.entries(l?.adapters ?? {})),
      bytesPerRank: adapterBytesPerRank(model, l?.target_modules ?? ["q_proj", "v_proj"]),
    },
    {
      hostToGpuMs: load?.host_to_gpu_ms,
      diskToHostMs: load?.disk_to_host_ms,
      pcieGbS: load?.pcie_gb_s,
      diskGbS: load?.disk_gb_s,
      fixedMs: oh?.fixed_ms,
      perSeqMs: oh?.per_seq_ms,
      perAdapterMs: oh?.per_adapter_ms,
    },
  );
}

export function buildPools(s: Scenario, baseDir?: string): PoolSpec[] {
  const names = new Set<string>();
  return s.pools.map((p, i) => {
    if (names.has(p.name)) throw new InputError(`pools.${i}.name: duplicate pool name "${p.name}"`);
    names.add(p.name);
    return buildPool(p, i, baseDir);
  });
}
