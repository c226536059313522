/**
 * The result files of `vllm bench serve --save-result` as calibration data: each run becomes an `Experiment` (the
 * validation set's type, `validate.ts`) whose workload replays the benchmark's requests on one replica, with the
 * measured means as targets.
 *
 * Keys (vllm-project/vllm `vllm/benchmarks/serve.py`, read at commit 009e6d4a): `main` writes `date`, `backend`,
 * `label`, `model_id`, `tokenizer_id`, `num_prompts`, every `--metadata KEY=VALUE` pair as a top-level string,
 * `request_rate` (a number or "inf"), `burstiness`, `max_concurrency`, then the result of `benchmark()`: `duration`,
 * `completed`, `failed`, `total_input_tokens`, `total_output_tokens`, throughputs, `latencies` (seconds per request)
 * and, per selected metric (`--percentile-metrics`, default "ttft,tpot,itl"), `mean_<m>_ms`, `median_<m>_ms`,
 * `std_<m>_ms` and `p<P>_<m>_ms` for each `--metric-percentiles` P (default 99). `input_lens`, `output_lens`,
 * `start_times` (client send times, seconds), `ttfts`, `itls` and `errors` stay only with `--save-detailed`.
 * `--append-result` appends one JSON object per line. ITL is the mean over all inter-token gaps of all requests
 * (token-weighted, as gatelab's `itl_mean`); E2E is `mean_e2el_ms` when `e2el` was selected, else the mean of
 * `latencies`.
 *
 * The server is not in the file; it is read from metadata keys (strings, as `--metadata` writes them) or the command
 * line: `gpu`, `tp` (or `tensor_parallel_size`), `max_num_seqs`, `max_num_batched_tokens`, `num_gpu_blocks`,
 * `block_size`, `gatelab_model` (else `model_id` must be a catalog name or Hugging Face id). Absent batch limits take
 * `vllm serve`'s defaults for the GPU (`src/models/vllm-defaults.ts`); absent `num_gpu_blocks` the KV capacity
 * gatelab derives (`kv-capacity.ts`) — vLLM logs the real figure at start-up ("# GPU blocks").
 *
 * Workload: with `--save-detailed`, the requests themselves (send times, prompt and output lengths; failed ones
 * dropped). Otherwise `num_prompts` requests of the mean prompt and output length, arriving as `vllm bench serve`
 * sends them: gamma-distributed gaps of mean 1/request_rate and shape `burstiness` (Poisson at 1), all at once at
 * "inf", at most `max_concurrency` in flight. Prompts are unique (the `random` data set): no prefix-cache hits.
 */
import { readFileSync } from "node:fs";
import { InputError } from "../errors.ts";
import { dist } from "../metrics/summary.ts";
import { getGpu, getModel } from "../models/catalog.ts";
import { kvBlocksFor } from "../models/kv-capacity.ts";
import { vllmBatchLimits } from "../models/vllm-defaults.ts";
import type { Experiment, Metrics } from "./validate.ts";

/** One benchmark run as read from the file. */
export interface BenchRun {
  readonly file: string;
  /** 1-based index of the run in the file (several with --append-result). */
  readonly index: number;
  /** Line of the run's object (1 for a whole-file JSON). */
  readonly line: number;
  readonly modelId: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** Requests per second; Infinity for "inf". */
  readonly requestRate: number;
  readonly burstiness: number;
  readonly maxConcurrency: number | undefined;
  readonly numPrompts: number;
  readonly completed: number;
  readonly totalInputTokens: number;
  readonly totalOutputTokens: number;
  readonly duration: number;
  /** Measured metrics (ms); percentiles NaN where the file does not have them. */
  readonly measured: Metrics;
  /** Per-request replay (with --save-detailed): send time (s from the first), prompt and output tokens. */
  readonly requests?: { readonly arrival: number[]; readonly input: number[]; readonly output: number[] };
}

/** Server facts that the file does not carry; command-line values win over metadata. */
export interface BenchServer {
  readonly model?: string;
  readonly gpu?: string;
  readonly tp?: number;
  readonly maxNumSeqs?: number;
  readonly maxNumBatchedTokens?: number;
  readonly numGpuBlocks?: number;
  readonly blockSize?: number;
}

type Obj = Record<string, unknown>;

function fail(where: string, field: string, what: string): InputError {
  return new InputError(`${where}: ${field}: ${what}`);
}

function shown(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

/** Splits the text into JSON objects: the whole file, or one per non-empty line (--append-result). */
function objects(text: string, file: string): { obj: Obj; line: number }[] {
  const t = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (t.trim() === "") throw new InputError(`${file}: expected a vllm bench serve result (JSON), got an empty file`);
  try {
    const v: unknown = JSON.parse(t);
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      throw new InputError(`${file}: expected a JSON object (a vllm bench serve result), got ${shown(v)}`);
    }
    return [{ obj: v as Obj, line: 1 }];
  } catch (e) {
    if (e instanceof InputError) throw e;
  }
  const out: { obj: Obj; line: number }[] = [];
  t.split("\n").forEach((l, i) => {
    if (l.trim() === "") return;
    let v: unknown;
    try {
      v = JSON.parse(l);
    } catch (e) {
      throw new InputError(`${file}:${i + 1}: not valid JSON: ${(e as Error).message}`);
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      throw new InputError(`${file}:${i + 1}: expected a JSON object (a vllm bench serve result), got ${shown(v)}`);
    }
    out.push({ obj: v as Obj, line: i + 1 });
  });
  return out;
}

function numberField(
  o: Obj,
  where: string,
  key: string,
  opt: { int?: boolean; positive?: boolean; optional?: boolean } = {},
): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (opt.optional) return undefined;
    throw fail(where, key, `expected ${opt.int ? "an integer" : "a number"}, the field is missing`);
  }
  const x = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  const kind = `${opt.positive ? "a positive" : "a non-negative"} ${opt.int ? "integer" : "number"}`;
  if (
    typeof x !== "number" ||
    !Number.isFinite(x) ||
    x < 0 ||
    (opt.positive && x === 0) ||
    (opt.int && !Number.isInteger(x))
  ) {
    throw fail(where, key, `expected ${kind}, got ${shown(v)}`);
  }
  return x;
}

function numberArray(o: Obj, where: string, key: string, n: number): number[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length !== n) {
    throw fail(
      where,
      key,
      `expected an array of ${n} numbers (one per request), got ${Array.isArray(v) ? `${v.length} entries` : shown(v)}`,
    );
  }
  v.forEach((x, i) => {
    if (typeof x !== "number" || !Number.isFinite(x) || x < 0)
      throw fail(where, `${key}.${i}`, `expected a non-negative number, got ${shown(x)}`);
  });
  return v as number[];
}

/** Parses one run object. */
function parseRun(o: Obj, file: string, index: number, line: number, many: boolean): BenchRun {
  const where = many ? `${file}:${line}` : file;
  const modelId = o.model_id;
  if (typeof modelId !== "string" || modelId === "")
    throw fail(where, "model_id", `expected the served model's name, got ${shown(modelId)}`);
  const completed = numberField(o, where, "completed", { int: true })!;
  if (completed === 0) throw fail(where, "completed", "expected at least one completed request");
  const failed = numberField(o, where, "failed", { int: true, optional: true }) ?? 0;
  const numPrompts = numberField(o, where, "num_prompts", { int: true, optional: true }) ?? completed + failed;
  const totalInput = numberField(o, where, "total_input_tokens", { int: true, positive: true })!;
  const totalOutput = numberField(o, where, "total_output_tokens", { int: true, positive: true })!;
  const duration = numberField(o, where, "duration", { positive: true })!;
  const rr = o.request_rate;
  let requestRate: number;
  if (rr === "inf" || rr === undefined || rr === null) requestRate = Number.POSITIVE_INFINITY;
  else requestRate = numberField(o, where, "request_rate", { positive: true })!;
  const burstiness = numberField(o, where, "burstiness", { positive: true, optional: true }) ?? 1;
  const maxConcurrency = numberField(o, where, "max_concurrency", { int: true, positive: true, optional: true });
  const ttftMean = numberField(o, where, "mean_ttft_ms", { positive: true })!;
  const itlMean = numberField(o, where, "mean_itl_ms", { optional: true });
  if (itlMean === undefined) {
    throw fail(where, "mean_itl_ms", "expected the mean inter-token latency (keep itl in --percentile-metrics)");
  }
  // Per-request arrays: `latencies` always; the rest with --save-detailed.
  const n = Array.isArray(o.latencies) ? o.latencies.length : Array.isArray(o.input_lens) ? o.input_lens.length : 0;
  const latencies = numberArray(o, where, "latencies", n);
  const errors = Array.isArray(o.errors) && o.errors.length === n ? (o.errors as unknown[]) : undefined;
  const ok = (i: number): boolean =>
    errors !== undefined ? errors[i] === "" || errors[i] === null : latencies === undefined || latencies[i]! > 0;
  let e2eMean = numberField(o, where, "mean_e2el_ms", { positive: true, optional: true });
  const lat = latencies?.filter((_, i) => ok(i)).map((x) => x * 1000);
  if (e2eMean === undefined) {
    if (lat === undefined || lat.length === 0) {
      throw fail(
        where,
        "mean_e2el_ms",
        "expected the mean end-to-end latency (add e2el to --percentile-metrics) or latencies",
      );
    }
    e2eMean = lat.reduce((s, x) => s + x, 0) / lat.length;
  }
  const ttfts = numberArray(o, where, "ttfts", n)
    ?.filter((_, i) => ok(i))
    .map((x) => x * 1000);
  const pct = (key: string, values: number[] | undefined, p: 90 | 99): number => {
    const v = numberField(o, where, key, { optional: true });
    if (v !== undefined) return v;
    if (values === undefined || values.length === 0) return Number.NaN;
    const d = dist(Float64Array.from(values));
    return p === 90 ? d.p90 : d.p99;
  };
  const measured: Metrics = {
    ttft_mean: ttftMean,
    ttft_p90: pct("p90_ttft_ms", ttfts, 90),
    ttft_p99: pct("p99_ttft_ms", ttfts, 99),
    e2e_mean: e2eMean,
    e2e_p90: pct("p90_e2el_ms", lat, 90),
    e2e_p99: pct("p99_e2el_ms", lat, 99),
    itl_mean: itlMean,
  };
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) if (typeof v === "string" || typeof v === "number") metadata[k] = String(v);
  const inputs = numberArray(o, where, "input_lens", n);
  const outputs = numberArray(o, where, "output_lens", n);
  const starts = numberArray(o, where, "start_times", n);
  let requests: BenchRun["requests"];
  if (inputs !== undefined && outputs !== undefined && starts !== undefined) {
    const keep = [...Array(n).keys()].filter((i) => ok(i) && inputs[i]! > 0 && outputs[i]! > 0);
    const t0 = Math.min(...keep.map((i) => starts[i]!));
    keep.sort((a, b) => starts[a]! - starts[b]! || a - b);
    requests = {
      arrival: keep.map((i) => starts[i]! - t0),
      input: keep.map((i) => Math.round(inputs[i]!)),
      output: keep.map((i) => Math.round(outputs[i]!)),
    };
  }
  return {
    file,
    index,
    line,
    modelId,
    metadata,
    requestRate,
    burstiness,
    maxConcurrency,
    numPrompts,
    completed,
    totalInputTokens: totalInput,
    totalOutputTokens: totalOutput,
    duration,
    measured,
    ...(requests !== undefined ? { requests } : {}),
  };
}

/** Parses a `vllm bench serve` result file's text (one object, or one per line). */
export function parseVllmBench(text: string, file: string): BenchRun[] {
  const objs = objects(text, file);
  return objs.map(({ obj, line }, i) => parseRun(obj, file, i + 1, line, objs.length > 1 || line > 1));
}

export function loadVllmBench(file: string): BenchRun[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new InputError(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseVllmBench(text, file);
}

/** A server fact: the command line's value, else the first of `keys` in the run's metadata. */
function serverFact(run: BenchRun, cli: string | number | undefined, keys: readonly string[]): string | undefined {
  if (cli !== undefined) return String(cli);
  for (const k of keys) {
    const v = run.metadata[k];
    if (v !== undefined && v !== "") return v;
  }
  return undefined;
}

function intFact(where: string, key: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isInteger(x) || x <= 0) throw fail(where, key, `expected a positive integer, got ${shown(v)}`);
  return x;
}

/**
 * The run as an experiment on one replica: the model, GPU, TP and engine limits of `server` or the metadata, the
 * replayed (or regenerated) requests, the measured means. `id` is `FILE#INDEX`.
 */
export function benchExperiment(run: BenchRun, server: BenchServer = {}): Experiment {
  const where = run.line > 1 || run.index > 1 ? `${run.file}:${run.line}` : run.file;
  const modelName = serverFact(run, server.model, ["gatelab_model"]) ?? run.modelId;
  let model: string;
  try {
    model = getModel(modelName).name;
  } catch (e) {
    const field =
      server.model !== undefined
        ? "--model-name"
        : run.metadata.gatelab_model !== undefined
          ? "gatelab_model"
          : "model_id";
    throw fail(
      where,
      field,
      `${(e as Error).message} (name the catalog model with --model-name or --metadata gatelab_model=NAME)`,
    );
  }
  const gpuName = serverFact(run, server.gpu, ["gpu", "hardware"]);
  if (gpuName === undefined)
    throw fail(where, "gpu", "expected the GPU (--gpu, or --metadata gpu=H100 when benchmarking)");
  let gpu: string;
  try {
    gpu = getGpu(gpuName).name;
  } catch (e) {
    throw fail(where, "gpu", (e as Error).message);
  }
  const tp = intFact(where, "tp", serverFact(run, server.tp, ["tp", "tensor_parallel_size"])) ?? 1;
  const blockSize = intFact(where, "block_size", serverFact(run, server.blockSize, ["block_size"])) ?? 16;
  const limits = vllmBatchLimits(getGpu(gpu), {
    maxNumSeqs: intFact(where, "max_num_seqs", serverFact(run, server.maxNumSeqs, ["max_num_seqs"])),
    maxNumBatchedTokens: intFact(
      where,
      "max_num_batched_tokens",
      serverFact(run, server.maxNumBatchedTokens, ["max_num_batched_tokens"]),
    ),
  });
  let blocks = intFact(where, "num_gpu_blocks", serverFact(run, server.numGpuBlocks, ["num_gpu_blocks"]));
  if (blocks === undefined) {
    try {
      blocks = kvBlocksFor({ model, gpu, tp, blockSize });
    } catch (e) {
      throw fail(where, "num_gpu_blocks", (e as Error).message);
    }
  }
  const meanIn = Math.max(1, Math.round(run.totalInputTokens / run.completed));
  const meanOut = Math.max(1, Math.round(run.totalOutputTokens / run.completed));
  const span = run.requests !== undefined ? Math.max(1e-3, run.requests.arrival.at(-1) ?? 0) : run.duration;
  return {
    id: `${run.file}#${run.index}`,
    experiment: `vllm bench serve ${run.modelId} rate ${run.requestRate}`,
    model,
    hardware: gpu,
    tp,
    max_num_seqs: limits.maxNumSeqs,
    max_num_batched_tokens: limits.maxNumBatchedTokens,
    total_kv_blocks_gpu: blocks,
    cpu_kv_blocks: 0,
    kv_block_size_tokens: blockSize,
    workload: {
      // The shared-prefix description is only a label here: `replay` is what runs (one stage, the whole run).
      inference_perf: {
        shared_prefix: {
          num_unique_system_prompts: 1,
          num_users_per_system_prompt: 1,
          system_prompt_len: 0,
          question_len: meanIn,
          output_len: meanOut,
          enable_multi_turn_chat: false,
        },
        stages: [{ rate: Number.isFinite(run.requestRate) ? run.requestRate : run.numPrompts / span, duration: span }],
      },
      seed: 0,
      replay: run.requests ?? {
        rate: Number.isFinite(run.requestRate) ? run.requestRate : 0,
        burstiness: run.burstiness,
        count: run.numPrompts,
        input: meanIn,
        output: meanOut,
      },
      ...(run.maxConcurrency !== undefined ? { max_concurrency: run.maxConcurrency } : {}),
    },
    actual_vllm_ms: { summary: run.measured },
  };
}
