/**
 * Quantiles as numpy computes them by default (`method="linear"`, R's type 7): rank h = (n − 1)·p into the sorted
 * sample, linear interpolation between its neighbours. The one helper behind every percentile gatelab reports (run
 * summaries, drill phases, time windows, trace statistics, charts), so they all agree with numpy.
 */

/** Quantile `p` ∈ [0, 1] of an ascending sample; NaN when it is empty. */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const f = h - lo;
  if (f === 0) return sorted[lo]!;
  return sorted[lo]! + f * (sorted[lo + 1]! - sorted[lo]!);
}

/** Quantile `p` of run-length weighted samples (ascending `values`, `counts` each), as if the runs were expanded; 0 when empty. */
export function weightedQuantile(values: Float64Array, counts: Float64Array | Uint32Array, p: number): number {
  const n = values.length;
  if (n === 0) return 0;
  let total = 0;
  for (let i = 0; i < n; i++) total += counts[i]!;
  const h = (total - 1) * p;
  const lo = Math.floor(h);
  const frac = h - lo;
  // Value at expanded rank k (0-based).
  let cum = 0;
  let i = 0;
  const at = (k: number): number => {
    while (i < n && cum + counts[i]! <= k) {
      cum += counts[i]!;
      i++;
    }
    return values[Math.min(i, n - 1)]!;
  };
  const a = at(lo);
  if (frac === 0) return a;
  const b = at(lo + 1);
  return a + frac * (b - a);
}
