/**
 * Endpoint-attribute filter and scorer, fed by the DCGM GPU-utilization extractor (llm-d/llm-d-router `ebab6879`):
 *
 * - `endpoint-attribute-filter` (`pkg/epp/framework/plugins/scheduling/filter/endpointattribute/filter.go`): keeps the
 *   endpoints whose scalar attribute passes `algorithm.threshold` (`operator` LessThan, LessThanOrEqual, GreaterThan,
 *   GreaterThanOrEqual, Equal, NotEqual; `value`); an endpoint without the attribute passes when `onMissing` is
 *   `Pass` (the default) and is dropped when `Fail`; `fallbackOnEmpty` keeps every endpoint when none passes.
 * - `endpoint-attribute-scorer` (`.../scorer/endpointattribute/endpointattribute.go`): `linear_lower_is_better` or
 *   `linear_higher_is_better`; `normalization.fixedRange` {min < max}: (v − min)/(max − min) clamped to [0, 1],
 *   missing → 0; else adaptive: min-max over the endpoints that have it (all equal → 1), missing → 0.
 * - The attribute: `GPUUtilization` from `dcgm-extractor` (`.../datalayer/extractor/dcgm/extractor.go` L75–L108:
 *   `DCGM_FI_DEV_GPU_UTIL` ÷ 100, the max over the pod's GPUs), present when `dataLayer.sources` wires a
 *   `dcgm-extractor` under a `dcgm-data-source` (polled every `interval`, default every metrics refresh).
 *
 * gatelab's GPU utilization: DCGM_FI_DEV_GPU_UTIL is the share of the sample period in which a kernel ran; a vLLM
 * replica runs a forward pass back to back while it has running requests, so gatelab integrates "has running
 * requests" over time at each metrics scrape (`EndpointView.gpuBusyTime`) and a DCGM poll reports the busy share of
 * the time since the previous poll. Polls happen lazily: when a routing decision sees that an endpoint's latest
 * scrape crossed a poll boundary (multiples of `interval`). Before an endpoint's first poll the attribute is missing.
 * Other attributes (producers other than dcgm-extractor) are refused: gatelab does not model them.
 */
import { z } from "zod";
import { InputError } from "../../errors.ts";
import { parseDurationSeconds } from "../common.ts";
import type { EndpointView } from "../types.ts";
import type { Cycle, Filter, GpuUtilizationSource, Scorer } from "./framework.ts";

export const GPU_UTILIZATION = { attribute: "GPUUtilization", producer: "dcgm-extractor" } as const;

const OPERATORS = ["LessThan", "LessThanOrEqual", "GreaterThan", "GreaterThanOrEqual", "Equal", "NotEqual"] as const;

export const endpointAttributeFilterParams = z.strictObject({
  attribute: z.string().min(1, { error: "endpoint attribute filter requires a non-empty attribute" }),
  producer: z.string().optional(),
  onMissing: z
    .enum(["", "Pass", "Fail"], { error: 'endpoint attribute filter onMissing must be "Pass" or "Fail"' })
    .default("")
    .transform((v) => (v === "" ? "Pass" : v)),
  fallbackOnEmpty: z.boolean().default(false),
  algorithm: z.strictObject({
    type: z.literal("threshold", { error: 'endpoint attribute filter algorithm.type must be "threshold"' }),
    threshold: z.strictObject(
      { operator: z.enum(OPERATORS), value: z.number().default(0) },
      { error: 'endpoint attribute filter requires algorithm.threshold when algorithm.type is "threshold"' },
    ),
  }),
});
export type EndpointAttributeFilterParams = z.output<typeof endpointAttributeFilterParams>;

export const endpointAttributeScorerParams = z.strictObject({
  attributeKey: z.string().min(1, { error: "endpoint attribute scorer requires a non-empty attributeKey" }),
  producer: z.string().optional(),
  algorithm: z.strictObject({
    type: z.enum(["linear_lower_is_better", "linear_higher_is_better"]),
    normalization: z
      .strictObject({
        fixedRange: z
          .strictObject({ min: z.number().default(0), max: z.number().default(0) })
          .refine((r) => r.min < r.max, {
            error: "endpoint attribute scorer normalization.fixedRange requires min < max",
          })
          .optional(),
        adaptiveRange: z.strictObject({}).optional(),
      })
      .refine((n) => n.fixedRange === undefined || n.adaptiveRange === undefined, {
        error:
          "endpoint attribute scorer allows at most one normalization strategy, got both fixedRange and adaptiveRange",
      })
      .default({}),
  }),
});
export type EndpointAttributeScorerParams = z.output<typeof endpointAttributeScorerParams>;

/** The DCGM poller of one router: per endpoint, the GPU utilization of its last poll (NaN before the first). */
export class DcgmGpuUtilization implements GpuUtilizationSource {
  /** Poll period (seconds); 0: every metrics scrape. */
  readonly intervalS: number;
  private readonly pollKey: Float64Array;
  private readonly baseTime: Float64Array;
  private readonly baseBusy: Float64Array;
  private readonly util: Float64Array;

  constructor(replicas: number, intervalS: number) {
    this.intervalS = intervalS;
    this.pollKey = new Float64Array(replicas).fill(-1);
    this.baseTime = new Float64Array(replicas).fill(Number.NaN);
    this.baseBusy = new Float64Array(replicas);
    this.util = new Float64Array(replicas).fill(Number.NaN);
  }

  /** The endpoint's GPU utilization in [0, 1] as of its last DCGM poll, NaN when it has none yet. */
  value(ep: EndpointView): number {
    const i = ep.index;
    const t = ep.scrapeTime;
    const key = this.intervalS > 0 ? Math.floor(t / this.intervalS + 1e-9) : t;
    if (key !== this.pollKey[i]) {
      this.pollKey[i] = key;
      const busy = ep.gpuBusyTime ?? 0;
      const t0 = this.baseTime[i]!;
      if (!Number.isNaN(t0) && t > t0) this.util[i] = Math.min(1, Math.max(0, (busy - this.baseBusy[i]!) / (t - t0)));
      this.baseTime[i] = t;
      this.baseBusy[i] = busy;
    }
    return this.util[i]!;
  }
}

/** The `interval` of a dcgm-data-source (Go duration; empty: every metrics refresh). */
export function dcgmIntervalS(params: unknown, where: string): number {
  const v = (params as { interval?: unknown } | undefined)?.interval;
  if (v === undefined || v === "") return 0;
  const s = typeof v === "string" ? parseDurationSeconds(v) : undefined;
  if (s === undefined)
    throw new InputError(`${where}: interval: expected a duration such as "1s", got ${JSON.stringify(v)}`);
  return s;
}

/** The attribute source a filter or scorer reads: GPU utilization (undefined: DCGM not wired, always missing). */
function resolve(
  what: string,
  name: string,
  attribute: string,
  producer: string | undefined,
  dcgm: GpuUtilizationSource | undefined,
): GpuUtilizationSource | undefined {
  if (producer === undefined && attribute.includes("/"))
    throw new InputError(
      `${what} "${name}": attribute "${attribute}" contains "/" but no producer is set; set attribute and producer separately`,
    );
  if (attribute !== GPU_UTILIZATION.attribute || producer !== GPU_UTILIZATION.producer)
    throw new InputError(
      `plugin "${name}" (type ${what}): recognised, not simulated: attribute "${attribute}"${producer !== undefined ? ` from producer "${producer}"` : ""} is not modelled; gatelab has GPUUtilization from dcgm-extractor only`,
    );
  return dcgm;
}

export class EndpointAttributeFilter implements Filter {
  readonly type = "endpoint-attribute-filter";
  readonly name: string;
  private readonly p: EndpointAttributeFilterParams;
  private readonly src: GpuUtilizationSource | undefined;
  constructor(name: string, p: EndpointAttributeFilterParams, dcgm: GpuUtilizationSource | undefined) {
    this.name = name;
    this.p = p;
    this.src = resolve(this.type, name, p.attribute, p.producer, dcgm);
  }
  private passes(v: number): boolean {
    const x = this.p.algorithm.threshold.value;
    switch (this.p.algorithm.threshold.operator) {
      case "LessThan":
        return v < x;
      case "LessThanOrEqual":
        return v <= x;
      case "GreaterThan":
        return v > x;
      case "GreaterThanOrEqual":
        return v >= x;
      case "Equal":
        return v === x;
      case "NotEqual":
        return v !== x;
    }
  }
  private keeps(ep: EndpointView): boolean {
    const v = this.src !== undefined ? this.src.value(ep) : Number.NaN;
    return Number.isNaN(v) ? this.p.onMissing === "Pass" : this.passes(v);
  }
  filter(cycle: Cycle, eps: readonly EndpointView[]): readonly EndpointView[] {
    let n = 0;
    for (const ep of eps) if (this.keeps(ep)) n++;
    if (n === 0 && this.p.fallbackOnEmpty) return eps;
    if (n === eps.length) return eps;
    const out = cycle.buffer(n);
    let k = 0;
    for (const ep of eps) if (this.keeps(ep)) out[k++] = ep;
    return out;
  }
}

export class EndpointAttributeScorer implements Scorer {
  readonly type = "endpoint-attribute-scorer";
  readonly name: string;
  private readonly lower: boolean;
  private readonly fixed: { min: number; max: number } | undefined;
  private readonly src: GpuUtilizationSource | undefined;
  constructor(name: string, p: EndpointAttributeScorerParams, dcgm: GpuUtilizationSource | undefined) {
    this.name = name;
    this.lower = p.algorithm.type === "linear_lower_is_better";
    this.fixed = p.algorithm.normalization.fixedRange;
    this.src = resolve(this.type, name, p.attributeKey, p.producer, dcgm);
  }
  score(_cycle: Cycle, eps: readonly EndpointView[], out: Float64Array): void {
    const n = eps.length;
    const src = this.src;
    if (src === undefined) {
      out.fill(0, 0, n);
      return;
    }
    const f = this.fixed;
    if (f !== undefined) {
      for (let i = 0; i < n; i++) {
        const v = src.value(eps[i]!);
        if (Number.isNaN(v)) {
          out[i] = 0;
          continue;
        }
        const x = Math.max(0, Math.min(1, (v - f.min) / (f.max - f.min)));
        out[i] = this.lower ? 1 - x : x;
      }
      return;
    }
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const v = src.value(eps[i]!);
      if (Number.isNaN(v)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    for (let i = 0; i < n; i++) {
      const v = src.value(eps[i]!);
      if (Number.isNaN(v)) out[i] = 0;
      else if (hi === lo) out[i] = 1;
      else {
        const x = (v - lo) / (hi - lo);
        out[i] = this.lower ? 1 - x : x;
      }
    }
  }
}
