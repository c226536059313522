/**
 * Exactly rounded sums: the floating-point number nearest to the exact real sum of the addends (ties to even), so the
 * result does not depend on the order the addends come in. Shewchuk's non-overlapping partials ("Adaptive Precision
 * Floating-Point Arithmetic and Fast Robust Geometric Predicates", 1997, Theorem 10 / GROW-EXPANSION), with the final
 * round-half-even correction Python's `math.fsum` applies (CPython Modules/mathmodule.c `math_fsum`), so results
 * equal `math.fsum` of the same addends.
 *
 * Run summaries take their means from these sums (`metrics/summary.ts`): with an order-free sum a mean needs no
 * sorted sample, and percentiles can be found by selection.
 */

/** Veltkamp's splitter for doubles: 2^27 + 1. */
const SPLIT = 134217729;

export class ExactSum {
  /** Non-overlapping partials in increasing magnitude, `partials[0..n)`. */
  private partials = new Float64Array(32);
  private n = 0;
  /** Sum of non-finite addends (±Infinity, NaN), kept apart as `math.fsum` does. */
  private special = 0;
  private nonFinite = false;

  /** Adds `x` exactly. */
  add(x: number): void {
    if (!Number.isFinite(x)) {
      this.special += x;
      this.nonFinite = true;
      return;
    }
    const p = this.partials;
    let i = 0;
    for (let j = 0; j < this.n; j++) {
      let y = p[j]!;
      if (Math.abs(x) < Math.abs(y)) {
        const t = x;
        x = y;
        y = t;
      }
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) p[i++] = lo;
      x = hi;
    }
    if (i === p.length) {
      const q = new Float64Array(p.length * 2);
      q.set(p);
      this.partials = q;
    }
    this.partials[i] = x;
    this.n = i + 1;
  }

  /** Adds the exact product `a × b` (Dekker's two-product: the rounded product and its rounding error). */
  addProduct(a: number, b: number): void {
    const prod = a * b;
    if (!Number.isFinite(prod) || prod === 0) {
      this.add(prod);
      return;
    }
    let t = SPLIT * a;
    const aHi = t - (t - a);
    const aLo = a - aHi;
    t = SPLIT * b;
    const bHi = t - (t - b);
    const bLo = b - bHi;
    const err = aLo * bLo - (prod - aHi * bHi - aLo * bHi - aHi * bLo);
    this.add(prod);
    if (err !== 0) this.add(err);
  }

  /** The sum, correctly rounded (0 when nothing was added). */
  value(): number {
    if (this.nonFinite) return this.special;
    const p = this.partials;
    let n = this.n;
    if (n === 0) return 0;
    let hi = p[--n]!;
    let lo = 0;
    // Add from the top down until the sum is inexact; the rest decide only a half-way rounding.
    while (n > 0) {
      const x = hi;
      const y = p[--n]!;
      hi = x + y;
      lo = y - (hi - x);
      if (lo !== 0) break;
    }
    // Round half to even correctly: when `lo` is exactly half an ulp and the next partial has the same sign, the
    // true sum lies beyond the half-way point, so round away.
    if (n > 0 && ((lo < 0 && p[n - 1]! < 0) || (lo > 0 && p[n - 1]! > 0))) {
      const y = lo * 2;
      const x = hi + y;
      if (y === x - hi) hi = x;
    }
    return hi;
  }
}

/** Exactly rounded Σ `values` (order-free). */
export function exactSum(values: ArrayLike<number>): number {
  const s = new ExactSum();
  for (let i = 0; i < values.length; i++) s.add(values[i]!);
  return s.value();
}
