/**
 * Scenario sections of the admission layer (flow control, quotas, degradation, retries, SLO classes), validated with
 * zod; errors name the field.
 *
 * ```yaml
 * gateway:
 *   flow_control:                 # the Endpoint Picker's `flowControl` section, same field names (policies.md §2.9)
 *     saturationDetector: {type: utilization-detector, parameters: {queueDepthThreshold: 5, kvCacheUtilThreshold: 0.8}}
 *     maxBytes: 10Gi              # global caps (Kubernetes quantities; default unlimited)
 *     maxRequests: 0
 *     defaultRequestTTL: 60s      # router HEAD default; "0s" = no TTL (GIE last)
 *     defaultPriorityBand: {maxBytes: 1G, maxRequests: 5000,      # per flow (tenant) queues, see policies.ts
 *       fairnessPolicyRef: round-robin-fairness-policy, orderingPolicyRef: slo-deadline-ordering-policy}
 *     defaultNegativePriorityBand: {maxRequests: 200}     # priority < 0 (router HEAD)
 *     priorityBands: [{priority: 1, maxRequests: 500}]
 *     usageLimitPolicy: {type: static-usage-limit-policy, parameters: {threshold: 1.0}}   # or soft-reflective-ceiling-policy
 *     retryAfter: 1s              # gatelab: Retry-After sent with 429s
 *   degradation:
 *     - {class: batch, when: saturated, action: {max_output_tokens: 128}}
 *     - {class: interactive, when: saturated, action: {route_to_pool: small}}
 *   quotas:
 *     tenants: {acme: {requests_per_s: 5, burst_requests: 10, tokens_per_s: 20000, models: [llama-3.1-8b-instruct]}}
 *     default: {requests_per_s: 50}
 * clients:                         # retries per SLO class or workload component name (`default` for the rest)
 *   interactive: {max_retries: 3, backoff_s: 0.5, multiplier: 2, jitter: 0.5, honor_retry_after: true}
 * slos:
 *   classes:
 *     interactive: {ttft_p95_ms: 1000, e2e_p95_ms: 10000, ttft_ms: 1000}
 *     batch: {e2e_ms: 120000}
 * ```
 */
import { z } from "zod";
import { parseDurationSeconds } from "../common.ts";
import { concurrencyParams, utilizationParams } from "../epp/saturation.ts";
import { FAIRNESS_TYPES, ORDERING_TYPES, programAwareParams, softReflectiveParams } from "./policies.ts";

/** A Kubernetes quantity (`10Gi`, `500M`, `5000`, `1.5k`) or a number, as a number of units. */
export function parseQuantity(v: number | string): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) && v >= 0 ? v : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?\s*$/.exec(v);
  if (!m) return undefined;
  const mult: Record<string, number> = {
    "": 1,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    Pi: 2 ** 50,
    Ei: 2 ** 60,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    P: 1e15,
    E: 1e18,
  };
  return Number(m[1]) * mult[m[2] ?? ""]!;
}

/** Quantity field: number or quantity string → number. */
export const quantity = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const q = parseQuantity(v);
  if (q === undefined) {
    ctx.addIssue({
      code: "custom",
      message: `expected a non-negative quantity such as 5000, "10Gi" or "500M", got ${JSON.stringify(v)}`,
    });
    return z.NEVER;
  }
  return q;
});

/** Duration field: Go/Kubernetes string (`60s`, `200ms`) or a number of seconds → seconds. */
export const durationS = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const s = typeof v === "number" ? (v >= 0 ? v : undefined) : parseDurationSeconds(v);
  if (s === undefined) {
    ctx.addIssue({
      code: "custom",
      message: `expected a duration such as "60s" or "200ms" (or seconds), got ${JSON.stringify(v)}`,
    });
    return z.NEVER;
  }
  return s;
});

/**
 * Shortest period of the flow controller's own loops (`dispatchTick`, `expirySweep`): 1 ns made a run that never
 * ends. Far below the EPP's (1 ms tick, 1 s sweep); a sanity bound, not a model.
 */
const MIN_PERIOD_S = 1e-4;
/** Longest wait a gateway may ask of its clients (`retryAfter`): an hour, far beyond any real Retry-After. */
export const MAX_CLIENT_WAIT_S = 3600;

/** A period of the flow controller's own loop (a duration of at least 0.1 ms). */
// (100 × 1e-6 is 9.999…e-5 in floating point: "100us" itself must pass.)
const periodS = durationS.refine((s) => s >= MIN_PERIOD_S * (1 - 1e-9), {
  error: (iss) => `expected a period of at least 0.1 ms ("100us"), got ${String(iss.input)} s`,
});
/** A wait asked of clients (a duration of at most an hour). */
const clientWaitS = durationS.refine((s) => s <= MAX_CLIENT_WAIT_S, {
  error: (iss) =>
    `expected at most ${MAX_CLIENT_WAIT_S} s ("1h"): a longer wait only stretches the run, got ${String(iss.input)} s`,
});

/** Fairness and ordering policies gatelab simulates (policies.ts); others are named in the error. */
export const FAIRNESS_POLICIES = FAIRNESS_TYPES;
export const ORDERING_POLICIES = ORDERING_TYPES;

const fairnessType = z.string().refine((s) => (FAIRNESS_POLICIES as readonly string[]).includes(s), {
  error: (iss) => `fairness policy "${String(iss.input)}" is not simulated; accepted: ${FAIRNESS_POLICIES.join(", ")}`,
});
/**
 * A band's fairness policy: a type name, or (program-aware) an inline plugin with its parameters and an optional
 * name (bands naming the same plugin share its per-program state; default: the type).
 */
const fairnessRef = z.union([
  fairnessType,
  z.strictObject({
    type: z.literal("program-aware-fairness"),
    name: z.string().min(1).optional(),
    parameters: programAwareParams.prefault({}),
  }),
]);
const orderingRef = z.string().refine((s) => (ORDERING_POLICIES as readonly string[]).includes(s), {
  error: (iss) => `ordering policy "${String(iss.input)}" is not simulated; accepted: ${ORDERING_POLICIES.join(", ")}`,
});

const bandFields = {
  /** Band byte cap (EPP default 1 GB; "0" means the default). */
  maxBytes: quantity.optional(),
  /** Band request cap (EPP default 5000; 0 means the default). */
  maxRequests: quantity.optional(),
  fairnessPolicyRef: fairnessRef.optional(),
  orderingPolicyRef: orderingRef.optional(),
};
export const BandSchema = z.strictObject(bandFields);
export const PriorityBandSchema = z.strictObject({ priority: z.number().int(), ...bandFields });

/** The saturation detector (the EPP's plugins, same parameters; `src/policies/epp/saturation.ts`). */
export const DetectorSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("utilization-detector"), parameters: utilizationParams.prefault({}) }),
  z.strictObject({ type: z.literal("concurrency-detector"), parameters: concurrencyParams.prefault({}) }),
]);
export type DetectorConfig = z.output<typeof DetectorSchema>;

export const UsageLimitSchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("static-usage-limit-policy"),
    parameters: z.strictObject({ threshold: z.number().positive().default(1) }).default({ threshold: 1 }),
  }),
  z.strictObject({ type: z.literal("soft-reflective-ceiling-policy"), parameters: softReflectiveParams.optional() }),
]);

/**
 * The `flowControl` section (EPP field names). `saturationDetector` and `usageLimitPolicy` are inline plugin specs
 * here; in an EndpointPickerConfig they are `pluginRef`s to `plugins[]`. `enabled: false` keeps the section but runs
 * the EPP's legacy admission (no queue; sheddable requests get 429 when saturated).
 */
export const FlowControlSchema = z.strictObject({
  enabled: z.boolean().default(true),
  maxBytes: quantity.optional(),
  maxRequests: quantity.optional(),
  defaultRequestTTL: durationS.optional(),
  noEndpointRequestTTL: durationS.optional(),
  defaultPriorityBand: BandSchema.optional(),
  defaultNegativePriorityBand: BandSchema.optional(),
  priorityBands: z.array(PriorityBandSchema).default([]),
  saturationDetector: DetectorSchema.optional(),
  usageLimitPolicy: UsageLimitSchema.optional(),
  enableEviction: z
    .literal(false, { error: "enableEviction: true (killing in-flight sheddable requests) is not simulated" })
    .optional(),
  /** gatelab: Retry-After (seconds or duration) sent with 429 answers. Default 1 s. */
  retryAfter: clientWaitS.optional(),
  /** gatelab: dispatch cycle period while requests wait and capacity is free (EPP: 1 ms tick). */
  dispatchTick: periodS.optional(),
  /** gatelab: TTL sweep period (EPP: every 1 s). */
  expirySweep: periodS.optional(),
});
export type FlowControlInput = z.input<typeof FlowControlSchema>;
export type FlowControlConfig = z.output<typeof FlowControlSchema>;

export const DegradationRuleSchema = z.strictObject({
  /** SLO class the rule applies to. */
  class: z.string().min(1),
  /** Condition: the class's pool is saturated (the gateway's saturation detector). */
  when: z.literal("saturated").default("saturated"),
  action: z.union([
    z.strictObject({ route_to_pool: z.string().min(1) }),
    z.strictObject({ max_output_tokens: z.number().int().positive() }),
  ]),
});
export type DegradationRule = z.output<typeof DegradationRuleSchema>;

export const TenantQuotaSchema = z.strictObject({
  /** Request-rate limit (token bucket refill, requests/s). */
  requests_per_s: z.number().positive().optional(),
  /** Bucket size in requests (default: max(1, requests_per_s)). */
  burst_requests: z.number().positive().optional(),
  /** Token-rate limit on prompt tokens (tokens/s). */
  tokens_per_s: z.number().positive().optional(),
  /** Bucket size in prompt tokens (default: tokens_per_s). A prompt larger than the bucket is always refused. */
  burst_tokens: z.number().positive().optional(),
  /** Models the tenant may call (adapter names for LoRA requests); absent: any. Others get 403. */
  models: z.array(z.string().min(1)).min(1).optional(),
});
export type TenantQuota = z.output<typeof TenantQuotaSchema>;

export const QuotasSchema = z.strictObject({
  tenants: z.record(z.string().min(1), TenantQuotaSchema).default({}),
  /** Quota of tenants not listed (absent: unlimited). */
  default: TenantQuotaSchema.optional(),
  /** Retry-After of 429s is the time until the bucket refills; this caps it (seconds). */
  max_retry_after_s: z.number().positive().default(60),
});
export type QuotasConfig = z.output<typeof QuotasSchema>;

/** Fields added to the scenario's `gateway:` section. */
export const GatewayAdmissionFields = {
  flow_control: FlowControlSchema.optional(),
  degradation: z.array(DegradationRuleSchema).optional(),
  quotas: QuotasSchema.optional(),
};

export const RetryPolicySchema = z.strictObject({
  /** Retries after the first attempt (0 = never retry). */
  max_retries: z.number().int().nonnegative().default(3),
  /** First backoff, seconds. */
  backoff_s: z.number().nonnegative().default(0.5),
  /** Backoff multiplier per retry (exponential backoff; 1 = constant). */
  multiplier: z.number().min(1).default(2),
  /** Cap on one backoff, seconds. */
  max_backoff_s: z.number().positive().default(30),
  /** Jitter fraction j in [0, 1]: the delay is drawn uniformly in [d(1 − j), d(1 + j)]. */
  jitter: z.number().min(0).max(1).default(0),
  /** Wait at least the server's Retry-After when it sends one. */
  honor_retry_after: z.boolean().default(true),
  /** Statuses that are retried. */
  retry_on: z.array(z.union([z.literal(429), z.literal(503)])).default([429, 503]),
});
export type RetryPolicyConfig = z.output<typeof RetryPolicySchema>;

/** `clients:` keyed by workload component name, SLO class, or `default`. */
export const ClientsSchema = z.record(z.string().min(1), RetryPolicySchema);
export type ClientsConfig = z.output<typeof ClientsSchema>;

/** Targets of one SLO class: percentiles for the verdict, per-request targets for goodput. */
export const SloClassSchema = z.strictObject({
  ttft_p50_ms: z.number().positive().optional(),
  ttft_p95_ms: z.number().positive().optional(),
  ttft_p99_ms: z.number().positive().optional(),
  e2e_p95_ms: z.number().positive().optional(),
  e2e_p99_ms: z.number().positive().optional(),
  tpot_p95_ms: z.number().positive().optional(),
  /** Per-request targets (goodput): a request counts when it completed within all of them. */
  ttft_ms: z.number().positive().optional(),
  e2e_ms: z.number().positive().optional(),
  tpot_ms: z.number().positive().optional(),
});
export type SloClassConfig = z.output<typeof SloClassSchema>;
export const SloClassesSchema = z.record(z.string().min(1), SloClassSchema);
export type SloClassesConfig = z.output<typeof SloClassesSchema>;
