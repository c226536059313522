/**
 * SLOs as the lab reads them: the scenario's cluster-level targets (`slos:` — percentiles of the run), and the
 * per-request targets goodput counts against.
 *
 * Goodput = requests that completed within their targets. A request's targets come from `targetsFor(sloClass)`: its
 * class's per-request targets when `slos.classes` lists the class, else the scenario-wide `slos` (the p95 target of
 * each latency, else p99, else p50, applied to the single request) — the run summary's rule.
 */

import type { PercentileSloTargets, SloTargets } from "../policies/flow-control/options.ts";
import type { Scenario } from "../scenario.ts";
import type { RequestTable } from "../sim/records.ts";
import { Outcome } from "../sim/request.ts";
import { type GateMetric, type GateSample, gatePercentile, gateSample } from "./gate.ts";
import { classTargets, type RunOutput, summarizeRows } from "./summary.ts";

export type Slos = Scenario["slos"];

/** Per-request latency targets, seconds. Absent: no target on that latency. */
export interface RequestTargets {
  readonly ttftS?: number;
  readonly e2eS?: number;
  readonly tpotS?: number;
}

/** Targets of a request by its SLO class name. */
export type TargetsFor = (sloClass: string) => RequestTargets;

/**
 * Per-class targets as `slos.classes.<name>` declares them (when the scenario schema has them): percentile targets
 * for the verdict, per-request `ttft_ms`/`e2e_ms`/`tpot_ms` for goodput. Read loosely so the lab works with or without
 * the field.
 */
interface ClassSlo extends PercentileSloTargets {
  readonly ttft_ms?: number | undefined;
  readonly e2e_ms?: number | undefined;
  readonly tpot_ms?: number | undefined;
}

function classSlos(slos: Slos): Readonly<Record<string, ClassSlo>> {
  return (slos as { classes?: Record<string, ClassSlo> }).classes ?? {};
}

/**
 * Per-request targets by SLO class, the same rule as the run summary's goodput (`classTargets` in
 * `metrics/summary.ts`): a class listed in `slos.classes` uses its own `ttft_ms` (else its p95, p99, p50 target), and
 * likewise E2E and TPOT; any other class uses the scenario-wide `slos` by the same rule.
 */
export function requestTargets(slos: Slos): TargetsFor {
  const cache = new Map<string, RequestTargets>();
  return (name) => {
    let t = cache.get(name);
    if (t === undefined) {
      const c = classTargets(slos as SloTargets, name);
      t = {
        ...(c.ttft_ms !== undefined ? { ttftS: c.ttft_ms / 1000 } : {}),
        ...(c.e2e_ms !== undefined ? { e2eS: c.e2e_ms / 1000 } : {}),
        ...(c.tpot_ms !== undefined ? { tpotS: c.tpot_ms / 1000 } : {}),
      };
      cache.set(name, t);
    }
    return t;
  };
}

/** Whether request row `i` completed within its targets (a request with no targets counts when it completed). */
export function meetsTargets(rec: RequestTable, i: number, t: RequestTargets): boolean {
  if (rec.outcome[i] !== Outcome.Completed) return false;
  const arr = rec.arrival[i]!;
  const ttft = rec.firstToken[i]! - arr;
  const e2e = rec.completion[i]! - arr;
  if (t.ttftS !== undefined && ttft > t.ttftS) return false;
  if (t.e2eS !== undefined && e2e > t.e2eS) return false;
  if (t.tpotS !== undefined) {
    const out = rec.output[i]!;
    if (out > 1 && (e2e - ttft) / (out - 1) > t.tpotS) return false;
  }
  return true;
}

/** One cluster-level SLO evaluated on a run. */
export interface SloCheck {
  /** Field name in `slos:` (e.g. `ttft_p95_ms`). */
  readonly name: string;
  /** Human label, e.g. "TTFT p95". */
  readonly label: string;
  readonly target: number;
  readonly actual: number;
  /** "max": actual must be ≤ target; "min": actual must be ≥ target. */
  readonly kind: "max" | "min";
  readonly ok: boolean;
  readonly unit: string;
  /** Set when requests were not served (they count as misses in the percentile), or the group had none. */
  readonly note?: string;
}

type LatencySloName =
  | "ttft_p50_ms"
  | "ttft_p95_ms"
  | "ttft_p99_ms"
  | "e2e_p95_ms"
  | "e2e_p99_ms"
  | "itl_p95_ms"
  | "tpot_p95_ms";

const LATENCY_SLOS: readonly { name: LatencySloName; label: string; metric: GateMetric; p: number }[] = [
  { name: "ttft_p50_ms", label: "TTFT p50", metric: "ttft", p: 0.5 },
  { name: "ttft_p95_ms", label: "TTFT p95", metric: "ttft", p: 0.95 },
  { name: "ttft_p99_ms", label: "TTFT p99", metric: "ttft", p: 0.99 },
  { name: "e2e_p95_ms", label: "E2E p95", metric: "e2e", p: 0.95 },
  { name: "e2e_p99_ms", label: "E2E p99", metric: "e2e", p: 0.99 },
  { name: "itl_p95_ms", label: "ITL p95", metric: "itl", p: 0.95 },
  { name: "tpot_p95_ms", label: "TPOT p95", metric: "tpot", p: 0.95 },
];

/** What a latency verdict says about the requests it covers, e.g. "1,510 of 1,601 requests not served (misses)". */
export function unservedNote(g: GateSample): string | undefined {
  if (g.requests === 0) return "no request";
  if (g.unserved === 0) return undefined;
  return `${g.unserved.toLocaleString("en-US")} of ${g.requests.toLocaleString("en-US")} requests not served, counted as misses`;
}

function latencyChecks(
  g: GateSample,
  itlP95: number | undefined,
  targets: Partial<Record<LatencySloName, number | undefined>>,
  prefix: string,
  labelPrefix: string,
): SloCheck[] {
  const out: SloCheck[] = [];
  const note = unservedNote(g);
  for (const l of LATENCY_SLOS) {
    const target = targets[l.name];
    if (target === undefined) continue;
    // A group without a single request has nothing to judge: it cannot pass a latency target either.
    const actual = gatePercentile(g, l.metric, l.p, itlP95) ?? Number.POSITIVE_INFINITY;
    out.push({
      name: prefix + l.name,
      label: labelPrefix + l.label,
      target,
      actual,
      kind: "max",
      ok: actual <= target,
      unit: "ms",
      ...(note !== undefined ? { note } : {}),
    });
  }
  return out;
}

/**
 * Evaluates every SLO the scenario sets on a run, in a fixed order: the cluster-wide percentiles, the completed
 * fraction, then each class's percentiles (`slos.classes`) on that class's requests. Latency percentiles count every
 * request that was not served (rejected, shed, dropped, timed out) as a miss (`src/metrics/gate.ts`), so a run or
 * class where nothing completed fails; a class the run has no request of is skipped.
 */
export function checkRunSlos(run: RunOutput, slos: Slos): SloCheck[] {
  const rec = run.result.records;
  const all = gateSample(rec, () => true);
  const out = latencyChecks(all, run.summary.itl_ms.p95, slos as Partial<Record<LatencySloName, number>>, "", "");
  if (slos.min_completed_fraction !== undefined) {
    const actual = all.requests > 0 ? (all.requests - all.unserved) / all.requests : 0;
    out.push({
      name: "min_completed_fraction",
      label: "completed fraction",
      target: slos.min_completed_fraction,
      actual,
      kind: "min",
      ok: all.requests > 0 && actual >= slos.min_completed_fraction,
      unit: "",
    });
  }
  for (const [name, c] of Object.entries(classSlos(slos)).sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const id = rec.classes.names.indexOf(name);
    if (id < 0) continue;
    const g = gateSample(rec, (i) => rec.sloClass[i] === id);
    if (g.requests === 0) continue;
    const cs = summarizeRows(rec, (i) => rec.sloClass[i] === id, undefined);
    out.push(...latencyChecks(g, cs.itl_ms.p95, c, `classes.${name}.`, `${name} `));
  }
  return out;
}

/** Whether the scenario sets any SLO at all. */
export function hasSlos(slos: Slos): boolean {
  return Object.entries(slos).some(([k, v]) => v !== undefined && (k !== "classes" || Object.keys(v).length > 0));
}
