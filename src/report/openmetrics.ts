/**
 * A run's time series as the metrics vLLM and the Endpoint Picker expose, in OpenMetrics text with timestamps in
 * simulated time from a chosen epoch, so that `promtool tsdb create-blocks-from openmetrics` loads a simulation into
 * Prometheus and the dashboards built for production show it (docs/ecosystem.md).
 *
 * Names, types, labels and bucket boundaries come from the real exporters:
 * - vLLM: vllm-project/vllm, vllm/v1/metrics/loggers.py, `PrometheusStatLogger.__init__` (labels `model_name`,
 *   `engine`; gauges `vllm:num_requests_running`, `vllm:num_requests_waiting`, `vllm:kv_cache_usage_perc`; counters
 *   `vllm:prefix_cache_queries`, `vllm:prefix_cache_hits`, `vllm:num_preemptions`, `vllm:prompt_tokens`,
 *   `vllm:generation_tokens`, `vllm:request_success` (+ `finished_reason`); histograms
 *   `vllm:time_to_first_token_seconds`, `vllm:inter_token_latency_seconds`, `vllm:e2e_request_latency_seconds`,
 *   `vllm:request_queue_time_seconds` with the bucket lists below).
 * - Endpoint Picker: llm-d/llm-d-router (the EPP's home since it left kubernetes-sigs/gateway-api-inference-extension),
 *   pkg/epp/metrics/llm_d_router_metrics.go (today's `llm_d_epp_*` names: request_total :40, request_error_total :49,
 *   request_duration_seconds :58 with generalLatencyBuckets, request_running :118, request_ttft_seconds :140,
 *   average_kv_cache_utilization :184, average_queue_size :193, average_running_requests :202, ready_endpoints :229,
 *   flow_control_queue_size :352) and pkg/epp/metrics/metrics.go (the deprecated `inference_objective_*`,
 *   `inference_pool_*` and `inference_extension_*` names the EPP still registers and records beside them, :72-246,
 *   :347; label sets :52-55; generalLatencyBuckets :60). Both generations are written, as the EPP does, so that older
 *   and newer dashboards work.
 *
 * Counters are written in the Prometheus text convention (`# TYPE x_total counter`, samples `x_total`), which both
 * `promtool check metrics` and the OpenMetrics importer accept; timestamps are whole seconds (the text format reads
 * integer timestamps, OpenMetrics reads them as seconds), so the metrics grid is whole seconds.
 */
import type { SimResult } from "../cluster/engine.ts";
import { Outcome } from "../sim/request.ts";
import { AtomicWriter } from "../workloads/writers.ts";

/** vllm/v1/metrics/loggers.py: histogram_time_to_first_token buckets. */
export const VLLM_TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0,
  640.0, 2560.0,
];
/** vllm/v1/metrics/loggers.py: histogram_inter_token_latency buckets. */
export const VLLM_ITL_BUCKETS = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
];
/** vllm/v1/metrics/loggers.py: request_latency_buckets (e2e, queue, prefill, decode, inference times). */
export const VLLM_REQUEST_LATENCY_BUCKETS = [
  0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0,
  7680.0,
];
/** llm-d-router pkg/epp/metrics/metrics.go:60 generalLatencyBuckets. */
export const EPP_LATENCY_BUCKETS = [
  0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60, 120, 180, 240,
  300, 360, 480, 600, 900, 1200, 1800, 2700, 3600,
];
/** llm-d-router pkg/epp/metrics/llm_d_router_metrics.go:145 request_ttft_seconds buckets. */
export const EPP_TTFT_BUCKETS = [
  0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60, 120,
];

/** EPP error codes (llm-d-router pkg/common/error/error.go:58-69) for gatelab's failure statuses. */
function errorCode(status: number): string {
  if (status === 429) return "ResourceExhausted";
  if (status === 503) return "ServiceUnavailable";
  if (status === 403) return "Forbidden";
  if (status === 400 || status === 413) return "BadRequest";
  return "Unknown";
}

export interface MetricsRun {
  readonly policy: string;
  readonly result: SimResult;
}

export interface OpenMetricsOptions {
  /** Unix seconds of simulated time 0 (whole seconds). */
  readonly epochS: number;
  /** Seconds between points (a whole number ≥ 1); the scrape interval the file imitates. */
  readonly intervalS: number;
  /** Labels added to every series (e.g. `scenario`). */
  readonly labels?: Readonly<Record<string, string>>;
}

/** 2025-01-01T00:00:00Z: the default epoch, so that output is reproducible. */
export const DEFAULT_METRICS_EPOCH_S = 1_735_689_600;
export const DEFAULT_METRICS_INTERVAL_S = 5;

function esc(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labelText(l: Record<string, string>): string {
  return Object.entries(l)
    .map(([k, v]) => `${k}="${esc(v)}"`)
    .join(",");
}

function num(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  // Rounded to 12 significant digits: no float noise like 0.30000000000000004 in the file.
  return String(Number(v.toPrecision(12)));
}

/** Timestamped observations of one label set. */
interface Obs {
  t: number[];
  v: number[];
  w: number[];
}

function obs(): Obs {
  return { t: [], v: [], w: [] };
}

function add(o: Obs, t: number, v: number, w = 1): void {
  o.t.push(t);
  o.v.push(v);
  o.w.push(w);
}

/** Sorts observations by time (stable). */
function sorted(o: Obs): Obs {
  const idx = o.t.map((_, i) => i).sort((a, b) => o.t[a]! - o.t[b]! || a - b);
  return { t: idx.map((i) => o.t[i]!), v: idx.map((i) => o.v[i]!), w: idx.map((i) => o.w[i]!) };
}

class Writer {
  private readonly line: (s: string) => void;
  private readonly ts: string[];
  private readonly grid: number[];

  constructor(line: (s: string) => void, grid: number[], epochS: number) {
    this.line = line;
    this.grid = grid;
    this.ts = grid.map((t) => String(epochS + t));
  }

  head(name: string, type: string, help: string): void {
    this.line(`# HELP ${name} ${help}`);
    this.line(`# TYPE ${name} ${type}`);
  }

  /** A gauge: value at grid point j from `at(j)`. */
  gauge(name: string, labels: Record<string, string>, at: (j: number) => number): void {
    const l = labelText(labels);
    for (let j = 0; j < this.grid.length; j++) this.line(`${name}{${l}} ${num(at(j))} ${this.ts[j]}`);
  }

  /** A counter: the sum of the weights of observations at or before each grid point. */
  counter(name: string, labels: Record<string, string>, o: Obs): void {
    const s = sorted(o);
    const l = labelText(labels);
    let k = 0;
    let sum = 0;
    for (let j = 0; j < this.grid.length; j++) {
      const t = this.grid[j]!;
      while (k < s.t.length && s.t[k]! <= t) {
        sum += s.v[k]! * s.w[k]!;
        k++;
      }
      this.line(`${name}{${l}} ${num(sum)} ${this.ts[j]}`);
    }
  }

  /** A histogram: cumulative buckets, count and sum of the observations at or before each grid point. */
  histogram(name: string, labels: Record<string, string>, buckets: readonly number[], o: Obs): void {
    const s = sorted(o);
    const l = labelText(labels);
    const sep = l === "" ? "" : ",";
    const counts = new Float64Array(buckets.length + 1);
    let k = 0;
    let sum = 0;
    let count = 0;
    const les = [...buckets.map((b) => num(b)), "+Inf"];
    for (let j = 0; j < this.grid.length; j++) {
      const t = this.grid[j]!;
      while (k < s.t.length && s.t[k]! <= t) {
        const v = s.v[k]!;
        const w = s.w[k]!;
        let b = 0;
        while (b < buckets.length && v > buckets[b]!) b++;
        counts[b]! += w;
        sum += v * w;
        count += w;
        k++;
      }
      const ts = this.ts[j];
      let cum = 0;
      for (let b = 0; b < les.length; b++) {
        cum += counts[b]!;
        this.line(`${name}_bucket{${l}${sep}le="${les[b]}"} ${num(cum)} ${ts}`);
      }
      this.line(`${name}_count{${l}} ${num(count)} ${ts}`);
      this.line(`${name}_sum{${l}} ${num(sum)} ${ts}`);
    }
  }
}

/** Per-replica observations of a run. */
interface ReplicaObs {
  labels: Record<string, string>;
  queries: Obs;
  hits: Obs;
  preemptions: Obs;
  prompt: Obs;
  generation: { ft: number[]; done: number[]; n: number[] };
  success: Obs;
  ttft: Obs;
  itl: Obs;
  e2e: Obs;
  queue: Obs;
}

interface ModelObs {
  labels: Record<string, string>;
  total: Obs;
  duration: Obs;
  ttft: Obs;
  running: Obs;
  errors: Map<string, Obs>;
}

/** Time grid: 0, I, 2I, … up to the end of the run (whole seconds). */
function gridOf(result: SimResult, intervalS: number): number[] {
  const end = Math.max(result.endTime, result.series.time.at(-1) ?? 0);
  const out: number[] = [];
  for (let t = 0; t <= end + intervalS - 1e-9; t += intervalS) out.push(t);
  return out;
}

/** Index of the last series sample at or before each grid point (-1: none yet). */
function sampleIndex(times: readonly number[], grid: readonly number[]): number[] {
  const out: number[] = [];
  let k = -1;
  for (const t of grid) {
    while (k + 1 < times.length && times[k + 1]! <= t + 1e-9) k++;
    out.push(k);
  }
  return out;
}

/**
 * Writes the OpenMetrics file of one or several runs (compare: one `policy` label value per run). Atomic: the file
 * appears complete or not at all.
 */
export function writeOpenMetrics(path: string, runs: readonly MetricsRun[], o: OpenMetricsOptions): void {
  const w = new AtomicWriter(path);
  try {
    openMetricsLines(runs, o, (s) => w.line(s));
    w.commit();
  } catch (e) {
    w.abort();
    throw e;
  }
}

/** The OpenMetrics text, line by line (no newlines), `# EOF` last. */
export function openMetricsLines(runs: readonly MetricsRun[], o: OpenMetricsOptions, line: (s: string) => void): void {
  if (!Number.isInteger(o.intervalS) || o.intervalS < 1) throw new Error("metrics interval must be whole seconds ≥ 1");
  if (!Number.isInteger(o.epochS)) throw new Error("metrics epoch must be whole seconds");
  const extra = o.labels ?? {};
  const prepared = runs.map((run) => prepare(run, extra));
  // One time grid over all runs (the longest), so that every series of a family has the same points.
  const intervalS = o.intervalS;
  const grid = gridOf(runs.reduce((a, r) => (r.result.endTime > a.result.endTime ? r : a), runs[0]!).result, intervalS);
  const out = new Writer(line, grid, o.epochS);
  const each = <T>(get: (p: Prepared) => readonly T[], f: (x: T, p: Prepared) => void) => {
    for (const p of prepared) for (const x of get(p)) f(x, p);
  };

  // vLLM, per replica --------------------------------------------------------------------------------------------
  const gaugeSeries = (name: string, help: string, pick: (s: SimResult["series"], r: number, k: number) => number) => {
    out.head(name, "gauge", help);
    for (const p of prepared) {
      const idx = sampleIndex(p.run.result.series.time, grid);
      p.replicas.forEach((r, ri) => {
        out.gauge(name, r.labels, (j) => (idx[j]! < 0 ? 0 : pick(p.run.result.series, ri, idx[j]!)));
      });
    }
  };
  gaugeSeries(
    "vllm:num_requests_running",
    "Number of requests in model execution batches.",
    (s, r, k) => s.running[r]![k]!,
  );
  gaugeSeries(
    "vllm:num_requests_waiting",
    "Number of requests waiting to be processed.",
    (s, r, k) => s.waiting[r]![k]!,
  );
  gaugeSeries("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", (s, r, k) => s.kvUsage[r]![k]!);
  const counters: [string, string, (r: ReplicaObs) => Obs][] = [
    [
      "vllm:prefix_cache_queries_total",
      "Prefix cache queries, in terms of number of queried tokens.",
      (r) => r.queries,
    ],
    ["vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.", (r) => r.hits],
    ["vllm:num_preemptions_total", "Cumulative number of preemption from the engine.", (r) => r.preemptions],
    ["vllm:prompt_tokens_total", "Number of prefill tokens processed.", (r) => r.prompt],
  ];
  for (const [name, help, get] of counters) {
    out.head(name, "counter", help);
    each(
      (p) => p.replicas,
      (r) => out.counter(name, r.labels, get(r)),
    );
  }
  out.head("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.");
  each(
    (p) => p.replicas,
    (r) => {
      // Tokens come at a steady pace between the first token and the last (the engine does not log each step).
      const g = r.generation;
      const l = labelText(r.labels);
      // The grid is uniform (j × intervalS): points inside a request's decode get its ramp, points after it get
      // every token (added once, as a step carried by the running sum).
      const acc = new Float64Array(grid.length);
      const step = new Float64Array(grid.length + 1);
      for (let i = 0; i < g.ft.length; i++) {
        const ft = g.ft[i]!;
        const done = g.done[i]!;
        const n = g.n[i]!;
        const j0 = Math.max(0, Math.ceil(ft / intervalS - 1e-9));
        const j1 = Math.min(grid.length, Math.max(j0, Math.ceil(done / intervalS - 1e-9)));
        for (let j = j0; j < j1; j++) acc[j]! += 1 + ((n - 1) * (grid[j]! - ft)) / (done - ft);
        step[j1]! += n;
      }
      let carried = 0;
      for (let j = 0; j < grid.length; j++) {
        carried += step[j]!;
        acc[j]! += carried;
      }
      for (let j = 0; j < grid.length; j++)
        line(`vllm:generation_tokens_total{${l}} ${num(Math.floor(acc[j]!))} ${o.epochS + grid[j]!}`);
    },
  );
  out.head("vllm:request_success_total", "counter", "Count of successfully processed requests.");
  each(
    (p) => p.replicas,
    (r) => out.counter("vllm:request_success_total", { ...r.labels, finished_reason: "stop" }, r.success),
  );
  const hists: [string, string, readonly number[], (r: ReplicaObs) => Obs][] = [
    [
      "vllm:time_to_first_token_seconds",
      "Histogram of time to first token in seconds.",
      VLLM_TTFT_BUCKETS,
      (r) => r.ttft,
    ],
    [
      "vllm:inter_token_latency_seconds",
      "Histogram of inter-token latency in seconds.",
      VLLM_ITL_BUCKETS,
      (r) => r.itl,
    ],
    [
      "vllm:e2e_request_latency_seconds",
      "Histogram of e2e request latency in seconds.",
      VLLM_REQUEST_LATENCY_BUCKETS,
      (r) => r.e2e,
    ],
    [
      "vllm:request_queue_time_seconds",
      "Histogram of time spent in WAITING phase for request.",
      VLLM_REQUEST_LATENCY_BUCKETS,
      (r) => r.queue,
    ],
  ];
  for (const [name, help, buckets, get] of hists) {
    out.head(name, "histogram", help);
    each(
      (p) => p.replicas,
      (r) => out.histogram(name, r.labels, buckets, get(r)),
    );
  }

  // Endpoint Picker: pool gauges (today's names, then the deprecated ones) ------------------------------------------
  const poolGauge = (names: [string, string][], kind: "kv" | "queue" | "running" | "ready") => {
    for (const [name, help] of names) {
      out.head(name, "gauge", help);
      for (const p of prepared) {
        const s = p.run.result.series;
        const idx = sampleIndex(s.time, grid);
        for (const pool of p.pools) {
          out.gauge(name, pool.labels, (j) => {
            if (kind === "ready") return pool.replicas.length;
            const k = idx[j]!;
            if (k < 0) return 0;
            let sum = 0;
            for (const r of pool.replicas) {
              sum += kind === "kv" ? s.kvUsage[r]![k]! : kind === "queue" ? s.waiting[r]![k]! : s.running[r]![k]!;
            }
            return pool.replicas.length > 0 ? sum / pool.replicas.length : 0;
          });
        }
      }
    }
  };
  poolGauge(
    [
      ["llm_d_epp_average_kv_cache_utilization", "The average kv cache utilization for an inference server pool."],
      [
        "inference_pool_average_kv_cache_utilization",
        "[Deprecated: Use llm_d_epp_average_kv_cache_utilization] The average kv cache utilization for an inference server pool.",
      ],
    ],
    "kv",
  );
  poolGauge(
    [
      ["llm_d_epp_average_queue_size", "The average number of requests pending in the model server queue."],
      [
        "inference_pool_average_queue_size",
        "[Deprecated: Use llm_d_epp_average_queue_size] The average number of requests pending in the model server queue.",
      ],
    ],
    "queue",
  );
  poolGauge(
    [
      [
        "llm_d_epp_average_running_requests",
        "The average number of running requests across model servers in the pool.",
      ],
      [
        "inference_pool_average_running_requests",
        "[Deprecated: Use llm_d_epp_average_running_requests] The average number of running requests across model servers in the pool.",
      ],
    ],
    "running",
  );
  poolGauge(
    [
      ["llm_d_epp_ready_endpoints", "The number of ready endpoints in the inference server pool."],
      [
        "inference_pool_ready_pods",
        "[Deprecated: Use llm_d_epp_ready_endpoints] The number of ready pods in the inference server pool.",
      ],
    ],
    "ready",
  );

  // Endpoint Picker: per model (request totals, errors, latencies, running) -----------------------------------------
  const modelCounter = (name: string, help: string, get: (m: ModelObs) => Obs) => {
    out.head(name, "counter", help);
    each(
      (p) => p.models,
      (m) => out.counter(name, m.labels, get(m)),
    );
  };
  modelCounter("llm_d_epp_request_total", "Total number of processed requests.", (m) => m.total);
  modelCounter(
    "inference_objective_request_total",
    "[Deprecated: Use llm_d_epp_request_total] Counter of inference objective requests broken out for each model and target model.",
    (m) => m.total,
  );
  for (const name of ["llm_d_epp_request_error_total", "inference_objective_request_error_total"]) {
    out.head(
      name,
      "counter",
      name.startsWith("llm_d")
        ? "Total number of request errors."
        : "[Deprecated: Use llm_d_epp_request_error_total] Counter of inference objective requests errors broken out for each model and target model.",
    );
    each(
      (p) => p.models,
      (m) => {
        for (const [code, ob] of [...m.errors].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
          out.counter(name, { ...m.labels, error_code: code }, ob);
      },
    );
  }
  for (const [name, help] of [
    ["llm_d_epp_request_duration_seconds", "End-to-end request latency distribution in seconds."],
    [
      "inference_objective_request_duration_seconds",
      "[Deprecated: Use llm_d_epp_request_duration_seconds] Inference objective response latency distribution in seconds for each model and target model.",
    ],
  ] as const) {
    out.head(name, "histogram", help);
    each(
      (p) => p.models,
      (m) => out.histogram(name, m.labels, EPP_LATENCY_BUCKETS, m.duration),
    );
  }
  out.head(
    "llm_d_epp_request_ttft_seconds",
    "histogram",
    "Time to first token in seconds, measured from request received to first response byte.",
  );
  each(
    (p) => p.models,
    (m) =>
      out.histogram("llm_d_epp_request_ttft_seconds", { ...m.labels, streaming: "true" }, EPP_TTFT_BUCKETS, m.ttft),
  );
  for (const [name, help] of [
    ["llm_d_epp_request_running", "Current number of active running requests."],
    [
      "inference_objective_running_requests",
      "[Deprecated: Use llm_d_epp_request_running] Inference objective number of running requests in each model.",
    ],
  ] as const) {
    out.head(name, "gauge", help);
    each(
      (p) => p.models,
      (m) => out.counter(name, m.labels, m.running),
    );
  }

  // Flow control: requests held in the gateway queue (whole cluster; the simulator does not split it by flow).
  if (prepared.some((p) => p.run.result.series.gatewayQueue.some((x) => x > 0))) {
    for (const [name, help] of [
      ["llm_d_epp_flow_control_queue_size", "Current number of requests actively held in the Flow Control queue."],
      [
        "inference_extension_flow_control_queue_size",
        "[Deprecated: Use llm_d_epp_flow_control_queue_size] Current number of requests actively held in the Flow Control queue.",
      ],
    ] as const) {
      out.head(name, "gauge", help);
      for (const p of prepared) {
        const s = p.run.result.series;
        const idx = sampleIndex(s.time, grid);
        out.gauge(name, { ...p.base, inference_pool: p.pools[0]!.name }, (j) =>
          idx[j]! < 0 ? 0 : s.gatewayQueue[idx[j]!]!,
        );
      }
    }
  }
  line("# EOF");
}

interface Prepared {
  run: MetricsRun;
  base: Record<string, string>;
  replicas: ReplicaObs[];
  pools: { name: string; labels: Record<string, string>; replicas: number[] }[];
  models: ModelObs[];
}

function prepare(run: MetricsRun, extra: Readonly<Record<string, string>>): Prepared {
  const res = run.result;
  const base: Record<string, string> = { job: "gatelab", namespace: "gatelab", ...extra, policy: run.policy };
  const poolModel = new Map(res.pools.map((p) => [p.name, p.model]));
  const replicas: ReplicaObs[] = res.replicas.map((r) => ({
    labels: { ...base, model_name: poolModel.get(r.pool) ?? r.pool, engine: "0", pod: r.name, instance: r.name },
    queries: obs(),
    hits: obs(),
    preemptions: obs(),
    prompt: obs(),
    generation: { ft: [], done: [], n: [] },
    success: obs(),
    ttft: obs(),
    itl: obs(),
    e2e: obs(),
    queue: obs(),
  }));
  const pools = res.pools.map((p) => ({
    name: p.name,
    labels: { ...base, name: p.name },
    replicas: res.replicas.filter((r) => r.pool === p.name).map((r) => r.index),
  }));
  const models = new Map<string, ModelObs>();
  const modelOf = (name: string): ModelObs => {
    let m = models.get(name);
    if (m === undefined) {
      m = {
        labels: { ...base, model_name: name, target_model_name: name },
        total: obs(),
        duration: obs(),
        ttft: obs(),
        running: obs(),
        errors: new Map(),
      };
      models.set(name, m);
    }
    return m;
  };
  for (const p of res.pools) modelOf(p.model);
  const firstModel = res.pools[0]?.model ?? "unknown";
  const rec = res.records;
  for (let i = 0; i < rec.size; i++) {
    const ri = rec.replica[i]!;
    const rep = ri >= 0 ? res.replicas[ri] : undefined;
    const model = modelOf(rep !== undefined ? (poolModel.get(rep.pool) ?? firstModel) : firstModel);
    const arr = rec.arrival[i]!;
    add(model.total, arr, 1);
    const outcome = rec.outcome[i]!;
    const ft = rec.firstToken[i]!;
    const done = rec.completion[i]!;
    if (outcome === Outcome.Completed) {
      add(model.duration, done, done - arr);
      if (ft >= 0) add(model.ttft, ft, ft - arr);
      const start = rec.dispatchAt(i);
      if (start >= 0) {
        add(model.running, start, 1);
        add(model.running, done, -1);
      }
    } else if (outcome === Outcome.Rejected || outcome === Outcome.Dropped) {
      const code = errorCode(rec.status[i]!);
      let e = model.errors.get(code);
      if (e === undefined) model.errors.set(code, (e = obs()));
      // The error is counted when the request ends; its arrival stands in when the end is not recorded.
      add(e, done >= 0 ? done : Math.max(arr, rec.dispatchAt(i)), 1);
    }
    if (rep === undefined) continue;
    const r = replicas[ri]!;
    const enq = rec.enqueueAt(i);
    const admit = rec.admit[i]!;
    if (admit >= 0) {
      add(r.queries, admit, rec.input[i]!);
      add(r.hits, admit, rec.cached[i]!);
      if (enq >= 0) add(r.queue, admit, admit - enq);
    }
    if (ft >= 0) {
      add(r.prompt, ft, rec.input[i]!);
      if (enq >= 0) add(r.ttft, ft, ft - enq);
    }
    if (outcome === Outcome.Completed) {
      const n = rec.output[i]!;
      add(r.success, done, 1);
      if (rec.preemptions[i]! > 0) add(r.preemptions, done, rec.preemptions[i]!);
      if (enq >= 0) add(r.e2e, done, done - enq);
      if (ft >= 0 && n > 0) {
        r.generation.ft.push(ft);
        r.generation.done.push(done);
        r.generation.n.push(n);
        // vLLM observes every gap; the records keep each request's mean gap, observed once per gap.
        if (n > 1) add(r.itl, done, (done - ft) / (n - 1), n - 1);
      }
    }
  }
  return { run, base, replicas, pools, models: [...models.values()] };
}
