/**
 * Quantiles by selection: the same numbers as `quantileSorted` over the sorted sample (numpy `linear`), found by
 * partial partitioning (Hoare's FIND / quickselect, median-of-three pivots) instead of a full sort. Each quantile needs
 * the order statistics at ranks ⌊h⌋ and ⌊h⌋ + 1 (h = (n − 1)·p); asking for ascending p lets every selection work
 * only on the part right of the previous one.
 */

/** Sorts `a[l..r]` when partitioning degrades (a bound on rounds keeps the worst case O(n log n)). */
function sortRange(a: Float64Array, l: number, r: number): void {
  a.subarray(l, r + 1).sort();
}

/**
 * Rearranges `a[l..r]` so that `a[k]` holds the value of rank k (0-based, of the whole array when `a[0..l)` holds
 * the l smallest values), everything in `a[l..k)` is ≤ it and everything in `a(k..r]` is ≥ it. NaN-free input.
 */
export function selectRank(a: Float64Array, k: number, l = 0, r = a.length - 1): void {
  let rounds = 0;
  const limit = 2 * (32 - Math.clz32(r - l + 1)) + 8;
  for (;;) {
    if (r <= l + 1) {
      if (r === l + 1 && a[r]! < a[l]!) {
        const t = a[l]!;
        a[l] = a[r]!;
        a[r] = t;
      }
      return;
    }
    if (++rounds > limit) {
      sortRange(a, l, r);
      return;
    }
    // Median of a[l], a[mid], a[r] as the pivot, parked at l + 1 with a[l] ≤ pivot ≤ a[r] as sentinels.
    const mid = (l + r) >>> 1;
    let t = a[mid]!;
    a[mid] = a[l + 1]!;
    a[l + 1] = t;
    if (a[l]! > a[r]!) {
      t = a[l]!;
      a[l] = a[r]!;
      a[r] = t;
    }
    if (a[l + 1]! > a[r]!) {
      t = a[l + 1]!;
      a[l + 1] = a[r]!;
      a[r] = t;
    }
    if (a[l]! > a[l + 1]!) {
      t = a[l]!;
      a[l] = a[l + 1]!;
      a[l + 1] = t;
    }
    const pivot = a[l + 1]!;
    let i = l + 1;
    let j = r;
    for (;;) {
      do i++;
      while (a[i]! < pivot);
      do j--;
      while (a[j]! > pivot);
      if (j < i) break;
      t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    a[l + 1] = a[j]!;
    a[j] = pivot;
    if (j >= k) r = j - 1;
    if (j <= k) l = i;
  }
}

/**
 * Quantiles `ps` (ascending, each in [0, 1]) of sample `a`, as `quantileSorted` gives them over the sorted sample;
 * `a` is rearranged in place. Empty sample → NaN for each.
 */
export function quantilesBySelection(a: Float64Array, ps: readonly number[]): number[] {
  const n = a.length;
  const out: number[] = [];
  // a[0..left) holds the `left` smallest values in order: ranks below `left` are settled.
  let left = 0;
  let prev = 0;
  for (const p of ps) {
    if (p < prev) throw new Error(`quantilesBySelection: p ${p} after ${prev} (ascending p only)`);
    prev = p;
    if (n === 0) {
      out.push(Number.NaN);
      continue;
    }
    const h = (n - 1) * p;
    const lo = Math.floor(h);
    const f = h - lo;
    if (lo >= left) {
      selectRank(a, lo, left, n - 1);
      left = lo + 1;
    }
    if (f === 0) {
      out.push(a[lo]!);
      continue;
    }
    if (lo + 1 >= left) {
      // The next rank is the minimum of what lies right of rank lo: one scan, moved into place.
      let m = lo + 1;
      for (let i = lo + 2; i < n; i++) if (a[i]! < a[m]!) m = i;
      const t = a[m]!;
      a[m] = a[lo + 1]!;
      a[lo + 1] = t;
      left = lo + 2;
    }
    out.push(a[lo]! + f * (a[lo + 1]! - a[lo]!));
  }
  return out;
}
