import type { PoolSpec } from "../../src/cluster/engine.ts";
import type { BatchShape, CostModel, RequestOverheads } from "../../src/models/cost.ts";
import type { EngineConfig } from "../../src/models/replica.ts";
import type { Segment } from "../../src/sim/hash.ts";
import type { Request, RequestSource } from "../../src/sim/request.ts";

/** A hand-computable cost model: step = base + perPrefill·prefillTokens + perDecode·decodeRequests (seconds). */
export function toyCost(
  base = 0.01,
  perPrefill = 0.0001,
  perDecode = 0.001,
  overheads?: Partial<RequestOverheads>,
): CostModel {
  return {
    kind: "toy",
    source: "test",
    overheads: { preQueue: 0, preQueuePerInputToken: 0, perOutputToken: 0, postDecode: 0, ...overheads },
    stepTime(b: BatchShape) {
      return base + perPrefill * b.prefillTokens + perDecode * b.decodeRequests;
    },
  };
}

export function engineCfg(over: Partial<EngineConfig> = {}): EngineConfig {
  return {
    maxNumSeqs: 256,
    maxNumBatchedTokens: 2048,
    blockSize: 16,
    enablePrefixCaching: true,
    enableChunkedPrefill: true,
    longPrefillTokenThreshold: 0,
    maxModelLen: 131072,
    numGpuBlocks: 10000,
    ...over,
  };
}

export function pool(cost: CostModel, over: Partial<PoolSpec> = {}, eng: Partial<EngineConfig> = {}): PoolSpec {
  return {
    name: "p",
    model: "m",
    gpu: "H100",
    tp: 1,
    replicas: 1,
    engine: engineCfg(eng),
    cost,
    gpuHourUsd: 0,
    ...over,
  };
}

let uniq = 1_000_000;
/** A request with an optional shared prefix (content id `prefixId`) and a unique tail. */
export function req(
  id: number,
  arrival: number,
  input: number,
  output: number,
  prefix?: { id: number; tokens: number },
): Request {
  const prompt: Segment[] = [];
  if (prefix) prompt.push({ id: prefix.id, tokens: prefix.tokens });
  const rest = input - (prefix?.tokens ?? 0);
  if (rest > 0) prompt.push({ id: uniq++, tokens: rest });
  return { id, arrival, prompt, inputTokens: input, outputTokens: output };
}

export function listSource(reqs: Request[]): RequestSource {
  let i = 0;
  return { next: () => reqs[i++] };
}

/**
 * A request as a trace file keeps it, for comparing a generated workload with the same one written and read back:
 * without its source and its generator's `unique` marks (not written: a file can be replayed twice, by two
 * components of a mix, so what it holds is read as content that may repeat).
 */
export function traceContent({ source: _s, ...r }: Request): Omit<Request, "source"> {
  return { ...r, prompt: r.prompt.map(({ unique: _u, ...seg }) => seg) };
}
