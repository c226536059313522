/**
 * Synthetic measurements made by the simulator with known coefficients: a step-time CSV (a measurement grid priced
 * by the cost model) and `vllm bench serve` result objects (a run simulated end to end, written with vLLM's keys).
 * The calibration tests recover the coefficients from them; the example files in test/fixtures/calibration/ were
 * written by `npx tsx test/helpers/synthetic-measurements.ts`.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { familyFor, type ModelKind } from "../../src/lab/fit-families.ts";
import { groupExperiment, parseStepTable, rowBatch } from "../../src/lab/step-times.ts";
import { simulateExperiment } from "../../src/lab/validate.ts";
import { type BenchRun, benchExperiment } from "../../src/lab/vllm-bench.ts";
import { Outcome } from "../../src/sim/request.ts";

/** A five-minute grid: prefills of 128…8192 tokens (cold and behind a 4096-token cached prefix), decodes of batch
 * 1…256 at contexts 512…8192, one mixed step. */
export const STEP_GRID: readonly string[] = (() => {
  const lines: string[] = [];
  for (const t of [128, 512, 2048, 8192]) for (const c of [0, 4096]) lines.push(`${t},1,${c},0,0`);
  lines.push("8192,4,0,0,0");
  for (const b of [1, 8, 32, 128, 256]) for (const ctx of [512, 2048, 8192]) lines.push(`0,0,0,${b},${ctx}`);
  lines.push("1024,1,0,64,2048");
  return lines;
})();
const GRID_HEAD = "prefill_tokens,prefill_requests,cached_tokens,decode_batch,decode_context";

export interface Truth {
  readonly kind: ModelKind;
  readonly model: string;
  readonly gpu: string;
  readonly tp: number;
  readonly theta: readonly number[];
  /** [α0, α1, α2] µs. */
  readonly alpha: readonly [number, number, number];
}

/** The step-time CSV of `t` over the grid (times in ms, 12 significant digits). */
export function syntheticSteps(t: Truth): string {
  const e = groupExperiment(t.model, t.gpu, t.tp);
  const cost = familyFor(t.kind, [e]).build(e, Float64Array.from(t.theta), [...t.alpha]);
  const table = parseStepTable(`${GRID_HEAD},time_ms\n${STEP_GRID.map((l) => `${l},1`).join("\n")}`, "grid.csv", t);
  const rows = table.rows.map((r, i) => `${STEP_GRID[i]},${(cost.stepTime(rowBatch(r)) * 1000).toPrecision(12)}`);
  return `# synthetic: ${t.kind} ${t.model} ${t.gpu} TP ${t.tp}, theta ${t.theta.join(" ")}\n${GRID_HEAD},time_ms\n${rows.join("\n")}\n`;
}

/** A `vllm bench serve --save-result` object for a run of `count` requests at `rate` (Infinity: "inf"), at most
 * `maxConcurrency` in flight, simulated with `t`. */
export function syntheticBench(
  t: Truth,
  rate: number,
  count: number,
  input: number,
  output: number,
  maxConcurrency?: number,
): Record<string, unknown> {
  const run: BenchRun = {
    file: "synthetic",
    index: 1,
    line: 1,
    modelId: t.model,
    metadata: { gpu: t.gpu, tp: String(t.tp) },
    requestRate: rate,
    burstiness: 1,
    maxConcurrency,
    numPrompts: count,
    completed: count,
    totalInputTokens: count * input,
    totalOutputTokens: count * output,
    duration: Number.isFinite(rate) ? count / rate : count,
    measured: { ttft_mean: 1, ttft_p90: 1, ttft_p99: 1, e2e_mean: 1, e2e_p90: 1, e2e_p99: 1, itl_mean: 1 },
  };
  const e = benchExperiment(run);
  const cost = familyFor(t.kind, [e]).build(e, Float64Array.from(t.theta), [...t.alpha]);
  const sim = simulateExperiment(e, cost);
  const p = sim.predicted.summary!;
  const rec = sim.result.records;
  let last = 0;
  let done = 0;
  for (let i = 0; i < rec.size; i++) {
    if (rec.outcome[i] !== Outcome.Completed) continue;
    done++;
    last = Math.max(last, rec.completion[i]!);
  }
  return {
    date: "20261202-120000",
    endpoint_type: "vllm",
    backend: "vllm",
    label: null,
    model_id: t.model,
    tokenizer_id: t.model,
    num_prompts: count,
    gpu: t.gpu,
    tp: String(t.tp),
    request_rate: Number.isFinite(rate) ? rate : "inf",
    burstiness: 1.0,
    max_concurrency: maxConcurrency ?? null,
    duration: last,
    completed: done,
    failed: count - done,
    total_input_tokens: done * input,
    total_output_tokens: done * output,
    request_throughput: done / last,
    request_goodput: null,
    output_throughput: (done * output) / last,
    total_token_throughput: (done * (input + output)) / last,
    max_output_tokens_per_s: 0,
    max_concurrent_requests: 0,
    rtfx: 0,
    mean_ttft_ms: p.ttft_mean,
    median_ttft_ms: p.ttft_mean,
    std_ttft_ms: 0,
    p99_ttft_ms: p.ttft_p99,
    mean_tpot_ms: p.itl_mean,
    median_tpot_ms: p.itl_mean,
    std_tpot_ms: 0,
    p99_tpot_ms: p.itl_mean,
    mean_itl_ms: p.itl_mean,
    median_itl_ms: p.itl_mean,
    std_itl_ms: 0,
    p99_itl_ms: p.itl_mean,
    mean_e2el_ms: p.e2e_mean,
    median_e2el_ms: p.e2e_mean,
    std_e2el_ms: 0,
    p99_e2el_ms: p.e2e_p99,
  };
}

/** The truth behind the shipped example files. */
export const EXAMPLE_TRUTH: Truth = {
  kind: "physics",
  model: "llama-3.1-8b-instruct",
  gpu: "H100",
  tp: 1,
  theta: [1.37, 40, 150, 2500, 0],
  alpha: [8000, 3000, 150],
};

if (process.argv[1]?.endsWith("synthetic-measurements.ts")) {
  const dir = join(import.meta.dirname, "..", "fixtures", "calibration");
  writeFileSync(join(dir, "steps-llama-3.1-8b-h100.csv"), syntheticSteps(EXAMPLE_TRUTH));
  // One request at a time (the request overheads show plainly), then a loaded run at 8 requests/s.
  const runs = [
    syntheticBench(EXAMPLE_TRUTH, Number.POSITIVE_INFINITY, 40, 1024, 64, 1),
    syntheticBench(EXAMPLE_TRUTH, Number.POSITIVE_INFINITY, 30, 2048, 384, 1),
    syntheticBench(EXAMPLE_TRUTH, 8, 240, 1024, 128),
  ].map((o) => JSON.stringify(o));
  writeFileSync(join(dir, "vllm-bench-llama-3.1-8b-h100.json"), `${runs.join("\n")}\n`);
}
