/**
 * State of the gateway's admission layer for one run (what the engine drives): tenant quotas, degradation rules,
 * flow-control queues (one per candidate group: the endpoints serving a model, or a pool a degradation rule routes
 * to, as one Endpoint Picker per InferencePool), client retry policies and the counters reported in the summary.
 */
import type { DropCounter } from "../../sim/outcomes.ts";
import { type Rng, rngStream } from "../../sim/rng.ts";
import { type CompiledRule, compileDegradation, type PoolRef } from "../degradation.ts";
import { utilizationParams } from "../epp/saturation.ts";
import { type TenantQuotaStats, TenantQuotas } from "../quotas.ts";
import type { EndpointView } from "../types.ts";
import { RetryPolicies } from "./clients.ts";
import type { AdmissionOptions } from "./options.ts";
import { FlowQueue, type FlowStats } from "./queue.ts";
import { type FlowControlSettings, type GatewayDetector, utilizationDetector } from "./settings.ts";

/**
 * Counters of the admission layer (every attempt counts; `gave_up` counts requests). Refused attempts are counted by
 * cause under each drop reason's `counter` (`sim/outcomes.ts`).
 */
export interface GatewayStats extends Record<DropCounter, number> {
  /** Attempts that reached the gateway (first arrivals + retries). */
  attempts: number;
  retries: number;
  /** Refused attempts by HTTP status ("429", "503", "403", …). */
  refusals: Record<string, number>;
  /** Refused attempts by cause. */
  shed_capacity: number;
  shed_saturated: number;
  timed_out: number;
  quota_rate: number;
  quota_forbidden: number;
  no_endpoints: number;
  router_refused: number;
  /** Requests that ended refused (after their last attempt). */
  gave_up: number;
  /** Flow control: attempts queued, dispatched from the queue, largest queue. */
  queued: number;
  dispatched: number;
  queue_peak: number;
  /** Degradation rule label → attempts degraded. */
  degraded: Record<string, number>;
  /** Tenant → quota counters. */
  tenants: Record<string, TenantQuotaStats>;
  /**
   * Flow (`fairness id:priority`, llm-d-router `FlowKey.String`) → queue counters; only when some band keeps per-flow
   * queues (round-robin or program-aware fairness).
   */
  flows?: Record<string, FlowSummary>;
}

/** One flow's queue counters over the run (every flow-control queue of the run added up). */
export interface FlowSummary {
  enqueued: number;
  dispatched: number;
  /** Evicted by the request TTL. */
  expired: number;
  /** Mean and maximum queue wait of the dispatched requests (ms). */
  wait_mean_ms: number;
  wait_max_ms: number;
}

export function emptyGatewayStats(): GatewayStats {
  return {
    attempts: 0,
    retries: 0,
    refusals: {},
    shed_capacity: 0,
    shed_saturated: 0,
    timed_out: 0,
    quota_rate: 0,
    quota_forbidden: 0,
    no_endpoints: 0,
    router_refused: 0,
    gave_up: 0,
    queued: 0,
    dispatched: 0,
    queue_peak: 0,
    degraded: {},
    tenants: {},
  };
}

/** One flow-control queue and the endpoints its detector watches. */
export interface FlowGroup {
  readonly index: number;
  readonly cands: readonly EndpointView[];
  readonly queue: FlowQueue;
  /** A dispatch tick is pending. */
  tick: boolean;
}

export class GatewayState {
  readonly stats: GatewayStats = emptyGatewayStats();
  readonly flowControl: FlowControlSettings | undefined;
  /** Saturation detector of flow control, legacy admission and degradation (default `utilization-detector`). */
  readonly detector: GatewayDetector;
  readonly threshold: number;
  readonly quotas: TenantQuotas | undefined;
  readonly rules: readonly CompiledRule[];
  readonly retry: RetryPolicies | undefined;
  readonly rng: Rng;
  /** SLO class → per-request TTFT target (whole ms), sent as `x-llm-d-slo-ttft-ms` (slo-deadline ordering). */
  private readonly ttftTargetsMs: ReadonlyMap<string, number>;
  readonly groups: FlowGroup[] = [];
  private readonly byCands = new Map<readonly EndpointView[], FlowGroup>();
  /** A TTL sweep is pending. */
  sweep = false;

  constructor(opts: AdmissionOptions, pools: readonly PoolRef[], seed: number) {
    this.flowControl = opts.flowControl;
    this.detector = opts.flowControl?.detector ?? utilizationDetector(utilizationParams.parse({}));
    this.threshold = opts.flowControl?.threshold ?? 1;
    this.quotas = opts.quotas !== undefined ? new TenantQuotas(opts.quotas) : undefined;
    this.rules = opts.degradation !== undefined ? compileDegradation(opts.degradation, pools) : [];
    this.retry = opts.clients !== undefined ? new RetryPolicies(opts.clients) : undefined;
    this.rng = rngStream(seed, "retry-jitter");
    this.ttftTargetsMs = new Map(
      Object.entries(opts.ttftTargetsMs ?? {}).map(([c, ms]) => [c, Math.trunc(ms)] as [string, number]),
    );
  }

  /**
   * The SLO deadline of a request of class `cls` received at `t` (`slo_deadline.go` L80–L103: received timestamp +
   * the `x-llm-d-slo-ttft-ms` header; none → far future). Its client sends its class's `ttft_ms`.
   */
  sloDeadline(cls: string | undefined, t: number): number {
    const ms = cls !== undefined ? this.ttftTargetsMs.get(cls) : undefined;
    return ms !== undefined ? t + ms / 1000 : Number.POSITIVE_INFINITY;
  }

  /** Whether the flow controller queues requests (flow control on, not legacy admission). */
  get queueing(): boolean {
    return this.flowControl?.enabled === true;
  }

  group(cands: readonly EndpointView[]): FlowGroup {
    let g = this.byCands.get(cands);
    if (g === undefined) {
      g = { index: this.groups.length, cands, queue: new FlowQueue(this.flowControl!), tick: false };
      this.groups.push(g);
      this.byCands.set(cands, g);
    }
    return g;
  }

  /** Requests queued over all groups. */
  queued(): number {
    let n = 0;
    for (const g of this.groups) n += g.queue.size;
    return n;
  }

  /** Final counters (degradation counts, tenant quota counters, queue peak). */
  finalize(): GatewayStats {
    const s = this.stats;
    for (const r of this.rules) s.degraded[r.label] = r.count;
    if (this.quotas !== undefined) for (const [t, q] of this.quotas.stats) s.tenants[t] = { ...q };
    for (const g of this.groups) if (g.queue.peak > s.queue_peak) s.queue_peak = g.queue.peak;
    if (this.flowControl?.perFlow === true) {
      const acc = new Map<string, FlowStats & { n: number }>();
      for (const g of this.groups) {
        for (const f of g.queue.flowStats) {
          const key = `${f.fairnessId}:${f.priority}`;
          const a = acc.get(key);
          if (a === undefined) acc.set(key, { ...f, n: 1 });
          else {
            a.enqueued += f.enqueued;
            a.dispatched += f.dispatched;
            a.expired += f.expired;
            a.waitSumS += f.waitSumS;
            a.waitMaxS = Math.max(a.waitMaxS, f.waitMaxS);
          }
        }
      }
      const keys = [...acc.keys()].sort();
      s.flows = {};
      for (const k of keys) {
        const f = acc.get(k)!;
        s.flows[k] = {
          enqueued: f.enqueued,
          dispatched: f.dispatched,
          expired: f.expired,
          wait_mean_ms: f.dispatched > 0 ? (1000 * f.waitSumS) / f.dispatched : 0,
          wait_max_ms: 1000 * f.waitMaxS,
        };
      }
    }
    return s;
  }
}
