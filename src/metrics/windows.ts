/**
 * Time windows over a run: requests grouped by arrival time into fixed windows (p95 TTFT over time, arrival rate),
 * and the spans where traffic bursts — the workload's declared spikes when it has any, else the windows whose
 * arrivals exceed the mean rate by a margin.
 */

import type { Scenario } from "../scenario.ts";
import { quantileSorted } from "../sim/quantile.ts";
import type { RequestTable } from "../sim/records.ts";
import { Outcome } from "../sim/request.ts";

export interface WindowStat {
  /** Window start and end, seconds of simulated time; requests with start ≤ arrival < end belong to it. */
  readonly start: number;
  readonly end: number;
  readonly arrivals: number;
  readonly completed: number;
  /** Requests answered 429 or 503. */
  readonly backpressure: number;
  /** p95 TTFT of the window's completed requests (ms); null when none completed. */
  readonly ttft_p95_ms: number | null;
  readonly e2e_p95_ms: number | null;
}

/** A window width giving about `target` windows over `duration` seconds, from a list of round values. */
export function niceWindow(duration: number, target = 60): number {
  const steps = [0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600];
  for (const s of steps) if (duration / s <= target) return s;
  return steps[steps.length - 1]!;
}

/** p95 of a sample (sorted in place); null when it is empty. */
export function p95(xs: number[]): number | null {
  if (xs.length === 0) return null;
  xs.sort((a, b) => a - b);
  return quantileSorted(xs, 0.95);
}

/** Per-window statistics from t = 0 to the last arrival. */
export function windowStats(rec: RequestTable, width: number): WindowStat[] {
  if (!(width > 0)) throw new Error("window width must be > 0");
  let last = 0;
  for (let i = 0; i < rec.size; i++) if (rec.arrival[i]! > last) last = rec.arrival[i]!;
  const count = rec.size === 0 ? 0 : Math.floor(last / width) + 1;
  const ttft: number[][] = Array.from({ length: count }, () => []);
  const e2e: number[][] = Array.from({ length: count }, () => []);
  const arrivals = new Array<number>(count).fill(0);
  const back = new Array<number>(count).fill(0);
  for (let i = 0; i < rec.size; i++) {
    const a = rec.arrival[i]!;
    const k = Math.min(count - 1, Math.floor(a / width));
    arrivals[k]!++;
    const st = rec.status[i];
    if (st === 429 || st === 503) back[k]!++;
    if (rec.outcome[i] === Outcome.Completed) {
      ttft[k]!.push((rec.firstToken[i]! - a) * 1000);
      e2e[k]!.push((rec.completion[i]! - a) * 1000);
    }
  }
  const out: WindowStat[] = [];
  for (let k = 0; k < count; k++) {
    out.push({
      start: k * width,
      end: (k + 1) * width,
      arrivals: arrivals[k]!,
      completed: ttft[k]!.length,
      backpressure: back[k]!,
      ttft_p95_ms: p95(ttft[k]!),
      e2e_p95_ms: p95(e2e[k]!),
    });
  }
  return out;
}

export interface Span {
  readonly start: number;
  readonly end: number;
  readonly label: string;
}

interface ArrivalLike {
  readonly arrival?: { readonly spikes?: readonly { at: number; duration: number; factor: number }[] | undefined };
}

/** Spikes the scenario's workload declares (`arrival.spikes` of any component), merged, in time order. */
export function declaredSpikes(s: Scenario): Span[] {
  const w = s.workload as unknown as { mix?: ArrivalLike[] } & ArrivalLike;
  const comps: ArrivalLike[] = w.mix ?? [w];
  const spans: Span[] = [];
  for (const c of comps) {
    for (const sp of c.arrival?.spikes ?? []) {
      if (sp.factor === 1) continue;
      spans.push({ start: sp.at, end: sp.at + sp.duration, label: `spike ×${sp.factor}` });
    }
  }
  spans.sort((a, b) => a.start - b.start || a.end - b.end);
  const out: Span[] = [];
  for (const sp of spans) {
    const prev = out[out.length - 1];
    if (prev && prev.start === sp.start && prev.end === sp.end) continue;
    out.push(sp);
  }
  return out;
}

/**
 * Spans of consecutive windows whose arrivals exceed `factor` × the mean arrivals per window (the margin keeps
 * Poisson noise from marking every other window).
 */
export function detectBursts(windows: readonly WindowStat[], factor = 1.25): Span[] {
  if (windows.length === 0) return [];
  let sum = 0;
  for (const w of windows) sum += w.arrivals;
  const mean = sum / windows.length;
  const out: Span[] = [];
  let cur: { start: number; end: number } | undefined;
  for (const w of windows) {
    if (w.arrivals > mean * factor) {
      if (cur && cur.end === w.start) cur.end = w.end;
      else {
        if (cur) out.push({ ...cur, label: "burst" });
        cur = { start: w.start, end: w.end };
      }
    }
  }
  if (cur) out.push({ ...cur, label: "burst" });
  return out;
}

/** The spans to mark as bursts on time charts: declared spikes when the workload has any, else detected bursts. */
export function burstSpans(s: Scenario, windows: readonly WindowStat[]): Span[] {
  const d = declaredSpikes(s);
  return d.length > 0 ? d : detectBursts(windows);
}

/** TTFT of every completed request, milliseconds, sorted ascending. */
export function ttftSortedMs(rec: RequestTable): Float64Array {
  const out: number[] = [];
  for (let i = 0; i < rec.size; i++)
    if (rec.outcome[i] === Outcome.Completed) out.push((rec.firstToken[i]! - rec.arrival[i]!) * 1000);
  return Float64Array.from(out).sort();
}
