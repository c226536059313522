/**
 * The numbers inference-perf users read, per stage, in gatelab's own summaries (`run`, `compare`, `--json`,
 * summary.json) for a `type: inference-perf` workload: requested and achieved rate, throughput (input, output, total
 * tokens/s and requests/s, inference-perf's denominators), TTFT, TPOT, NTPOT, schedule delay, the time-averaged
 * vLLM waiting queue per replica, whether the stage meets the scenario's SLOs (and keeps up: achieved ≥ 95 % of the
 * requested rate), and the knee of the rate ladder: the highest stage rate up to which every stage meets them.
 */
import type { IpLabSummary, IpStageSummary } from "../metrics/inference-perf-summary.ts";
import type { RunOutput } from "../metrics/summary.ts";
import type { Scenario } from "../scenario.ts";
import { quantileSorted } from "../sim/quantile.ts";
import { gaugesOver, type IpRow, inferencePerfLog, lifecycleReport } from "./inference-perf.ts";
import { fmtNum, renderTable } from "./table.ts";

export type { IpLabSummary, IpStageSummary } from "../metrics/inference-perf-summary.ts";

const ms = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? Number.NaN : x * 1000);

function q(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  return quantileSorted(Float64Array.from(values).sort(), p);
}

type Slos = Scenario["slos"];

/** Whether a stage meets the flat SLO targets the scenario sets (undefined when it sets none that apply). */
function stageMeets(rows: readonly IpRow[], s: IpStageSummary, slos: Slos): boolean | undefined {
  const checks: boolean[] = [];
  const ok = rows.filter((r) => r.ok);
  const ttft = ok.filter((r) => r.firstToken >= 0).map((r) => (r.firstToken - r.start) * 1000);
  if (slos.ttft_p50_ms !== undefined) checks.push(q(ttft, 0.5) <= slos.ttft_p50_ms);
  if (slos.ttft_p95_ms !== undefined) checks.push(s.ttft_p95_ms <= slos.ttft_p95_ms);
  if (slos.ttft_p99_ms !== undefined) checks.push(q(ttft, 0.99) <= slos.ttft_p99_ms);
  const e2e = ok.map((r) => (r.end - r.start) * 1000);
  if (slos.e2e_p95_ms !== undefined) checks.push(s.e2e_p95_ms <= slos.e2e_p95_ms);
  if (slos.e2e_p99_ms !== undefined) checks.push(q(e2e, 0.99) <= slos.e2e_p99_ms);
  const tpot = ok
    .filter((r) => r.firstToken >= 0 && r.output > 1)
    .map((r) => ((r.end - r.firstToken) / (r.output - 1)) * 1000);
  if (slos.tpot_p95_ms !== undefined) checks.push(q(tpot, 0.95) <= slos.tpot_p95_ms);
  if (slos.itl_p95_ms !== undefined) checks.push(q(tpot, 0.95) <= slos.itl_p95_ms);
  if (slos.min_completed_fraction !== undefined)
    checks.push(rows.length === 0 || ok.length / rows.length >= slos.min_completed_fraction);
  if (checks.length === 0) return undefined;
  // inference-perf's latencies start when the client sends, so overload the client cannot send hides in schedule
  // delay: a stage whose achieved rate falls short of the requested one is past the knee whatever its latencies.
  if (s.concurrency === undefined) checks.push(s.achieved_rate >= KEEP_UP * s.requested_rate);
  return checks.every((c) => c);
}

/** Share of the requested rate a stage must achieve to count as keeping up (below: client-side saturation). */
export const KEEP_UP = 0.95;

/** The per-stage summary of an inference-perf run; undefined for other workloads. */
export function inferencePerfLabSummary(run: RunOutput, slos: Slos): IpLabSummary | undefined {
  const log = inferencePerfLog(run);
  if (log === undefined) return undefined;
  const out: IpStageSummary[] = [];
  for (const st of log.stages) {
    if (st.id < 0 || st.count === 0) continue;
    const rows = log.rows.filter((r) => r.stage === st.id);
    if (rows.length === 0) continue;
    // inference-perf's own formulas (streaming on, so TTFT/TPOT exist whatever the config says).
    const rep = lifecycleReport(rows, { percentiles: [50, 95], streaming: true, format: "current", stage: st }) as {
      load_summary: { achieved_rate: number; schedule_delay: Record<string, number> | null };
      successes: {
        count: number;
        throughput: Record<string, number>;
        latency: Record<string, Record<string, number> | null>;
      };
    };
    const lat = rep.successes.latency;
    const g = gaugesOver(run, st.begin, st.end ?? run.result.endTime);
    const s: IpStageSummary = {
      stage: st.id,
      requested_rate: st.rate,
      achieved_rate: rep.load_summary.achieved_rate,
      requests: rows.length,
      completed: rep.successes.count,
      input_tokens_per_s: rep.successes.throughput.input_tokens_per_sec!,
      output_tokens_per_s: rep.successes.throughput.output_tokens_per_sec!,
      total_tokens_per_s: rep.successes.throughput.total_tokens_per_sec!,
      requests_per_s: rep.successes.throughput.requests_per_sec!,
      ttft_p50_ms: ms(lat.time_to_first_token?.median),
      ttft_p95_ms: ms(lat.time_to_first_token?.p95),
      tpot_p50_ms: ms(lat.time_per_output_token?.median),
      ntpot_p50_ms: ms(lat.normalized_time_per_output_token?.median),
      e2e_p95_ms: ms(lat.request_latency?.p95),
      schedule_delay_p50_ms: ms(rep.load_summary.schedule_delay?.median),
      schedule_delay_p95_ms: ms(rep.load_summary.schedule_delay?.p95),
      waiting_per_replica: g.waiting,
      running_per_replica: g.running,
      meets_slos: undefined,
      ...(st.concurrency !== undefined ? { concurrency: st.concurrency } : {}),
    };
    out.push({ ...s, meets_slos: stageMeets(rows, s, slos) });
  }
  const sat = log.gen.saturation;
  return {
    stages: out,
    knee_rate: kneeRate(out),
    ...(sat !== undefined ? { sweep_saturation_rate: sat } : {}),
  };
}

/** Highest requested rate up to which every stage in rate order meets the SLOs (null: the lowest fails). */
export function kneeRate(
  stages: readonly { requested_rate: number; meets_slos: boolean | undefined }[],
): number | null | undefined {
  if (stages.length === 0 || stages.some((s) => s.meets_slos === undefined)) return undefined;
  const byRate = [...stages].sort((a, b) => a.requested_rate - b.requested_rate);
  let knee: number | null = null;
  for (const s of byRate) {
    if (!s.meets_slos) break;
    knee = s.requested_rate;
  }
  return knee;
}

const f = (x: number) => (Number.isFinite(x) ? fmtNum(x) : "—");

/** Plain-text per-stage table (under `run`'s and `compare`'s summaries). */
export function formatIpStages(title: string, s: IpLabSummary): string {
  const rows = s.stages.map((x) => [
    String(x.stage),
    f(x.requested_rate),
    f(x.achieved_rate),
    f(x.requests_per_s),
    f(x.input_tokens_per_s),
    f(x.output_tokens_per_s),
    f(x.total_tokens_per_s),
    f(x.ttft_p50_ms),
    f(x.tpot_p50_ms),
    f(x.ntpot_p50_ms),
    f(x.schedule_delay_p50_ms),
    f(x.waiting_per_replica),
    x.meets_slos === undefined ? "" : x.meets_slos ? "yes" : "no",
  ]);
  const table = renderTable(
    [
      "stage",
      "rate",
      "achieved",
      "req/s",
      "in tok/s",
      "out tok/s",
      "tot tok/s",
      "TTFT p50",
      "TPOT p50",
      "NTPOT p50",
      "sched p50",
      "waiting/repl",
      "SLOs",
    ],
    rows,
  );
  const knee =
    s.knee_rate === undefined
      ? "knee: set `slos` in the scenario to find the highest rate that meets them"
      : s.knee_rate === null
        ? "knee: even the lowest stage misses the SLOs"
        : `knee: ${fmtNum(s.knee_rate)} req/s (highest stage rate with every stage up to it meeting the SLOs)`;
  const sat =
    s.sweep_saturation_rate !== undefined ? ` · sweep probe saturation ${fmtNum(s.sweep_saturation_rate)} req/s` : "";
  return `${title} (latencies in ms; rates per second; waiting = time-averaged vLLM queue per replica)\n${table}\n${knee}${sat}`;
}
