/**
 * `compare`: the same request stream (same scenario and seed, so the same requests) against several policies, side
 * by side, with deltas against the first policy.
 */
import type { RunSummary } from "../metrics/summary.ts";
import { fmtDelta, fmtNum, fmtPct, renderTable } from "../report/table.ts";
import type { LoadedScenario } from "../scenario.ts";
import { type RunOutput, runScenario } from "./run.ts";

export interface CompareOptions {
  readonly policies: readonly string[];
  readonly seed?: number;
  readonly eppConfigs?: readonly string[];
}

export interface CompareOutput {
  readonly scenario: string;
  readonly seed: number;
  readonly runs: readonly RunOutput[];
}

export function compare(loaded: LoadedScenario, o: CompareOptions): CompareOutput {
  const runs: RunOutput[] = [];
  for (const p of o.policies)
    runs.push(runScenario(loaded, { policy: p, ...(o.seed !== undefined ? { seed: o.seed } : {}) }));
  for (const f of o.eppConfigs ?? [])
    runs.push(runScenario(loaded, { eppConfig: f, ...(o.seed !== undefined ? { seed: o.seed } : {}) }));
  return { scenario: loaded.scenario.name, seed: o.seed ?? loaded.scenario.seed, runs };
}

interface Metric {
  readonly name: string;
  readonly get: (s: RunSummary) => number;
  readonly fmt?: (x: number) => string;
  /** Lower is better (latency) vs higher is better (hit rate, throughput). */
  readonly lowerIsBetter: boolean;
}

export const COMPARE_METRICS: readonly Metric[] = [
  { name: "TTFT p50 (ms)", get: (s) => s.ttft_ms.p50, lowerIsBetter: true },
  { name: "TTFT p95 (ms)", get: (s) => s.ttft_ms.p95, lowerIsBetter: true },
  { name: "TTFT p99 (ms)", get: (s) => s.ttft_ms.p99, lowerIsBetter: true },
  { name: "E2E p95 (ms)", get: (s) => s.e2e_ms.p95, lowerIsBetter: true },
  { name: "TPOT mean (ms)", get: (s) => s.tpot_ms.mean, lowerIsBetter: true },
  { name: "prefix-cache hit rate", get: (s) => s.prefix_cache_hit_rate, fmt: fmtPct, lowerIsBetter: false },
  { name: "throughput (req/s)", get: (s) => s.throughput.requests_per_s, lowerIsBetter: false },
  { name: "output tok/s", get: (s) => s.throughput.output_tokens_per_s, lowerIsBetter: false },
  { name: "completed", get: (s) => s.requests.completed, lowerIsBetter: false },
  { name: "preemptions", get: (s) => s.preemptions, lowerIsBetter: true },
  { name: "prefill tokens computed", get: (s) => s.prefill_tokens, lowerIsBetter: true },
  { name: "load skew (max/min)", get: (s) => s.load_skew, lowerIsBetter: true },
];

/** Metrics as rows, policies as columns; each column after the first shows its delta against the first. */
export function formatComparison(c: CompareOutput, metrics: readonly Metric[] = COMPARE_METRICS): string {
  const runs = c.runs;
  const header = ["metric", ...runs.flatMap((r, i) => (i === 0 ? [r.policy] : [r.policy, "Δ"]))];
  const rows = metrics.map((m) => {
    const base = m.get(runs[0]!.summary);
    const cells: string[] = [m.name];
    runs.forEach((r, i) => {
      const v = m.get(r.summary);
      cells.push(m.fmt ? m.fmt(v) : fmtNum(v));
      if (i > 0) cells.push(fmtDelta(base, v));
    });
    return cells;
  });
  const reqs = runs[0]!.summary.requests.total;
  return [
    `scenario "${c.scenario}" · seed ${c.seed} · ${fmtNum(reqs)} requests, the same stream for every policy`,
    "",
    renderTable(header, rows),
  ].join("\n");
}
