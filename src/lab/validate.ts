/**
 * Validation against measured vLLM runs: reads files in the schema of
 * `data/sim-to-real-validation/calibration_set_h100_vllm_7exp.json` (shared data; README there), rebuilds each
 * experiment's workload and server, simulates it on one replica behind round-robin, and compares per experiment and
 * per stage the predicted `ttft_mean/p90/p99`, `e2e_mean/p90/p99` and `itl_mean` with the measured ones (absolute
 * percentage error, then the mean absolute percentage error per metric over the experiments).
 *
 * Workload: kubernetes-sigs/inference-perf's shared-prefix generator with constant-rate stages
 * (`src/workloads/shared-prefix.ts`), the experiment's `workload.seed`, at most `workload.num_requests` requests.
 * Prompts (`WorkloadMode`): the runs' `enable_multi_turn_chat` is set, but the measured runs had constant input
 * lengths — BLIS found ≈ 574 tokens per request in the real inference-perf data of these runs and made the flag a
 * no-op (inference-sim issue #481) — and a history growing by ≈ 700 tokens per round would not fit their KV caches at
 * the measured TTFTs. So by default (`fresh`) a request is its group's system prompt (shared, cached) plus a question
 * of `question_len` tokens that no other request repeats, as BLIS generates these runs; this also fits the
 * measurements best (docs/fidelity.md). `cycle` reuses inference-perf's N = groups × users prompts in turn (a prompt
 * repeats every N requests and hits the prefix cache whole); `sessions` simulates the generator's multi-turn sessions
 * with growing history as specified.
 *
 * Server: the catalog model, the experiment's TP and GPU, `max_num_seqs`, `max_num_batched_tokens`,
 * `total_kv_blocks_gpu` blocks of `kv_block_size_tokens`, prefix caching and chunked prefill on (vLLM V1 defaults),
 * `max_model_len` = the model's `max_position_embeddings`, and a CPU offload tier of `cpu_kv_blocks` blocks
 * (`src/models/kv-offload.ts`) when > 0.
 *
 * Metrics (milliseconds, completed requests): TTFT and E2E per request, client view with the cost model's request
 * overheads; mean and numpy-linear percentiles. ITL mean = Σ inter-token gaps / Σ (output tokens − 1), each gap with
 * the per-output-token overhead (inference-perf's token-weighted mean). Stage k = requests that arrived during stage k.
 */
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { type PoolSpec, type SimResult, Simulation } from "../cluster/engine.ts";
import { InputError, readTextInput, schemaIssueText } from "../errors.ts";
import { dist } from "../metrics/summary.ts";
import { getGpu, getModel, type ModelSpec } from "../models/catalog.ts";
import type { CostModel } from "../models/cost.ts";
import { type CostModelInput, createCostModel } from "../models/cost-factory.ts";
import { attachCpuOffload, type CpuOffloadCounters } from "../models/kv-offload.ts";
import type { EngineConfig } from "../models/replica.ts";
import { RoundRobinRouter } from "../policies/routers/round-robin.ts";
import { Outcome, type Request, type RequestSource } from "../sim/request.ts";
import { rngStream } from "../sim/rng.ts";
import { gammaVariate } from "../workloads/arrivals.ts";
import { buildWorkload } from "../workloads/index.ts";
import { contentId, contentSalt, NS } from "../workloads/types.ts";

// ---------------------------------------------------------------------------------------------------------------
// File schema
// ---------------------------------------------------------------------------------------------------------------

/** The metrics compared, in report order. */
export const METRICS = ["ttft_mean", "ttft_p90", "ttft_p99", "e2e_mean", "e2e_p90", "e2e_p99", "itl_mean"] as const;
export type Metric = (typeof METRICS)[number];
export type Metrics = Record<Metric, number>;

const positive = z.number().refine((x) => Number.isFinite(x) && x > 0, "expected a positive number");
const MetricsSchema = z.object(
  Object.fromEntries(METRICS.map((m) => [m, positive])) as Record<Metric, typeof positive>,
);

const StageSchema = z.object({ rate: positive, duration: positive });
const SharedPrefixInput = z.object({
  num_unique_system_prompts: z.number().int().positive(),
  num_users_per_system_prompt: z.number().int().positive(),
  system_prompt_len: z.number().int().nonnegative(),
  question_len: z.number().int().positive(),
  output_len: z.number().int().positive(),
  enable_multi_turn_chat: z.boolean().default(false),
  question_len_std: z.number().nonnegative().optional(),
  output_len_std: z.number().nonnegative().optional(),
});

/**
 * A benchmark client's requests: given one by one (send time in seconds, prompt and output tokens), or `count`
 * requests of fixed lengths with gamma gaps of mean 1/rate and shape `burstiness` (rate 0: all at once), as
 * `vllm bench serve` sends them. Prompts are unique (no prefix-cache hits).
 */
const ReplaySchema = z.union([
  z.object({
    arrival: z.array(z.number().nonnegative()),
    input: z.array(z.number().int().positive()),
    output: z.array(z.number().int().positive()),
  }),
  z.object({
    rate: z.number().nonnegative(),
    burstiness: z.number().positive().default(1),
    count: z.number().int().positive(),
    input: z.number().int().positive(),
    output: z.number().int().positive(),
  }),
]);

export const ExperimentSchema = z.object({
  id: z.union([z.string().min(1), z.number()]).transform(String),
  experiment: z.string().optional(),
  model: z.string().min(1),
  hardware: z.string().min(1).default("H100"),
  tp: z.number().int().positive(),
  precision: z.string().optional(),
  max_num_seqs: z.number().int().positive(),
  max_num_batched_tokens: z.number().int().positive(),
  total_kv_blocks_gpu: z.number().int().positive(),
  cpu_kv_blocks: z.number().int().nonnegative().default(0),
  kv_block_size_tokens: z.number().int().positive().default(16),
  workload: z.object({
    inference_perf: z.object({ shared_prefix: SharedPrefixInput, stages: z.array(StageSchema).min(1) }),
    num_requests: z.number().int().positive().optional(),
    seed: z.number().int().nonnegative().default(42),
    /** Instead of inference-perf's stream: the requests of a `vllm bench serve` run (`vllm-bench.ts`). */
    replay: ReplaySchema.optional(),
    /** Client-side limit on requests in flight (`vllm bench serve --max-concurrency`). */
    max_concurrency: z.number().int().positive().optional(),
  }),
  /** Measured: `summary` and `stage_<k>`; absent → predictions only. */
  actual_vllm_ms: z.record(z.string(), MetricsSchema).optional(),
  blis_trained_physics_iter29_predicted_summary_ms: z.record(z.string(), z.number()).optional(),
});
export type Experiment = z.output<typeof ExperimentSchema>;

export interface ValidationSet {
  readonly file: string;
  readonly description: string;
  readonly experiments: readonly Experiment[];
}

/** Parses a validation file's JSON text. Errors: `FILE: experiments.I (id X).FIELD: what was expected`. */
export function parseValidationSet(text: string, file: string): ValidationSet {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || !Array.isArray((raw as { experiments?: unknown }).experiments)) {
    throw new InputError(`${file}: experiments: expected an array of experiments`);
  }
  const list = (raw as { experiments: unknown[]; description?: unknown }).experiments;
  if (list.length === 0) throw new InputError(`${file}: experiments: expected at least one experiment`);
  const out: Experiment[] = [];
  const ids = new Set<string>();
  list.forEach((e, i) => {
    const idRaw = typeof e === "object" && e !== null ? (e as { id?: unknown }).id : undefined;
    const where = `${file}: experiments.${i}${idRaw !== undefined ? ` (id ${JSON.stringify(idRaw)})` : ""}`;
    const r = ExperimentSchema.safeParse(e);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw new InputError(`${where}.${issue.path.join(".") || "(experiment)"}: ${schemaIssueText(issue, e)}`);
    }
    const x = r.data;
    try {
      getModel(x.model);
    } catch (err) {
      throw new InputError(`${where}.model: ${(err as Error).message}`);
    }
    try {
      getGpu(x.hardware);
    } catch (err) {
      throw new InputError(`${where}.hardware: ${(err as Error).message}`);
    }
    if (ids.has(x.id)) throw new InputError(`${where}.id: expected a unique id, "${x.id}" is used twice`);
    ids.add(x.id);
    if (x.actual_vllm_ms !== undefined && x.actual_vllm_ms.summary === undefined) {
      throw new InputError(`${where}.actual_vllm_ms.summary: expected the measured metrics of the whole run`);
    }
    out.push(x);
  });
  const d = (raw as { description?: unknown }).description;
  return { file, description: typeof d === "string" ? d : "", experiments: out };
}

/** Reads and parses a validation file (InputError if unreadable or malformed). */
export function loadValidationSet(file: string): ValidationSet {
  const text = readTextInput(file, "validation file");
  return parseValidationSet(text, file);
}

// ---------------------------------------------------------------------------------------------------------------
// One experiment
// ---------------------------------------------------------------------------------------------------------------

/** How the experiments' prompts are built (see the header). */
export type WorkloadMode = "fresh" | "cycle" | "sessions";
export const WORKLOAD_MODES: readonly WorkloadMode[] = ["fresh", "cycle", "sessions"];

export interface ExperimentOptions {
  readonly workloadMode?: WorkloadMode;
  /** Called with the simulation before it runs (the calibration attaches step recorders). */
  readonly beforeRun?: (sim: Simulation) => void;
  /** Step by step, without the engine's fast-forward over decode stretches (the calibration's recorder needs it). */
  readonly stepByStep?: boolean;
}

/** Stage names of an experiment: `summary`, then `stage_0`, `stage_1`, … */
export function stageNames(e: Experiment): string[] {
  return ["summary", ...e.workload.inference_perf.stages.map((_, k) => `stage_${k}`)];
}

export interface ExperimentRun {
  readonly experiment: Experiment;
  readonly model: ModelSpec;
  readonly cost: CostModel;
  readonly result: SimResult;
  /** Predicted metrics by stage name (`summary`, `stage_0`, …). */
  readonly predicted: Readonly<Record<string, Metrics>>;
  /** Stage of each request (by id): its arrival's stage index. */
  readonly stageOf: Int32Array;
  readonly offload: CpuOffloadCounters | undefined;
}

export function experimentEngine(e: Experiment, model: ModelSpec): EngineConfig {
  return {
    maxNumSeqs: e.max_num_seqs,
    maxNumBatchedTokens: e.max_num_batched_tokens,
    blockSize: e.kv_block_size_tokens,
    enablePrefixCaching: true,
    enableChunkedPrefill: true,
    longPrefillTokenThreshold: 0,
    maxModelLen: model.maxPositionEmbeddings ?? 131072,
    numGpuBlocks: e.total_kv_blocks_gpu,
  };
}

/** The experiment's request stream (inference-perf shared prefix, constant-rate stages; see `WorkloadMode`). */
export function experimentSource(e: Experiment, mode: WorkloadMode = "fresh"): RequestSource {
  if (e.workload.replay !== undefined) return replaySource(e);
  const ip = e.workload.inference_perf;
  const sp = ip.shared_prefix;
  const inner = buildWorkload(
    {
      type: "shared-prefix",
      shared_prefix: { ...sp, enable_multi_turn_chat: mode === "sessions" ? sp.enable_multi_turn_chat : false },
      stages: ip.stages,
    },
    {
      seed: e.workload.seed,
      baseDir: ".",
      ...(e.workload.num_requests !== undefined ? { maxRequests: e.workload.num_requests } : {}),
    },
  );
  if (mode !== "fresh") return inner;
  // Fresh questions: the last segment (the question) gets content no other request has.
  const salt = contentSalt(`validate/${e.id}`);
  return {
    next(): Request | undefined {
      const r = inner.next();
      if (r === undefined) return undefined;
      const prompt = r.prompt.slice();
      const q = prompt[prompt.length - 1]!;
      prompt[prompt.length - 1] = { id: contentId(NS.unique, salt, r.id), tokens: q.tokens };
      return { ...r, prompt };
    },
  };
}

/**
 * The requests of `e.workload.replay`, each a unique prompt, at most `max_concurrency` in flight: a request whose
 * send time comes while the limit is reached goes out when an earlier one finishes (the client's semaphore).
 */
function replaySource(e: Experiment): RequestSource {
  const rp = e.workload.replay!;
  const arrival: number[] = [];
  const input: number[] = [];
  const output: number[] = [];
  if ("arrival" in rp) {
    arrival.push(...rp.arrival);
    input.push(...rp.input);
    output.push(...rp.output);
  } else {
    const rng = rngStream(e.workload.seed, "vllm-bench-arrivals");
    let t = 0;
    for (let i = 0; i < rp.count; i++) {
      arrival.push(t);
      input.push(rp.input);
      output.push(rp.output);
      // vllm bench serve: gaps ~ Gamma(shape = burstiness, scale = 1 / (rate · burstiness)).
      if (rp.rate > 0) t += gammaVariate(rng, rp.burstiness) / (rp.rate * rp.burstiness);
    }
  }
  const n = Math.min(arrival.length, input.length, output.length);
  const limit = e.workload.max_concurrency ?? Number.POSITIVE_INFINITY;
  const salt = contentSalt(`vllm-bench/${e.id}`);
  let next = 0;
  let inFlight = 0;
  const make = (at: number): Request => {
    const i = next++;
    inFlight++;
    const prompt = [{ id: contentId(NS.unique, salt, i), tokens: input[i]! }];
    return { id: i, arrival: at, prompt, inputTokens: input[i]!, outputTokens: output[i]! };
  };
  return {
    next(): Request | undefined {
      if (next >= n || inFlight >= limit) return undefined;
      return make(arrival[next]!);
    },
    onFinish(_req: Request, now: number): Request[] | undefined {
      inFlight--;
      // Only requests held back by the limit come through here; the others came through next().
      if (!Number.isFinite(limit) || next >= n || inFlight >= limit) return undefined;
      return [make(Math.max(now, arrival[next]!))];
    },
  };
}

/** Computes the metrics of the completed requests with `keep(i)`; `postDecode` is removed from the ITL gaps. */
export function metricsOf(res: SimResult, keep: (i: number) => boolean, postDecode: number): Metrics {
  const rec = res.records;
  const ttft: number[] = [];
  const e2e: number[] = [];
  let gapSum = 0;
  let gapCount = 0;
  for (let i = 0; i < rec.size; i++) {
    if (rec.outcome[i] !== Outcome.Completed || !keep(i)) continue;
    const a = rec.arrival[i]!;
    const ft = rec.firstToken[i]! - a;
    const done = rec.completion[i]! - a;
    ttft.push(ft);
    e2e.push(done);
    const n = rec.output[i]!;
    if (n > 1) {
      gapSum += done - postDecode - ft;
      gapCount += n - 1;
    }
  }
  const t = dist(Float64Array.from(ttft), 1000);
  const d = dist(Float64Array.from(e2e), 1000);
  return {
    ttft_mean: t.mean,
    ttft_p90: t.p90,
    ttft_p99: t.p99,
    e2e_mean: d.mean,
    e2e_p90: d.p90,
    e2e_p99: d.p99,
    itl_mean: gapCount > 0 ? (gapSum / gapCount) * 1000 : 0,
  };
}

/** Stage boundaries (seconds): stage k covers [starts[k], starts[k+1]). */
export function stageStarts(e: Experiment): number[] {
  const starts = [0];
  for (const s of e.workload.inference_perf.stages) starts.push(starts[starts.length - 1]! + s.duration);
  return starts;
}

/** Simulates one experiment with the given cost model. */
export function simulateExperiment(e: Experiment, cost: CostModel, o: ExperimentOptions = {}): ExperimentRun {
  const model = getModel(e.model);
  const gpu = getGpu(e.hardware);
  const pool: PoolSpec = {
    name: e.id,
    model: model.name,
    gpu: gpu.name,
    tp: e.tp,
    replicas: 1,
    engine: experimentEngine(e, model),
    cost,
    gpuHourUsd: 0,
  };
  const sim = new Simulation([pool], experimentSource(e, o.workloadMode), new RoundRobinRouter(), {
    seed: e.workload.seed,
    scrapeIntervalS: 0,
    kvEventDelayS: 0,
    sampleIntervalS: 3600,
    ...(o.stepByStep ? { fastForward: false } : {}),
  });
  const tier = attachCpuOffload(sim.replicas[0]!, model, e.tp, e.cpu_kv_blocks);
  o.beforeRun?.(sim);
  const result = sim.run();
  const rec = result.records;
  checkServed(e, result);
  const starts = stageStarts(e);
  const stageOf = new Int32Array(rec.size);
  for (let i = 0; i < rec.size; i++) {
    const a = rec.arrival[i]!;
    let k = 0;
    while (k + 2 < starts.length && a >= starts[k + 1]!) k++;
    stageOf[i] = k;
  }
  const post = cost.overheads.postDecode;
  const predicted: Record<string, Metrics> = { summary: metricsOf(result, () => true, post) };
  e.workload.inference_perf.stages.forEach((_, k) => {
    predicted[`stage_${k}`] = metricsOf(result, (i) => stageOf[i] === k, post);
  });
  return { experiment: e, model, cost, result, predicted, stageOf, offload: tier?.counters };
}

/**
 * A measured run served its requests: a simulated server that completes none of them (every prompt rejected: a KV
 * cache of a few blocks, a step budget below one prompt) predicts nothing, and a fit or validation on it would
 * report 100 % errors as if they meant something.
 */
function checkServed(e: Experiment, result: SimResult): void {
  const rec = result.records;
  if (rec.size === 0) return;
  for (let i = 0; i < rec.size; i++) if (rec.outcome[i] === Outcome.Completed) return;
  const why = [...result.rejectReasons].map(([r, n]) => `${n} × ${r}`).join("; ");
  throw new InputError(
    `${e.id}: the simulated server completed none of its ${rec.size} requests${why !== "" ? ` (${why})` : ""}; ` +
      `check its engine settings: total_kv_blocks_gpu ${e.total_kv_blocks_gpu}, max_num_batched_tokens ${e.max_num_batched_tokens}, max_num_seqs ${e.max_num_seqs}`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// A whole file
// ---------------------------------------------------------------------------------------------------------------

/** |predicted − actual| / actual. */
export function ape(predicted: number, actual: number): number {
  return Math.abs(predicted - actual) / actual;
}

export function apeOf(p: Metrics, a: Metrics): Metrics {
  return Object.fromEntries(METRICS.map((m) => [m, ape(p[m], a[m])])) as Metrics;
}

/** BLIS's `blis_trained_physics_iter29_predicted_summary_ms` (keys `ttft_mean_ms`, …) as metrics, if complete. */
export function blisPrediction(e: Experiment): Metrics | undefined {
  const b = e.blis_trained_physics_iter29_predicted_summary_ms;
  if (b === undefined) return undefined;
  const out: Partial<Metrics> = {};
  for (const m of METRICS) {
    const v = b[`${m}_ms`] ?? b[m];
    if (typeof v !== "number") return undefined;
    out[m] = v;
  }
  return out as Metrics;
}

export interface StageComparison {
  readonly stage: string;
  readonly predicted: Metrics;
  readonly actual?: Metrics;
  readonly ape?: Metrics;
}

export interface ExperimentReport {
  readonly id: string;
  readonly experiment: string;
  readonly model: string;
  readonly tp: number;
  readonly predicted: Metrics;
  readonly actual?: Metrics;
  readonly ape?: Metrics;
  readonly stages: readonly StageComparison[];
  /** BLIS's prediction from the file and its error, where given. */
  readonly blis?: { readonly predicted: Metrics; readonly ape?: Metrics };
  readonly completed: number;
  readonly rejected: number;
  readonly preemptions: number;
  readonly prefix_cache_hit_rate: number;
  readonly cpu_offload?: CpuOffloadCounters;
}

export interface ValidationReport {
  readonly file: string;
  readonly cost_model: string;
  readonly workload_mode: WorkloadMode;
  readonly experiments: readonly ExperimentReport[];
  /** MAPE per metric over the experiments with measurements (summary rows); empty when none has. */
  readonly mape: Partial<Metrics>;
  /** BLIS's MAPE per metric over the same experiments, where the file gives its predictions. */
  readonly blis_mape?: Partial<Metrics>;
}

/** Mean of APEs per metric. */
export function mapeOf(apes: readonly Metrics[]): Partial<Metrics> {
  if (apes.length === 0) return {};
  // A metric a measurement lacks (NaN: e.g. a p90 a `vllm bench serve` file did not save) is left out of its mean.
  const out: Partial<Metrics> = {};
  for (const m of METRICS) {
    const xs = apes.map((a) => a[m]).filter((x) => Number.isFinite(x));
    if (xs.length > 0) out[m] = xs.reduce((s, x) => s + x, 0) / xs.length;
  }
  return out;
}

export interface ValidateOptions {
  /** The cost model of every experiment (default: `{ type: "kernel" }`, the shipped calibration). */
  readonly costModel?: CostModelInput;
  /** Folder for relative coefficient paths in `costModel` (default: the working directory). */
  readonly baseDir?: string;
  /** Or a cost model per experiment (calibration, leave-one-out). */
  readonly costFor?: (e: Experiment) => CostModel;
  readonly workloadMode?: WorkloadMode;
  /** Only these experiment ids (default all). */
  readonly only?: readonly string[];
}

/** Builds one experiment's cost model from a `cost_model` config; InputError naming the experiment on failure. */
export function experimentCost(e: Experiment, cfg: CostModelInput | undefined, baseDir?: string): CostModel {
  try {
    return createCostModel(cfg ?? { type: "kernel" }, {
      model: e.model,
      gpu: e.hardware,
      tp: e.tp,
      ...(baseDir !== undefined ? { baseDir } : {}),
    });
  } catch (err) {
    if (err instanceof InputError) throw err;
    const msg = err instanceof z.ZodError ? (err.issues[0]?.message ?? err.message) : (err as Error).message;
    throw new InputError(`experiment ${e.id}: cost model: ${msg}`);
  }
}

/** Compares one finished run with the measurements. */
export function reportExperiment(run: ExperimentRun): ExperimentReport {
  const e = run.experiment;
  const actual = e.actual_vllm_ms;
  const stages: StageComparison[] = stageNames(e).map((stage) => {
    const p = run.predicted[stage]!;
    const a = actual?.[stage];
    return a !== undefined ? { stage, predicted: p, actual: a, ape: apeOf(p, a) } : { stage, predicted: p };
  });
  const summary = stages[0]!;
  const blis = blisPrediction(e);
  const rec = run.result.records;
  let completed = 0;
  let rejected = 0;
  for (let i = 0; i < rec.size; i++) {
    if (rec.outcome[i] === Outcome.Completed) completed++;
    else if (rec.outcome[i] === Outcome.Rejected) rejected++;
  }
  const c = run.result.replicas[0]!.counters;
  return {
    id: e.id,
    experiment: e.experiment ?? e.id,
    model: run.model.name,
    tp: e.tp,
    predicted: summary.predicted,
    ...(summary.actual !== undefined ? { actual: summary.actual, ape: summary.ape! } : {}),
    stages,
    ...(blis !== undefined
      ? { blis: { predicted: blis, ...(summary.actual !== undefined ? { ape: apeOf(blis, summary.actual) } : {}) } }
      : {}),
    completed,
    rejected,
    preemptions: c.preemptions,
    prefix_cache_hit_rate: c.prefixQueries > 0 ? c.prefixHits / c.prefixQueries : 0,
    ...(run.offload !== undefined ? { cpu_offload: { ...run.offload } } : {}),
  };
}

/** `kernel, coefficients NAME` (or the model's source when it has no named coefficient set). */
function describeCost(c: CostModel): string {
  const name = (c as { coefficients?: { name?: unknown } }).coefficients?.name;
  return typeof name === "string" ? `${c.kind}, coefficients ${name}` : `${c.kind} (${c.source})`;
}

/** Validates a set: simulate every experiment and compare. */
export function validateSet(set: ValidationSet, o: ValidateOptions = {}): ValidationReport {
  const exps = o.only ? set.experiments.filter((e) => o.only!.includes(e.id)) : set.experiments;
  if (o.only) {
    const missing = o.only.filter((id) => !set.experiments.some((e) => e.id === id));
    if (missing.length > 0) throw new InputError(`${set.file}: no experiment with id ${missing.join(", ")}`);
  }
  const workloadMode = o.workloadMode ?? "fresh";
  const reports: ExperimentReport[] = [];
  let costName = "";
  for (const e of exps) {
    const cost = o.costFor ? o.costFor(e) : experimentCost(e, o.costModel, o.baseDir);
    if (costName === "") costName = describeCost(cost);
    reports.push(reportExperiment(simulateExperiment(e, cost, { workloadMode })));
  }
  const measured = reports.filter((r) => r.ape !== undefined);
  const blisApes = measured.map((r) => r.blis?.ape).filter((x): x is Metrics => x !== undefined);
  return {
    file: set.file,
    cost_model: costName,
    workload_mode: workloadMode,
    experiments: reports,
    mape: mapeOf(measured.map((r) => r.ape!)),
    ...(blisApes.length === measured.length && blisApes.length > 0 ? { blis_mape: mapeOf(blisApes) } : {}),
  };
}

/** `validate FILE`: load, simulate, compare. */
export function validateFile(file: string, o: ValidateOptions = {}): ValidationReport {
  const set = loadValidationSet(file);
  return validateSet(set, { baseDir: o.baseDir ?? dirname(resolve(file)), ...o });
}

// ---------------------------------------------------------------------------------------------------------------
// Text output
// ---------------------------------------------------------------------------------------------------------------

/** Short label of each metric (table headers). */
export const METRIC_LABELS: Record<Metric, string> = {
  ttft_mean: "TTFT mean",
  ttft_p90: "TTFT p90",
  ttft_p99: "TTFT p99",
  e2e_mean: "E2E mean",
  e2e_p90: "E2E p90",
  e2e_p99: "E2E p99",
  itl_mean: "ITL mean",
};

function ms(x: number): string {
  return x >= 1000 ? x.toFixed(0) : x >= 100 ? x.toFixed(1) : x.toFixed(2);
}

function pct(x: number): string {
  return Number.isNaN(x) ? "n/a" : `${(x * 100).toFixed(1)}%`;
}

/** Plain-text report: per experiment and stage, predicted / measured / APE rows; then MAPE per metric. */
export function formatValidation(r: ValidationReport, renderTable: (h: string[], rows: string[][]) => string): string {
  const out: string[] = [`validation of ${r.file}`, `cost model: ${r.cost_model}`, `workload mode: ${r.workload_mode}`];
  const header = ["stage", "", ...METRICS.map((m) => `${METRIC_LABELS[m]} ms`)];
  for (const x of r.experiments) {
    out.push("");
    const extra = x.cpu_offload ? `, CPU offload hits ${x.cpu_offload.hits} blocks` : "";
    out.push(
      `experiment ${x.id} · ${x.model} TP${x.tp} · ${x.completed} completed, ${x.rejected} rejected, ` +
        `${x.preemptions} preemptions, prefix hit rate ${pct(x.prefix_cache_hit_rate)}${extra}`,
    );
    const rows: string[][] = [];
    for (const s of x.stages) {
      rows.push([s.stage, "predicted", ...METRICS.map((m) => ms(s.predicted[m]))]);
      if (s.actual !== undefined && s.ape !== undefined) {
        rows.push(["", "measured", ...METRICS.map((m) => ms(s.actual![m]))]);
        rows.push(["", "APE", ...METRICS.map((m) => pct(s.ape![m]))]);
      }
    }
    if (x.blis !== undefined) {
      rows.push(["summary", "BLIS", ...METRICS.map((m) => ms(x.blis!.predicted[m]))]);
      if (x.blis.ape) rows.push(["", "BLIS APE", ...METRICS.map((m) => pct(x.blis!.ape![m]))]);
    }
    out.push(renderTable(header, rows));
  }
  if (Object.keys(r.mape).length > 0) {
    out.push("");
    const n = r.experiments.filter((x) => x.ape !== undefined).length;
    out.push(`mean absolute percentage error over ${n} experiment(s), whole runs:`);
    const rows = [["gatelab", ...METRICS.map((m) => pct(r.mape[m]!))]];
    if (r.blis_mape !== undefined) rows.push(["BLIS (file)", ...METRICS.map((m) => pct(r.blis_mape![m]!))]);
    out.push(renderTable(["", ...METRICS.map((m) => METRIC_LABELS[m])], rows));
  } else {
    out.push("", "no measurements in the file: predictions only");
  }
  return out.join("\n");
}
