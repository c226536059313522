/** `--metrics-out`, `--metrics-epoch`, `--metrics-interval` of `run` and `compare`. */
import { InputError } from "../errors.ts";
import type { RunOutput } from "../metrics/summary.ts";
import { type OpenMetricsOptions, writeOpenMetrics } from "./openmetrics.ts";

/**
 * Parses the epoch (Unix seconds, an ISO 8601 date-time, or `now` — the only wall-clock read, and only for labelling
 * output) and the interval (whole seconds ≥ 1).
 */
export function metricsOptions(epoch: string, interval: string, now: () => number = Date.now): OpenMetricsOptions {
  let epochS: number;
  if (epoch === "now") epochS = Math.floor(now() / 1000);
  else if (/^\d+$/.test(epoch)) epochS = Number(epoch);
  else {
    const ms = /^\d{4}-\d{2}-\d{2}/.test(epoch) ? Date.parse(epoch) : Number.NaN;
    if (!Number.isFinite(ms))
      throw new InputError(
        `--metrics-epoch: expected Unix seconds, an ISO 8601 time like 2026-12-01T00:00:00Z, or now, got "${epoch}"`,
      );
    epochS = Math.floor(ms / 1000);
  }
  const intervalS = Number(interval);
  if (!Number.isInteger(intervalS) || intervalS < 1)
    throw new InputError(`--metrics-interval: expected whole seconds ≥ 1, got "${interval}"`);
  return { epochS, intervalS };
}

/** Writes the runs' metrics (label `policy`; equal policy names get `#2`, `#3` …; label `scenario`). */
export function writeMetricsFile(
  path: string,
  runs: readonly RunOutput[],
  o: OpenMetricsOptions,
  scenario: string,
): void {
  const seen = new Map<string, number>();
  const named = runs.map((r) => {
    const n = (seen.get(r.policy) ?? 0) + 1;
    seen.set(r.policy, n);
    return { policy: n === 1 ? r.policy : `${r.policy}#${n}`, result: r.result };
  });
  try {
    writeOpenMetrics(path, named, { ...o, labels: { ...o.labels, scenario } });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === undefined) throw e;
    throw new OutputWriteError(`${path}: cannot write (${code})`);
  }
}

/** An output file that cannot be written (exit code 3). */
export class OutputWriteError extends Error {
  override readonly name = "OutputWriteError";
}
