/**
 * Routing health: whether the router spread the load it was given. Two findings, stated in `run` / `compare`
 * output and in the JSON summary (`routing`):
 * - starved replicas: a replica that received under 10 % of its fair share (its pool's routed requests ÷ the
 *   pool's replicas) — a router that never sends to a replica wastes it, whatever its latency figures say;
 * - per-window herding: the run is cut into windows of `window_s` (the smallest whole number of seconds in which
 *   the pool receives on average four requests per replica); a window with at least two requests per replica is
 *   herded when one replica got at least twice its fair share of that window. The run-long skew hides herding that
 *   moves from replica to replica (docs/gateway.md "Staleness causes herding").
 * Thresholds are gatelab's (a report rule, not a system's): 10 % of fair share; 2× fair share in a window; a run is
 * flagged when more than 20 % of its judged windows are herded.
 */
import type { SimResult } from "../cluster/engine.ts";

export const STARVED_FRACTION = 0.1;
export const HERD_FACTOR = 2;
export const HERDED_WINDOWS_FLAG = 0.2;

export interface StarvedReplica {
  replica: string;
  routed: number;
  fair_share: number;
}

export interface RoutingHealth {
  /** Replicas that received under 10 % of their fair share. */
  starved: StarvedReplica[];
  /** Window length (s) of the herding check. */
  window_s: number;
  /** Windows with at least two requests per replica (judged). */
  windows: number;
  /** Judged windows in which one replica got ≥ 2× its fair share. */
  herded_windows: number;
  /** herded_windows ÷ windows (0 when none judged). */
  herded_share: number;
  /** Mean over judged windows of max ÷ mean requests per replica. */
  mean_window_peak: number;
  /** One line per finding, for the text reports (empty: healthy). */
  findings: string[];
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Routing health of a run; `routed[i]` = requests routed to replica i. */
export function routingHealth(res: SimResult, routed: readonly number[]): RoutingHealth {
  const rec = res.records;
  const pools = new Map<string, number[]>();
  for (const r of res.replicas) {
    let l = pools.get(r.pool);
    if (l === undefined) pools.set(r.pool, (l = []));
    l.push(r.index);
  }
  const starved: StarvedReplica[] = [];
  for (const idx of pools.values()) {
    let total = 0;
    for (const i of idx) total += routed[i]!;
    if (idx.length < 2 || total === 0) continue;
    const fair = total / idx.length;
    for (const i of idx) {
      if (routed[i]! < STARVED_FRACTION * fair) {
        starved.push({ replica: res.replicas[i]!.name, routed: routed[i]!, fair_share: fair });
      }
    }
  }

  // Herding per window, per pool.
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  let n = 0;
  for (let i = 0; i < rec.size; i++) {
    if (rec.replica[i]! < 0) continue;
    const t = rec.dispatchAt(i);
    if (t < first) first = t;
    if (t > last) last = t;
    n++;
  }
  const span = last - first;
  const maxReplicas = Math.max(1, ...[...pools.values()].map((l) => l.length));
  const rate = span > 0 ? n / span : 0;
  const windowS = rate > 0 ? Math.max(1, Math.ceil((4 * maxReplicas) / rate)) : 1;
  let windows = 0;
  let herded = 0;
  let peakSum = 0;
  if (n > 0 && span > 0) {
    const nWin = Math.floor(span / windowS) + 1;
    const counts = new Int32Array(nWin * res.replicas.length);
    const R = res.replicas.length;
    for (let i = 0; i < rec.size; i++) {
      const r = rec.replica[i]!;
      if (r < 0) continue;
      const w = Math.floor((rec.dispatchAt(i) - first) / windowS);
      counts[w * R + r]!++;
    }
    for (const idx of pools.values()) {
      if (idx.length < 2) continue;
      for (let w = 0; w < nWin; w++) {
        let tot = 0;
        let max = 0;
        for (const r of idx) {
          const c = counts[w * R + r]!;
          tot += c;
          if (c > max) max = c;
        }
        if (tot < 2 * idx.length) continue;
        windows++;
        const mean = tot / idx.length;
        peakSum += max / mean;
        if (max >= HERD_FACTOR * mean) herded++;
      }
    }
  }
  const share = windows > 0 ? herded / windows : 0;
  const findings: string[] = [];
  for (const s of starved) {
    findings.push(
      `replica ${s.replica} got ${fmt(s.routed)} requests, under 10 % of its fair share (${fmt(s.fair_share)}): the router starves it`,
    );
  }
  if (share > HERDED_WINDOWS_FLAG) {
    findings.push(
      `herding: in ${fmt(herded)} of ${fmt(windows)} windows of ${windowS} s (${(share * 100).toFixed(0)} %) one replica got ≥ 2× its fair share`,
    );
  }
  return {
    starved,
    window_s: windowS,
    windows,
    herded_windows: herded,
    herded_share: share,
    mean_window_peak: windows > 0 ? peakSum / windows : 0,
    findings,
  };
}
