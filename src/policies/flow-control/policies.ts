/**
 * Flow-control policies as llm-d/llm-d-router implements them (`ebab6879`,
 * `pkg/epp/framework/plugins/flowcontrol/`): which flow of a priority band dispatches next (fairness), the order
 * inside a flow (ordering), and the per-band dispatch ceilings (usage limit).
 *
 * A flow is a fairness id × a priority (`FlowKey`, `pkg/epp/framework/interface/flowcontrol/flow.go` L25–L61). The
 * fairness id is the `x-llm-d-inference-fairness-id` header (`pkg/epp/metadata/consts.go` L38; deprecated
 * `x-gateway-inference-fairness-id` L40), `default-flow` without one (L67, `pkg/epp/requestcontrol/director.go`
 * L271–L297). gatelab's requests carry it as their tenant (`workload.mix[].tenant`).
 *
 * Fairness:
 * - `global-strict-fairness-policy` (`fairness/globalstrict/global_strict.go` L70–L117): the flow whose head item is
 *   best by the band's ordering policy, across all flows (flow boundaries ignored);
 * - `round-robin-fairness-policy` (`fairness/roundrobin/roundrobin.go` L81–L127): flow keys sorted (`FlowKey.Compare`:
 *   by id within a band), the next non-empty flow after the last one picked (the first when none was, or when the
 *   last one is gone);
 * - `program-aware-fairness` (`fairness/program-aware/`, strategy `las`): least attained service, see
 *   `ProgramAwareFairness`.
 *
 * Ordering (inside one flow):
 * - `fcfs-ordering-policy` (`ordering/fcfs/fcfs.go` L73–L84): earlier enqueue first;
 * - `edf-ordering-policy` (`ordering/edf/edf.go` L76–L104): deadline = enqueue time + effective TTL, FCFS on ties, no
 *   TTL → far future. Today every request's effective TTL is the controller's `defaultRequestTTL`
 *   (`pkg/epp/requestcontrol/admission.go` L214–L219: `InitialEffectiveTTL` returns 0;
 *   `pkg/epp/flowcontrol/controller/controller.go` L491–L496), so deadlines are enqueue time + one constant and EDF
 *   dispatches exactly in FCFS order. gatelab keeps it in the FCFS ring buffer for that reason;
 * - `slo-deadline-ordering-policy` (`ordering/slodeadline/slo_deadline.go` L80–L127): deadline = received timestamp +
 *   the `x-llm-d-slo-ttft-ms` header (integer ms; missing or invalid → far future), received timestamp on ties.
 *   gatelab's client sends its SLO class's per-request TTFT target (`slos.classes.<class>.ttft_ms`, whole ms) as
 *   that header; a request without a class or without `ttft_ms` sends none.
 *
 * Usage limits (`usagelimits/usagelimitpolicy.go` L29–L60, `softreflectiveceiling/policy.go` L92–L142): per priority
 * level (highest first) a ceiling; the dispatch cycle stops at the first band whose ceiling saturation has reached
 * (`pkg/epp/flowcontrol/controller/internal/processor.go` L485–L500).
 */
import { z } from "zod";

export type FairnessType = "global-strict-fairness-policy" | "round-robin-fairness-policy" | "program-aware-fairness";
export type OrderingType = "fcfs-ordering-policy" | "edf-ordering-policy" | "slo-deadline-ordering-policy";

export const FAIRNESS_TYPES: readonly FairnessType[] = [
  "global-strict-fairness-policy",
  "round-robin-fairness-policy",
  "program-aware-fairness",
];
export const ORDERING_TYPES: readonly OrderingType[] = [
  "fcfs-ordering-policy",
  "edf-ordering-policy",
  "slo-deadline-ordering-policy",
];

/** The default fairness id (llm-d-router `pkg/epp/metadata/consts.go` L67). */
export const DEFAULT_FAIRNESS_ID = "default-flow";

/**
 * `program-aware-fairness` parameters (`fairness/program-aware/plugin.go` L28–L66): defaults and validation as the
 * factory's `DefaultConfig` and `validate`; strict decoding (unknown fields are errors). An explicit 0 is kept (the
 * Go decoder overwrites the default).
 */
export const programAwareParams = z.strictObject({
  strategy: z
    .string()
    .default("las")
    .refine((s) => s === "" || s === "las", {
      error: (iss) => `unknown scoring strategy ${JSON.stringify(iss.input)}: only "las" is supported`,
    }),
  evictionTtlSeconds: z.number().min(0, { error: "evictionTtlSeconds must be >= 0" }).default(3600),
  evictionSweepSeconds: z.number().gt(0, { error: "evictionSweepSeconds must be > 0" }).default(300),
  lasWeightService: z.number().min(0, { error: "lasWeightService must be >= 0" }).default(0.8),
  lasWeightHeadWait: z.number().min(0, { error: "lasWeightHeadWait must be >= 0" }).default(0.2),
  lasHalfLifeSeconds: z.number().min(0, { error: "lasHalfLifeSeconds must be >= 0" }).default(60),
});
export type ProgramAwareParams = z.output<typeof programAwareParams>;

/** `soft-reflective-ceiling-policy` takes no parameters (`softreflectiveceiling/policy.go` L64–L76). */
export const softReflectiveParams = z.strictObject({}, { error: "soft-reflective-ceiling-policy takes no parameters" });

/**
 * A band's fairness policy: its type, and for program-aware the plugin's name and parameters (each flow-control
 * queue makes one instance per plugin name; bands naming the same plugin share its per-program state).
 */
export interface FairnessSpec {
  readonly type: FairnessType;
  readonly programAware?: { readonly name: string; readonly params: ProgramAwareParams } | undefined;
}

export const GLOBAL_STRICT: FairnessSpec = { type: "global-strict-fairness-policy" };

/** Tokens' weights in attained service (`strategy_las.go` L19–L23: output ~2× input). */
const WEIGHT_INPUT_TOKEN = 1;
const WEIGHT_OUTPUT_TOKEN = 2;

/** One program's state (`programmetrics.go` and `strategy_las.go` `lasState`). */
interface Program {
  service: number;
  /** Instant up to which decay is folded into `service` (NaN: never read). */
  anchor: number;
  inFlight: number;
  lastCompletion: number;
  /** Last time the eviction sweeps were applied to this program. */
  swept: number;
  dispatched: number;
  waitCount: number;
  waitMeanMs: number;
}

/**
 * `program-aware-fairness` with the `las` strategy (`fairness/program-aware/plugin.go` L196–L278,
 * `strategy_las.go` L100–L178). For the non-empty flows of a band:
 *   score = lasWeightService·(1 − norm(service)) + lasWeightHeadWait·norm(head wait, whole ms),
 * norm = (v − min)/(max − min) over those flows, 0.5 when all are equal; the highest score dispatches. A program's
 * attained service grows by prompt + 2 × completion tokens when one of its requests completes and halves every
 * `lasHalfLifeSeconds` (folded in lazily when read, as the real one does). Eviction: every `evictionSweepSeconds`
 * from the start, a program with nothing in flight and no completion for over `evictionTtlSeconds` loses its state
 * (`plugin.go` L280–L322); gatelab applies the sweeps a program missed when it next touches it, which gives the same
 * result because nothing else changes the program in between.
 *
 * Ties: the real one scans a Go map (unspecified order) and keeps the first best; gatelab scans flows sorted by id and
 * keeps the first best, so ties go to the smallest fairness id.
 */
export class ProgramAwareFairness {
  readonly name: string;
  readonly params: ProgramAwareParams;
  private readonly programs = new Map<string, Program>();

  constructor(name: string, params: ProgramAwareParams) {
    this.name = name;
    this.params = params;
  }

  /** The program's state, created fresh (last completion = now, `getOrCreateMetrics` L150–L165) if absent. */
  private program(id: string, now: number): Program {
    let p = this.programs.get(id);
    if (p !== undefined && this.evicted(p, now)) {
      this.programs.delete(id);
      p = undefined;
    }
    if (p === undefined) {
      p = {
        service: 0,
        anchor: Number.NaN,
        inFlight: 0,
        lastCompletion: now,
        swept: now,
        dispatched: 0,
        waitCount: 0,
        waitMeanMs: 0,
      };
      this.programs.set(id, p);
    }
    return p;
  }

  /** Whether a sweep at k·evictionSweepSeconds in (p.swept, now] found the program idle past the TTL. */
  private evicted(p: Program, now: number): boolean {
    const ttl = this.params.evictionTtlSeconds;
    const every = this.params.evictionSweepSeconds;
    const from = p.swept;
    p.swept = now;
    if (ttl <= 0 || p.inFlight !== 0) return false;
    // First sweep strictly after both the last check and lastCompletion + ttl ("now − last <= ttl" keeps it).
    const after = Math.max(from, p.lastCompletion + ttl);
    const k = Math.floor(after / every) + 1;
    return k * every <= now;
  }

  /** Attained service at `now`, decay folded in (`lasState.Service`). */
  service(id: string, now: number): number {
    return this.decay(this.program(id, now), now);
  }

  private decay(p: Program, now: number): number {
    if (Number.isNaN(p.anchor)) {
      p.anchor = now;
      return p.service;
    }
    const elapsed = now - p.anchor;
    if (elapsed <= 0) return p.service;
    const h = this.params.lasHalfLifeSeconds;
    if (h > 0) p.service *= 2 ** (-elapsed / h);
    p.anchor = now;
    return p.service;
  }

  /** The LAS score of a flow, given the band's min/max over the non-empty flows. */
  score(service: number, waitMs: number, minS: number, maxS: number, minW: number, maxW: number): number {
    const norm = (v: number, lo: number, hi: number) => (hi === lo ? 0.5 : (v - lo) / (hi - lo));
    return (
      this.params.lasWeightService * (1 - norm(service, minS, maxS)) +
      this.params.lasWeightHeadWait * norm(waitMs, minW, maxW)
    );
  }

  /**
   * A request of program `id` was dispatched (`PreRequest` → `RecordDispatched`, every request the EPP schedules);
   * `waitS` ≥ 0 when this plugin picked it from its queue (the wait is recorded then only), else -1.
   */
  dispatched(id: string, waitS: number, now: number): void {
    const p = this.program(id, now);
    p.inFlight++;
    p.dispatched++;
    if (waitS < 0) return;
    p.waitCount++;
    p.waitMeanMs += (Math.trunc(waitS * 1000 + 1e-9) - p.waitMeanMs) / p.waitCount;
  }

  /** A dispatched request of program `id` completed with these token counts (`OnCompleted`, `RecordCompletion`). */
  completed(id: string, promptTokens: number, completionTokens: number, now: number): void {
    const p = this.program(id, now);
    this.decay(p, now);
    p.service += WEIGHT_INPUT_TOKEN * promptTokens + WEIGHT_OUTPUT_TOKEN * completionTokens;
    p.inFlight--;
    p.lastCompletion = now;
  }

  /** Jain's fairness index over the programs' mean queue waits (`jainFairnessIndex`, 1 with < 2 programs). */
  jainIndex(): number {
    let sum = 0;
    let sumSq = 0;
    let n = 0;
    for (const p of this.programs.values()) {
      if (p.waitCount === 0) continue;
      sum += p.waitMeanMs;
      sumSq += p.waitMeanMs * p.waitMeanMs;
      n++;
    }
    return n <= 1 || sumSq === 0 ? 1 : (sum * sum) / (n * sumSq);
  }
}

/** The usage-limit policy of the flow controller. */
export type UsageLimitSpec =
  | { readonly type: "static-usage-limit-policy"; readonly threshold: number }
  | { readonly type: "soft-reflective-ceiling-policy" };

/**
 * Per-band ceilings, highest priority first, into `out` (`ComputeLimit`). Static: the threshold for every band.
 * Soft-reflective ceiling: band 0 → 1; band i of n → 1 − i·s/(n − 1) while s is below it; at or past it, s ≥ 1 → 0,
 * else every gated band is open (1) on one call in round(s/(1 − s)) and closed (0) on the others, one shared tick
 * advancing on each call in that regime.
 */
export class UsageLimit {
  readonly spec: UsageLimitSpec;
  private tick = 0;

  constructor(spec: UsageLimitSpec) {
    this.spec = spec;
  }

  compute(saturation: number, n: number, out: Float64Array): void {
    const spec = this.spec;
    if (spec.type === "static-usage-limit-policy") {
      out.fill(spec.threshold, 0, n);
      return;
    }
    if (n === 0) return;
    if (n === 1) {
      out[0] = 1;
      return;
    }
    const alternating = saturation >= 1 - saturation && saturation < 1;
    let open = false;
    if (alternating) {
      // 1e-9 guards round-off near saturation 1 (policy.go L118).
      const period = Math.max(1, Math.round(saturation / (1 - saturation + 1e-9)));
      this.tick++;
      open = this.tick % period === 0;
    }
    out[0] = 1;
    for (let i = 1; i < n; i++) {
      const reflective = 1 - (i * saturation) / (n - 1);
      if (saturation < reflective) out[i] = 1;
      else if (saturation >= 1) out[i] = 0;
      else out[i] = open ? 1 : 0;
    }
  }
}
