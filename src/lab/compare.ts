/**
 * `compare`: the same request stream (same scenario and seed, so the same requests) against several policies, side
 * by side, with deltas against the first policy: latency, cache, throughput, goodput, backpressure, load skew and
 * cost, for the cluster and per SLO class and tenant.
 */
import { groupMetrics, labMetrics } from "../metrics/lab-metrics.ts";
import { checkRunSlos, requestTargets, type TargetsFor } from "../metrics/slo.ts";
import type { RunOutput } from "../metrics/summary.ts";
import type { CompareOutput } from "../report/compare.ts";
import type { LoadedScenario } from "../scenario.ts";
import type { RequestSource } from "../sim/request.ts";
import { runScenario } from "./run.ts";

export type { CompareOutput } from "../report/compare.ts";

export interface CompareOptions {
  readonly policies: readonly string[];
  readonly seed?: number;
  readonly eppConfigs?: readonly string[];
  /** Per-request SLO targets for goodput (default: the scenario's `slos`). */
  readonly targets?: TargetsFor;
  /** Wraps each run's request source (a progress display), given the run's label. */
  readonly wrapSource?: (label: string) => (source: RequestSource) => RequestSource;
}

/** Adds the lab's metrics to finished runs (used by compare, and by anything that ran the policies itself). */
export function analyzeRuns(
  loaded: LoadedScenario,
  runs: readonly RunOutput[],
  seed: number,
  targets: TargetsFor = requestTargets(loaded.scenario.slos),
): CompareOutput {
  return {
    scenario: loaded.scenario.name,
    seed,
    runs,
    config: loaded.scenario,
    metrics: runs.map((r) => labMetrics(r, targets)),
    slos: runs.map((r) => checkRunSlos(r, loaded.scenario.slos)),
    groups: {
      slo_class: runs.map((r) => groupMetrics(r, "slo_class", targets)),
      tenant: runs.map((r) => groupMetrics(r, "tenant", targets)),
    },
  };
}

export function compare(loaded: LoadedScenario, o: CompareOptions): CompareOutput {
  const runs: RunOutput[] = [];
  const seed = o.seed !== undefined ? { seed: o.seed } : {};
  const total = o.policies.length + (o.eppConfigs?.length ?? 0);
  const wrap = (label: string) => {
    const w = o.wrapSource?.(`compare ${runs.length + 1}/${total} (${label})`);
    return w !== undefined ? { wrapSource: w } : {};
  };
  for (const p of o.policies) runs.push(runScenario(loaded, { policy: p, ...seed, ...wrap(p) }));
  for (const f of o.eppConfigs ?? []) runs.push(runScenario(loaded, { eppConfig: f, ...seed, ...wrap(f) }));
  if (runs.length === 0) throw new Error("compare needs at least one policy");
  return analyzeRuns(loaded, runs, o.seed ?? loaded.scenario.seed, o.targets);
}
