/**
 * A comparison as people read it: metrics as rows and policies as columns with deltas against the first, per SLO
 * class and tenant, the SLO verdicts; and its JSON document (summary.json).
 */
import type { GroupKey, GroupRow, LabMetrics } from "../metrics/lab-metrics.ts";
import type { SloCheck } from "../metrics/slo.ts";
import type { RunOutput, RunSummary } from "../metrics/summary.ts";
import type { Scenario } from "../scenario.ts";
import { METRICS } from "./metric-catalog.ts";
import { fmtDelta, fmtNum, fmtPct, renderTable } from "./table.ts";

export interface CompareOutput {
  readonly scenario: string;
  readonly seed: number;
  readonly runs: readonly RunOutput[];
  /** The validated scenario the runs used (charts read its spikes and SLOs). */
  readonly config: Scenario;
  /** Flat metrics per run, in run order. */
  readonly metrics: readonly LabMetrics[];
  /** The scenario's SLOs evaluated per run. */
  readonly slos: readonly (readonly SloCheck[])[];
  /** Per-group metrics per run. */
  readonly groups: Readonly<Record<GroupKey, readonly (readonly GroupRow[])[]>>;
}

/**
 * Relative change of b against a ("+12.3%"); "0%" when equal; the absolute change ("+5") when a is 0. Always starts
 * with a sign or digit, so the table right-aligns the column.
 */
export function delta(a: number, b: number, fmt: (x: number) => string = fmtNum): string {
  if (a === b) return "0%";
  if (Number.isNaN(a) || Number.isNaN(b)) return "n/a";
  // To or from infinity (a load skew with an idle replica, a percentile of a group nothing was served to): the
  // relative change is unbounded or total, never 0.
  if (!Number.isFinite(b)) return b > 0 ? "+∞" : "-∞";
  if (!Number.isFinite(a)) return a > 0 ? "-∞" : "+∞";
  if (a === 0 && Number.isFinite(b)) return `${b > 0 ? "+" : "-"}${fmt(Math.abs(b))}`;
  const d = fmtDelta(a, b);
  return d === "±0%" ? "0%" : d === "" ? "0%" : d;
}

/** Column names: policy names, made unique when the same policy appears twice. */
export function runLabels(c: { runs: readonly { policy: string }[] }): string[] {
  const seen = new Map<string, number>();
  return c.runs.map((r) => {
    const k = (seen.get(r.policy) ?? 0) + 1;
    seen.set(r.policy, k);
    return k === 1 ? r.policy : `${r.policy}#${k}`;
  });
}

/** Metrics that only count trouble (shed, 503, 413) are shown when some run has any. */
const ONLY_WHEN_NONZERO = new Set(["shed", "unavailable", "too_long", "recomputed_tokens"]);

function sloLine(labels: readonly string[], checks: readonly (readonly SloCheck[])[]): string[] {
  const first = checks[0] ?? [];
  if (first.length === 0) return ["SLOs: none set in the scenario (add `slos:`, e.g. ttft_p95_ms: 1000)"];
  const targets = first.map(
    (s) => `${s.label} ${s.kind === "max" ? "≤" : "≥"} ${fmtNum(s.target)}${s.unit ? ` ${s.unit}` : ""}`,
  );
  const out = [`SLOs (${targets.join(", ")}; percentiles over every request, those not served count as misses):`];
  checks.forEach((cs, i) => {
    const bad = cs.filter((s) => !s.ok);
    out.push(
      bad.length === 0
        ? `  ✓ ${labels[i]}`
        : `  ✗ ${labels[i]}: ${bad.map((s) => `${s.label} ${fmtNum(s.actual)}${s.unit ? ` ${s.unit}` : ""}`).join(", ")}`,
    );
  });
  return out;
}

const GROUP_METRICS: readonly { key: keyof GroupRow["metrics"]; label: string; fmt: (x: number) => string }[] = [
  { key: "requests", label: "requests", fmt: fmtNum },
  { key: "ttft_p50_ms", label: "TTFT p50 (ms)", fmt: fmtNum },
  { key: "ttft_p95_ms", label: "TTFT p95 (ms)", fmt: fmtNum },
  { key: "e2e_p95_ms", label: "E2E p95 (ms)", fmt: fmtNum },
  { key: "hit_rate", label: "hit rate", fmt: fmtPct },
  { key: "goodput_fraction", label: "goodput share", fmt: fmtPct },
  { key: "shed", label: "shed (429)", fmt: fmtNum },
];

function groupTable(title: string, labels: readonly string[], rows: readonly (readonly GroupRow[])[]): string[] {
  const names = [...new Set(rows.flatMap((r) => r.map((g) => g.group)))].sort();
  if (names.length < 2) return [];
  const header = [title, "metric", ...labels.flatMap((l, i) => (i === 0 ? [l] : [l, "Δ"]))];
  const body: string[][] = [];
  for (const name of names) {
    GROUP_METRICS.forEach((m, j) => {
      const vals = rows.map((r) => r.find((g) => g.group === name)?.metrics[m.key]);
      const base = vals[0];
      const cells = [j === 0 ? name : "", m.label];
      vals.forEach((v, i) => {
        cells.push(v === undefined ? "-" : m.fmt(v));
        if (i > 0) cells.push(v === undefined || base === undefined ? "" : delta(base, v, m.fmt));
      });
      body.push(cells);
    });
  }
  return ["", renderTable(header, body)];
}

/** Metrics as rows, policies as columns; each column after the first shows its delta against the first. */
export function formatComparison(c: CompareOutput): string {
  const labels = runLabels(c);
  const header = ["metric", ...labels.flatMap((l, i) => (i === 0 ? [l] : [l, "Δ"]))];
  const rows: string[][] = [];
  for (const m of METRICS) {
    if (m.key === "requests" || m.key === "duration_s") continue;
    if (ONLY_WHEN_NONZERO.has(m.key) && c.metrics.every((x) => x[m.key] === 0)) continue;
    if (m.key === "usd_per_mtok" && c.metrics.every((x) => x.usd_per_mtok === 0)) continue;
    const base = c.metrics[0]![m.key];
    const cells: string[] = [m.label];
    c.metrics.forEach((x, i) => {
      cells.push(m.fmt(x[m.key]));
      if (i > 0) cells.push(delta(base, x[m.key], m.fmt));
    });
    rows.push(cells);
  }
  const reqs = c.metrics.map((x) => x.requests);
  const same = reqs.every((n) => n === reqs[0]);
  const stream = same
    ? `${fmtNum(reqs[0]!)} requests, the same stream for every policy`
    : `the same workload for every policy (${reqs.map((n) => fmtNum(n)).join(" / ")} requests: closed-loop turns follow each policy's answers)`;
  const unserved = c.runs.map((r) => r.summary.requests.total - r.summary.requests.completed);
  const servedNote = unserved.some((n) => n > 0)
    ? [
        `(latency rows cover completed requests only; not served: ${unserved.map((n, i) => `${labels[i]} ${fmtNum(n)}`).join(", ")})`,
      ]
    : [];
  return [
    `scenario "${c.scenario}" · seed ${c.seed} · ${stream}`,
    "",
    renderTable(header, rows),
    ...servedNote,
    ...groupTable("SLO class", labels, c.groups.slo_class),
    ...groupTable("tenant", labels, c.groups.tenant),
    "",
    ...sloLine(labels, c.slos),
    ...routingLines(labels, c.runs),
    ...roleLines(labels, c.runs),
  ].join("\n");
}

/** P/D: per run whose pools carry `llm-d.ai/role`, the work of each role and the KV transfers (inside TTFT). */
function roleLines(labels: readonly string[], runs: readonly { summary: RunSummary }[]): string[] {
  const out: string[] = [];
  runs.forEach((r, i) => {
    const roles = r.summary.roles;
    if (roles === undefined) return;
    const parts = Object.entries(roles).map(
      ([role, x]) =>
        `${role} ×${x.replicas}: ${fmtNum(x.requests)} decoded, ${fmtNum(x.prefill_requests)} prefill legs, ` +
        `${fmtNum(x.prefill_tokens)} prefill tok, busy ${fmtPct(x.busy_fraction)}`,
    );
    const k = r.summary.kv_transfer;
    const kv =
      k !== undefined && k.transfers > 0
        ? `; KV transfers ${fmtNum(k.transfers)}, mean ${fmtNum(k.mean_ms)} ms, p95 ${fmtNum(k.p95_ms)} ms (${k.link})`
        : "; no KV transfer (aggregated)";
    out.push(`roles: ${labels[i]}: ${parts.join(" · ")}${kv}`);
  });
  return out.length > 0 ? ["", ...out] : [];
}

/** Routing health per policy: starved replicas and herding, and the router's notes (no-op plugins). */
function routingLines(labels: readonly string[], runs: readonly { summary: RunSummary }[]): string[] {
  const out: string[] = [];
  runs.forEach((r, i) => {
    for (const f of r.summary.routing.findings) out.push(`routing: ${labels[i]}: ${f}`);
    for (const n of r.summary.notes ?? []) out.push(`note: ${labels[i]}: ${n}`);
  });
  return out.length > 0 ? ["", ...out] : [];
}

/** JSON document of a comparison (summary.json): scenario, seed, per run its policy, lab metrics, SLOs, groups. */
export function comparisonJson(c: CompareOutput): unknown {
  const labels = runLabels(c);
  return {
    scenario: c.scenario,
    seed: c.seed,
    slos: c.config.slos,
    runs: c.runs.map((r, i) => ({
      policy: labels[i],
      seed: r.seed,
      metrics: c.metrics[i],
      slos: c.slos[i],
      slos_ok: c.slos[i]!.every((s) => s.ok),
      by_slo_class: Object.fromEntries(c.groups.slo_class[i]!.map((g) => [g.group, g.metrics])),
      by_tenant: Object.fromEntries(c.groups.tenant[i]!.map((g) => [g.group, g.metrics])),
      summary: r.summary satisfies RunSummary,
    })),
  };
}
