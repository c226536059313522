/**
 * Async scheduling (vLLM `--async-scheduling`, `SchedulerConfig.async_scheduling`; on by default since vLLM 0.14 —
 * vllm-project/vllm PR #27614 made `None` mean "on where supported", `vllm/config/vllm.py`).
 *
 * What it changes (vllm-project/vllm `vllm/v1/engine/core.py` `step_with_batch_queue`, `vllm/v1/core/sched/
 * async_scheduler.py`): the engine core schedules step N+1 and hands it to the GPU while step N is still running, and
 * processes step N's output (`update_from_output`) only then. So
 *   1. the CPU work of a step (scheduling, input preparation, output processing) overlaps the GPU's previous step
 *      instead of adding to it;
 *   2. step N+1 is formed when step N starts, so a request that reaches the engine while step N runs joins step N+2
 *      at the earliest (`Replica.startStep`); an idle engine forms a step on arrival;
 *   3. the scheduler of step N+1 has not yet seen step N's output: a request that finished in step N still holds its
 *      `max_num_seqs` slot and its KV blocks while N+1 is formed (they are free from N+2 on). Its next token is
 *      reserved as a placeholder (`num_output_placeholders`), so decoding continues without a gap, and a request known
 *      to have reached its `max_tokens` is not scheduled again. Clients get step N's tokens when it ends, as before.
 *
 * gatelab's cost models are calibrated on vLLM 0.15.1 (async on), so their step time is the step period with the CPU
 * work hidden: `async_scheduling: true` uses it as is, plus effects 2 and 3 (`Replica`). `async_scheduling: false` adds
 * the CPU work back to every step, with effects 2 and 3 gone. Its size: vllm-project/vllm issue #10634 measured a 5–6 ms gap
 * between decode steps at batch 256 (Llama-2-7B, ShareGPT) with the synchronous loop, and PR #11133's asynchronous
 * loop brought it to 0.15–0.17 ms: about 5.4 ms hidden at 256 requests, ≈ 0.021 ms per request in the batch. One
 * data point: set `sync_cpu_overhead` from your own profile where it matters.
 */
import type { BatchShape, CostModel, RequestOverheads } from "./cost.ts";

/** CPU time per step that async scheduling hides, seconds: `perStep + perRequest × requests in the batch`. */
export interface CpuOverhead {
  readonly perStep: number;
  readonly perRequest: number;
}

/** ≈ 5.4 ms at batch 256 (vLLM issue #10634 vs PR #11133, see above), spread over the batch's requests. */
export const DEFAULT_SYNC_CPU_OVERHEAD: CpuOverhead = { perStep: 0, perRequest: 5.4e-3 / 256 };

/** The step period without async scheduling: the calibrated (async) step time plus the CPU work of the step. */
export class SyncSchedulingCost implements CostModel {
  readonly kind: string;
  readonly source: string;
  readonly overheads: RequestOverheads;
  private readonly inner: CostModel;
  private readonly cpu: CpuOverhead;

  constructor(inner: CostModel, cpu: CpuOverhead = DEFAULT_SYNC_CPU_OVERHEAD) {
    this.inner = inner;
    this.cpu = cpu;
    this.kind = inner.kind;
    this.source = `${inner.source}; async_scheduling off (+ CPU ${cpu.perStep * 1e3} ms/step + ${cpu.perRequest * 1e3} ms/request)`;
    this.overheads = inner.overheads;
  }

  stepTime(b: BatchShape): number {
    const requests = b.prefillRequests + b.decodeRequests;
    return this.inner.stepTime(b) + this.cpu.perStep + this.cpu.perRequest * requests;
  }
}
