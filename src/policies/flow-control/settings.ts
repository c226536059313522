/**
 * Resolved flow-control settings, from a scenario's `gateway.flow_control` or from an EndpointPickerConfig with
 * `featureGates: [flowControl]` (its `flowControl` section, `saturationDetector` and `usageLimitPolicyPluginRef`
 * pointing into `plugins[]`).
 *
 * Defaults (router HEAD, docs/reference.md#flow-control): band `maxBytes` 1 GB, band `maxRequests` 5000 (0 = the
 * default), global limits unlimited, `defaultRequestTTL` 60 s, `global-strict-fairness-policy`,
 * `fcfs-ordering-policy`, `static-usage-limit-policy` threshold 1.0, detector `utilization-detector` (5 / 0.8 /
 * 200 ms). Dispatch cycle: on every enqueue and every 1 ms tick; TTL sweep every 1 s. 429 on capacity rejection and on
 * TTL expiry (router HEAD; May-26: 503), 503 when no endpoint serves the model. gatelab adds `retryAfter` (1 s), the
 * Retry-After sent with 429s.
 */
import { z } from "zod";
import { InputError, schemaIssueText } from "../../errors.ts";
import type { EppConfig } from "../epp/config.ts";
import {
  type ConcurrencySettings,
  concurrencyParams,
  concurrencySaturation,
  type UtilizationSettings,
  utilizationParams,
  utilizationSaturation,
} from "../epp/saturation.ts";
import type { EndpointView, LocalLoad } from "../types.ts";
import {
  type FairnessSpec,
  type FairnessType,
  GLOBAL_STRICT,
  type OrderingType,
  type ProgramAwareParams,
  programAwareParams,
  type UsageLimitSpec,
} from "./policies.ts";
import {
  BandSchema,
  type DetectorConfig,
  durationS,
  type FlowControlConfig,
  PriorityBandSchema,
  quantity,
} from "./schema.ts";

/** EPP band defaults. */
export const DEFAULT_BAND_MAX_BYTES = 1e9;
export const DEFAULT_BAND_MAX_REQUESTS = 5000;
export const DEFAULT_REQUEST_TTL_S = 60;
export const DEFAULT_RETRY_AFTER_S = 1;
export const DEFAULT_DISPATCH_TICK_S = 0.001;
export const DEFAULT_EXPIRY_SWEEP_S = 1;

/** The gateway's saturation detector: a number ≥ 0, ≥ the usage limit (1.0) means "no capacity". */
export interface GatewayDetector {
  readonly type: string;
  saturation(eps: readonly EndpointView[], local: LocalLoad, now: number): number;
}

export function utilizationDetector(s: UtilizationSettings): GatewayDetector {
  return { type: "utilization-detector", saturation: (eps, _local, now) => utilizationSaturation(eps, now, s) };
}

export function concurrencyDetector(s: ConcurrencySettings): GatewayDetector {
  return { type: "concurrency-detector", saturation: (eps, local) => concurrencySaturation(eps, local, s) };
}

export function detectorFrom(cfg: DetectorConfig | undefined): GatewayDetector {
  if (cfg === undefined) return utilizationDetector(utilizationParams.parse({}));
  if (cfg.type === "utilization-detector") return utilizationDetector(cfg.parameters);
  return concurrencyDetector(cfg.parameters);
}

/** A band's caps and policies. */
export interface BandLimits {
  readonly maxBytes: number;
  readonly maxRequests: number;
  readonly fairness: FairnessSpec;
  readonly ordering: OrderingType;
}

export interface FlowControlSettings {
  /** false: the EPP's legacy admission (no queue; sheddable requests get 429 when saturated). */
  readonly enabled: boolean;
  readonly maxBytes: number;
  readonly maxRequests: number;
  /** Seconds; 0 = no TTL. */
  readonly ttlS: number;
  readonly defaultBand: BandLimits;
  readonly negativeBand: BandLimits;
  readonly bands: ReadonlyMap<number, BandLimits>;
  readonly detector: GatewayDetector;
  /**
   * The static usage limit's threshold (dispatch while saturation < threshold); 1 with the soft-reflective ceiling.
   * Legacy admission and degradation rules read it as "saturated".
   */
  readonly threshold: number;
  /** The usage-limit policy of the dispatch cycle. */
  readonly usageLimit: UsageLimitSpec;
  /** Some band keeps per-flow queues (round-robin or program-aware fairness): per-flow counters are reported. */
  readonly perFlow: boolean;
  /** The program-aware-fairness plugins the bands name. */
  readonly programAware: readonly { readonly name: string; readonly params: ProgramAwareParams }[];
  readonly retryAfterS: number;
  readonly tickS: number;
  readonly sweepS: number;
}

/** A band as the config gives it: caps, and fairness / ordering as type names or an inline program-aware plugin. */
interface BandIn {
  maxBytes?: number | undefined;
  maxRequests?: number | undefined;
  fairnessPolicyRef?:
    | string
    | { type: "program-aware-fairness"; name?: string | undefined; parameters: ProgramAwareParams }
    | undefined;
  orderingPolicyRef?: string | undefined;
}

/**
 * A band's settings. Caps: "0 means default" (EPP code comment). Policies: the band's own refs, else the system
 * defaults (global-strict, FCFS: llm-d-router `pkg/epp/config/loader/flowcontrol.go` L143–L180 builds every band from
 * the defaults plus its own refs); a band the config leaves out takes its template's policies.
 */
function band(b: BandIn | undefined, dflt: BandLimits, inheritPolicies: boolean): BandLimits {
  const f = b?.fairnessPolicyRef;
  let fairness: FairnessSpec = inheritPolicies ? dflt.fairness : GLOBAL_STRICT;
  if (typeof f === "string") fairness = { type: f as FairnessType };
  else if (f !== undefined) fairness = { type: f.type, programAware: { name: f.name ?? f.type, params: f.parameters } };
  if (fairness.type === "program-aware-fairness" && fairness.programAware === undefined)
    fairness = {
      type: fairness.type,
      programAware: { name: "program-aware-fairness", params: programAwareParams.parse({}) },
    };
  return {
    maxBytes: b?.maxBytes ? b.maxBytes : dflt.maxBytes,
    maxRequests: b?.maxRequests ? b.maxRequests : dflt.maxRequests,
    fairness,
    ordering:
      (b?.orderingPolicyRef as OrderingType | undefined) ?? (inheritPolicies ? dflt.ordering : "fcfs-ordering-policy"),
  };
}

const EPP_DEFAULT_BAND: BandLimits = {
  maxBytes: DEFAULT_BAND_MAX_BYTES,
  maxRequests: DEFAULT_BAND_MAX_REQUESTS,
  fairness: GLOBAL_STRICT,
  ordering: "fcfs-ordering-policy",
};

interface Common {
  enabled: boolean;
  maxBytes?: number | undefined;
  maxRequests?: number | undefined;
  defaultRequestTTL?: number | undefined;
  defaultPriorityBand?: BandIn | undefined;
  defaultNegativePriorityBand?: BandIn | undefined;
  priorityBands: readonly (BandIn & { priority: number })[];
  retryAfter?: number | undefined;
  dispatchTick?: number | undefined;
  expirySweep?: number | undefined;
}

function resolve(c: Common, detector: GatewayDetector, usageLimit: UsageLimitSpec, where: string): FlowControlSettings {
  const defaultBand = band(c.defaultPriorityBand, EPP_DEFAULT_BAND, false);
  // No negative default band: the default band is the template of negative priorities too (registry.go L368–L379).
  const negativeBand =
    c.defaultNegativePriorityBand !== undefined ? band(c.defaultNegativePriorityBand, defaultBand, false) : defaultBand;
  const bands = new Map<number, BandLimits>();
  c.priorityBands.forEach((b, i) => {
    if (bands.has(b.priority)) {
      throw new InputError(`${where}.priorityBands.${i}.priority: duplicate band for priority ${b.priority}`);
    }
    bands.set(b.priority, band(b, b.priority < 0 ? negativeBand : defaultBand, false));
  });
  const all = [defaultBand, negativeBand, ...bands.values()];
  const programAware = new Map<string, ProgramAwareParams>();
  for (const b of all) {
    const pa = b.fairness.programAware;
    if (pa !== undefined && !programAware.has(pa.name)) programAware.set(pa.name, pa.params);
  }
  const tick = c.dispatchTick ?? DEFAULT_DISPATCH_TICK_S;
  if (!(tick > 0)) throw new InputError(`${where}.dispatchTick: expected a positive duration`);
  const sweep = c.expirySweep ?? DEFAULT_EXPIRY_SWEEP_S;
  if (!(sweep > 0)) throw new InputError(`${where}.expirySweep: expected a positive duration`);
  return {
    enabled: c.enabled,
    maxBytes: c.maxBytes ? c.maxBytes : Number.POSITIVE_INFINITY,
    maxRequests: c.maxRequests ? c.maxRequests : Number.POSITIVE_INFINITY,
    ttlS: c.defaultRequestTTL ?? DEFAULT_REQUEST_TTL_S,
    defaultBand,
    negativeBand,
    bands,
    detector,
    threshold: usageLimit.type === "static-usage-limit-policy" ? usageLimit.threshold : 1,
    usageLimit,
    perFlow: all.some((b) => b.fairness.type !== "global-strict-fairness-policy"),
    programAware: [...programAware].map(([name, params]) => ({ name, params })),
    retryAfterS: c.retryAfter ?? DEFAULT_RETRY_AFTER_S,
    tickS: tick,
    sweepS: sweep,
  };
}

/** Settings from a scenario's `gateway.flow_control`. */
export function flowControlFromScenario(fc: FlowControlConfig, where = "gateway.flow_control"): FlowControlSettings {
  const u = fc.usageLimitPolicy;
  const usage: UsageLimitSpec =
    u?.type === "soft-reflective-ceiling-policy"
      ? { type: u.type }
      : { type: "static-usage-limit-policy", threshold: u?.parameters.threshold ?? 1 };
  return resolve(fc, detectorFrom(fc.saturationDetector), usage, where);
}

/** The EPP's `flowControl` section (pluginRefs instead of inline plugins). */
const EppFlowControlSchema = z.strictObject({
  maxBytes: quantity.optional(),
  maxRequests: quantity.optional(),
  defaultRequestTTL: durationS.optional(),
  noEndpointRequestTTL: durationS.optional(),
  defaultPriorityBand: BandSchema.optional(),
  defaultNegativePriorityBand: BandSchema.optional(),
  priorityBands: z.array(PriorityBandSchema).default([]),
  usageLimitPolicyPluginRef: z.string().min(1).optional(),
  saturationDetector: z.strictObject({ pluginRef: z.string().min(1) }).optional(),
  enableEviction: z
    .literal(false, { error: "enableEviction: true (killing in-flight sheddable requests) is not simulated" })
    .optional(),
});

/**
 * Settings from an EndpointPickerConfig: undefined unless `featureGates` lists `flowControl` (the section is only
 * honoured then, as in the EPP). Errors name the config's source and the field.
 */
export function flowControlFromEpp(cfg: EppConfig): FlowControlSettings | undefined {
  if (!cfg.featureGates.includes("flowControl")) return undefined;
  const where = `${cfg.source}: flowControl`;
  // Policy references name plugins (the loader checked they exist and are of the right kind); the admission layer
  // judges the plugins' types.
  const typeOf = (ref: unknown): unknown =>
    typeof ref === "string" ? (cfg.plugins.find((p) => p.name === ref)?.type ?? ref) : ref;
  // A program-aware plugin goes inline with its name and parameters (bands naming it share its state).
  const fairnessOf = (ref: unknown): unknown => {
    const p = typeof ref === "string" ? cfg.plugins.find((x) => x.name === ref) : undefined;
    if (p?.type !== "program-aware-fairness") return typeOf(ref);
    return { type: p.type, name: p.name, parameters: p.parameters ?? {} };
  };
  const raw = structuredClone((cfg.flowControl ?? {}) as Record<string, unknown>);
  const bandsIn = [
    ...(Array.isArray(raw.priorityBands) ? (raw.priorityBands as Record<string, unknown>[]) : []),
    raw.defaultPriorityBand as Record<string, unknown> | undefined,
    raw.defaultNegativePriorityBand as Record<string, unknown> | undefined,
  ];
  for (const b of bandsIn) {
    if (b === null || typeof b !== "object") continue;
    if (b.fairnessPolicyRef !== undefined) b.fairnessPolicyRef = fairnessOf(b.fairnessPolicyRef);
    if (b.orderingPolicyRef !== undefined) b.orderingPolicyRef = typeOf(b.orderingPolicyRef);
  }
  const r = EppFlowControlSchema.safeParse(raw);
  if (!r.success) {
    const iss = r.error.issues[0]!;
    const path = iss.path.map(String).join(".");
    const msg =
      iss.code === "unrecognized_keys"
        ? `unknown field "${(iss as { keys: string[] }).keys.join('", "')}"`
        : schemaIssueText(iss, raw);
    throw new InputError(`${where}${path ? `.${path}` : ""}: ${msg}`);
  }
  const fc = r.data;
  const ref = fc.saturationDetector?.pluginRef ?? cfg.saturationDetector.pluginRef;
  let detector: GatewayDetector = utilizationDetector(utilizationParams.parse({}));
  if (ref !== undefined) {
    const p = cfg.plugins.find((x) => x.name === ref);
    if (p === undefined) throw new InputError(`${cfg.source}: saturationDetector.pluginRef: no plugin named "${ref}"`);
    if (p.type === "utilization-detector") detector = utilizationDetector(p.parsed as UtilizationSettings);
    else if (p.type === "concurrency-detector") detector = concurrencyDetector(p.parsed as ConcurrencySettings);
    else
      throw new InputError(
        `${cfg.source}: saturationDetector.pluginRef: plugin "${ref}" is a ${p.type}; expected utilization-detector or concurrency-detector`,
      );
  } else {
    const p = cfg.plugins.find((x) => x.type === "utilization-detector" || x.type === "concurrency-detector");
    if (p?.type === "utilization-detector") detector = utilizationDetector(p.parsed as UtilizationSettings);
    else if (p?.type === "concurrency-detector") detector = concurrencyDetector(concurrencyParams.parse(p.parsed));
  }
  let usage: UsageLimitSpec = { type: "static-usage-limit-policy", threshold: 1 };
  const uref = fc.usageLimitPolicyPluginRef;
  const up =
    uref !== undefined
      ? cfg.plugins.find((x) => x.name === uref)
      : cfg.plugins.find((x) => x.type === "static-usage-limit-policy");
  if (uref !== undefined && up === undefined)
    throw new InputError(`${where}.usageLimitPolicyPluginRef: no plugin named "${uref}"`);
  if (up?.type === "soft-reflective-ceiling-policy") usage = { type: up.type };
  else if (up !== undefined) {
    if (up.type !== "static-usage-limit-policy")
      throw new InputError(
        `${where}.usageLimitPolicyPluginRef: "${up.name}" is a ${up.type}; expected static-usage-limit-policy or soft-reflective-ceiling-policy`,
      );
    const t = (up.parameters as { threshold?: unknown } | undefined)?.threshold;
    if (t !== undefined) {
      if (typeof t !== "number" || !(t > 0))
        throw new InputError(`${cfg.source}: plugins "${up.name}".parameters.threshold: expected a positive number`);
      usage = { type: "static-usage-limit-policy", threshold: t };
    }
  }
  return resolve({ ...fc, enabled: true }, detector, usage, where);
}

/** Band limits of a priority (explicit band, else the default or negative default band). */
export function bandLimits(s: FlowControlSettings, priority: number): BandLimits {
  return s.bands.get(priority) ?? (priority < 0 ? s.negativeBand : s.defaultBand);
}

/** Bytes a request body is counted as (the EPP counts the HTTP body): ~4 B per prompt token + 200 B of JSON. */
export function requestBytes(inputTokens: number): number {
  return 4 * inputTokens + 200;
}
