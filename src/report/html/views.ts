/**
 * Report pages as tables: a comparison (metrics side by side with deltas marked by direction, SLO verdicts, per SLO
 * class, per tenant, per replica), a sweep (every point, sortable, with the explorer), a drill (phases, checks) and a
 * check (SLOs, the baseline diff). Data in, `Section`s out; rendering is render.ts.
 */

import type { LabMetrics } from "../../metrics/lab-metrics.ts";
import type { SloCheck } from "../../metrics/slo.ts";
import { type CompareOutput, delta, runLabels } from "../compare.ts";
import { METRICS, type MetricInfo, metricInfo } from "../metric-catalog.ts";
import { fmtNum, fmtPct } from "../table.ts";
import type { Cell, CellMark, Explorer, Section, Table } from "./model.ts";

// What the pages read of the lab's results (the lab's SweepResults, DrillResult and CheckResult carry these fields;
// the report layer does not import the lab).

export interface SweepView {
  readonly params: readonly string[];
  readonly points: readonly {
    readonly id: number;
    readonly values: Readonly<Record<string, string | number | boolean>>;
    readonly seed: number;
    readonly metrics: LabMetrics;
    readonly slos: readonly SloCheck[];
    readonly slos_ok: boolean;
  }[];
  readonly pareto: { readonly front: readonly number[] };
  readonly best: { readonly id: number | null };
}

export interface PhaseStat {
  readonly name: "before" | "during" | "after";
  readonly start: number;
  readonly end: number;
  readonly requests: number;
  readonly ttft_p95_ms: number | null;
  readonly e2e_p95_ms: number | null;
  readonly shed: number;
  readonly unavailable: number;
  readonly max_waiting: number;
}

export interface DrillView {
  readonly policy: string;
  readonly seed: number;
  readonly spike: { readonly factor: number; readonly at: number; readonly duration: number };
  readonly targets: readonly { readonly sloClass: string | null; readonly ttft_p95_ms: number | null }[];
  readonly phases: readonly PhaseStat[];
  readonly classPhases: readonly { readonly sloClass: string; readonly phases: readonly PhaseStat[] }[];
  readonly backpressure: { readonly shed: number; readonly unavailable: number };
  readonly recovery: {
    readonly target: unknown;
    readonly recovered: boolean;
    readonly time_s: number | null;
    readonly window_s: number;
  };
  readonly checks: readonly { readonly name: string; readonly ok: boolean; readonly detail: string }[];
}

export interface CheckView {
  readonly scenario: string;
  readonly policy: string;
  readonly seed: number;
  readonly tolerance: number;
  readonly ok: boolean;
  readonly slos: readonly SloCheck[];
  readonly baseline: {
    readonly path: string | undefined;
    readonly compared: boolean;
    readonly notes: readonly string[];
    readonly diffs: readonly {
      readonly key: string;
      readonly label: string;
      readonly baseline: number;
      readonly current: number;
      readonly change: number | null;
      readonly status: "ok" | "regressed" | "improved";
    }[];
  };
}

/** Marks a change by the metric's direction; changes under the metric's floor are muted. */
export function changeMark(m: MetricInfo | undefined, base: number, v: number): CellMark | undefined {
  if (m === undefined || m.better === "none" || !Number.isFinite(base) || !Number.isFinite(v)) return undefined;
  if (Math.abs(v - base) < m.floor || v === base) return "muted";
  const up = v > base;
  return (m.better === "higher") === up ? "better" : "worse";
}

const numCell = (text: string, v: number, mark?: CellMark): Cell => ({
  text,
  sort: Number.isFinite(v) ? v : Number.MAX_VALUE,
  ...(mark ? { mark } : {}),
});

const ONLY_WHEN_NONZERO = new Set(["shed", "unavailable", "too_long", "recomputed_tokens"]);

function sloText(s: SloCheck): string {
  return `${s.label} ${s.kind === "max" ? "≤" : "≥"} ${fmtNum(s.target)}${s.unit ? ` ${s.unit}` : ""}`;
}

/** Metrics as rows, policies as columns, each column after the first with its delta against the first. */
export function compareTables(c: CompareOutput): Table[] {
  const labels = runLabels(c);
  const columns = [
    { label: "metric" },
    ...labels.flatMap((l, i) =>
      i === 0
        ? [{ label: l, numeric: true }]
        : [
            { label: l, numeric: true },
            { label: `Δ ${l}`, numeric: true },
          ],
    ),
  ];
  const rows: Cell[][] = [];
  for (const m of METRICS) {
    if (m.key === "duration_s") continue;
    if (ONLY_WHEN_NONZERO.has(m.key) && c.metrics.every((x) => x[m.key] === 0)) continue;
    if (m.key === "usd_per_mtok" && c.metrics.every((x) => x.usd_per_mtok === 0)) continue;
    const base = c.metrics[0]![m.key];
    const row: Cell[] = [{ text: m.label, title: m.key }];
    c.metrics.forEach((x, i) => {
      const v = x[m.key];
      row.push(numCell(m.fmt(v), v));
      if (i > 0) {
        const rel = base !== 0 ? (v - base) / Math.abs(base) : v - base;
        const mark = changeMark(m, base, v);
        row.push(numCell(delta(base, v, m.fmt), rel, mark));
      }
    });
    rows.push(row);
  }
  const tables: Table[] = [{ id: "metrics", caption: "Metrics (Δ against the first policy)", columns, rows }];
  const first = c.slos[0] ?? [];
  if (first.length > 0) {
    tables.push({
      id: "slos",
      caption: "SLO verdicts",
      columns: [{ label: "policy" }, ...first.map((s) => ({ label: sloText(s), numeric: true })), { label: "verdict" }],
      rows: c.slos.map((cs, i) => [
        labels[i]!,
        ...cs.map((s) => numCell(`${fmtNum(s.actual)}${s.unit ? ` ${s.unit}` : ""}`, s.actual, s.ok ? "pass" : "fail")),
        cs.every((s) => s.ok)
          ? { text: "✓ meets", mark: "pass" as const }
          : { text: `✗ ${cs.filter((s) => !s.ok).length} violated`, mark: "fail" as const },
      ]),
    });
  }
  for (const [by, title] of [
    ["slo_class", "Per SLO class"],
    ["tenant", "Per tenant"],
  ] as const) {
    const groups = c.groups[by];
    const names = [...new Set(groups.flatMap((g) => g.map((x) => x.group)))].sort();
    if (names.length < 2 && by === "tenant") continue;
    const rows2: (Cell | string)[][] = [];
    for (const name of names) {
      groups.forEach((g, i) => {
        const row = g.find((x) => x.group === name);
        if (!row) return;
        const base = groups[0]!.find((x) => x.group === name)?.metrics;
        const m = row.metrics;
        const mk = (key: keyof typeof m, fmt: (x: number) => string, better: "lower" | "higher" | "none") => {
          const v = m[key];
          const b = base?.[key];
          const info = { better, floor: key === "hit_rate" || key === "goodput_fraction" ? 0.005 : 1 } as MetricInfo;
          return numCell(fmt(v), v, i > 0 && b !== undefined ? changeMark(info, b, v) : undefined);
        };
        rows2.push([
          name,
          labels[i]!,
          mk("requests", fmtNum, "none"),
          mk("completed", fmtNum, "higher"),
          mk("ttft_p50_ms", fmtNum, "lower"),
          mk("ttft_p95_ms", fmtNum, "lower"),
          mk("e2e_p95_ms", fmtNum, "lower"),
          mk("tpot_mean_ms", fmtNum, "lower"),
          mk("hit_rate", fmtPct, "higher"),
          mk("goodput_fraction", fmtPct, "higher"),
          mk("shed", fmtNum, "lower"),
        ]);
      });
    }
    tables.push({
      id: by === "slo_class" ? "per-class" : "per-tenant",
      caption: `${title} (coloured against the first policy)`,
      columns: [
        { label: by === "slo_class" ? "class" : "tenant" },
        { label: "policy" },
        ...[
          "requests",
          "completed",
          "TTFT p50 (ms)",
          "TTFT p95 (ms)",
          "E2E p95 (ms)",
          "TPOT mean (ms)",
          "hit rate",
          "goodput share",
          "shed (429)",
        ].map((label) => ({ label, numeric: true })),
      ],
      rows: rows2,
    });
  }
  const reps: (Cell | string)[][] = [];
  c.runs.forEach((r, i) => {
    for (const x of r.summary.replicas) {
      reps.push([
        labels[i]!,
        x.name,
        numCell(fmtNum(x.routed), x.routed),
        numCell(fmtNum(x.requests.completed), x.requests.completed),
        numCell(fmtNum(x.ttft_ms.p95), x.ttft_ms.p95),
        numCell(fmtNum(x.e2e_ms.p95), x.e2e_ms.p95),
        numCell(fmtNum(x.queue_ms.p95), x.queue_ms.p95),
        numCell(fmtPct(x.prefix_cache_hit_rate), x.prefix_cache_hit_rate),
        numCell(fmtPct(x.busy_fraction), x.busy_fraction),
        numCell(fmtNum(x.preemptions), x.preemptions),
      ]);
    }
  });
  tables.push({
    id: "per-replica",
    caption: "Per replica",
    columns: [
      { label: "policy" },
      { label: "replica" },
      ...[
        "routed",
        "completed",
        "TTFT p95 (ms)",
        "E2E p95 (ms)",
        "queue p95 (ms)",
        "hit rate",
        "busy",
        "preemptions",
      ].map((label) => ({ label, numeric: true })),
    ],
    rows: reps,
  });
  return tables;
}

/** The sweep's points, one row each (sortable), and the explorer's details per point. */
export function sweepTables(r: SweepView): { table: Table; explorer: Explorer } {
  const metricKeys = METRICS.filter((m) => m.key !== "duration_s").map((m) => m.key);
  const shown = [
    "ttft_p95_ms",
    "e2e_p95_ms",
    "hit_rate",
    "throughput_rps",
    "goodput_rps",
    "goodput_fraction",
    "shed",
    "load_skew",
  ].filter((k) => metricKeys.includes(k as never));
  const front = new Set(r.pareto.front);
  const rows: Cell[][] = r.points.map((p) => [
    { text: String(p.id), sort: p.id },
    ...r.params.map((k) => {
      const v = p.values[k];
      return typeof v === "number" ? numCell(fmtNum(v), v) : { text: String(v) };
    }),
    ...shown.map((k) => {
      const m = metricInfo(k)!;
      const v = p.metrics[m.key];
      return numCell(m.fmt(v), v);
    }),
    p.slos_ok ? { text: "✓", mark: "pass" as const, sort: 1 } : { text: "✗", mark: "fail" as const, sort: 0 },
    { text: front.has(p.id) ? "front" : "", sort: front.has(p.id) ? 1 : 0 },
    { text: r.best.id === p.id ? "best" : "", sort: r.best.id === p.id ? 1 : 0 },
  ]);
  const table: Table = {
    id: "points",
    caption: "Points (click a row for its full summary)",
    columns: [
      { label: "id", numeric: true },
      ...r.params.map((k) => ({ label: k, numeric: true })),
      ...shown.map((k) => ({ label: metricInfo(k)!.label, numeric: true })),
      { label: "SLOs" },
      { label: "Pareto" },
      { label: "best" },
    ],
    rows,
    explore: true,
  };
  const points: Record<string, [string, string][]> = {};
  for (const p of r.points) {
    const rowsP: [string, string][] = [
      ["seed", String(p.seed)],
      ...Object.entries(p.values).map(([k, v]) => [k, String(v)] as [string, string]),
      ...METRICS.map((m) => [m.label, m.fmt(p.metrics[m.key])] as [string, string]),
      ...p.slos.map(
        (s) =>
          [`SLO ${sloText(s)}`, `${fmtNum(s.actual)}${s.unit ? ` ${s.unit}` : ""} ${s.ok ? "✓" : "✗"}`] as [
            string,
            string,
          ],
      ),
      ["Pareto front", front.has(p.id) ? "yes" : "no"],
    ];
    points[String(p.id)] = rowsP;
  }
  return { table, explorer: { points, field: "id" } };
}

function phaseRow(label: string, p: PhaseStat, target: number | null): (Cell | string)[] {
  const f = (x: number | null) => (x === null ? { text: "-" } : numCell(fmtNum(x), x));
  const ttft = p.ttft_p95_ms;
  return [
    label,
    p.name,
    numCell(fmtNum(p.start), p.start),
    p.name === "after" ? { text: "end", sort: Number.MAX_VALUE } : numCell(fmtNum(p.end), p.end),
    numCell(fmtNum(p.requests), p.requests),
    ttft === null
      ? { text: "-" }
      : numCell(fmtNum(ttft), ttft, target === null ? undefined : ttft <= target ? "pass" : "fail"),
    f(p.e2e_p95_ms),
    numCell(fmtNum(p.shed), p.shed),
    numCell(fmtNum(p.unavailable), p.unavailable),
    numCell(fmtNum(p.max_waiting), p.max_waiting),
  ];
}

/** The drill's phases (before, during, after the spike; per SLO class with a target) and its checks. */
export function drillTables(d: DrillView): Table[] {
  const all = d.targets.find((t) => t.sloClass === null)?.ttft_p95_ms ?? null;
  const rows: (Cell | string)[][] = [];
  for (const p of d.phases) if (p.requests > 0 || p.name !== "after") rows.push(phaseRow("all", p, all));
  for (const c of d.classPhases) {
    const t = d.targets.find((x) => x.sloClass === c.sloClass)?.ttft_p95_ms ?? null;
    for (const p of c.phases) if (p.requests > 0 || p.name !== "after") rows.push(phaseRow(c.sloClass, p, t));
  }
  return [
    {
      id: "phases",
      caption: `Phases (spike ×${d.spike.factor} at ${fmtNum(d.spike.at)} s for ${fmtNum(d.spike.duration)} s)`,
      columns: [
        { label: "requests" },
        { label: "phase" },
        ...["from (s)", "to (s)", "count", "TTFT p95 (ms)", "E2E p95 (ms)", "429", "503", "max waiting"].map(
          (label) => ({
            label,
            numeric: true,
          }),
        ),
      ],
      rows,
    },
    {
      id: "checks",
      caption: "Checks",
      columns: [{ label: "check" }, { label: "result" }, { label: "detail" }],
      rows: d.checks.map((c) => [
        c.name,
        c.ok ? { text: "✓ pass", mark: "pass" as const } : { text: "✗ fail", mark: "fail" as const },
        c.detail,
      ]),
    },
  ];
}

/** The check's SLO verdicts and its diff against the baseline. */
export function checkTables(r: CheckView): Table[] {
  const tables: Table[] = [
    {
      id: "slos",
      caption: "SLOs",
      columns: [
        { label: "SLO" },
        { label: "target", numeric: true },
        { label: "now", numeric: true },
        { label: "verdict" },
      ],
      rows: r.slos.map((s) => [
        { text: s.label, title: s.name },
        numCell(`${s.kind === "max" ? "≤" : "≥"} ${fmtNum(s.target)}${s.unit ? ` ${s.unit}` : ""}`, s.target),
        numCell(`${fmtNum(s.actual)}${s.unit ? ` ${s.unit}` : ""}`, s.actual, s.ok ? "pass" : "fail"),
        s.ok ? { text: "✓ pass", mark: "pass" as const } : { text: "✗ violated", mark: "fail" as const },
      ]),
    },
  ];
  const b = r.baseline;
  if (b.compared) {
    tables.push({
      id: "diff",
      caption: `Against the baseline ${b.path ?? ""} (tolerance ${(r.tolerance * 100).toFixed(1)} %)`,
      columns: [
        { label: "metric" },
        { label: "baseline", numeric: true },
        { label: "now", numeric: true },
        { label: "change", numeric: true },
        { label: "status" },
      ],
      rows: b.diffs.map((d) => {
        const m = metricInfo(d.key);
        const fmt = (x: number) => (m ? m.fmt(x) : fmtNum(x));
        const ch =
          d.change === null
            ? d.current === d.baseline
              ? "0%"
              : `${d.current > d.baseline ? "+" : "-"}${fmt(Math.abs(d.current - d.baseline))}`
            : `${d.change > 0 ? "+" : ""}${(d.change * 100).toFixed(1)}%`;
        const mark: CellMark | undefined =
          d.status === "regressed" ? "worse" : d.status === "improved" ? "better" : "muted";
        return [
          { text: `${d.label}`, title: d.key },
          numCell(fmt(d.baseline), d.baseline),
          numCell(fmt(d.current), d.current),
          numCell(ch, d.change ?? 0, mark),
          d.status === "regressed"
            ? { text: "✗ regressed", mark: "fail" as const }
            : d.status === "improved"
              ? { text: "↑ improved", mark: "pass" as const }
              : { text: "✓ within", mark: "pass" as const },
        ];
      }),
    });
  }
  return tables;
}

/** A section holding tables only. */
export function tableSection(title: string, tables: readonly Table[], note?: string, text?: string): Section {
  return { title, tables, ...(note ? { note } : {}), ...(text ? { text } : {}) };
}

/** The drill's section: its phases and checks, with the terminal's verdict text folded below. */
export function drillSection(d: DrillView, text: string): Section {
  const backpressure = `backpressure: ${fmtNum(d.backpressure.shed)} × 429, ${fmtNum(d.backpressure.unavailable)} × 503`;
  const rec = d.recovery.target
    ? d.recovery.recovered
      ? `recovered ${fmtNum(d.recovery.time_s ?? 0)} s after the spike (windows of ${fmtNum(d.recovery.window_s)} s)`
      : "not recovered before the traffic ended"
    : "no TTFT target to judge recovery";
  return tableSection(
    "Drill",
    drillTables(d),
    `policy ${d.policy} · seed ${d.seed} · ${backpressure} · ${rec}. TTFT p95 cells are green within the SLO, red above it.`,
    text,
  );
}

/** The check's page: SLO verdicts and the baseline diff. */
export function checkReport(r: CheckView, text: string) {
  const failed = r.slos.filter((s) => !s.ok).length + r.baseline.diffs.filter((d) => d.status === "regressed").length;
  return {
    kind: "check" as const,
    title: `gatelab check: ${r.scenario}`,
    subtitle: `policy ${r.policy} · seed ${r.seed} · tolerance ${(r.tolerance * 100).toFixed(1)} %`,
    verdict: { ok: r.ok, text: r.ok ? "PASS" : `FAIL — ${failed} ${failed === 1 ? "failure" : "failures"}` },
    sections: [tableSection("Check", checkTables(r), r.baseline.notes.join(" ") || undefined, text)],
  };
}
