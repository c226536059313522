import { hashInts, hashString } from "../sim/hash.ts";
import type { Request } from "../sim/request.ts";

/** A request under construction: the generator fills everything but `id`, which the workload stream assigns. */
export type Draft = { -readonly [K in keyof Request]: Request[K] };

/**
 * A workload component: yields drafts in non-decreasing arrival order. Ids are assigned by the `WorkloadStream`
 * that wraps it (dense, in yield order across `next()` and `onFinish`). `name` is stamped on `Draft.source` and
 * routes `onFinish` back to the component in a mix.
 */
export interface Gen {
  readonly name: string;
  next(): Draft | undefined;
  /** Closed loop: follow-up drafts (arrival ≥ now) once `req` finished. */
  onFinish?(req: Request, now: number, completed: boolean): Draft[] | undefined;
  /** Releases files (idempotent). */
  close?(): void;
}

/** Content namespaces: the first argument of `hashInts` for derived content ids, so that kinds never collide. */
/**
 * Requests a run may have at most (a scenario's `requests:`, an inference-perf config's stages together): far beyond
 * any benchmark, and what keeps a run's per-request arrays within memory.
 */
export const MAX_RUN_REQUESTS = 20_000_000;

export const NS = {
  system: 1,
  question: 2,
  answer: 3,
  unique: 4,
  document: 5,
  tools: 6,
  instructions: 7,
  trace: 8,
  prefixGroup: 9,
  mooncake: 10,
  user: 11,
  toolResult: 12,
} as const;

/** Salt that makes a component's content ids distinct from another component's (its name). */
export function contentSalt(name: string): number {
  return hashString(name);
}

/** Content id of kind `ns` in the component salted `salt`, keyed by `keys`. */
export function contentId(ns: number, salt: number, ...keys: number[]): number {
  return hashInts(ns, salt, ...keys);
}

/** A new draft with every field present in the same order (one hidden class for all drafts). */
export function draft(arrival: number, prompt: Draft["prompt"], inputTokens: number, outputTokens: number): Draft {
  return { id: -1, arrival, prompt, inputTokens, outputTokens };
}
