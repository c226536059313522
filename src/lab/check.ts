/**
 * `check`: the CI gate. Runs a scenario, asserts its SLOs, and compares key metrics with a committed baseline.
 *
 * - Exit 0: every SLO holds and no metric regressed beyond the tolerance; 1: an SLO is violated or a metric regressed
 *   (each is named); 2: bad input (the CLI's InputError path).
 * - Baseline: `<scenario>.baseline.json` beside the scenario unless `--baseline FILE`; `--update-baseline` (re)writes
 *   it from this run. A missing default baseline only skips the comparison; a missing explicit one is an error.
 * - A metric regresses when it moved in its worse direction by more than `tolerance × |baseline|` and more than the
 *   metric's floor (1 ms for latencies, half a point for rates), so tiny absolute changes on near-zero values do not
 *   trip the gate. Improvements beyond the tolerance are reported, not failed: refresh the baseline to lock them in.
 * - The simulator is deterministic: an unchanged scenario and code give exactly the baseline.
 */
import { existsSync } from "node:fs";
import { InputError, readTextInput } from "../errors.ts";
import { type LabMetrics, labMetrics, type MetricKey } from "../metrics/lab-metrics.ts";
import { checkRunSlos, requestTargets, type SloCheck } from "../metrics/slo.ts";
import { checkWritableFile, writeFileAtomic } from "../report/atomic.ts";
import { metricInfo } from "../report/metric-catalog.ts";
import { fmtNum, renderTable } from "../report/table.ts";
import type { LoadedScenario } from "../scenario.ts";
import { runScenario } from "./run.ts";

/** The metrics a baseline records and compares. */
export const BASELINE_METRICS: readonly MetricKey[] = [
  "ttft_p50_ms",
  "ttft_p95_ms",
  "ttft_p99_ms",
  "e2e_p95_ms",
  "tpot_mean_ms",
  "itl_p95_ms",
  "hit_rate",
  "throughput_rps",
  "goodput_fraction",
  "completed",
  "shed",
  "load_skew",
  "prefill_tokens",
  "usd_per_mtok",
];

export interface Baseline {
  readonly format: "gatelab-baseline/1";
  readonly scenario: string;
  readonly policy: string;
  readonly seed: number;
  readonly metrics: Partial<Record<MetricKey, number>>;
}

export interface MetricDiff {
  readonly key: MetricKey;
  readonly label: string;
  readonly baseline: number;
  readonly current: number;
  /** Relative change (current − baseline) / |baseline|; null when the baseline is 0. */
  readonly change: number | null;
  readonly status: "ok" | "regressed" | "improved";
}

export interface CheckOptions {
  readonly baseline?: string;
  readonly updateBaseline?: boolean;
  /** Allowed relative change in the worse direction (0.05 = 5%). */
  readonly tolerance?: number;
  readonly policy?: string;
  readonly eppConfig?: string;
  readonly seed?: number;
}

export interface CheckResult {
  readonly scenario: string;
  readonly policy: string;
  readonly seed: number;
  readonly tolerance: number;
  readonly slos: readonly SloCheck[];
  readonly metrics: LabMetrics;
  readonly baseline: {
    readonly path: string | undefined;
    /** Compared (the file existed before this run). */
    readonly compared: boolean;
    readonly written: boolean;
    readonly notes: readonly string[];
    readonly diffs: readonly MetricDiff[];
  };
  readonly ok: boolean;
  readonly exitCode: 0 | 1;
}

/** Parses `5%`, `0.05` (a fraction ≤ 1), or `5` with a `%`-less percent above 1. */
export function parseTolerance(text: string): number {
  const t = text.trim();
  const pct = t.endsWith("%");
  const v = Number(pct ? t.slice(0, -1) : t);
  if (!Number.isFinite(v) || v < 0) throw new InputError(`--tolerance "${text}": expected a percentage such as 5%`);
  return pct || v > 1 ? v / 100 : v;
}

/** `scenarios/x.yaml` → `scenarios/x.baseline.json`. */
export function defaultBaselinePath(scenarioFile: string): string {
  return `${scenarioFile.replace(/\.(ya?ml)$/i, "")}.baseline.json`;
}

export function readBaseline(path: string): Baseline {
  const text = readTextInput(path, "baseline");
  let b: Baseline;
  try {
    b = JSON.parse(text) as Baseline;
  } catch (e) {
    throw new InputError(`${path}: invalid JSON (${(e as Error).message})`);
  }
  if (
    b === null ||
    typeof b !== "object" ||
    b.format !== "gatelab-baseline/1" ||
    typeof b.metrics !== "object" ||
    b.metrics === null ||
    Array.isArray(b.metrics)
  ) {
    throw new InputError(`${path}: not a gatelab baseline (expected "format": "gatelab-baseline/1" and "metrics")`);
  }
  if (typeof b.scenario !== "string") throw new InputError(`${path}: scenario: expected the scenario's name`);
  if (typeof b.policy !== "string") throw new InputError(`${path}: policy: expected a policy name`);
  if (!Number.isInteger(b.seed) || b.seed < 0) throw new InputError(`${path}: seed: expected a non-negative integer`);
  const entries = Object.entries(b.metrics);
  // A baseline that compares nothing would let every regression pass.
  if (entries.length === 0)
    throw new InputError(
      `${path}: metrics: none (a baseline compares at least one metric; write one with --update-baseline)`,
    );
  for (const [k, v] of entries) {
    if (!metricInfo(k)) throw new InputError(`${path}: metrics.${k}: unknown metric`);
    if ((typeof v !== "number" || Number.isNaN(v)) && v !== null)
      throw new InputError(`${path}: metrics.${k}: expected a number, got ${JSON.stringify(v)}`);
    // Every metric is a latency, rate, count, share or cost: a negative value is a corrupted file.
    if (typeof v === "number" && v < 0) throw new InputError(`${path}: metrics.${k}: expected a number ≥ 0, got ${v}`);
  }
  return b;
}

export function makeBaseline(scenario: string, policy: string, seed: number, m: LabMetrics): Baseline {
  const metrics: Partial<Record<MetricKey, number>> = {};
  for (const k of BASELINE_METRICS) metrics[k] = m[k];
  return { format: "gatelab-baseline/1", scenario, policy, seed, metrics };
}

/** Compares current metrics with a baseline's. */
export function diffBaseline(b: Baseline, m: LabMetrics, tolerance: number): MetricDiff[] {
  const out: MetricDiff[] = [];
  for (const [key, base] of Object.entries(b.metrics) as [MetricKey, number | null][]) {
    const info = metricInfo(key)!;
    const cur = m[key];
    // JSON has no Infinity: a stored null stands for a non-finite value.
    const bv = base === null ? Number.POSITIVE_INFINITY : base;
    const change = bv !== 0 && Number.isFinite(bv) ? (cur - bv) / Math.abs(bv) : null;
    let status: MetricDiff["status"] = "ok";
    if (info.better !== "none" && !(bv === cur)) {
      const worse = info.better === "lower" ? cur - bv : bv - cur;
      const allowed = Math.max(tolerance * Math.abs(Number.isFinite(bv) ? bv : 0), info.floor);
      if (Number.isNaN(worse)) status = "regressed";
      else if (worse > allowed) status = "regressed";
      else if (-worse > allowed) status = "improved";
    }
    out.push({ key, label: info.label, baseline: bv, current: cur, change, status });
  }
  return out;
}

export function check(loaded: LoadedScenario, o: CheckOptions = {}): CheckResult {
  const tolerance = o.tolerance ?? 0.05;
  const embedded0 = loaded.file.startsWith("<");
  const path0 = o.baseline ?? (embedded0 ? undefined : defaultBaselinePath(loaded.file));
  // Before the run: a baseline that cannot be read is bad input, one that cannot be written an output error.
  if (path0 !== undefined && existsSync(path0)) readBaseline(path0);
  else if (o.baseline !== undefined && !o.updateBaseline)
    throw new InputError(`${o.baseline}: no such baseline (create it with --update-baseline)`);
  if (o.updateBaseline) {
    if (path0 === undefined) throw new InputError("--update-baseline: give --baseline FILE for the embedded scenario");
    checkWritableFile(path0, "baseline");
  }
  const run = runScenario(loaded, {
    ...(o.policy !== undefined ? { policy: o.policy } : {}),
    ...(o.eppConfig !== undefined ? { eppConfig: o.eppConfig } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
  });
  const s = loaded.scenario;
  const slos = checkRunSlos(run, s.slos);
  const metrics = labMetrics(run, requestTargets(s.slos));
  const embedded = loaded.file.startsWith("<");
  const path = o.baseline ?? (embedded ? undefined : defaultBaselinePath(loaded.file));
  const notes: string[] = [];
  let diffs: MetricDiff[] = [];
  let compared = false;
  if (path !== undefined && existsSync(path)) {
    const b = readBaseline(path);
    compared = true;
    if (b.scenario !== s.name) notes.push(`the baseline is of scenario "${b.scenario}", this run is "${s.name}"`);
    if (b.policy !== run.policy) notes.push(`the baseline ran policy ${b.policy}, this run ${run.policy}`);
    if (b.seed !== run.seed) notes.push(`the baseline ran seed ${b.seed}, this run ${run.seed}`);
    diffs = diffBaseline(b, metrics, tolerance);
  } else if (o.baseline !== undefined && !o.updateBaseline) {
    throw new InputError(`${o.baseline}: no such baseline (create it with --update-baseline)`);
  } else if (path !== undefined && !o.updateBaseline) {
    notes.push(`no baseline at ${path}; SLOs only (write one with --update-baseline)`);
  } else if (path === undefined) {
    notes.push("no baseline for the embedded scenario; pass --baseline FILE");
  }
  let written = false;
  if (o.updateBaseline) {
    if (path === undefined) throw new InputError("--update-baseline: give --baseline FILE for the embedded scenario");
    writeFileAtomic(path, `${JSON.stringify(makeBaseline(s.name, run.policy, run.seed, metrics), null, 2)}\n`);
    written = true;
  }
  const ok = slos.every((c) => c.ok) && (written || diffs.every((d) => d.status !== "regressed"));
  return {
    scenario: s.name,
    policy: run.policy,
    seed: run.seed,
    tolerance,
    slos,
    metrics,
    baseline: { path, compared, written, notes, diffs },
    ok,
    exitCode: ok ? 0 : 1,
  };
}

function fmtChange(d: MetricDiff): string {
  if (d.change === null)
    return d.baseline === d.current
      ? "0%"
      : `${d.current > d.baseline ? "+" : "-"}${fmtNum(Math.abs(d.current - d.baseline))}`;
  const p = d.change * 100;
  if (Math.abs(p) < 0.05) return "0%";
  return `${p > 0 ? "+" : ""}${p.toFixed(1)}%`;
}

/** The gate's report: SLO lines, the baseline diff, the verdict naming what failed. */
export function formatCheck(r: CheckResult): string {
  const out = [`check "${r.scenario}" · policy ${r.policy} · seed ${r.seed}`, ""];
  if (r.slos.length === 0) out.push("SLOs: none set in the scenario");
  else {
    out.push("SLOs (latency percentiles over every request; a request not served counts as a miss):");
    for (const c of r.slos) {
      const u = c.unit ? ` ${c.unit}` : "";
      out.push(
        `  ${c.ok ? "✓" : "✗"} ${c.label} ${fmtNum(c.actual)}${u} ${c.ok ? (c.kind === "max" ? "≤" : "≥") : c.kind === "max" ? ">" : "<"} ${fmtNum(c.target)}${u}  (${c.name})${c.note ? ` — ${c.note}` : ""}`,
      );
    }
  }
  out.push("");
  const b = r.baseline;
  for (const n of b.notes) out.push(`note: ${n}`);
  if (b.compared) {
    out.push(`baseline ${b.path} (tolerance ${(r.tolerance * 100).toFixed(1)}%):`);
    const fmt = (k: MetricKey, x: number) => metricInfo(k)!.fmt(x);
    out.push(
      renderTable(
        ["", "metric", "baseline", "now", "change"],
        b.diffs.map((d) => [
          d.status === "regressed" ? "✗" : d.status === "improved" ? "↑" : "✓",
          `${d.label} (${d.key})`,
          fmt(d.key, d.baseline),
          fmt(d.key, d.current),
          fmtChange(d),
        ]),
        { indent: "  " },
      ),
    );
    if (b.diffs.some((d) => d.status === "improved"))
      out.push("  ↑ improved beyond the tolerance: refresh the baseline with --update-baseline");
  }
  if (b.written) out.push(`baseline written to ${b.path}`);
  out.push("");
  const failed = [
    ...r.slos.filter((c) => !c.ok).map((c) => `SLO ${c.name} violated (${fmtNum(c.actual)} vs ${fmtNum(c.target)})`),
    ...(b.written
      ? []
      : b.diffs.filter((d) => d.status === "regressed").map((d) => `${d.key} regressed ${fmtChange(d)}`)),
  ];
  out.push(failed.length === 0 ? "PASS" : `FAIL: ${failed.join("; ")}`);
  return out.join("\n");
}

function xml(s: string): string {
  return s
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;");
}

/** JUnit XML: one test case per SLO and per baseline metric. */
export function junitXml(r: CheckResult): string {
  const cases: string[] = [];
  let failures = 0;
  for (const c of r.slos) {
    const name = `${c.name} ${c.kind === "max" ? "<=" : ">="} ${c.target}`;
    if (c.ok) cases.push(`    <testcase classname="gatelab.slo" name="${xml(name)}"/>`);
    else {
      failures++;
      cases.push(
        `    <testcase classname="gatelab.slo" name="${xml(name)}">\n      <failure message="${xml(`${c.label} ${fmtNum(c.actual)}${c.unit} violates ${c.kind === "max" ? "≤" : "≥"} ${fmtNum(c.target)}${c.unit}${c.note ? ` (${c.note})` : ""}`)}"/>\n    </testcase>`,
      );
    }
  }
  if (!r.baseline.written) {
    for (const d of r.baseline.diffs) {
      const name = `${d.key} within ${(r.tolerance * 100).toFixed(1)}% of baseline`;
      if (d.status !== "regressed") cases.push(`    <testcase classname="gatelab.baseline" name="${xml(name)}"/>`);
      else {
        failures++;
        cases.push(
          `    <testcase classname="gatelab.baseline" name="${xml(name)}">\n      <failure message="${xml(`${d.label}: baseline ${metricInfo(d.key)!.fmt(d.baseline)}, now ${metricInfo(d.key)!.fmt(d.current)} (${fmtChange(d)})`)}"/>\n    </testcase>`,
        );
      }
    }
  }
  const suite = `gatelab check ${r.scenario}`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="gatelab check" tests="${cases.length}" failures="${failures}">`,
    `  <testsuite name="${xml(suite)}" tests="${cases.length}" failures="${failures}" errors="0">`,
    ...cases,
    "  </testsuite>",
    "</testsuites>",
    "",
  ].join("\n");
}
