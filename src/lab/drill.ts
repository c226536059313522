/**
 * `drill`: a burst drill. Multiplies the arrival rate of every workload component by `factor` during
 * [at, at + duration), runs the scenario, and judges it: p95 TTFT before, during and after the spike against the SLO,
 * the backpressure the gateway applied (429 shed, 503 unavailable), the deepest replica queue, and the time to
 * recover (the first window after the spike whose p95 TTFT is back within the SLO).
 *
 * How the spike is applied:
 * - generated components (poisson, batch, chat, rag, agent) get an `arrival.spikes` entry: their arrival process runs
 *   `factor` × faster inside the window (for sessions: `factor` × more new sessions), the rest of the stream is
 *   unchanged in shape;
 * - trace replays and inference-perf's shared-prefix stages, which have no arrival process, are time-warped: the
 *   requests of `duration × factor` seconds of the stream are squeezed into `duration` seconds (the same content,
 *   `factor` × the rate), and what follows is shifted earlier. A mix of closed-loop sessions and such components is
 *   refused: the warp would also bend the sessions' think times.
 */
import type { z } from "zod";
import { InputError } from "../errors.ts";
import { gatePercentile, gateSample } from "../metrics/gate.ts";
import { declaredSpikes, type Span, type WindowStat, windowStats } from "../metrics/windows.ts";
import { fmtNum, renderTable } from "../report/table.ts";
import type { LoadedScenario, Scenario } from "../scenario.ts";
import type { RequestTable } from "../sim/records.ts";
import type { Request, RequestSource } from "../sim/request.ts";
import { ArrivalSchema } from "../workloads/arrivals.ts";
import { analyzeRuns, type CompareOutput } from "./compare.ts";
import { type RunOutput, runScenario } from "./run.ts";

export interface DrillOptions {
  /** Rate multiplier during the spike (4 = four times the arrivals). */
  readonly factor: number;
  /** Spike start, seconds of simulated time. */
  readonly at: number;
  /** Spike length, seconds. */
  readonly duration: number;
  readonly policy?: string;
  readonly eppConfig?: string;
  readonly seed?: number;
  /** Window for the p95-over-time and the recovery time, seconds (default: duration / 6, at least 1 s). */
  readonly windowS?: number;
  /** TTFT p95 target in ms for all requests (default: the scenario's `slos.ttft_p95_ms` and per-class targets). */
  readonly ttftSloMs?: number;
  /** Wraps the request stream the engine pulls (after the drill's own time warp), e.g. the CLI's progress line. */
  readonly wrapSource?: (source: RequestSource) => RequestSource;
}

/** A p95 target the drill checks: for every request (`sloClass` null) or for one SLO class. */
export interface DrillTarget {
  readonly sloClass: string | null;
  readonly ttft_p95_ms: number | null;
  readonly e2e_p95_ms: number | null;
}

export interface PhaseStat {
  readonly name: "before" | "during" | "after";
  readonly start: number;
  readonly end: number;
  readonly requests: number;
  readonly completed: number;
  /** Requests of the phase not served (shed, unavailable, rejected, timed out): misses in the percentiles. */
  readonly unserved: number;
  /** p95 over every request of the phase, unserved ones as misses (+∞ when more than ~5% were not served). */
  readonly ttft_p95_ms: number | null;
  readonly e2e_p95_ms: number | null;
  readonly shed: number;
  readonly unavailable: number;
  /** Deepest waiting queue of any replica during the phase (from the time series). */
  readonly max_waiting: number;
}

export interface DrillCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface DrillResult {
  readonly scenario: string;
  readonly policy: string;
  readonly seed: number;
  readonly spike: { readonly factor: number; readonly at: number; readonly duration: number };
  readonly method: "arrival-spikes" | "time-warp";
  readonly targets: readonly DrillTarget[];
  /** Phases over all requests. */
  readonly phases: readonly PhaseStat[];
  /** Phases per SLO class that has a target (empty when the targets are cluster-wide only). */
  readonly classPhases: readonly { readonly sloClass: string; readonly phases: readonly PhaseStat[] }[];
  readonly backpressure: { readonly shed: number; readonly unavailable: number };
  readonly recovery: {
    /** The target recovery is judged on (the cluster's TTFT target, else the tightest class TTFT target). */
    readonly target: DrillTarget | null;
    readonly recovered: boolean;
    /** Seconds from the end of the spike to the start of the first window back within the SLO. */
    readonly time_s: number | null;
    readonly window_s: number;
  };
  readonly windows: readonly WindowStat[];
  readonly checks: readonly DrillCheck[];
  readonly ok: boolean;
  /** The run and its comparison-shaped analysis (for charts). */
  readonly run: RunOutput;
  readonly analysis: CompareOutput;
  readonly spans: readonly Span[];
}

/** Parses `4x`, `4`, `x4`, `400%`. */
export function parseFactor(text: string): number {
  const t = text.trim().toLowerCase();
  let m = /^x?([0-9]*\.?[0-9]+)x?$/.exec(t);
  let v = m ? Number(m[1]) : Number.NaN;
  if (!m && (m = /^([0-9]*\.?[0-9]+)%$/.exec(t))) v = Number(m[1]) / 100;
  if (!(v > 0) || !Number.isFinite(v)) throw new InputError(`--spike "${text}": expected a factor such as 4x`);
  return v;
}

/** Parses `60s`, `2m`, `500ms`, `1h`, or a number of seconds. */
export function parseDuration(text: string, what = "duration"): number {
  const m = /^([0-9]*\.?[0-9]+)\s*(ms|s|m|min|h)?$/.exec(text.trim());
  if (!m) throw new InputError(`${what} "${text}": expected a time such as 60s, 2m or 500ms`);
  const v = Number(m[1]);
  const unit = m[2] ?? "s";
  return unit === "ms" ? v / 1000 : unit === "m" || unit === "min" ? v * 60 : unit === "h" ? v * 3600 : v;
}

const SPIKEABLE = new Set(["poisson", "batch", "chat", "rag", "agent"]);
const CLOSED_LOOP = new Set(["chat", "agent"]);

type Component = { type: string; name?: string | undefined; arrival?: unknown };

function components(s: Scenario): Component[] {
  const w = s.workload as unknown as { mix?: Component[] } & Component;
  return w.mix ?? [w];
}

/** The scenario with the spike added to every generated component's arrival process. */
export function withSpike(s: Scenario, spike: { at: number; duration: number; factor: number }): Scenario {
  const copy = structuredClone(s);
  for (const c of components(copy)) {
    const arr = (c.arrival as z.infer<typeof ArrivalSchema> | undefined) ?? ArrivalSchema.parse({});
    c.arrival = { ...arr, spikes: [...(arr.spikes ?? []), { ...spike }] };
  }
  return copy;
}

/** Time warp: `duration × factor` seconds of the stream from `at` are squeezed into `duration` seconds. */
export function warpTime(t: number, at: number, duration: number, factor: number): number {
  if (t < at) return t;
  const span = duration * factor;
  if (t < at + span) return at + (t - at) / factor;
  return t - (span - duration);
}

class WarpedSource implements RequestSource {
  private readonly inner: RequestSource;
  private readonly f: (t: number) => number;
  constructor(inner: RequestSource, f: (t: number) => number) {
    this.inner = inner;
    this.f = f;
  }
  next(): Request | undefined {
    const r = this.inner.next();
    return r === undefined ? undefined : { ...r, arrival: this.f(r.arrival) };
  }
}

function phaseStat(
  name: PhaseStat["name"],
  start: number,
  end: number,
  run: RunOutput,
  classId: number | null = null,
): PhaseStat {
  const rec = run.result.records;
  let shed = 0;
  let unavailable = 0;
  const keep = (i: number) => {
    const a = rec.arrival[i]!;
    return a >= start && a < end && (classId === null || rec.sloClass[i] === classId);
  };
  for (let i = 0; i < rec.size; i++) {
    if (!keep(i)) continue;
    if (rec.status[i] === 429) shed++;
    else if (rec.status[i] === 503) unavailable++;
  }
  // Percentiles over every request of the phase, those not served (shed, unavailable, rejected, timed out) counted
  // as misses: a phase that sheds most of its traffic cannot pass on the few it served.
  const g = gateSample(rec, keep);
  const s = run.result.series;
  let maxWaiting = 0;
  for (let k = 0; k < s.time.length; k++) {
    const t = s.time[k]!;
    if (t < start || t >= end) continue;
    for (const w of s.waiting) if ((w[k] ?? 0) > maxWaiting) maxWaiting = w[k]!;
  }
  return {
    name,
    start,
    end,
    requests: g.requests,
    completed: g.requests - g.unserved,
    unserved: g.unserved,
    ttft_p95_ms: gatePercentile(g, "ttft", 0.95),
    e2e_p95_ms: gatePercentile(g, "e2e", 0.95),
    shed,
    unavailable,
    max_waiting: maxWaiting,
  };
}

/**
 * The p95 targets a drill checks: `--ttft-p95` (with the scenario's E2E target) when given; else the scenario-wide
 * `slos.ttft_p95_ms`/`e2e_p95_ms`, and each class of `slos.classes` with a p95 target, classes in name order.
 */
export function drillTargets(s: Scenario, ttftOverride?: number): DrillTarget[] {
  const e2e = s.slos.e2e_p95_ms ?? null;
  if (ttftOverride !== undefined) return [{ sloClass: null, ttft_p95_ms: ttftOverride, e2e_p95_ms: e2e }];
  const out: DrillTarget[] = [];
  const ttft = s.slos.ttft_p95_ms ?? null;
  if (ttft !== null || e2e !== null) out.push({ sloClass: null, ttft_p95_ms: ttft, e2e_p95_ms: e2e });
  const classes = (s.slos as { classes?: Record<string, { ttft_p95_ms?: number; e2e_p95_ms?: number }> }).classes ?? {};
  for (const name of Object.keys(classes).sort()) {
    const c = classes[name]!;
    if (c.ttft_p95_ms === undefined && c.e2e_p95_ms === undefined) continue;
    out.push({ sloClass: name, ttft_p95_ms: c.ttft_p95_ms ?? null, e2e_p95_ms: c.e2e_p95_ms ?? null });
  }
  return out;
}

/** The most windows a drill reports (drill.json lists them; at 100,000 it is ~15 MB). */
export const MAX_DRILL_WINDOWS = 100_000;

/** Refuses a `--window` that cuts the traffic (arrivals up to `last` s) into more than `MAX_DRILL_WINDOWS` windows. */
function checkWindowCount(w: number, last: number, rows: number): void {
  const count = rows === 0 ? 0 : Math.floor(last / w) + 1;
  if (count <= MAX_DRILL_WINDOWS) return;
  const min = Number((last / (MAX_DRILL_WINDOWS - 1)).toPrecision(2));
  const least = min * (MAX_DRILL_WINDOWS - 1) >= last ? min : Number((min * 1.1).toPrecision(2));
  throw new InputError(
    `--window ${w}s: ${fmtNum(count)} windows over the ${fmtNum(last)} s of traffic; at most ${fmtNum(MAX_DRILL_WINDOWS)} (use --window ${least}s or more)`,
  );
}

/**
 * The recovery windows [t₀, t₀ + w) from the end of the spike (t₀ = end, end + w, … by repeated addition, while
 * t₀ ≤ last) and the rows arriving in each, ascending: every row sorted into its window once (a binary search over
 * the starts), not the whole table scanned per window.
 */
function recoveryWindows(
  rec: RequestTable,
  end: number,
  last: number,
  w: number,
): { starts: number[]; rows: number[][] } {
  const starts: number[] = [];
  for (let t0 = end; t0 <= last; t0 += w) starts.push(t0);
  const rows: number[][] = starts.map(() => []);
  if (starts.length === 0) return { starts, rows };
  for (let i = 0; i < rec.size; i++) {
    const a = rec.arrival[i]!;
    if (!(a >= starts[0]!)) continue;
    // The last start ≤ a; the window ends at that start + w, which is the next start (the same addition).
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= a) lo = mid;
      else hi = mid - 1;
    }
    if (a < starts[lo]! + w) rows[lo]!.push(i);
  }
  return { starts, rows };
}

/** Default window: the largest round width ≤ a sixth of the spike (at least 0.5 s). */
export function drillWindow(duration: number): number {
  const steps = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600];
  let w = steps[0]!;
  for (const s of steps) if (s <= duration / 6) w = s;
  return w;
}

/** Default spike placement for a scenario: a third into its traffic, for a sixth of it (60 s / 30 s if unknown). */
export function defaultSpikeWindow(s: Scenario): { at: number; duration: number } {
  const d = s.duration_s;
  if (d === undefined) return { at: 60, duration: 30 };
  return { at: Math.round(d / 3), duration: Math.max(1, Math.round(d / 6)) };
}

export function drill(loaded: LoadedScenario, o: DrillOptions): DrillResult {
  const s = loaded.scenario;
  if (!(o.factor > 0)) throw new InputError("--spike: the factor must be > 0");
  if (!(o.duration > 0)) throw new InputError("--for: the spike must last > 0 s");
  if (o.windowS !== undefined && !(o.windowS > 0)) throw new InputError("--window: the window must be > 0 s");
  if (s.duration_s !== undefined && o.at >= s.duration_s) {
    throw new InputError(
      `--at ${o.at}s: the workload stops at duration_s ${s.duration_s}s; place the spike inside it (e.g. --at ${Math.round(s.duration_s / 3)}s)`,
    );
  }
  const targets = drillTargets(s, o.ttftSloMs);
  if (targets.length === 0) {
    throw new InputError(
      `${loaded.file}: no latency SLO to drill against; set slos.ttft_p95_ms (or per-class slos.classes.<name>.ttft_p95_ms), or pass --ttft-p95 <ms>`,
    );
  }
  const comps = components(s);
  const spike = { at: o.at, duration: o.duration, factor: o.factor };
  const allSpikeable = comps.every((c) => SPIKEABLE.has(c.type));
  const anyClosed = comps.some((c) => CLOSED_LOOP.has(c.type));
  let scenario = s;
  let wrap: ((src: RequestSource) => RequestSource) | undefined;
  if (allSpikeable) scenario = withSpike(s, spike);
  else if (anyClosed) {
    throw new InputError(
      "drill: this workload mixes closed-loop sessions with trace or shared-prefix components; a spike cannot be applied to both (split the scenario)",
    );
  } else wrap = (src) => new WarpedSource(src, (t) => warpTime(t, o.at, o.duration, o.factor));
  const drilled: LoadedScenario = { ...loaded, scenario };
  const outer = o.wrapSource;
  const source = outer === undefined ? wrap : wrap === undefined ? outer : (src: RequestSource) => outer(wrap(src));
  const run = runScenario(drilled, {
    ...(o.policy !== undefined ? { policy: o.policy } : {}),
    ...(o.eppConfig !== undefined ? { eppConfig: o.eppConfig } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(source ? { wrapSource: source } : {}),
  });
  const rec = run.result.records;
  let last = 0;
  for (let i = 0; i < rec.size; i++) if (rec.arrival[i]! > last) last = rec.arrival[i]!;
  const end = o.at + o.duration;
  const stop = Math.max(end, last) + 1e-9;
  const phasesOf = (classId: number | null) => [
    phaseStat("before", 0, o.at, run, classId),
    phaseStat("during", o.at, end, run, classId),
    phaseStat("after", end, stop, run, classId),
  ];
  const phases = phasesOf(null);
  const classId = (name: string | null) => (name === null ? null : rec.classes.names.indexOf(name));
  const classPhases = targets
    .filter((t) => t.sloClass !== null)
    .map((t) => ({ sloClass: t.sloClass!, phases: phasesOf(classId(t.sloClass)) }));
  const w = o.windowS ?? drillWindow(o.duration);
  checkWindowCount(w, last, rec.size);
  const windows = windowStats(rec, w);
  // Recovery: windows aligned on the end of the spike, judged on the cluster's TTFT target or the tightest class one.
  const withTtft = targets.filter((t) => t.ttft_p95_ms !== null);
  const rt =
    withTtft.find((t) => t.sloClass === null) ??
    [...withTtft].sort((x, y) => x.ttft_p95_ms! - y.ttft_p95_ms!)[0] ??
    null;
  let recovered: { time: number } | undefined;
  if (rt) {
    const cid = classId(rt.sloClass);
    const byWindow = recoveryWindows(rec, end, last, w);
    const keep = (i: number) => cid === null || rec.sloClass[i] === cid;
    for (let k = 0; k < byWindow.starts.length; k++) {
      const g = gateSample(rec, keep, byWindow.rows[k]!);
      const p = gatePercentile(g, "ttft", 0.95);
      if (p !== null && p <= rt.ttft_p95_ms!) {
        recovered = { time: byWindow.starts[k]! - end };
        break;
      }
    }
  }
  let shed = 0;
  let unavailable = 0;
  for (let i = 0; i < rec.size; i++) {
    if (rec.status[i] === 429) shed++;
    else if (rec.status[i] === 503) unavailable++;
  }
  const checks: DrillCheck[] = [];
  const judge = (name: string, v: number | null, target: number, ph: PhaseStat) => ({
    name,
    ok: v !== null && v <= target,
    detail:
      v === null
        ? "no request"
        : `${fmtNum(v)} ms ${v <= target ? "≤" : ">"} ${fmtNum(target)} ms` +
          (ph.unserved > 0
            ? ` — ${fmtNum(ph.unserved)} of ${fmtNum(ph.requests)} requests not served, counted as misses`
            : ""),
  });
  for (const t of targets) {
    const phs = t.sloClass === null ? phases : classPhases.find((c) => c.sloClass === t.sloClass)!.phases;
    const who = t.sloClass === null ? "" : `${t.sloClass} `;
    for (const ph of phs) {
      if (ph.requests === 0) continue;
      if (t.ttft_p95_ms !== null)
        checks.push(judge(`${who}TTFT p95 ${ph.name} the spike`, ph.ttft_p95_ms, t.ttft_p95_ms, ph));
      if (t.e2e_p95_ms !== null)
        checks.push(judge(`${who}E2E p95 ${ph.name} the spike`, ph.e2e_p95_ms, t.e2e_p95_ms, ph));
    }
  }
  if (rt) {
    const who = rt.sloClass === null ? "" : ` (${rt.sloClass})`;
    checks.push({
      name: "recovery",
      ok: recovered !== undefined,
      detail: recovered
        ? `p95 TTFT${who} back within the SLO ${fmtNum(recovered.time)} s after the spike`
        : `p95 TTFT${who} never came back within the SLO before the traffic ended`,
    });
  }
  const minDone = s.slos.min_completed_fraction;
  if (minDone !== undefined) {
    const r = run.summary.requests;
    const frac = r.total > 0 ? r.completed / r.total : 0;
    checks.push({
      name: "completed fraction",
      ok: r.total > 0 && frac >= minDone,
      detail: `${(frac * 100).toFixed(1)}% ${frac >= minDone ? "≥" : "<"} ${(minDone * 100).toFixed(1)}%`,
    });
  }
  // Shaded on charts: every spike of the drilled workload (its own and the drill's), or the warped window.
  const spans: Span[] = wrap ? [{ start: o.at, end, label: `spike ×${o.factor}` }] : declaredSpikes(scenario);
  return {
    scenario: s.name,
    policy: run.policy,
    seed: run.seed,
    spike,
    method: wrap ? "time-warp" : "arrival-spikes",
    targets,
    phases,
    classPhases,
    backpressure: { shed, unavailable },
    recovery: { target: rt, recovered: recovered !== undefined, time_s: recovered?.time ?? null, window_s: w },
    windows,
    checks,
    ok: checks.every((c) => c.ok),
    run,
    analysis: analyzeRuns(drilled, [run], run.seed),
    spans,
  };
}

function fmtTarget(t: DrillTarget): string {
  const parts = [
    ...(t.ttft_p95_ms !== null ? [`TTFT p95 ≤ ${fmtNum(t.ttft_p95_ms)} ms`] : []),
    ...(t.e2e_p95_ms !== null ? [`E2E p95 ≤ ${fmtNum(t.e2e_p95_ms)} ms`] : []),
  ];
  return `${t.sloClass === null ? "all requests" : t.sloClass}: ${parts.join(", ")}`;
}

/** The verdict as text. */
export function formatDrill(d: DrillResult): string {
  const f = (x: number | null) => (x === null ? "-" : fmtNum(x));
  const row = (label: string, p: PhaseStat) => [
    label,
    p.name,
    fmtNum(p.start),
    p.name === "after" ? "end" : fmtNum(p.end),
    fmtNum(p.requests),
    fmtNum(p.completed),
    f(p.ttft_p95_ms),
    f(p.e2e_p95_ms),
    fmtNum(p.shed),
    fmtNum(p.unavailable),
  ];
  const rows: string[][] = [];
  for (const p of d.phases) if (p.requests > 0 || p.name !== "after") rows.push(row(rows.length === 0 ? "all" : "", p));
  for (const c of d.classPhases) {
    c.phases.forEach((p, i) => {
      if (p.requests > 0 || p.name !== "after") rows.push(row(i === 0 ? c.sloClass : "", p));
    });
  }
  const rt = d.recovery.target;
  const who = rt && rt.sloClass !== null ? ` (${rt.sloClass})` : "";
  const queue = d.phases.map((p) => `${p.name} ${fmtNum(p.max_waiting)}`).join(", ");
  const out = [
    `drill "${d.scenario}" · policy ${d.policy} · seed ${d.seed} · spike ×${d.spike.factor} at ${fmtNum(d.spike.at)} s for ${fmtNum(d.spike.duration)} s` +
      ` (${d.method === "time-warp" ? "stream time-warped" : "arrival rate of every component"})`,
    `SLOs: ${d.targets.map(fmtTarget).join("; ")} (p95 over every request of a phase; requests not served count as misses)`,
    "",
    renderTable(
      ["requests", "phase", "from (s)", "to (s)", "count", "served", "TTFT p95 (ms)", "E2E p95 (ms)", "429", "503"],
      rows,
    ),
    ...(d.phases[2]!.requests === 0
      ? ["", "note: the traffic ended before the spike did (the scenario's `requests` or `duration_s` limit)"]
      : []),
    "",
    `backpressure: ${fmtNum(d.backpressure.shed)} × 429 (shed), ${fmtNum(d.backpressure.unavailable)} × 503 (unavailable)` +
      (d.backpressure.shed + d.backpressure.unavailable === 0
        ? " — nothing was pushed back: every request was sent on and waited in a queue (set gateway.flow_control to shed)"
        : ""),
    `deepest replica queue (waiting): ${queue}`,
    `recovery: ${
      rt === null
        ? "no TTFT target to judge it"
        : d.recovery.recovered
          ? d.recovery.time_s === 0
            ? `p95 TTFT${who} within the SLO from the first window after the spike (windows of ${fmtNum(d.recovery.window_s)} s)`
            : `p95 TTFT${who} back within the SLO ${fmtNum(d.recovery.time_s!)} s after the spike ended (windows of ${fmtNum(d.recovery.window_s)} s)`
          : "not recovered before the traffic ended"
    }`,
    "",
    ...d.checks.map((c) => `  ${c.ok ? "✓" : "✗"} ${c.name}: ${c.detail}`),
    "",
    d.ok
      ? "verdict: PASS — the SLOs hold through the spike"
      : `verdict: FAIL — ${d.checks
          .filter((c) => !c.ok)
          .map((c) => c.name)
          .join(", ")}`,
  ];
  return out.join("\n");
}

/** JSON of a drill (no run data). */
export function drillJson(d: DrillResult): unknown {
  const { run: _r, analysis: _a, spans: _s, windows, ...rest } = d;
  // JSON has no infinity: a percentile that counts unserved requests as misses and lands on one is written "inf".
  return JSON.parse(JSON.stringify({ ...rest, windows }, (_k, v) => (v === Number.POSITIVE_INFINITY ? "inf" : v)));
}
