/**
 * Scenario files (YAML): the cluster (pools of replicas), the gateway, the workload, SLOs, seed and length of the run.
 * Validated strictly with zod; every error names the file, the line and the field, and says what was expected.
 */
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { InputError, numberBoundText, readTextInput } from "./errors.ts";
import { findGpu, findModel, listGpus, listModels } from "./models/catalog.ts";
import { CostModelSchema } from "./models/cost-factory.ts";
import { KV_LINKS } from "./models/kv-transfer.ts";
import { DEFAULT_MAX_LORA_RANK, DEFAULT_TARGET_MODULES, TARGET_MODULES, VLLM_MAX_LORA_RANKS } from "./models/lora.ts";
import { SCHEDULING_POLICIES } from "./models/seq.ts";
import { ENGINE_DEFAULTS } from "./models/vllm-defaults.ts";
import { ClientsSchema, GatewayAdmissionFields, SloClassesSchema } from "./policies/flow-control/schema.ts";
import { GatewaySchema } from "./policies/schema.ts";
import { scenarioBoundIssues, zeroLengthIssues } from "./scenario-bounds.ts";
import { DEFAULT_SCENARIO_YAML } from "./scenarios-embedded.ts";
import { didYouMean } from "./suggest.ts";
import { inferencePerfShape } from "./workloads/inference-perf-config.ts";
import { WorkloadSchema } from "./workloads/schema.ts";

/** vLLM engine knobs, by their real names. Defaults are vLLM V1's unless noted. */
export const EngineSchema = z
  .object({
    /**
     * Where absent `max_num_seqs` / `max_num_batched_tokens` come from: `vllm` (default) — what `vllm serve` picks for
     * the pool's GPU today (8192 / 1024 on H100 and H200, 2048 / 256 on A100 and smaller; `src/models/vllm-defaults.ts`);
     * `vllm-legacy` — 2048 / 256 everywhere (vLLM's older server defaults, BLIS's).
     */
    defaults: z.enum(ENGINE_DEFAULTS).default("vllm"),
    /** Most requests running at once; absent: see `defaults`. */
    max_num_seqs: z.number().int().positive().optional(),
    /** Token budget per step; absent: see `defaults`. */
    max_num_batched_tokens: z.number().int().positive().optional(),
    /** vLLM `--scheduling-policy`: `fcfs` (default) or `priority` (waiting queue by (priority, arrival); preemption
     * takes the lowest-priority, latest-arrived running request). The request's `priority` is EPP-style (higher =
     * more important), i.e. vLLM's priority negated. */
    scheduling_policy: z.enum(SCHEDULING_POLICIES).default("fcfs"),
    /** vLLM `--async-scheduling` (on by default since vLLM 0.14): step N+1 is scheduled while step N runs
     * (`src/models/async-scheduling.ts`). */
    async_scheduling: z.boolean().default(true),
    /** CPU work per step that async scheduling hides, added to every step when it is off (default ≈ 5.4 ms at
     * batch 256: 0 per step + 0.021 ms per request, from vLLM issue #10634 / PR #11133). */
    sync_cpu_overhead: z
      .strictObject({ per_step_ms: z.number().nonnegative().default(0), per_request_ms: z.number().nonnegative() })
      .optional(),
    /** vLLM `--enforce-eager` (default false): no CUDA graphs; the roofline cost model prices the step's all-reduces
     * launched eagerly (`withEngineStack` in src/models/cost-roofline.ts). */
    enforce_eager: z.boolean().default(false),
    /** vLLM `--disable-custom-all-reduce` (default false): TP all-reduces go through NCCL instead of vLLM's one-shot
     * custom kernel (roofline cost model only). Splitwise's 2023 stack = enforce_eager + disable_custom_all_reduce. */
    disable_custom_all_reduce: z.boolean().default(false),
    /** vLLM default 16 tokens. */
    block_size: z.number().int().positive().default(16),
    enable_prefix_caching: z.boolean().default(true),
    enable_chunked_prefill: z.boolean().default(true),
    long_prefill_token_threshold: z.number().int().nonnegative().default(0),
    /** Default: the model's `max_position_embeddings`. */
    max_model_len: z.number().int().positive().optional(),
    /** vLLM default 0.9. */
    gpu_memory_utilization: z.number().gt(0).lte(1).default(0.9),
    /** KV cache size in blocks per replica; derived from GPU memory, weights and TP when absent. */
    total_kv_blocks: z.number().int().positive().optional(),
    /** CPU KV offload tier in blocks (vLLM CPU offloading; the calibration set's `cpu_kv_blocks`): evicted blocks move
     * there and are loaded back at host-to-GPU bandwidth instead of being recomputed. 0 = off. */
    cpu_kv_blocks: z.number().int().nonnegative().optional(),
    /**
     * LoRA (vLLM `--enable-lora --max-loras N`): GPU adapter slots, i.e. the most distinct adapters among running
     * requests. Absent: LoRA off (requests' adapters are ignored).
     */
    max_loras: z.number().int().positive().optional(),
    /** `--max-cpu-loras`: adapters kept in host memory; vLLM default `max_loras`; must be ≥ `max_loras`. */
    max_cpu_loras: z.number().int().positive().optional(),
    /** `--max-lora-rank`: vLLM default 16; one of vLLM's accepted ranks. */
    max_lora_rank: z
      .number()
      .int()
      .refine((r) => (VLLM_MAX_LORA_RANKS as readonly number[]).includes(r), {
        message: `expected one of vLLM's max_lora_rank values ${VLLM_MAX_LORA_RANKS.join(", ")}`,
      })
      .optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    if (e.max_loras === undefined) {
      for (const k of ["max_cpu_loras", "max_lora_rank"] as const) {
        if (e[k] !== undefined) ctx.addIssue({ code: "custom", path: [k], message: "needs max_loras (LoRA is off)" });
      }
    } else if (e.max_cpu_loras !== undefined && e.max_cpu_loras < e.max_loras) {
      ctx.addIssue({
        code: "custom",
        path: ["max_cpu_loras"],
        message: `must be ≥ max_loras (${e.max_loras}), as vLLM requires`,
      });
    }
  });

/**
 * Adapters a pool serves (with `engine.max_loras`): rank per adapter (others get `default_rank`), the modules they
 * adapt (their size, hence load time), and overrides of the calibrated load and step costs (`src/models/lora.ts`).
 */
export const LoraPoolSchema = z.strictObject({
  /** Rank of adapters not listed in `adapters` (the calibration data's rank). */
  default_rank: z.number().int().positive().default(8),
  /** Adapter name → rank (≤ engine.max_lora_rank). */
  adapters: z.record(z.string().min(1), z.number().int().positive()).default({}),
  /** Modules each adapter targets (PEFT default for Llama: q_proj, v_proj). */
  target_modules: z
    .array(z.enum(TARGET_MODULES))
    .min(1)
    .default([...DEFAULT_TARGET_MODULES]),
  load: z
    .strictObject({
      /** Fixed host → GPU latency per load, ms (default: the fit minus the rank-8 transfer). */
      host_to_gpu_ms: z.number().nonnegative().optional(),
      /** Fixed disk → host latency per load, ms. */
      disk_to_host_ms: z.number().nonnegative().optional(),
      pcie_gb_s: z.number().positive().optional(),
      disk_gb_s: z.number().positive().optional(),
    })
    .optional(),
  step_overhead: z
    .strictObject({
      fixed_ms: z.number().nonnegative().optional(),
      per_seq_ms: z.number().nonnegative().optional(),
      per_adapter_ms: z.number().nonnegative().optional(),
    })
    .optional(),
});

export const PoolSchema = z
  .object({
    name: z.string().min(1).default("main"),
    /**
     * Model name from the catalog (`gatelab models` lists them), e.g. `llama-3.1-8b-instruct`, or a path ending in
     * `.json` to a Hugging Face config.json, relative to the scenario file (checked when the pool is built).
     */
    model: z
      .string()
      .min(1)
      .refine((m) => m.endsWith(".json") || findModel(m) !== undefined, {
        error: (iss) =>
          `unknown model "${String(iss.input)}"; accepted: ${listModels()
            .map((m) => m.name)
            .join(", ")}`,
      }),
    /** GPU type: H100, H200, A100-80GB, L40S. */
    gpu: z
      .string()
      .min(1)
      .refine((g) => findGpu(g) !== undefined, {
        error: (iss) =>
          `unknown GPU "${String(iss.input)}"; accepted: ${listGpus()
            .map((g) => g.name)
            .join(", ")}`,
      })
      .default("H100"),
    /** Tensor parallelism (GPUs per replica). */
    tp: z.number().int().positive().default(1),
    replicas: z.number().int().positive(),
    /**
     * Data-parallel engine ranks per replica (vLLM `--data-parallel-size`; default 1): each replica is a pod running
     * this many engine cores, each with its own KV cache, queue and batch (each rank is a gatelab replica of `tp`
     * GPUs). See docs/gateway.md "Data-parallel ranks".
     */
    data_parallel_size: z.number().int().min(1).max(64).optional(),
    /**
     * What the router sees of a DP pod: `pod` (default; one endpoint, the pod's one API port, vLLM's internal DP load
     * balancer picks the rank) or `ranks` (one endpoint per rank, as an InferencePool whose `targetPorts` lists one
     * port per rank). An EndpointPickerConfig with `data-parallel-profile-handler` also addresses ranks.
     */
    data_parallel_endpoints: z.enum(["pod", "ranks"]).optional(),
    engine: EngineSchema.default(EngineSchema.parse({})),
    cost_model: CostModelSchema.optional(),
    /** Price of one GPU-hour in dollars (a replica costs tp × this). 0 = cost not reported. */
    gpu_hour_usd: z.number().nonnegative().default(0),
    /** LoRA adapters served (needs `engine.max_loras`). */
    lora: LoraPoolSchema.optional(),
    /**
     * Pod labels of the pool's replicas, as the Endpoint Picker's label filters see them, e.g.
     * `llm-d.ai/role: prefill | decode | both` for P/D role filters.
     */
    labels: z.record(z.string(), z.string()).default({}),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.data_parallel_endpoints !== undefined && (p.data_parallel_size ?? 1) === 1) {
      ctx.addIssue({
        code: "custom",
        path: ["data_parallel_endpoints"],
        message: "needs data_parallel_size > 1 (a pod with one engine rank has one endpoint)",
      });
    }
    if ((p.data_parallel_size ?? 1) > 1 && p.lora !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["data_parallel_size"],
        message: "recognised, not simulated: LoRA adapters on data-parallel pools",
      });
    }
    if (p.lora === undefined) return;
    if (p.engine.max_loras === undefined) {
      ctx.addIssue({ code: "custom", path: ["lora"], message: "needs engine.max_loras (LoRA is off)" });
      return;
    }
    const maxRank = p.engine.max_lora_rank ?? DEFAULT_MAX_LORA_RANK;
    if (p.lora.default_rank > maxRank) {
      ctx.addIssue({
        code: "custom",
        path: ["lora", "default_rank"],
        message: `rank ${p.lora.default_rank} exceeds engine.max_lora_rank ${maxRank}`,
      });
    }
    for (const [name, rank] of Object.entries(p.lora.adapters)) {
      if (rank > maxRank) {
        ctx.addIssue({
          code: "custom",
          path: ["lora", "adapters", name],
          message: `rank ${rank} exceeds engine.max_lora_rank ${maxRank}`,
        });
      }
    }
  });

/**
 * P/D disaggregation: the link a prompt's KV moves over from a prefill pod to a decode pod (`src/models/kv-transfer.ts`).
 * `link: rdma` (default; NIXL over a 400 Gb/s ConnectX-7 NIC per GPU: 50 GB/s) or `nvlink` (450 GB/s per direction);
 * `bandwidth_gb_s` (GB/s per GPU, one direction) and `latency_us` (per transfer, default 50) override the link's.
 */
export const KvTransferSchema = z.strictObject({
  link: z.enum(KV_LINKS, { error: `expected one of ${KV_LINKS.join(", ")}` }).default("rdma"),
  bandwidth_gb_s: z.number().positive().optional(),
  latency_us: z.number().nonnegative().optional(),
});

/** Latency targets; `*_ms` on the named percentile of the cluster summary. */
export const SloSchema = z
  .object({
    ttft_p50_ms: z.number().positive().optional(),
    ttft_p95_ms: z.number().positive().optional(),
    ttft_p99_ms: z.number().positive().optional(),
    e2e_p95_ms: z.number().positive().optional(),
    e2e_p99_ms: z.number().positive().optional(),
    itl_p95_ms: z.number().positive().optional(),
    tpot_p95_ms: z.number().positive().optional(),
    /** Minimum share of requests completed (not rejected or dropped), 0..1. */
    min_completed_fraction: z.number().min(0).max(1).optional(),
    /** Per SLO class targets (`interactive`, `batch`, user-defined); see `src/policies/flow-control/schema.ts`. */
    classes: SloClassesSchema.optional(),
  })
  .strict();

export const ScenarioSchema = z
  .object({
    name: z.string().default("scenario"),
    description: z.string().default(""),
    seed: z.number().int().nonnegative().default(42),
    /** Stop generating requests after this many (open-loop). */
    requests: z.number().int().positive().optional(),
    /** Stop generating requests after this many simulated seconds (in-flight requests still finish). */
    duration_s: z.number().positive().optional(),
    pools: z.array(PoolSchema).min(1),
    gateway: GatewaySchema.safeExtend(GatewayAdmissionFields).default(GatewaySchema.parse({})),
    workload: WorkloadSchema,
    slos: SloSchema.default({}),
    /** Client retry behaviour per SLO class or workload component (absent: clients do not retry). */
    clients: ClientsSchema.optional(),
    /** P/D disaggregation: the KV transfer link (absent: NIXL over RDMA defaults). */
    kv_transfer: KvTransferSchema.optional(),
    /** Period of the per-replica time series (queue, running, KV usage) used by charts. */
    sample_interval_s: z.number().positive().default(1),
  })
  .strict()
  // An inference-perf workload ends by itself (its stages are finite).
  .refine(
    (s) =>
      s.requests !== undefined ||
      s.duration_s !== undefined ||
      ("type" in s.workload && s.workload.type === "inference-perf"),
    {
      message: "expected `requests` or `duration_s` (how long to generate traffic)",
    },
  );

export type Scenario = z.infer<typeof ScenarioSchema>;
export type PoolConfig = z.infer<typeof PoolSchema>;

export interface LoadedScenario {
  readonly scenario: Scenario;
  /** Folder of the scenario file (relative paths inside it resolve from here). */
  readonly baseDir: string;
  /** File name for messages (`<embedded default>` for the built-in one). */
  readonly file: string;
}

/** Repository/package root (folder with package.json), from this module's location. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(resolve(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}

/**
 * When a file given as the scenario looks like a request trace (a trace file's extension, or a first line that is a
 * whole JSON object or a CSV header), how to use it instead; else "". Not `.json`: baselines and coefficient files
 * are JSON too.
 */
function traceHint(file: string, text: string): string {
  const first = text.slice(0, 4096).split("\n", 1)[0]!.trim();
  const looks =
    /\.(jsonl|ndjson|csv|tsv)$/i.test(file) ||
    (first.startsWith("{") && first.endsWith("}")) ||
    (/^[\w ."-]+(,[\w ."-]+)+$/.test(first) && !first.includes(":"));
  return looks
    ? "; this looks like a request trace, not a scenario: replay it from a scenario with `workload: { type: trace, " +
        "format: FORMAT, path: FILE }` (docs/workloads.md, Trace formats), or look at it with `gatelab trace stats FILE`"
    : "";
}

/** Parses and validates scenario YAML text. Throws InputError naming file, line and field. */
export function parseScenario(text: string, file: string, baseDir: string): LoadedScenario {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = lc.linePos(e.pos[0]);
    throw new InputError(
      `${file}:${pos.line}:${pos.col}: invalid YAML: ${e.message.split("\n")[0]}${traceHint(file, text)}`,
    );
  }
  const data = doc.toJS() as unknown;
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new InputError(
      `${file}: expected a mapping at the top level (pools, gateway, workload, …)${traceHint(file, text)}`,
    );
  }
  if (!("pools" in data) && !("workload" in data)) {
    const hint = traceHint(file, text);
    if (hint !== "") throw new InputError(`${file}: expected a scenario (pools, gateway, workload, …)${hint}`);
  }
  const kind = (data as { kind?: unknown }).kind;
  if (kind === "EndpointPickerConfig" || (data as { apiVersion?: unknown }).apiVersion !== undefined) {
    throw new InputError(
      `${file}: this is ${kind === "EndpointPickerConfig" ? "an EndpointPickerConfig" : `a Kubernetes object (kind ${String(kind)})`}, not a scenario; ` +
        "give a scenario file and pass the config with --epp-config (or gateway.epp_config)",
    );
  }
  const ipShape = "pools" in data ? undefined : inferencePerfShape(data as Record<string, unknown>);
  if (ipShape !== undefined) {
    throw new InputError(
      `${file}: this is ${ipShape}, not a scenario; replay it from a scenario that names the servers ` +
        "(`pools:`, and `workload: { type: inference-perf, config: FILE }`, docs/inference-perf.md), or see what " +
        "gatelab reads of it with `gatelab inference-perf check FILE`",
    );
  }
  const parsed = ScenarioSchema.safeParse(data);
  if (!parsed.success) throw new InputError(formatZodError(parsed.error, file, doc, lc));
  checkScenarioBounds(data, file, doc, lc);
  return { scenario: parsed.data, baseDir, file };
}

/** Throws InputError (`file:line: field: …`) when the scenario as written is out of range or contradicts itself. */
export function checkScenarioBounds(data: unknown, file: string, doc?: Doc, lc?: LineCounter): void {
  const issues = [...zeroLengthIssues(data), ...scenarioBoundIssues(data)].slice(0, 5);
  if (issues.length === 0) return;
  throw new InputError(
    issues
      .map((i) => {
        const line = doc && lc ? lineOf(doc, lc, i.path) : undefined;
        return `${line !== undefined ? `${file}:${line}` : file}: ${i.path.join(".")}: ${i.message}`;
      })
      .join("\n"),
  );
}

type Doc = ReturnType<typeof parseDocument>;

/** First zod issue as `file:line: path: message` (line of the offending node when it can be found). */
export function formatZodError(
  err: z.ZodError,
  file: string,
  doc: Doc | undefined,
  lc: LineCounter | undefined,
  schema: z.ZodType = ScenarioSchema,
): string {
  const lines: string[] = [];
  for (const issue of resolveUnions(err.issues, []).slice(0, 5)) {
    let path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
    let msg = issue.message;
    const bound = doc?.hasIn(path) ? numberBoundText(issue, plainValue(doc.getIn(path))) : undefined;
    if (issue.code === "unrecognized_keys") {
      const keys = (issue as { keys: string[] }).keys;
      const known = keysAt(schema, path);
      path = [...path, keys[0]!];
      msg = `unknown field "${keys.join('", "')}"${didYouMean(keys[0]!, known)}`;
    } else if (issue.code === "invalid_type" && / received undefined$/.test(msg)) {
      // zod says "expected number, received undefined" for a field that is simply not there.
      msg = `missing field (expected ${typeName((issue as { expected?: string }).expected)})`;
    } else if (bound !== undefined) {
      // zod: "Too small: expected number to be >0"; say it as a bound and show what is written there.
      msg = bound;
    } else if (choiceOf(issue) !== undefined && doc !== undefined && doc.hasIn(path)) {
      // zod: 'Invalid option: expected one of "a"|"b"' or "Invalid discriminator value. Expected 'a' | 'b'": say
      // the choices plainly, what is written there, and the closest choice.
      const choices = choiceOf(issue)!;
      const found = doc.getIn(path);
      msg = `expected one of ${choices.join(", ")}, got ${written(found)}${typeof found === "string" ? didYouMean(found, choices) : ""}`;
    } else if (issue.code === "invalid_type" && doc !== undefined && doc.hasIn(path)) {
      // A value of the wrong type: say what was expected and show what is written there.
      const found = doc.getIn(path);
      msg = `expected ${typeName((issue as { expected?: string }).expected)}, got ${written(found)}`;
    } else if (
      doc !== undefined &&
      path.length > 0 &&
      issue.code !== "custom" &&
      !doc.hasIn(path) &&
      (doc.hasIn(path.slice(0, -1)) || path.length === 1)
    ) {
      // The field is simply not there (zod reports what it expected of `undefined`).
      msg = `missing field (${msg.replace(/^Invalid (input|discriminator value)[:.]\s*/i, "").replace(/, received undefined$/, "")})`;
    }
    const line = doc && lc ? lineOf(doc, lc, path) : undefined;
    const where = line !== undefined ? `${file}:${line}` : file;
    const field = path.length > 0 ? path.join(".") : "(top level)";
    lines.push(`${where}: ${field}: ${msg}`);
  }
  return lines.join("\n");
}

type Issue = z.core.$ZodIssue;

/** A value as written in the scenario, for "got …" in messages. */
function written(found: unknown): string {
  return typeof found === "string" ? `"${found}"` : typeof found === "object" ? "a mapping or list" : String(found);
}

/** A YAML document's value as plain data (`getIn` returns collections as YAML nodes). */
function plainValue(v: unknown): unknown {
  return typeof v === "object" && v !== null && typeof (v as { toJSON?: unknown }).toJSON === "function"
    ? (v as { toJSON(): unknown }).toJSON()
    : v;
}

/** The accepted values of an enum or discriminator issue (as text), else undefined. */
function choiceOf(issue: Issue): string[] | undefined {
  const i = issue as { code: string; values?: unknown[]; options?: unknown[]; note?: string };
  const vals =
    i.code === "invalid_value"
      ? i.values
      : i.code === "invalid_union" && i.note === "No matching discriminator"
        ? i.options
        : undefined;
  if (vals === undefined || vals.length < 2) return undefined;
  return vals.map((v) => String(v));
}

/**
 * Replaces each union failure by the issues of the branch the user most likely meant: the one whose first issue got
 * furthest into the input (longest path), preferring a wrong value over a missing or unknown key.
 */
function resolveUnions(issues: readonly Issue[], prefix: readonly PropertyKey[]): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === "invalid_union" && issue.errors.length > 0) {
      let best: readonly Issue[] | undefined;
      let bestScore = Number.NEGATIVE_INFINITY;
      for (const branch of issue.errors) {
        const first = branch[0];
        if (!first) continue;
        const wrongBranch = first.code === "unrecognized_keys" || first.message.includes("received undefined");
        const score = first.path.length * 2 + (wrongBranch ? 0 : 1) - branch.length * 0.01;
        if (score > bestScore) {
          bestScore = score;
          best = branch;
        }
      }
      if (best) {
        out.push(...resolveUnions(best, path));
        continue;
      }
    }
    out.push({ ...issue, path } as Issue);
  }
  return out;
}

function typeName(t: string | undefined): string {
  const names: Record<string, string> = {
    number: "a number",
    int: "an integer",
    string: "a string",
    object: "a mapping",
    array: "a list",
    boolean: "true or false",
  };
  return (t !== undefined ? names[t] : undefined) ?? t ?? "a value";
}

type Def = {
  type?: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  options?: readonly z.ZodType[];
  element?: z.ZodType;
  valueType?: z.ZodType;
  left?: z.ZodType;
  right?: z.ZodType;
  getter?: () => z.ZodType;
};

function defOf(t: z.ZodType): Def {
  return (t as unknown as { _zod: { def: Def } })._zod.def;
}

/** Field names the objects that `schema` accepts at `path` know (for "did you mean"). */
export function keysAt(schema: z.ZodType, path: readonly (string | number)[], depth = 0): Set<string> {
  const out = new Set<string>();
  if (depth > 40) return out;
  const d = defOf(schema);
  const go = (t: z.ZodType | undefined, rest: readonly (string | number)[]) => {
    if (t) for (const k of keysAt(t, rest, depth + 1)) out.add(k);
  };
  switch (d.type) {
    case "object":
      if (path.length === 0) for (const k of Object.keys(d.shape ?? {})) out.add(k);
      else go(d.shape?.[String(path[0])], path.slice(1));
      break;
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "catch":
    case "readonly":
    case "nonoptional":
      go(d.innerType, path);
      break;
    case "pipe":
      go(d.in, path);
      go(d.out, path);
      break;
    case "union":
      for (const o of d.options ?? []) go(o, path);
      break;
    case "intersection":
      go(d.left, path);
      go(d.right, path);
      break;
    case "array":
      if (path.length > 0) go(d.element, path.slice(1));
      break;
    case "record":
      if (path.length > 0) go(d.valueType, path.slice(1));
      break;
    case "lazy":
      go(d.getter?.(), path);
      break;
  }
  return out;
}

/** 1-based line of the YAML node at `path`, or of its closest existing ancestor. */
function lineOf(doc: Doc, lc: LineCounter, path: readonly (string | number)[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const sub = path.slice(0, n);
    const node = sub.length === 0 ? doc.contents : doc.getIn(sub, true);
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    if (range) return lc.linePos(range[0]).line;
  }
  return undefined;
}

/** Loads a scenario file, or the embedded default when `path` is undefined. */
export function loadScenario(path?: string): LoadedScenario {
  if (path === undefined) {
    return parseScenario(DEFAULT_SCENARIO_YAML, "<embedded default scenario>", resolve(packageRoot(), "scenarios"));
  }
  const abs = resolve(path);
  const text = readTextInput(path, "scenario file").replace(/^\uFEFF/, "");
  return parseScenario(text, path, dirname(abs));
}
