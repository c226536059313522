/** Pools of replicas from a scenario's `pools:` section: catalog model, KV capacity, cost model, engine knobs. */
import { InputError } from "../errors.ts";
import { getModel } from "../models/catalog.ts";
import { createCostModel } from "../models/cost-factory.ts";
import { kvBlocksFor } from "../models/kv-capacity.ts";
import type { EngineConfig } from "../models/replica.ts";
import type { PoolConfig, Scenario } from "../scenario.ts";
import type { PoolSpec } from "../sim/engine.ts";

function wrap<T>(field: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${field}: ${(e as Error).message}`);
  }
}

/** Resolves one pool of the scenario into replica specs (model, KV blocks, cost model). */
export function buildPool(p: PoolConfig, index: number): PoolSpec {
  const field = `pools.${index}`;
  const model = wrap(`${field}.model`, () => getModel(p.model));
  const e = p.engine;
  const numGpuBlocks =
    e.total_kv_blocks ??
    wrap(`${field}.engine`, () =>
      kvBlocksFor({
        model: model.name,
        gpu: p.gpu,
        tp: p.tp,
        gpuMemoryUtilization: e.gpu_memory_utilization,
        blockSize: e.block_size,
      }),
    );
  if (!(numGpuBlocks > 0)) {
    throw new InputError(
      `${field}: the model's weights leave no room for a KV cache on ${p.tp}× ${p.gpu}; raise tp or set engine.total_kv_blocks`,
    );
  }
  const engine: EngineConfig = {
    maxNumSeqs: e.max_num_seqs,
    maxNumBatchedTokens: e.max_num_batched_tokens,
    blockSize: e.block_size,
    enablePrefixCaching: e.enable_prefix_caching,
    enableChunkedPrefill: e.enable_chunked_prefill,
    longPrefillTokenThreshold: e.long_prefill_token_threshold,
    maxModelLen: e.max_model_len ?? model.maxPositionEmbeddings ?? 131072,
    numGpuBlocks,
  };
  const cost = wrap(`${field}.cost_model`, () =>
    createCostModel(p.cost_model, { model: model.name, gpu: p.gpu, tp: p.tp }),
  );
  return {
    name: p.name,
    model: model.name,
    gpu: p.gpu,
    tp: p.tp,
    replicas: p.replicas,
    engine,
    cost,
    gpuHourUsd: p.gpu_hour_usd * p.tp,
  };
}

export function buildPools(s: Scenario): PoolSpec[] {
  const names = new Set<string>();
  return s.pools.map((p, i) => {
    if (names.has(p.name)) throw new InputError(`pools.${i}.name: duplicate pool name "${p.name}"`);
    names.add(p.name);
    return buildPool(p, i);
  });
}
