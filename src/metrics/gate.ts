/**
 * Percentiles as a gate reads them: over every request of a group, an unserved one (rejected, shed, dropped, timed
 * out, never finished) counted as a miss, i.e. as an infinite latency. A p95 target can therefore hold only when at
 * least about 95% of the group's requests were served, and a group where nothing completed fails every latency
 * target. The run summary's distributions cover completed requests only; these are what `check`, `drill`, `sweep`
 * and the per-class verdicts judge.
 *
 * Interpolation is numpy's default (`method="linear"`), the same as the summary's, over the N requests sorted by
 * latency with the unserved ones last: rank h = (N − 1)·p; when h or the value it interpolates towards falls on an
 * unserved request, the percentile is +∞.
 */

import type { RequestTable } from "../sim/records.ts";
import { Outcome } from "../sim/request.ts";

/** Linear-interpolated quantile of `served` (sorted ascending) with `unserved` +∞ values after them; null if empty. */
export function missQuantile(served: ArrayLike<number>, unserved: number, p: number): number | null {
  const n = served.length + unserved;
  if (n === 0) return null;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const frac = h - lo;
  if (lo >= served.length) return Number.POSITIVE_INFINITY;
  const a = served[lo]!;
  if (frac === 0) return a;
  if (lo + 1 >= served.length) return Number.POSITIVE_INFINITY;
  return a + frac * (served[lo + 1]! - a);
}

/** Per-request latencies (seconds, sorted) of the served requests of a group, and how many were not served. */
export interface GateSample {
  /** Requests in the group. */
  readonly requests: number;
  /** Of them not completed (rejected, dropped, shed, timed out, pending at the end). */
  readonly unserved: number;
  readonly ttftS: Float64Array;
  readonly e2eS: Float64Array;
  /** TPOT of completed requests with ≥ 2 output tokens (the others have none). */
  readonly tpotS: Float64Array;
}

/**
 * Collects a group's latencies (rows where `keep(i)`; or the rows listed in `rows`, ascending, when given), unserved
 * requests counted apart.
 */
export function gateSample(rec: RequestTable, keep: (i: number) => boolean, rows?: ArrayLike<number>): GateSample {
  const ttft: number[] = [];
  const e2e: number[] = [];
  const tpot: number[] = [];
  let requests = 0;
  let unserved = 0;
  const n = rows === undefined ? rec.size : rows.length;
  for (let j = 0; j < n; j++) {
    const i = rows === undefined ? j : rows[j]!;
    if (!keep(i)) continue;
    requests++;
    if (rec.outcome[i] !== Outcome.Completed) {
      unserved++;
      continue;
    }
    const arr = rec.arrival[i]!;
    // Seconds here, ms at the end: the same arithmetic as the summary's distributions, so equal inputs give
    // bit-identical percentiles.
    const ft = rec.firstToken[i]! - arr;
    const done = rec.completion[i]! - arr;
    ttft.push(ft);
    e2e.push(done);
    const out = rec.output[i]!;
    if (out > 1) tpot.push((done - ft) / (out - 1));
  }
  return {
    requests,
    unserved,
    ttftS: Float64Array.from(ttft).sort(),
    e2eS: Float64Array.from(e2e).sort(),
    tpotS: Float64Array.from(tpot).sort(),
  };
}

export type GateMetric = "ttft" | "e2e" | "tpot" | "itl";

/**
 * The gate's percentile `p` of `metric`, ms: TTFT, E2E and TPOT with the unserved requests as misses; ITL (a per-token
 * latency: unserved requests have no tokens) is `itlServed` (the served tokens' percentile) when the served share
 * reaches `p`, else +∞ — the same "p% of the requests must be served" rule. Null when the group has no request.
 */
export function gatePercentile(g: GateSample, metric: GateMetric, p: number, itlServed?: number): number | null {
  if (g.requests === 0) return null;
  const ms = (x: number | null) => (x === null ? null : x * 1000);
  switch (metric) {
    case "ttft":
      return ms(missQuantile(g.ttftS, g.unserved, p));
    case "e2e":
      return ms(missQuantile(g.e2eS, g.unserved, p));
    case "tpot":
      return g.tpotS.length === 0 && g.unserved === 0 ? 0 : ms(missQuantile(g.tpotS, g.unserved, p));
    case "itl": {
      const served = g.requests - g.unserved;
      if (served === 0 || served / g.requests < p) return Number.POSITIVE_INFINITY;
      return itlServed ?? 0;
    }
  }
}
