/**
 * Sane ranges and contradictions of a scenario, checked on the YAML as written (so errors carry its line) after the
 * schema accepted its types. The schema says what a field is; this says how large it may be before a run would take
 * days or more memory than a machine has (`replicas: 1e12`, `input: 1e12`, `sample_interval_s: 1e-6`), and which
 * combinations cannot mean anything (a uniform `min` above its `max`, a window that ends before it starts).
 *
 * The limits are far above any real deployment, never a model of one:
 * - tokens per request ≤ 10,000,000: the longest context window of a released open model (Llama 4 Scout, 10M tokens,
 *   Meta's model card) — no request can be longer;
 * - replicas per pool ≤ 10,000; tensor parallelism ≤ 64 (8 nodes of 8 GPUs);
 * - KV blocks per replica ≤ 100,000,000 (1.6 billion tokens at block size 16; an H200 holds about 10⁶ tokens of an 8B
 *   model);
 * - arrival rates ≤ 1,000,000 requests/s; durations ≤ 10⁷ s (about 4 months); a scrape period of 0 or ≥ 0.1 ms;
 * - costs and delays ≤ an hour (`_ms`, `_us` fields other than SLO targets), ≤ a second for costs paid every step;
 *   bandwidths ≥ 1 MB/s (`_gb_s`).
 */
import { ROLE_LABEL, ROLE_NAMES } from "./policies/epp/filters.ts";
import { closest } from "./suggest.ts";
import { MAX_RUN_REQUESTS } from "./workloads/types.ts";

export interface BoundIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

const TOKENS = 10_000_000;

/** Upper (and lower) bounds of numeric fields by name, wherever they appear in the scenario. */
const BOUNDS: Readonly<Record<string, { readonly max?: number; readonly min?: number; readonly why: string }>> = {
  replicas: { max: 10_000, why: "replicas per pool" },
  tp: { max: 64, why: "GPUs per replica (tensor parallelism)" },
  total_kv_blocks: { max: 100_000_000, why: "KV blocks per replica" },
  cpu_kv_blocks: { max: 100_000_000, why: "CPU KV blocks per replica" },
  max_num_seqs: { max: 1_000_000, why: "running sequences per replica" },
  max_num_batched_tokens: { max: TOKENS, why: "tokens per step" },
  block_size: { max: 4096, why: "tokens per KV block" },
  max_model_len: { max: TOKENS, why: "tokens of context" },
  long_prefill_token_threshold: { max: TOKENS, why: "tokens" },
  max_loras: { max: 4096, why: "GPU LoRA slots" },
  max_cpu_loras: { max: 1_000_000, why: "host LoRA slots" },
  max_context_tokens: { max: TOKENS, why: "tokens of context" },
  system_prompt_len: { max: TOKENS, why: "tokens" },
  question_len: { max: TOKENS, why: "tokens" },
  question_len_max: { max: TOKENS, why: "tokens" },
  output_len: { max: TOKENS, why: "tokens" },
  output_len_max: { max: TOKENS, why: "tokens" },
  requests: { max: MAX_RUN_REQUESTS, why: "requests per run" },
  duration_s: { max: 1e7, why: "seconds of traffic (about 4 months)" },
  // Arrival processes' and trace windows' times (an on/off process with a 10^12 s pause simulated it).
  window_s: { max: 1e7, why: "seconds (about 4 months)" },
  period_s: { max: 1e7, why: "seconds (about 4 months)" },
  peak_s: { max: 1e7, why: "seconds (about 4 months)" },
  mean_on_s: { max: 1e7, why: "seconds (about 4 months)" },
  mean_off_s: { max: 1e7, why: "seconds (about 4 months)" },
  stage_gap_s: { max: 1e7, why: "seconds (about 4 months)" },
  start_s: { max: 1e7, why: "seconds (about 4 months)" },
  end_s: { max: 1e7, why: "seconds (about 4 months)" },
  // Charts need no finer than 10 ms; 1 µs made 970 MB of samples for 3 simulated seconds.
  sample_interval_s: { min: 0.01, max: 1e6, why: "seconds between time-series samples" },
  rate: { max: 1_000_000, why: "requests per second" },
  speedup: { max: 1_000_000, why: "times faster than recorded" },
  factor: { max: 10_000, why: "rate multiplier" },
  groups: { max: 10_000_000, why: "prefix groups" },
  num_groups: { max: 10_000_000, why: "groups" },
  num_prompts_per_group: { max: 10_000_000, why: "prompts per group" },
  num_unique_system_prompts: { max: 10_000_000, why: "system prompts" },
  num_users_per_system_prompt: { max: 10_000_000, why: "users" },
  documents: { max: 100_000_000, why: "documents" },
  apps: { max: 1_000_000, why: "applications" },
  agents: { max: 1_000_000, why: "agents" },
  // `workload.adapter.count` (generated adapter names): 10^9 exhausted the heap building them.
  count: { max: 1_000_000, why: "LoRA adapters" },
  gpu_hour_usd: { max: 1_000_000, why: "dollars per GPU-hour" },
  // Clients' retries (`clients:`): 10^9 retries with no backoff never let simulated time move on; a backoff or
  // Retry-After cap of 10^12 s stretches the run that far.
  max_retries: { max: 1000, why: "retries per request" },
  backoff_s: { max: 3600, why: "seconds of backoff (an hour)" },
  max_backoff_s: { max: 3600, why: "seconds of backoff (an hour)" },
  max_retry_after_s: { max: 3600, why: "seconds of Retry-After (an hour)" },
  seed: { max: Number.MAX_SAFE_INTEGER, why: "seed" },
};

/**
 * Costs and delays in ms (`per_step_ms`, LoRA `host_to_gpu_ms`, `kv_event_delay_ms`, …; µs for `_us`) at most an hour,
 * and bandwidths (`_gb_s`) at least 1 MB/s: a step or a load priced at 10¹⁵ ms, or a KV transfer at 10⁻¹⁵ GB/s, made
 * a run whose simulated time never ends. SLO targets (`ttft_ms`, `e2e_p95_ms`, …) are thresholds, not costs: left out.
 */
const MAX_COST_MS = 3_600_000;
/** Costs paid in every step (sync CPU overheads, LoRA step overheads): at most a second each. */
const STEP_COST_KEYS = new Set(["per_step_ms", "per_request_ms", "fixed_ms", "per_seq_ms", "per_adapter_ms"]);
const MAX_STEP_COST_MS = 1000;
const MIN_GB_S = 1e-3;
/**
 * Fastest link or disk accepted: 100 TB/s, twenty times the fastest memory in the GPU catalogue (H200's HBM3e,
 * 4.8 TB/s, `src/models/catalog.ts`) — KV cannot leave a GPU faster than its memory reads it; 10³⁰⁸ GB/s made every
 * transfer free.
 */
const MAX_GB_S = 1e5;
const SLO_KEY = /^(ttft|e2e|tpot|itl|queue)_/;

/**
 * Shortest scrape period: every replica is scraped once a period, so 10⁻⁹ ms made 10¹² events a simulated second
 * per replica (a run that never ends). 0 stays accepted: no scrape events, current metrics at every decision.
 */
const MIN_SCRAPE_MS = 0.1;

/**
 * A session's pauses (`think_time`, `tool_latency`), seconds: at most a day. Months-long pauses kept every replica
 * scraped 20 times a simulated second all the while, a run of hours for a few requests.
 */
const WAIT_KEYS = new Set(["think_time", "tool_latency"]);
const MAX_WAIT_S = 86_400;

/** Fields of a length or time distribution: bounded like a token count (10⁷; seconds for times: 4 months). */
const DIST_FIELDS = new Set(["value", "mean", "std", "min", "max"]);

/** Sections whose contents are another tool's format, checked by its own reader. */
const SKIP = new Set(["epp_config"]);

function fmt(x: number): string {
  return Math.abs(x) >= 1e6 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential() : x.toLocaleString("en-US");
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** Range and contradiction issues of a raw (as written) scenario; empty when it is sane. */
export function scenarioBoundIssues(raw: unknown): BoundIssue[] {
  const out: BoundIssue[] = [];
  const walk = (node: unknown, path: (string | number)[]) => {
    if (out.length >= 5) return;
    if (Array.isArray(node)) {
      node.forEach((v, i) => {
        walk(v, [...path, i]);
      });
      return;
    }
    if (!isRecord(node)) return;
    for (const [k, v] of Object.entries(node)) {
      if (SKIP.has(k)) continue;
      const p = [...path, k];
      const b = BOUNDS[k];
      const inDist = DIST_FIELDS.has(k) && ("dist" in node || k === "min" || k === "max");
      if (WAIT_KEYS.has(k)) {
        // A session's pause (a bare number or a distribution's value, mean, std, min or max), in seconds.
        const parts: [(string | number)[], unknown][] = isRecord(v)
          ? [...DIST_FIELDS].filter((f) => f in v).map((f) => [[...p, f], v[f]])
          : [[p, v]];
        for (const [at, x] of parts)
          if (typeof x === "number" && x > MAX_WAIT_S)
            out.push({ path: at, message: `${fmt(x)} s is more than the most accepted, ${fmt(MAX_WAIT_S)} s (a day)` });
      }
      if (typeof v === "number") {
        if (k === "scrape_interval_ms" && v > 0 && v < MIN_SCRAPE_MS)
          out.push({
            path: p,
            message: `${fmt(v)} ms is less than the least accepted, ${MIN_SCRAPE_MS} ms between metric scrapes (GIE's default is 50 ms); 0 means the gateway always sees the current state`,
          });
        else if (STEP_COST_KEYS.has(k) && v > MAX_STEP_COST_MS)
          out.push({
            path: p,
            message: `${fmt(v)} ms is more than the most accepted, ${fmt(MAX_STEP_COST_MS)} ms a step (a second; measured step overheads are a few milliseconds)`,
          });
        else if (k.endsWith("_ms") && !SLO_KEY.test(k) && k !== "scrape_interval_ms" && v > MAX_COST_MS)
          out.push({
            path: p,
            message: `${fmt(v)} ms is more than the most accepted, ${fmt(MAX_COST_MS)} ms (an hour)`,
          });
        else if (k.endsWith("_us") && v > MAX_COST_MS * 1000)
          out.push({
            path: p,
            message: `${fmt(v)} µs is more than the most accepted, ${fmt(MAX_COST_MS * 1000)} µs (an hour)`,
          });
        else if (k.endsWith("_gb_s") && v < MIN_GB_S)
          out.push({
            path: p,
            message: `${fmt(v)} GB/s is less than the least accepted, ${fmt(MIN_GB_S)} GB/s (1 MB/s, slower than any link or disk of a GPU server)`,
          });
        else if (k.endsWith("_gb_s") && v > MAX_GB_S)
          out.push({
            path: p,
            message: `${fmt(v)} GB/s is more than the most accepted, ${fmt(MAX_GB_S)} GB/s (100 TB/s, faster than the memory of any GPU: KV cannot leave it faster than its HBM reads it)`,
          });
        else if (b?.max !== undefined && v > b.max)
          out.push({ path: p, message: `${fmt(v)} is more than the most accepted, ${fmt(b.max)} ${b.why}` });
        else if (b?.min !== undefined && v < b.min)
          out.push({ path: p, message: `${fmt(v)} is less than the least accepted, ${fmt(b.min)} ${b.why}` });
        else if ((inDist || k === "input" || k === "output" || k === "tokens") && v > TOKENS)
          out.push({
            path: p,
            message: `${fmt(v)} is more than the most accepted, ${fmt(TOKENS)} (tokens per request, or seconds)`,
          });
      } else if (k === "values" && Array.isArray(v) && "dist" in node) {
        v.forEach((x, i) => {
          if (typeof x === "number" && x > TOKENS)
            out.push({ path: [...p, i], message: `${fmt(x)} is more than the most accepted, ${fmt(TOKENS)}` });
        });
      }
      walk(v, p);
    }
    contradictions(node, path, out);
  };
  walk(raw, []);
  if (isRecord(raw)) {
    undefinedClasses(raw, out);
    unknownQuotaTenants(raw, out);
    poolIssues(raw, out);
  }
  // One issue per field: the first, most specific one (a think time above a day is also above the 10⁷ s of any
  // distribution field).
  const seen = new Set<string>();
  return out.filter((i) => !seen.has(i.path.join(".")) && seen.add(i.path.join("."))).slice(0, 5);
}

function contradictions(node: Record<string, unknown>, path: (string | number)[], out: BoundIssue[]): void {
  const num = (k: string) => (typeof node[k] === "number" ? (node[k] as number) : undefined);
  const min = num("min");
  const max = num("max");
  if (min !== undefined && max !== undefined && min > max)
    out.push({ path: [...path, "min"], message: `min ${fmt(min)} is above max ${fmt(max)}` });
  const start = num("start_s");
  const end = num("end_s");
  if (start !== undefined && end !== undefined && end <= start)
    out.push({
      path: [...path, "end_s"],
      message: `the window ends (${fmt(end)} s) before it starts (${fmt(start)} s)`,
    });
  for (const [lo, hi] of [
    ["question_len_min", "question_len_max"],
    ["output_len_min", "output_len_max"],
    ["max_loras", "max_cpu_loras"],
  ] as const) {
    const a = num(lo);
    const b = num(hi);
    if (a !== undefined && b !== undefined && a > b)
      out.push({ path: [...path, lo], message: `${lo} ${fmt(a)} is above ${hi} ${fmt(b)}` });
  }
}

/** Components whose `slo_class` names no class of `slos.classes` (when the scenario defines classes). */
function undefinedClasses(raw: Record<string, unknown>, out: BoundIssue[]): void {
  const slos = raw.slos;
  const classes = isRecord(slos) && isRecord(slos.classes) ? Object.keys(slos.classes) : undefined;
  if (classes === undefined || classes.length === 0) return;
  const w = raw.workload;
  const comps: [unknown, (string | number)[]][] =
    isRecord(w) && Array.isArray(w.mix) ? w.mix.map((c, i) => [c, ["workload", "mix", i]]) : [[w, ["workload"]]];
  for (const [c, p] of comps) {
    if (!isRecord(c) || typeof c.slo_class !== "string") continue;
    if (classes.includes(c.slo_class)) continue;
    const near = closest(c.slo_class, classes);
    out.push({
      path: [...p, "slo_class"],
      message:
        `class "${c.slo_class}" is not among slos.classes (${classes.join(", ")})` +
        (near !== undefined ? `; did you mean "${near}"?` : ""),
    });
  }
}

/**
 * Pools: a name used twice (said with its line here; `lab/pools.ts` keeps the check for pools built in code), and an
 * `llm-d.ai/role` label no role filter knows (`prefil`: the pod would be kept by no decode or prefill filter, so a P/D
 * config would never route to it — a typo, not a role).
 */
function poolIssues(raw: Record<string, unknown>, out: BoundIssue[]): void {
  if (!Array.isArray(raw.pools)) return;
  const names = new Map<string, number>();
  raw.pools.forEach((p, i) => {
    if (!isRecord(p)) return;
    if (typeof p.name === "string") {
      const first = names.get(p.name);
      if (first !== undefined)
        out.push({ path: ["pools", i, "name"], message: `duplicate pool name "${p.name}" (pools.${first} has it)` });
      else names.set(p.name, i);
    }
    const role = isRecord(p.labels) ? p.labels[ROLE_LABEL] : undefined;
    if (typeof role === "string" && !ROLE_NAMES.includes(role)) {
      const near = closest(role, ROLE_NAMES);
      out.push({
        path: ["pools", i, "labels", ROLE_LABEL],
        message:
          `"${role}" is no role llm-d's filters know (${ROLE_NAMES.join(", ")}): no decode or prefill filter would keep the pod` +
          (near !== undefined ? `; did you mean "${near}"?` : ""),
      });
    }
  });
}

/** Component types whose requests carry only the tenants their `tenant:` tag names (traces carry their own). */
const TAGGED_ONLY = new Set(["poisson", "batch", "chat", "rag", "agent", "shared-prefix", "inference-perf"]);

/**
 * Quotas for a tenant no request can carry (`gateway.quotas.tenants.nosiy` for `noisy`): the quota would silently
 * never apply. Checked when every component is generated (their tenants are the `tenant:` tags, `default` for
 * components without one); a trace may carry any tenant.
 */
function unknownQuotaTenants(raw: Record<string, unknown>, out: BoundIssue[]): void {
  const gw = raw.gateway;
  const quotas = isRecord(gw) && isRecord(gw.quotas) && isRecord(gw.quotas.tenants) ? gw.quotas.tenants : undefined;
  if (quotas === undefined) return;
  const w = raw.workload;
  const comps: unknown[] = isRecord(w) && Array.isArray(w.mix) ? w.mix : [w];
  const tenants = new Set<string>();
  for (const c of comps) {
    if (!isRecord(c) || typeof c.type !== "string" || !TAGGED_ONLY.has(c.type)) return;
    const t = c.tenant;
    if (t === undefined) tenants.add("default");
    else if (typeof t === "string") tenants.add(t);
    else if (isRecord(t) && Array.isArray(t.values)) for (const v of t.values) tenants.add(String(v));
    else return;
  }
  const known = [...tenants];
  for (const name of Object.keys(quotas)) {
    if (tenants.has(name)) continue;
    const near = closest(name, known);
    out.push({
      path: ["gateway", "quotas", "tenants", name],
      message:
        `no request carries tenant "${name}" (the workload's tenants: ${known.join(", ")}), so this quota would never apply` +
        (near !== undefined ? `; did you mean "${near}"?` : ""),
    });
  }
}

/** The bound of scenario field `name` (for command-line flags that set the same thing), if it has one. */
export function fieldBound(
  name: string,
): { readonly max?: number; readonly min?: number; readonly why: string } | undefined {
  return BOUNDS[name];
}

/** Token-length fields whose bare number must be ≥ 1 (a request has at least one prompt and one output token). */
export function zeroLengthIssues(raw: unknown): BoundIssue[] {
  const out: BoundIssue[] = [];
  const w = isRecord(raw) ? raw.workload : undefined;
  const comps: [unknown, (string | number)[]][] =
    isRecord(w) && Array.isArray(w.mix) ? w.mix.map((c, i) => [c, ["workload", "mix", i]]) : [[w, ["workload"]]];
  const constant = (v: unknown): number | undefined =>
    typeof v === "number"
      ? v
      : isRecord(v) && v.dist === "constant" && typeof v.value === "number"
        ? v.value
        : undefined;
  /** The largest value a length distribution can draw (undefined when unbounded or unknown). */
  const most = (v: unknown): number | undefined => {
    const c = constant(v);
    if (c !== undefined) return c;
    if (!isRecord(v)) return undefined;
    if (v.dist === "empirical" && Array.isArray(v.values))
      return Math.max(...v.values.filter((x): x is number => typeof x === "number"));
    return typeof v.max === "number" ? v.max : undefined;
  };
  for (const [c, p] of comps) {
    if (!isRecord(c)) continue;
    for (const k of ["turns", "rounds"]) {
      if (constant(c[k]) === 0)
        out.push({
          path: [...p, k],
          message: `0 ${k}: a session has at least 1 (${k === "turns" ? "a chat without turns sends nothing" : "an agent without rounds sends nothing"})`,
        });
    }
    if (c.type === "rag" && c.k !== undefined) {
      const docs = typeof c.documents === "number" ? c.documents : 10000;
      const k = most(c.k);
      if (k !== undefined && Math.round(k) > docs)
        out.push({
          path: [...p, "k"],
          message: `${k} documents per request, but the corpus has ${docs} (documents${c.documents === undefined ? ", default" : ""})`,
        });
    }
    for (const k of ["input", "output"]) {
      const v = c[k];
      const c0 = constant(v);
      // Lengths are rounded to whole tokens: 0.3 is 0 tokens too.
      const zero = c0 !== undefined && Math.round(c0) === 0;
      const allZero =
        isRecord(v) &&
        v.dist === "empirical" &&
        Array.isArray(v.values) &&
        v.values.every((x) => typeof x === "number" && Math.round(x) === 0);
      if ((zero && (k === "output" || c.prefix === undefined)) || (allZero && k === "output"))
        out.push({
          path: [...p, k, ...(isRecord(v) ? ["value"] : [])],
          message: `${c0 === undefined || c0 === 0 ? "0 tokens" : `${c0} rounds to 0 tokens`}: a request needs at least 1 ${k === "input" ? "prompt" : "output"} token`,
        });
    }
  }
  return out;
}
