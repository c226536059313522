/**
 * The Endpoint Picker's pickers (GIE `pkg/epp/scheduling/framework/plugins/picker/{maxscore,random,weightedrandom}`,
 * docs/reference.md#endpoint-picker-pipeline). Parameter `maxNumOfEndpoints` (default 1) is accepted; gatelab dispatches to the first
 * endpoint of the list (Envoy's fallback list is not simulated).
 * - `max-score-picker`: shuffle the candidates uniformly with the routing stream, then stable-sort by score
 *   descending and take the first → ties broken uniformly at random, deterministically for a seed. Implemented as
 *   the first maximum in shuffled order (what the stable sort puts first), with the full shuffle's draws; when one
 *   candidate has the highest score it is the pick whatever the order, and the stream jumps over the shuffle's draws.
 * - `random-picker`: a uniformly random candidate (one draw).
 * - `weighted-random-picker`: A-Res (Efraimidis–Spirakis): key = U^(1/score) for score > 0 (U = 0 → 1e-10), key 0 for
 *   score ≤ 0, largest key wins; when every score ≤ 0 it behaves as `random-picker`. For k = 1,
 *   P(i) = score_i / Σ score.
 */
import type { EndpointView } from "../types.ts";
import type { Cycle, Picker } from "./framework.ts";

/** What the max-score picker's scan finds: the first index of the maximum, how many hold it, any NaN. */
export interface TopScan {
  top: number;
  ties: number;
  /** A score is NaN (never produced by the framework; the picker then takes the shuffle path). */
  nan: boolean;
}

/** Scans `scores[0..n)` (n ≥ 1) into `out`. */
export function scanTop(scores: Float64Array, n: number, out: TopScan): void {
  let top = 0;
  let ties = 1;
  let nan = Number.isNaN(scores[0]!);
  for (let i = 1; i < n; i++) {
    const v = scores[i]!;
    if (v > scores[top]!) {
      top = i;
      ties = 1;
    } else if (v === scores[top]) ties++;
    else if (Number.isNaN(v)) nan = true;
  }
  out.top = top;
  out.ties = ties;
  out.nan = nan;
}

export class MaxScorePicker implements Picker {
  readonly type = "max-score-picker";
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
  private readonly top: TopScan = { top: 0, ties: 0, nan: false };
  pick(cycle: Cycle, eps: readonly EndpointView[], scores: Float64Array): number {
    const n = eps.length;
    if (n === 0) return -1;
    // Shuffle, then the first maximum in shuffled order: with a single maximum that is the pick whatever the order,
    // so only the stream has to move on by the shuffle's n − 1 draws (a jump, not 1,023 steps, at 1,024 endpoints).
    const t = this.top;
    scanTop(scores, n, t);
    return this.choose(cycle, n, scores, scores[t.top]!, t.top, t.ties, t.nan);
  }
  pickTop(cycle: Cycle, n: number, scores: Float64Array, max: number, top: number, ties: number): number {
    return this.choose(cycle, n, scores, max, top, ties, false);
  }
  private choose(
    cycle: Cycle,
    n: number,
    scores: Float64Array,
    max: number,
    top: number,
    ties: number,
    nan: boolean,
  ): number {
    if (ties === 1 && !nan) {
      cycle.ctx.rng.skip(n - 1);
      return top;
    }
    // The stream's buffer (`Rng.shuffled`), read before anything draws again.
    const perm = cycle.ctx.rng.shuffled(n);
    if (!nan) {
      // The first candidate in shuffled order with the top score (with t candidates tied, about n/(t+1) in).
      for (let k = 0; k < n; k++) if (scores[perm[k]!] === max) return perm[k]!;
    }
    let best = perm[0]!;
    for (let k = 1; k < n; k++) {
      const i = perm[k]!;
      if (scores[i]! > scores[best]!) best = i;
    }
    return best;
  }
}

export class RandomPicker implements Picker {
  readonly type = "random-picker";
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
  pick(cycle: Cycle, eps: readonly EndpointView[]): number {
    return eps.length === 0 ? -1 : cycle.ctx.rng.int(eps.length);
  }
}

export class WeightedRandomPicker implements Picker {
  readonly type = "weighted-random-picker";
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
  pick(cycle: Cycle, eps: readonly EndpointView[], scores: Float64Array): number {
    const n = eps.length;
    if (n === 0) return -1;
    let anyPositive = false;
    for (let i = 0; i < n; i++) if (scores[i]! > 0) anyPositive = true;
    const rng = cycle.ctx.rng;
    if (!anyPositive) return rng.int(n);
    let best = -1;
    let bestKey = -1;
    for (let i = 0; i < n; i++) {
      const s = scores[i]!;
      let key = 0;
      if (s > 0) {
        let u = rng.next();
        if (u === 0) u = 1e-10;
        key = u ** (1 / s);
      }
      if (key > bestKey) {
        bestKey = key;
        best = i;
      }
    }
    return best;
  }
}
