/**
 * What the report reads of a sweep (the lab's `SweepResults` and `SweepManifest` carry these fields): the report
 * renders the lab's results without importing the sweep workflow that produces them.
 */
import type { LabMetrics } from "../metrics/lab-metrics.ts";
import type { SloCheck } from "../metrics/slo.ts";

export interface SweepPointShape {
  readonly id: number;
  /** Parameter values by parameter name. */
  readonly values: Readonly<Record<string, number | string | boolean>>;
  readonly seed: number;
  readonly metrics: LabMetrics;
  readonly slos: readonly SloCheck[];
  readonly slos_ok: boolean;
}

export interface SweepResultsShape {
  readonly scenario: string;
  readonly params: readonly string[];
  readonly points: readonly SweepPointShape[];
  readonly pareto: { readonly objectives: readonly string[]; readonly front: readonly number[] };
  readonly best: { readonly objective: string; readonly id: number | null };
}

export interface SweepManifestShape {
  readonly params: readonly { readonly name: string; readonly spec: string }[];
  readonly mode: string;
  readonly points: number;
  readonly seed: number;
}
