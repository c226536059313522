/**
 * A profile's column base: the weighted sum of its column scorers (`Scorer.column`: queue, running-requests-size and
 * kv-cache-utilization, whose scores depend on the candidates' scraped metrics only), kept between decisions.
 *
 * Why: at 1,024 candidates every decision summed those scorers over every candidate and scanned the sum for its
 * maximum, though between two decisions a scrape or two had changed one replica's metrics each (scrapes are per
 * replica, staggered over the interval). The base follows the columns' change log (`EndpointColumns.changes`):
 * only the changed positions are summed again, unless a min-max scorer's minimum or maximum moved (then every
 * position is), and the maximum of the sum, where it is first and how many candidates share it are kept as the
 * positions change (scanned again only when the last candidate holding the maximum leaves it, or some value is NaN).
 *
 * Bit-identical: position i holds `0 + t₁ + t₂ + …` over the column scorers in profile order, each term computed
 * by the scorers' own term functions (`minMaxLowTerm`, `oneMinusTerm`, as their `addWeighted` does), which is what the framework's totals hold when every other scorer of the
 * profile adds nothing for the cycle (`Scorer.skips`). `test/column-base.test.ts` checks both against the scorers.
 */
import type { EndpointColumns } from "../types.ts";
import type { ColumnTerm } from "./framework.ts";
import { scanTop, type TopScan } from "./pickers.ts";
import { columnRange, minMaxLowTerm, oneMinusTerm } from "./scorers.ts";

interface Term {
  readonly term: ColumnTerm;
  readonly weight: number;
}

export class ColumnBase {
  private readonly terms: readonly Term[];
  private cols: EndpointColumns | undefined;
  private n = 0;
  /** Changes of the columns' log read so far. */
  private read = 0;
  /** The weighted sums, one per position. */
  base = new Float64Array(0);
  /** Per term: the column values the sums were computed from (min-max terms), their minimum and maximum. */
  private seen: Float64Array[] = [];
  private readonly lo: Float64Array;
  private readonly hi: Float64Array;
  /** After `summarize`: the maximum of the sums. */
  max = 0;
  /** After `summarize` with one holder: the position holding the maximum (meaningless with more). */
  first = -1;
  /** After `summarize`: how many positions hold the maximum. */
  holders = 0;
  /** `max`, `first` and `holders` describe `base` (else the next `summarize` scans). */
  private known = false;
  /** After `summarize`: some sum is NaN (the picker must scan: `pickTop` does not apply). */
  nan = false;
  private readonly topScan: TopScan = { top: 0, ties: 0, nan: false };
  private readonly rangeOut = new Float64Array(2);

  constructor(terms: readonly Term[]) {
    this.terms = terms;
    this.lo = new Float64Array(terms.length);
    this.hi = new Float64Array(terms.length);
  }

  /** Brings the sums up to date with `cols` (positions 0 … n − 1) and returns them; undefined when no log is kept. */
  update(cols: EndpointColumns, n: number): Float64Array | undefined {
    const log = cols.changes;
    if (log === undefined) return undefined;
    const count = cols.changeCount ?? 0;
    if (cols !== this.cols || n !== this.n) {
      this.cols = cols;
      this.n = n;
      if (this.base.length < n) this.base = new Float64Array(n);
      this.seen = this.terms.map((t) => (t.term.kind === "min-max-low" ? new Float64Array(n) : new Float64Array(0)));
      this.rebuild(count);
      return this.base;
    }
    const pending = count - this.read;
    if (pending === 0) return this.base;
    if (pending > log.length || pending * 8 > n) {
      this.rebuild(count);
      return this.base;
    }
    // The min-max terms first: a changed position that held the minimum or maximum, or moved past one, may move it.
    const terms = this.terms;
    let rangeMoved = false;
    for (let k = 0; k < terms.length; k++) {
      const t = terms[k]!.term;
      if (t.kind !== "min-max-low") continue;
      const col = cols[t.field];
      const seen = this.seen[k]!;
      const lo = this.lo[k]!;
      const hi = this.hi[k]!;
      let rescan = false;
      for (let c = this.read; c < count; c++) {
        const p = log[c % log.length]!;
        const was = seen[p]!;
        const v = col[p]!;
        seen[p] = v;
        if (v < lo || v > hi || ((was === lo || was === hi) && v !== was)) rescan = true;
      }
      if (rescan && this.range(k, col)) rangeMoved = true;
    }
    if (rangeMoved) {
      this.sumAll();
      this.known = false;
    } else {
      const base = this.base;
      for (let c = this.read; c < count; c++) {
        const p = log[c % log.length]!;
        const was = base[p]!;
        const v = this.sumAt(p);
        base[p] = v;
        if (this.known) this.moved(p, was, v);
      }
    }
    this.read = count;
    return this.base;
  }

  /**
   * Sets `first` and `holders` (and `nan` when a sum is NaN) as the max-score picker's scan of the sums finds them.
   */
  summarize(): void {
    if (!this.known) this.scan();
  }

  /** Position `p`'s sum went from `was` to `v`: the maximum, its first position and holders follow. */
  private moved(p: number, was: number, v: number): void {
    if (Number.isNaN(v) || Number.isNaN(was)) this.known = false;
    else if (v > this.max) {
      this.max = v;
      this.first = p;
      this.holders = 1;
    } else if (v === this.max) {
      if (was !== this.max) this.holders++;
    } else if (was === this.max) {
      // One holder fewer; with one left, which one is not kept: scan.
      if (--this.holders <= 1) this.known = false;
    }
  }

  private scan(): void {
    const t = this.topScan;
    scanTop(this.base, this.n, t);
    this.max = this.base[t.top]!;
    this.first = t.top;
    this.holders = t.ties;
    this.nan = t.nan;
    this.known = !t.nan;
  }

  private rebuild(count: number): void {
    const cols = this.cols!;
    for (let k = 0; k < this.terms.length; k++) {
      const t = this.terms[k]!.term;
      if (t.kind !== "min-max-low") continue;
      this.seen[k]!.set(cols[t.field].subarray(0, this.n));
      this.range(k, cols[t.field]);
    }
    this.sumAll();
    this.known = false;
    this.read = count;
  }

  /** Term k's minimum and maximum over the column (as the scorer finds them); true when they moved. */
  private range(k: number, col: Float64Array): boolean {
    columnRange(col, this.n, this.rangeOut);
    const lo = this.rangeOut[0]!;
    const hi = this.rangeOut[1]!;
    const moved = !Object.is(lo, this.lo[k]) || !Object.is(hi, this.hi[k]);
    this.lo[k] = lo;
    this.hi[k] = hi;
    return moved;
  }

  private sumAll(): void {
    const base = this.base;
    for (let i = 0; i < this.n; i++) base[i] = this.sumAt(i);
  }

  /** Position i's weighted sum: the scorers' `addWeighted` arithmetic on a total that starts at 0. */
  private sumAt(i: number): number {
    const cols = this.cols!;
    const terms = this.terms;
    let s = 0;
    for (let k = 0; k < terms.length; k++) {
      const { term, weight } = terms[k]!;
      if (term.kind === "min-max-low") s += minMaxLowTerm(cols[term.field][i]!, this.lo[k]!, this.hi[k]!, weight);
      else s += oneMinusTerm(cols[term.field][i]!, weight);
    }
    return s;
  }
}
