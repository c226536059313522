/**
 * The catalog of the lab's flat metrics (`metrics/lab-metrics.ts`): label, which way is better, how to print it and
 * the smallest change that counts, in display order. Compare tables, sweep charts and `check` read it.
 */
import type { MetricKey } from "../metrics/lab-metrics.ts";
import { fmtNum, fmtPct } from "./table.ts";

export interface MetricInfo {
  readonly key: MetricKey;
  readonly label: string;
  /** Which way is better; "none" for counts that only describe the run. */
  readonly better: "lower" | "higher" | "none";
  readonly fmt: (x: number) => string;
  /** Smallest change that counts as a change for `check` (absolute, in the metric's unit). */
  readonly floor: number;
}

const n = (x: number) => fmtNum(x);
const usd = (x: number) => x.toFixed(x >= 100 ? 1 : x >= 1 ? 2 : 4);

/** Every metric, in display order. */
export const METRICS: readonly MetricInfo[] = [
  { key: "ttft_p50_ms", label: "TTFT p50 (ms)", better: "lower", fmt: n, floor: 1 },
  { key: "ttft_p95_ms", label: "TTFT p95 (ms)", better: "lower", fmt: n, floor: 1 },
  { key: "ttft_p99_ms", label: "TTFT p99 (ms)", better: "lower", fmt: n, floor: 1 },
  { key: "e2e_p95_ms", label: "E2E p95 (ms)", better: "lower", fmt: n, floor: 1 },
  { key: "tpot_mean_ms", label: "TPOT mean (ms)", better: "lower", fmt: n, floor: 0.1 },
  { key: "tpot_p95_ms", label: "TPOT p95 (ms)", better: "lower", fmt: n, floor: 0.1 },
  { key: "itl_p95_ms", label: "ITL p95 (ms)", better: "lower", fmt: n, floor: 0.1 },
  { key: "queue_p95_ms", label: "queue p95 (ms)", better: "lower", fmt: n, floor: 1 },
  { key: "hit_rate", label: "prefix-cache hit rate", better: "higher", fmt: fmtPct, floor: 0.005 },
  { key: "throughput_rps", label: "throughput (req/s)", better: "higher", fmt: n, floor: 0.01 },
  { key: "output_tps", label: "output tok/s", better: "higher", fmt: n, floor: 1 },
  { key: "goodput_rps", label: "goodput (req/s in SLO)", better: "higher", fmt: n, floor: 0.01 },
  { key: "goodput_fraction", label: "goodput share", better: "higher", fmt: fmtPct, floor: 0.005 },
  { key: "requests", label: "requests", better: "none", fmt: n, floor: 0 },
  { key: "completed", label: "completed", better: "higher", fmt: n, floor: 1 },
  { key: "shed", label: "shed (429)", better: "lower", fmt: n, floor: 1 },
  { key: "unavailable", label: "unavailable (503)", better: "lower", fmt: n, floor: 1 },
  { key: "too_long", label: "too long (413)", better: "lower", fmt: n, floor: 1 },
  { key: "load_skew", label: "load skew (max/min)", better: "lower", fmt: n, floor: 0.01 },
  { key: "preemptions", label: "preemptions", better: "lower", fmt: n, floor: 1 },
  { key: "prefill_tokens", label: "prefill tokens computed", better: "lower", fmt: n, floor: 1 },
  { key: "recomputed_tokens", label: "prefill tokens recomputed", better: "lower", fmt: n, floor: 1 },
  { key: "gpu_hours", label: "GPU-hours", better: "lower", fmt: (x) => x.toFixed(3), floor: 0.001 },
  { key: "usd_per_mtok", label: "$ per M output tokens", better: "lower", fmt: usd, floor: 0.0001 },
  { key: "duration_s", label: "duration (s)", better: "none", fmt: n, floor: 0 },
];

export const METRIC_BY_KEY: ReadonlyMap<string, MetricInfo> = new Map(METRICS.map((m) => [m.key, m]));

/** Looks up a metric by key; undefined when unknown. */
export function metricInfo(key: string): MetricInfo | undefined {
  return METRIC_BY_KEY.get(key);
}
