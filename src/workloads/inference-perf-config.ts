/**
 * Reads a kubernetes-sigs/inference-perf config file the way inference-perf reads it (read at commit 7de5ef2, see
 * ../shared/data/inference-perf/SCHEMA.md for the file:line references; re-implemented from its behaviour, no code
 * copied) and turns it into a plan gatelab can replay: the load (stages, sweep, interval, client concurrency), the data
 * generator, streaming and ignore_eos.
 *
 * inference-perf forbids unknown keys (`extra="forbid"`, inference_perf/config/common.py:21-30), so an unknown key is
 * an error here too. Keys that change the load but that gatelab cannot replay (multimodal payloads, OTel/Weka trace
 * sessions, Hugging Face datasets, trace_replay timers) are refused naming the key. Keys that do not change the load
 * (server URL, storage, Prometheus scraping, tokenizer, headers) are "recognised, not simulated" and listed in `notes`.
 */
import { readFileSync } from "node:fs";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { InputError, schemaIssueText } from "../errors.ts";
import { MAX_RUN_REQUESTS } from "./types.ts";

/** `Distribution` of inference_perf/config/common.py:33-67 (defaults as there). */
export const IpDistributionSchema = z.strictObject({
  min: z.number().default(10),
  max: z.number().default(1024),
  mean: z.number().default(512),
  std_dev: z.number().nonnegative().optional(),
  variance: z.number().nonnegative().optional(),
  total_count: z.number().int().positive().nullish(),
  type: z.enum(["normal", "skew_normal", "lognormal", "uniform", "poisson", "fixed"]).default("normal"),
  skew: z.number().default(0),
});
export type IpDistribution = z.infer<typeof IpDistributionSchema>;

const LenOrDist = z.union([z.number().int().nonnegative(), IpDistributionSchema]);

/** `SharedPrefix` of inference_perf/config/datagen/config.py:46-102 (aliases accepted as inference-perf does). */
const SharedPrefixSchema = z.strictObject({
  num_groups: z.number().int().positive().optional(),
  num_unique_system_prompts: z.number().int().positive().optional(),
  num_prompts_per_group: z.number().int().positive().optional(),
  num_users_per_system_prompt: z.number().int().positive().optional(),
  system_prompt_len: LenOrDist.default(100),
  question_len: LenOrDist.default(50),
  output_len: LenOrDist.default(50),
  seed: z.number().int().nullish(),
  question_distribution: IpDistributionSchema.nullish(),
  output_distribution: IpDistributionSchema.nullish(),
  enable_multi_turn_chat: z.boolean().default(false),
  multimodal: z.unknown().optional(),
});

const StandardStageSchema = z.strictObject({
  rate: z.number().positive(),
  duration: z.number().positive(),
  num_requests: z.null().optional(),
  concurrency_level: z.null().optional(),
});
const ConcurrentStageSchema = z.strictObject({
  num_requests: z.number().int().positive(),
  concurrency_level: z.number().int().positive(),
  rate: z.null().optional(),
  duration: z.null().optional(),
});

const SweepSchema = z.strictObject({
  type: z.enum(["geometric", "linear"]),
  num_requests: z.number().int().positive().default(2000),
  timeout: z.number().positive().default(60),
  num_stages: z.number().int().positive().default(5),
  stage_duration: z.number().int().positive().default(180),
  saturation_percentile: z.number().min(0).max(100).default(95),
});

const LoadSchema = z.strictObject({
  type: z.enum(["constant", "poisson", "trace_replay", "concurrent", "trace_session_replay"]).default("constant"),
  interval: z.number().nonnegative().default(1.0),
  stages: z.array(z.unknown()).default([]),
  sweep: SweepSchema.nullish(),
  num_workers: z.number().int().nonnegative().optional(),
  worker_max_concurrency: z.number().int().nonnegative().default(100),
  worker_max_tcp_connections: z.number().int().positive().default(2500),
  trace: z.unknown().optional(),
  circuit_breakers: z.array(z.string()).default([]),
  request_timeout: z.number().positive().nullish(),
  lora_traffic_split: z.array(z.strictObject({ name: z.string().min(1), split: z.number().min(0).max(1) })).nullish(),
  base_seed: z.number().int().optional(),
});

const DataSchema = z.strictObject({
  type: z
    .enum([
      "mock",
      "shareGPT",
      "synthetic",
      "random",
      "shared_prefix",
      "cnn_dailymail",
      "infinity_instruct",
      "billsum_conversations",
      "otel_trace_replay",
      "weka_trace_replay",
      "conversation_replay",
      "visionarena",
    ])
    .default("mock"),
  path: z.string().nullish(),
  corpus_file_path: z.string().nullish(),
  input_distribution: IpDistributionSchema.nullish(),
  output_distribution: IpDistributionSchema.nullish(),
  shared_prefix: SharedPrefixSchema.nullish(),
  multimodal: z.unknown().optional(),
  trace: z.unknown().optional(),
  otel_trace_replay: z.unknown().optional(),
  weka_trace_replay: z.unknown().optional(),
  conversation_replay: z.unknown().optional(),
  visionarena: z.unknown().optional(),
  use_chat_template: z.boolean().default(false),
});

const ApiSchema = z.strictObject({
  type: z.enum(["completion", "chat", "anthropic_messages"]).default("completion"),
  streaming: z.boolean().default(false),
  headers: z.record(z.string(), z.unknown()).nullish(),
  slo_unit: z.string().nullish(),
  slo_tpot_header: z.string().nullish(),
  slo_ttft_header: z.string().nullish(),
  response_format: z.unknown().optional(),
  session_id_header_key: z.string().nullish(),
  session_token_header_key: z.string().nullish(),
});

const ServerSchema = z.strictObject({
  type: z.enum(["vllm", "sglang", "tgi", "mock"]).default("vllm"),
  model_name: z.string().nullish(),
  base_url: z.string().optional(),
  ignore_eos: z.boolean().default(true),
  api_key: z.string().nullish(),
  cert_path: z.string().nullish(),
  key_path: z.string().nullish(),
});

const GoodputSchema = z.strictObject({
  constraints: z.partialRecord(z.enum(["ttft", "tpot", "itl", "ntpot", "request_latency"]), z.number().positive()),
});

const ReportSchema = z.strictObject({
  request_lifecycle: z
    .strictObject({
      summary: z.boolean().default(true),
      per_stage: z.boolean().default(true),
      per_request: z.boolean().default(false),
      per_adapter: z.boolean().default(true),
      per_adapter_stage: z.boolean().default(false),
      percentiles: z.array(z.number().min(0).max(100)).default([0.1, 1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9]),
      use_server_output_tokens: z.boolean().default(false),
      max_error_messages: z.number().int().nonnegative().default(100),
    })
    .default({
      summary: true,
      per_stage: true,
      per_request: false,
      per_adapter: true,
      per_adapter_stage: false,
      percentiles: [0.1, 1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9],
      use_server_output_tokens: false,
      max_error_messages: 100,
    }),
  prometheus: z.strictObject({ summary: z.boolean().default(true), per_stage: z.boolean().default(false) }).nullish(),
  session_lifecycle: z.unknown().optional(),
  goodput: GoodputSchema.nullish(),
});

/** Top level (inference_perf/config/config.py:39-60). */
const ConfigSchema = z.strictObject({
  api: ApiSchema.default({ type: "completion", streaming: false }),
  data: DataSchema.default({ type: "mock", use_chat_template: false }),
  load: LoadSchema.default({
    type: "constant",
    interval: 1,
    stages: [],
    worker_max_concurrency: 100,
    worker_max_tcp_connections: 2500,
    circuit_breakers: [],
  }),
  metrics: z.unknown().optional(),
  report: ReportSchema.optional(),
  storage: z.unknown().optional(),
  server: ServerSchema.nullish(),
  tokenizer: z.unknown().optional(),
  circuit_breakers: z.unknown().optional(),
});
export type IpRawConfig = z.infer<typeof ConfigSchema>;

/** Length spec: a constant or an inference-perf Distribution. */
export type IpLen = number | IpDistribution;

export type IpData =
  | {
      readonly type: "shared_prefix";
      readonly groups: number;
      readonly perGroup: number;
      readonly systemLen: IpLen;
      readonly questionLen: IpLen;
      readonly outputLen: IpLen;
      readonly multiTurn: boolean;
      readonly seed: number | undefined;
    }
  | {
      readonly type: "random" | "synthetic";
      readonly input: IpDistribution;
      readonly output: IpDistribution;
    }
  | { readonly type: "mock" };

export interface IpStage {
  readonly rate: number;
  readonly duration: number;
  /** Concurrent stages: the client-side concurrency (replaces num_workers × worker_max_concurrency). */
  readonly concurrency?: number;
}

/**
 * Bounds on a config's size (inference-perf sets none; these keep a run finite and its memory bounded, far beyond any
 * published config: the demos sweep 5–10 stages of 60–180 s): requests a run over all its stages (`MAX_RUN_REQUESTS`,
 * a scenario's own bound: a stage's arrival times are an array of its requests), stages, seconds a stage lasts or
 * waits, prompts of a shared-prefix data set. Without them `num_stages: 1000000` or `interval: 1e12` ran without end
 * and `stage_duration: 1e12` or `num_unique_system_prompts: 1e9` were internal errors.
 */
const IP_MAX_STAGES = 1000;
const IP_MAX_STAGE_S = 1e6;
const IP_MAX_INTERVAL_S = 86_400;
const IP_MAX_PROMPTS = 10_000_000;

export interface IpSweep {
  readonly type: "geometric" | "linear";
  readonly numRequests: number;
  readonly timeout: number;
  readonly numStages: number;
  readonly stageDuration: number;
  readonly saturationPercentile: number;
}

export interface IpPlan {
  readonly file: string;
  readonly loadType: "constant" | "poisson" | "concurrent";
  readonly stages: readonly IpStage[];
  readonly sweep: IpSweep | undefined;
  readonly interval: number;
  readonly numWorkers: number;
  readonly workerMaxConcurrency: number;
  /** Client-side in-flight cap of standard stages: num_workers × worker_max_concurrency (0 = unlimited). */
  readonly cap: number;
  readonly data: IpData;
  readonly streaming: boolean;
  readonly ignoreEos: boolean;
  readonly lora: readonly { name: string; split: number }[] | undefined;
  readonly percentiles: readonly number[];
  readonly goodput: Partial<Record<"ttft" | "tpot" | "itl" | "ntpot" | "request_latency", number>> | undefined;
  /** Keys read and accepted but not simulated (they do not change the load gatelab replays). */
  readonly notes: readonly string[];
}

/** inference-perf's default `num_workers` is the client's CPU count (loadgen/config.py:173-176); unknown here. */
export const DEFAULT_NUM_WORKERS = 8;

/** Config sections gatelab cannot replay: key → why. */
function unsupported(raw: IpRawConfig): string | undefined {
  const d = raw.data;
  switch (d.type) {
    case "otel_trace_replay":
    case "weka_trace_replay":
      return `data.type: "${d.type}" (OTel/Weka agentic trace session replay) is not supported by gatelab's inference-perf reader; replay the trace with a gatelab \`trace\` workload instead`;
    case "conversation_replay":
      return `data.type: "conversation_replay" (multi-turn tool-calling conversation replay) is not supported; use a gatelab \`agent\` workload`;
    case "visionarena":
      return `data.type: "visionarena" (multimodal image dataset) is not supported: gatelab does not simulate image inputs`;
    case "shareGPT":
    case "cnn_dailymail":
    case "infinity_instruct":
    case "billsum_conversations":
      return `data.type: "${d.type}" needs a tokenized Hugging Face dataset, which gatelab cannot read; convert it to a gatelab jsonl trace (input/output token counts) and use a \`trace\` workload`;
    default:
      break;
  }
  if (d.multimodal !== undefined && d.multimodal !== null)
    return "data.multimodal: multimodal payloads (images, video, audio) are not supported: gatelab does not simulate encoder inputs";
  if (d.shared_prefix?.multimodal !== undefined && d.shared_prefix.multimodal !== null)
    return "data.shared_prefix.multimodal: multimodal shared prefixes are not supported: gatelab does not simulate encoder inputs";
  if (d.trace !== undefined && d.trace !== null)
    return "data.trace: prompt-length traces for the random generator are not supported; use a gatelab `trace` workload";
  if (d.use_chat_template) return "data.use_chat_template: chat-template wrapping is not supported";
  if (raw.load.type === "trace_replay")
    return 'load.type: "trace_replay" (timestamps from an Azure trace) is not supported here; replay the trace with a gatelab `trace` workload (format azure)';
  if (raw.load.type === "trace_session_replay") return 'load.type: "trace_session_replay" is not supported';
  return undefined;
}

function notesFor(raw: IpRawConfig, plan: { numWorkersGiven: boolean }): string[] {
  const n: string[] = [];
  const s = raw.server;
  if (s) {
    n.push("server.base_url/model_name/api_key: recognised, not simulated (the scenario's cluster serves the load)");
    if (s.type !== "vllm")
      n.push(`server.type "${s.type}": recognised, not simulated (gatelab simulates vLLM replicas)`);
    if (!s.ignore_eos)
      n.push("server.ignore_eos false: recognised, not simulated (every output runs to its max_tokens, as with true)");
  }
  if (raw.api.type !== "completion")
    n.push(`api.type "${raw.api.type}": recognised, not simulated (chat-template tokens are not added)`);
  if (raw.api.response_format !== undefined && raw.api.response_format !== null)
    n.push("api.response_format: recognised, not simulated (structured-output decoding cost is not modelled)");
  if (raw.api.headers) n.push("api.headers: recognised, not simulated");
  if (raw.api.slo_ttft_header || raw.api.slo_tpot_header)
    n.push("api.slo_*_header: recognised, not simulated (gatelab's SLO classes come from the scenario)");
  if (raw.metrics !== undefined && raw.metrics !== null)
    n.push("metrics: recognised, not simulated (gatelab samples its own replica gauges)");
  if (raw.storage !== undefined && raw.storage !== null) n.push("storage: recognised, not simulated (use --out)");
  if (raw.tokenizer !== undefined && raw.tokenizer !== null) n.push("tokenizer: recognised, not simulated");
  if (raw.load.circuit_breakers.length > 0 || (raw.circuit_breakers !== undefined && raw.circuit_breakers !== null))
    n.push("circuit_breakers: recognised, not simulated (stages are never cut short)");
  if (raw.load.request_timeout)
    n.push("load.request_timeout: recognised, not simulated (client requests never time out)");
  if (raw.load.base_seed !== undefined)
    n.push("load.base_seed: recognised, not simulated (the scenario's seed is used)");
  if (!plan.numWorkersGiven)
    n.push(
      `load.num_workers: not given; inference-perf uses the client's CPU count, gatelab assumes ${DEFAULT_NUM_WORKERS}`,
    );
  if (raw.data.type === "mock")
    n.push('data.type mock: prompts "1 2 3 i" (assumed 8 tokens) with no max_tokens; gatelab assumes 16 output tokens');
  return n;
}

/**
 * A zod issue in the config's terms (`schemaIssueText`: "missing (expected number)", "expected number, got \"ten\""),
 * unknown keys as inference-perf rejects them. `root`: the object the issue's path starts from.
 */
function issueText(issue: z.core.$ZodIssue, root: unknown): string {
  if (issue.code === "unrecognized_keys")
    return `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")} (inference-perf forbids unknown keys)`;
  return schemaIssueText(issue, root);
}

/** Line of the YAML node at `path` (or its nearest ancestor). */
function lineOf(
  doc: ReturnType<typeof parseDocument>,
  lc: LineCounter,
  path: readonly PropertyKey[],
): number | undefined {
  for (let k = path.length; k >= 0; k--) {
    const node = doc.getIn(path.slice(0, k) as (string | number)[], true) as {
      range?: [number, number, number];
    } | null;
    if (node && typeof node === "object" && node.range) return lc.linePos(node.range[0]).line;
  }
  return undefined;
}

/** inference-perf's Helm chart values (deploy/inference-perf/values.yaml): the config is the value of `config:`. */
function isHelmValues(obj: Record<string, unknown>): boolean {
  return "config" in obj && "job" in obj;
}

/** An llm-d-benchmark template: `endpoint:`, `harness:`, `workload: {<name>: <inference-perf config>}`. */
function isLlmdBenchmarkTemplate(obj: Record<string, unknown>): boolean {
  return "workload" in obj && ("harness" in obj || "endpoint" in obj);
}

/**
 * Which of the shapes this loader reads a top-level mapping has, in words (undefined: none): a plain config (`load`
 * with `api`, `data` or `server`), Helm values or an llm-d-benchmark template. The scenario loader names them when one
 * is given as a scenario.
 */
export function inferencePerfShape(obj: Record<string, unknown>): string | undefined {
  const ipKeys = ["api", "data", "server"].filter((k) => k in obj);
  if ("load" in obj && ipKeys.length > 0) return `an inference-perf config (load, ${ipKeys.join(", ")})`;
  if (isHelmValues(obj)) return "inference-perf's Helm values (config, job)";
  if (isLlmdBenchmarkTemplate(obj)) return "an llm-d-benchmark template (endpoint, harness, workload)";
  return undefined;
}

/**
 * inference-perf's Helm values wrap the config in `config:`; an llm-d-benchmark template (`endpoint:`, `harness:`, `workload: {<name>: <inference-perf config>}`): the config is
 * the value under `workload.<name>` (the first one unless `name` is given).
 */
function unwrapLlmd(obj: Record<string, unknown>, name: string | undefined): { config: unknown; path: string[] } {
  if (isHelmValues(obj) && typeof obj.config === "object" && obj.config !== null)
    return { config: obj.config, path: ["config"] };
  if (!isLlmdBenchmarkTemplate(obj)) return { config: obj, path: [] };
  const w = obj.workload;
  if (typeof w !== "object" || w === null) return { config: obj, path: [] };
  const keys = Object.keys(w);
  const pick = name ?? keys[0];
  if (pick === undefined || !(pick in w))
    throw new InputError(
      `workload.${name}: no such workload in the llm-d-benchmark template (has: ${keys.join(", ") || "none"})`,
    );
  return { config: (w as Record<string, unknown>)[pick], path: ["workload", pick] };
}

/** Parses and validates an inference-perf config file. Throws `InputError` naming file, line and key. */
export function loadInferencePerfConfig(absPath: string, shown: string, workloadName?: string): IpPlan {
  let text: string;
  try {
    text = readFileSync(absPath, "utf8");
  } catch (e) {
    throw new InputError(`${shown}: cannot read the inference-perf config (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  return parseInferencePerfConfig(text, shown, workloadName);
}

export function parseInferencePerfConfig(text: string, file: string, workloadName?: string): IpPlan {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = lc.linePos(e.pos[0]);
    throw new InputError(`${file}:${pos.line}: invalid YAML: ${e.message.split("\n")[0]}`);
  }
  const top = doc.toJS({ maxAliasCount: 1000 }) as unknown;
  if (typeof top !== "object" || top === null || Array.isArray(top))
    throw new InputError(`${file}: expected an inference-perf config (a mapping with load, data, api, server, …)`);
  const { config, path: prefix } = unwrapLlmd(top as Record<string, unknown>, workloadName);
  const r = ConfigSchema.safeParse(config);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const path = [...prefix, ...issue.path];
    const line = lineOf(doc, lc, path);
    throw new InputError(
      `${file}${line !== undefined ? `:${line}` : ""}: ${path.map(String).join(".") || "(top)"}: ${issueText(issue, config)}`,
    );
  }
  const raw = r.data;
  const refused = unsupported(raw);
  if (refused !== undefined) throw new InputError(`${file}: ${refused}`);
  return toPlan(raw, file, doc, lc, prefix);
}

function toPlan(
  raw: IpRawConfig,
  file: string,
  doc: ReturnType<typeof parseDocument>,
  lc: LineCounter,
  prefix: string[],
): IpPlan {
  const at = (path: PropertyKey[], msg: string): InputError => {
    const full = [...prefix, ...path];
    const line = lineOf(doc, lc, full);
    return new InputError(`${file}${line !== undefined ? `:${line}` : ""}: ${full.map(String).join(".")}: ${msg}`);
  };
  const load = raw.load;
  const type = load.type as "constant" | "poisson" | "concurrent";
  const stages: IpStage[] = [];
  load.stages.forEach((s, i) => {
    const schema = type === "concurrent" ? ConcurrentStageSchema : StandardStageSchema;
    const r = schema.safeParse(s);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw at(["load", "stages", i, ...issue.path], issueText(issue, s));
    }
    if (type === "concurrent") {
      const c = r.data as z.infer<typeof ConcurrentStageSchema>;
      // main.py:142-151: a concurrent stage enqueues everything within one second.
      stages.push({ rate: c.num_requests, duration: 1, concurrency: c.concurrency_level });
    } else {
      const c = r.data as z.infer<typeof StandardStageSchema>;
      stages.push({ rate: c.rate, duration: c.duration });
    }
  });
  const sweep = load.sweep ?? undefined;
  if (stages.length > IP_MAX_STAGES)
    throw at(["load", "stages"], `${stages.length} stages; at most ${IP_MAX_STAGES.toLocaleString("en-US")} accepted`);
  let total = 0;
  stages.forEach((st, i) => {
    if (type !== "concurrent" && st.duration > IP_MAX_STAGE_S)
      throw at(
        ["load", "stages", i, "duration"],
        `${st.duration} s is more than the most accepted, ${IP_MAX_STAGE_S.toLocaleString("en-US")} s (11.6 days) a stage`,
      );
    total += Math.trunc(st.rate * st.duration);
    if (total > MAX_RUN_REQUESTS)
      throw at(
        ["load", "stages", i, type === "concurrent" ? "num_requests" : "rate"],
        `${total.toLocaleString("en-US")} requests up to this stage; at most ${MAX_RUN_REQUESTS.toLocaleString("en-US")} a run accepted`,
      );
  });
  if (sweep) {
    if (sweep.num_stages > IP_MAX_STAGES)
      throw at(
        ["load", "sweep", "num_stages"],
        `${sweep.num_stages} is more than the most accepted, ${IP_MAX_STAGES.toLocaleString("en-US")} stages`,
      );
    for (const k of ["stage_duration", "timeout"] as const)
      if (sweep[k] > IP_MAX_STAGE_S)
        throw at(
          ["load", "sweep", k],
          `${sweep[k]} s is more than the most accepted, ${IP_MAX_STAGE_S.toLocaleString("en-US")} s (11.6 days)`,
        );
  }
  if (load.interval > IP_MAX_INTERVAL_S)
    throw at(
      ["load", "interval"],
      `${load.interval} s is more than the most accepted, ${IP_MAX_INTERVAL_S.toLocaleString("en-US")} s (a day between stages)`,
    );
  if (sweep && type === "concurrent")
    throw at(["load", "sweep"], "a sweep cannot be combined with load.type concurrent");
  if (stages.length === 0 && !sweep)
    throw at(["load"], "expected load.stages or load.sweep (inference-perf needs one)");
  if (stages.length > 0 && sweep) throw at(["load", "sweep"], "give load.stages or load.sweep, not both");
  if (load.lora_traffic_split) {
    const sum = load.lora_traffic_split.reduce((a, x) => a + x.split, 0);
    if (Math.abs(sum - 1) > 1e-9) throw at(["load", "lora_traffic_split"], `splits must sum to 1.0, got ${sum}`);
  }
  const data = toData(raw, at);
  const numWorkers = load.num_workers ?? DEFAULT_NUM_WORKERS;
  // num_workers 0 is inference-perf's single-process path; a worker count of at least one keeps the cap finite.
  const cap = type === "concurrent" ? 0 : Math.max(1, numWorkers) * load.worker_max_concurrency;
  return {
    file,
    loadType: type,
    stages,
    sweep: sweep
      ? {
          type: sweep.type,
          numRequests: sweep.num_requests,
          timeout: sweep.timeout,
          numStages: sweep.num_stages,
          stageDuration: sweep.stage_duration,
          saturationPercentile: sweep.saturation_percentile,
        }
      : undefined,
    interval: load.interval,
    numWorkers,
    workerMaxConcurrency: load.worker_max_concurrency,
    cap,
    data,
    streaming: raw.api.streaming,
    ignoreEos: raw.server?.ignore_eos ?? true,
    lora: load.lora_traffic_split ?? undefined,
    percentiles: raw.report?.request_lifecycle.percentiles ?? [0.1, 1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9],
    goodput: raw.report?.goodput?.constraints ?? undefined,
    notes: notesFor(raw, { numWorkersGiven: load.num_workers !== undefined }),
  };
}

function toData(raw: IpRawConfig, at: (path: PropertyKey[], msg: string) => InputError): IpData {
  const d = raw.data;
  if (d.type === "shared_prefix") {
    const sp = d.shared_prefix;
    if (!sp) throw at(["data", "shared_prefix"], "data.type shared_prefix needs a data.shared_prefix section");
    if (sp.question_distribution && typeof sp.question_len === "object")
      throw at(["data", "shared_prefix", "question_distribution"], "give question_len or question_distribution");
    if (sp.output_distribution && typeof sp.output_len === "object")
      throw at(["data", "shared_prefix", "output_distribution"], "give output_len or output_distribution");
    const groups = sp.num_groups ?? sp.num_unique_system_prompts ?? 10;
    const perGroup = sp.num_prompts_per_group ?? sp.num_users_per_system_prompt ?? 10;
    if (groups * perGroup > IP_MAX_PROMPTS) {
      const key = sp.num_groups !== undefined ? "num_groups" : "num_unique_system_prompts";
      throw at(
        ["data", "shared_prefix", key],
        `${groups.toLocaleString("en-US")} groups × ${perGroup.toLocaleString("en-US")} prompts each; at most ` +
          `${IP_MAX_PROMPTS.toLocaleString("en-US")} prompts accepted`,
      );
    }
    return {
      type: "shared_prefix",
      groups,
      perGroup,
      systemLen: sp.system_prompt_len,
      questionLen: sp.question_distribution ?? sp.question_len,
      outputLen: sp.output_distribution ?? sp.output_len,
      multiTurn: sp.enable_multi_turn_chat,
      seed: sp.seed ?? undefined,
    };
  }
  if (d.type === "random" || d.type === "synthetic") {
    if (!d.input_distribution) throw at(["data", "input_distribution"], `data.type ${d.type} needs input_distribution`);
    if (!d.output_distribution)
      throw at(["data", "output_distribution"], `data.type ${d.type} needs output_distribution`);
    for (const [k, v] of [
      ["input_distribution", d.input_distribution],
      ["output_distribution", d.output_distribution],
    ] as const)
      if (v.min > v.max) throw at(["data", k, "min"], `min (${v.min}) must not exceed max (${v.max})`);
    return { type: d.type, input: d.input_distribution, output: d.output_distribution };
  }
  return { type: "mock" };
}
