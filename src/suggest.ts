/** "Did you mean …?" for misspelt names (commands, fields): the closest candidate by edit distance. */

/** Levenshtein distance (insertions, deletions, substitutions; a swap of neighbours counts 1). */
export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  if (m === 0) return n;
  if (n === 0) return m;
  let prev2 = new Array<number>(n + 1).fill(0);
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  let cur = new Array<number>(n + 1).fill(0);
  for (let i = 1; i <= m; i++) {
    cur[0] = i;
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2]! + 1);
      cur[j] = d;
    }
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return prev[n]!;
}

/**
 * The candidate closest to `name` when it is close enough to be a likely typo (distance ≤ 2, and at most a third of
 * the longer name; case-insensitive), else the one candidate that is `name` plus a `_suffix` (a unit left out:
 * `ttft_p95` → `ttft_p95_ms`), else undefined.
 */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  const low = name.toLowerCase();
  const list = [...candidates];
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of list) {
    const d = editDistance(low, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  if (best === undefined || bestD === 0) return bestD === 0 ? best : undefined;
  const limit = Math.min(2, Math.max(1, Math.floor(Math.max(low.length, best.length) / 3)));
  if (bestD <= limit) return best;
  const extended = list.filter((c) => c.toLowerCase().startsWith(`${low}_`));
  return extended.length === 1 ? extended[0] : undefined;
}

/** `; did you mean "x"?` or "". */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const c = closest(name, candidates);
  return c !== undefined && c !== name ? `; did you mean "${c}"?` : "";
}
