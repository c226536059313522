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

/**
 * Quantiles `ps` (ascending, each in [0, 1]) of run-length weighted samples — value `values[i]` repeated `counts[i]`
 * times, in any order — as `weightedQuantile` gives them over the pairs sorted by value (numpy `linear` over the
 * expanded sample); 0 each when there are none. The pairs are rearranged in place (together). Selection instead of a
 * sort: each needed rank is found by three-way partitioning the pairs around a median-of-three value, counting the
 * samples on each side, and going on in the side that holds the rank (ascending p: each search starts right of the
 * previous one). On the ITL store's ~2 million distinct gaps at 1M chat requests, sorting them and finding each one's
 * count by binary search cost ~0.5 µs a pair (cache misses on the sorted array): this passes over them sequentially.
 * `maxRounds` (tests) bounds the partitioning rounds of a search before it sorts what is left (default 2·log₂ n + 8).
 */
export function weightedQuantilesBySelection(
  values: Float64Array,
  counts: Float64Array | Uint32Array,
  ps: readonly number[],
  maxRounds?: number,
): number[] {
  const n = values.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += counts[i]!;
  const out: number[] = [];
  // Pairs in [0, from) hold the `below` smallest samples, all smaller than any pair at or right of `from`.
  let from = 0;
  let below = 0;
  // The block of equal values found last: pairs [eqLo, eqHi], its samples after `eqBelow` smaller ones; and the
  // value and ranks of the block found before it (a rank asked again: p's ⌊h⌋ after the previous p's ⌊h⌋ + 1).
  let eqLo = -1;
  let eqHi = -1;
  let eqBelow = 0;
  let prevValue = 0;
  let prevFrom = -1;
  let prevTo = -1;
  /** The value at expanded rank k (k ≥ the ranks asked before, but for one block's worth). */
  const at = (k: number): number => {
    if (k >= prevFrom && k < prevTo) return prevValue;
    if (eqLo >= 0) {
      let eq = 0;
      for (let i = eqLo; i <= eqHi; i++) eq += counts[i]!;
      if (k < eqBelow + eq) return values[eqLo]!;
      prevValue = values[eqLo]!;
      prevFrom = eqBelow;
      prevTo = eqBelow + eq;
      from = eqHi + 1;
      below = eqBelow + eq;
    }
    let l = from;
    let r = n - 1;
    let base = below;
    let rounds = 0;
    const limit = maxRounds ?? 2 * (32 - Math.clz32(r - l + 1)) + 8;
    for (;;) {
      if (l > r) {
        // Past the last sample (k = total − 1 reached through zero counts): the largest value, as the walk gives.
        return values[n - 1]!;
      }
      if (++rounds > limit) {
        // Partitioning degraded: sort what is left and walk it.
        sortPairs(values, counts, l, r);
        let j = l;
        while (j < r && base + counts[j]! <= k) base += counts[j++]!;
        let hi = j;
        while (hi < r && values[hi + 1] === values[j]) hi++;
        while (j > l && values[j - 1] === values[hi]) base -= counts[--j]!;
        from = j;
        below = base;
        eqLo = j;
        eqHi = hi;
        eqBelow = base;
        return values[j]!;
      }
      const pivot = medianOfThree(values, l, (l + r) >>> 1, r);
      // Three-way partition of [l, r]: [l, lt) < pivot, [lt, gt] = pivot, (gt, r] > pivot.
      let lt = l;
      let gt = r;
      let i = l;
      while (i <= gt) {
        const v = values[i]!;
        if (v < pivot) swapPairs(values, counts, lt++, i++);
        else if (v > pivot) swapPairs(values, counts, i, gt--);
        else i++;
      }
      let less = 0;
      for (let j = l; j < lt; j++) less += counts[j]!;
      if (k < base + less) {
        r = lt - 1;
        continue;
      }
      let eq = 0;
      for (let j = lt; j <= gt; j++) eq += counts[j]!;
      if (k < base + less + eq) {
        from = lt;
        below = base + less;
        eqLo = lt;
        eqHi = gt;
        eqBelow = below;
        return pivot;
      }
      base += less + eq;
      l = gt + 1;
    }
  };
  let prev = 0;
  for (const p of ps) {
    if (p < prev) throw new Error(`weightedQuantilesBySelection: p ${p} after ${prev} (ascending p only)`);
    prev = p;
    if (n === 0) {
      out.push(0);
      continue;
    }
    const h = (total - 1) * p;
    const lo = Math.floor(h);
    const frac = h - lo;
    const a = at(lo);
    if (frac === 0) {
      out.push(a);
      continue;
    }
    const b = at(lo + 1);
    out.push(a + frac * (b - a));
  }
  return out;
}

function medianOfThree(a: Float64Array, i: number, j: number, k: number): number {
  const x = a[i]!;
  const y = a[j]!;
  const z = a[k]!;
  if (x < y) return y < z ? y : x < z ? z : x;
  return x < z ? x : y < z ? z : y;
}

function swapPairs(v: Float64Array, c: Float64Array | Uint32Array, i: number, j: number): void {
  const t = v[i]!;
  v[i] = v[j]!;
  v[j] = t;
  const u = c[i]!;
  c[i] = c[j]!;
  c[j] = u;
}

/** Sorts the pairs in [l, r] by value (when partitioning degrades; rare). */
function sortPairs(v: Float64Array, c: Float64Array | Uint32Array, l: number, r: number): void {
  const idx = Array.from({ length: r - l + 1 }, (_, i) => l + i);
  idx.sort((a, b) => v[a]! - v[b]!);
  const vs = idx.map((i) => v[i]!);
  const cs = idx.map((i) => c[i]!);
  for (let i = 0; i < vs.length; i++) {
    v[l + i] = vs[i]!;
    c[l + i] = cs[i]!;
  }
}
