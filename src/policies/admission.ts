/**
 * The gateway's admission component: what happens to an attempt between its arrival and the router. An attempt goes
 * through tenant quotas → degradation → flow control (queue, or the legacy admission check) → the router. A refusal
 * (429/503/403) goes back to the client, who may retry (`clients:`); a retry is a new attempt of the same request
 * (same id, first arrival kept for TTFT, `attempts` counted).
 *
 * It owns its timers (client retries, flow-control dispatch ticks, TTL sweeps) through the event loop's `Timers` and
 * sees replicas only as `EndpointView`s; the cluster that hosts it routes, ends requests and keeps the views fresh.
 */
import { DROP_REASONS_BY_CODE, type DropCounter, DropReason } from "../sim/outcomes.ts";
import type { RequestTable } from "../sim/records.ts";
import type { Request } from "../sim/request.ts";
import type { Timer, Timers } from "../sim/timers.ts";
import { degrade } from "./degradation.ts";
import { retryDelay } from "./flow-control/clients.ts";
import { type FlowGroup, GatewayState, type GatewayStats } from "./flow-control/gateway.ts";
import type { AdmissionOptions } from "./flow-control/options.ts";
import { DEFAULT_FAIRNESS_ID, type ProgramAwareFairness } from "./flow-control/policies.ts";
import { EnqueueResult } from "./flow-control/queue.ts";
import { requestBytes } from "./flow-control/settings.ts";
import type { EndpointView, LocalLoad } from "./types.ts";

/** One request's attempt state as the gateway sees it. */
export interface Attempt {
  /** The request this attempt sends (the client's, or its degraded form). */
  req: Request;
  /** The client's request. */
  readonly orig: Request;
  /** Attempt number (1 = first). */
  attempt: number;
  /** Candidates set by degradation (undefined: the endpoints serving the request's model). */
  cands: readonly EndpointView[] | undefined;
  /** When the attempt entered a flow-control queue (-1: not queued). */
  queuedAt: number;
}

/** Counters of the current time-series window the gateway adds to (the cluster samples and resets them). */
export interface WindowCounters {
  attempts: number;
  retries: number;
  shed: number;
  completed: number;
}

/** What the gateway needs from the cluster that hosts it. */
export interface AdmissionHost {
  readonly timers: Timers;
  readonly records: RequestTable;
  readonly local: LocalLoad;
  readonly window: WindowCounters;
  /** The model of requests that name none. */
  readonly defaultModel: string;
  /** Endpoints serving `model` (empty when none). */
  endpointsFor(model: string): readonly EndpointView[];
  /** Endpoints of pool `name` (empty when none). */
  poolEndpoints(name: string): readonly EndpointView[];
  /** Brings the views of `cands` up to date before a saturation check when metrics are not scraped periodically. */
  refresh(cands: readonly EndpointView[]): void;
  /** The attempt state of request `id` (in flight). */
  attempt(id: number): Attempt;
  /** Hands an admitted attempt to the router. */
  route(a: Attempt): void;
  /** Refuses an attempt (the cluster counts it, then calls `refused` to let the client retry, else ends it). */
  refuse(a: Attempt, status: number, reason: string, retryAfterS: number, cause: DropReason): void;
}

export class Admission {
  private readonly g: GatewayState;
  private readonly host: AdmissionHost;
  private readonly retryTimer: Timer;
  private readonly tickTimer: Timer;
  private readonly sweepTimer: Timer;

  constructor(
    opts: AdmissionOptions,
    pools: ConstructorParameters<typeof GatewayState>[1],
    seed: number,
    host: AdmissionHost,
  ) {
    this.g = new GatewayState(opts, pools, seed);
    this.host = host;
    const t = host.timers;
    this.retryTimer = t.timer((id) => this.arrive(host.attempt(id)));
    this.tickTimer = t.timer((group) => {
      const grp = this.g.groups[group]!;
      grp.tick = false;
      this.cycle(grp);
    });
    this.sweepTimer = t.timer(() => this.sweep());
  }

  /** Whether flow-control queues may hold requests (the cluster then calls `wake` when capacity may have changed). */
  get queueing(): boolean {
    return this.g.queueing;
  }

  /** Requests held in flow-control queues now. */
  queued(): number {
    return this.g.queued();
  }

  /** The run's admission counters (call once, at the end). */
  finalize(): GatewayStats {
    return this.g.finalize();
  }

  /** One attempt of `a` reaches the gateway now. */
  arrive(a: Attempt): void {
    const g = this.g;
    const host = this.host;
    const req = a.orig;
    const t = host.timers.now;
    g.stats.attempts++;
    host.window.attempts++;
    a.req = req;
    a.cands = undefined;
    host.records.degraded[req.id] = 0;
    if (g.quotas !== undefined) {
      const v = g.quotas.check(req, req.model ?? host.defaultModel, t);
      if (v.status !== 0) {
        host.refuse(
          a,
          v.status,
          v.reason,
          v.retryAfterS,
          v.status === 403 ? DropReason.Forbidden : DropReason.QuotaRate,
        );
        return;
      }
    }
    let cands: readonly EndpointView[] = host.endpointsFor(req.model ?? host.defaultModel);
    if (g.rules.length > 0 && cands.length > 0) cands = this.applyDegradation(a, cands);
    if (cands.length === 0) {
      host.refuse(a, 503, `no pool serves model ${req.model ?? host.defaultModel}`, -1, DropReason.NoEndpoints);
      return;
    }
    const fc = g.flowControl;
    if (fc === undefined) {
      host.route(a);
      return;
    }
    if (!fc.enabled) {
      // The EPP's legacy admission (flow control off): sheddable requests are refused while the pool is saturated.
      if ((req.priority ?? 0) < 0 && this.saturation(cands) >= g.threshold) {
        host.refuse(
          a,
          429,
          "saturated: sheddable request refused (legacy admission)",
          fc.retryAfterS,
          DropReason.Saturated,
        );
        return;
      }
      host.route(a);
      return;
    }
    const grp = g.group(cands);
    const r = grp.queue.enqueue(
      req.id,
      req.priority ?? 0,
      requestBytes(req.inputTokens),
      t,
      req.tenant,
      g.sloDeadline(req.sloClass, t),
    );
    if (r !== EnqueueResult.Ok) {
      const which = r === EnqueueResult.GlobalFull ? "global" : `priority ${req.priority ?? 0} band`;
      host.refuse(a, 429, `rejected-saturated: flow-control ${which} queue full`, fc.retryAfterS, DropReason.Shed);
      return;
    }
    g.stats.queued++;
    a.queuedAt = t;
    if (fc.ttlS > 0 && !g.sweep) {
      g.sweep = true;
      this.sweepTimer.at(t + fc.sweepS, 0);
    }
    this.cycle(grp);
  }

  /**
   * The cluster refused attempt `a` with `status` (Retry-After `retryAfterS`, < 0 if none) for `cause`: counts it,
   * and schedules the client's retry after its backoff if its policy allows. True when a retry is scheduled; false
   * when the request ends, dropped.
   */
  refused(a: Attempt, status: number, retryAfterS: number, cause: DropReason): boolean {
    const g = this.g;
    const st = g.stats;
    st.refusals[status] = (st.refusals[status] ?? 0) + 1;
    const counter = DROP_REASONS_BY_CODE[cause]!.counter as DropCounter | "";
    st[counter === "" ? "router_refused" : counter]++;
    if (g.retry !== undefined) {
      const delay = retryDelay(g.retry.policyFor(a.orig), a.attempt, status, retryAfterS, g.rng);
      if (delay >= 0) {
        a.attempt++;
        this.host.records.setAttempts(a.orig.id, a.attempt);
        st.retries++;
        this.host.window.retries++;
        this.retryTimer.at(this.host.timers.now + delay, a.orig.id);
        return true;
      }
    }
    st.gave_up++;
    return false;
  }

  /** Capacity may have changed (scrape, completion): run a cycle on every waiting queue without a pending tick. */
  wake(): void {
    for (const grp of this.g.groups) if (grp.queue.size > 0 && !grp.tick) this.cycle(grp);
  }

  /** Applies the degradation rules of the request's class when its pool is saturated; returns the candidates. */
  private applyDegradation(a: Attempt, cands: readonly EndpointView[]): readonly EndpointView[] {
    const g = this.g;
    const cls = a.orig.sloClass ?? "default";
    let saturated: boolean | undefined;
    for (const rule of g.rules) {
      if (rule.cls !== cls) continue;
      saturated ??= this.saturation(cands) >= g.threshold;
      if (!saturated) return cands;
      a.req = degrade(a.req, rule);
      rule.count++;
      if (rule.pool !== undefined) {
        cands = this.host.poolEndpoints(rule.pool.name);
        a.cands = cands;
        this.host.records.degraded[a.orig.id]! |= 1;
      } else this.host.records.degraded[a.orig.id]! |= 2;
    }
    return cands;
  }

  /** The detector's saturation of `cands` now. */
  private saturation(cands: readonly EndpointView[]): number {
    this.host.refresh(cands);
    return this.g.detector.saturation(cands, this.host.local, this.host.timers.now);
  }

  /**
   * One dispatch cycle of a flow-control queue (EPP: on every enqueue and every 1 ms tick; `FlowQueue.pop`): the
   * usage-limit policy's ceilings gate the bands from the highest priority down; the first non-empty band below its
   * ceiling dispatches one request, picked by its fairness and ordering policies. Nothing dispatched because a
   * ceiling was reached: with the static limit nothing can change before the next scrape or completion (the queue
   * is re-checked then); with the soft-reflective ceiling below saturation 1 the next 1 ms cycle may open the gated
   * bands, so the tick goes on.
   */
  private cycle(grp: FlowGroup): void {
    const q = grp.queue;
    if (q.size === 0) return;
    const g = this.g;
    const host = this.host;
    const sat = this.saturation(grp.cands);
    const now = host.timers.now;
    const id = q.pop(sat, now);
    if (id < 0) {
      if (g.flowControl!.usageLimit.type === "soft-reflective-ceiling-policy" && sat < 1 && !grp.tick) {
        grp.tick = true;
        this.tickTimer.at(now + g.flowControl!.tickS, grp.index);
      }
      return;
    }
    const a = host.attempt(id);
    const wait = now - a.queuedAt;
    host.records.gatewayWait[id]! += wait;
    a.queuedAt = -1;
    g.stats.dispatched++;
    if (q.programAware.size > 0) this.programDispatched(grp, a.orig, q.lastProgramAware, wait, now);
    host.route(a);
    if (q.size > 0 && !grp.tick) {
      grp.tick = true;
      this.tickTimer.at(now + g.flowControl!.tickS, grp.index);
    }
  }

  /** Groups whose program-aware plugins saw a request dispatched, by request id (until it completes). */
  private readonly programGroup = new Map<number, FlowGroup>();

  /**
   * Every program-aware plugin of the group records the dispatch (their `PreRequest` runs for every request the EPP
   * schedules); the one whose band picked the request records its queue wait.
   */
  private programDispatched(
    grp: FlowGroup,
    req: Request,
    picker: ProgramAwareFairness | undefined,
    waitS: number,
    now: number,
  ): void {
    const fid = req.tenant ?? DEFAULT_FAIRNESS_ID;
    for (const pa of grp.queue.programAware.values()) pa.dispatched(fid, pa === picker ? waitS : -1, now);
    this.programGroup.set(req.id, grp);
  }

  /**
   * Request `req` completed with `completionTokens` generated (`ResponseBody` at end of stream): the program-aware
   * plugins of the group that dispatched it add prompt + 2 × completion tokens to its program's attained service.
   */
  completed(req: Request, completionTokens: number): void {
    if (this.programGroup.size === 0) return;
    const grp = this.programGroup.get(req.id);
    if (grp === undefined) return;
    this.programGroup.delete(req.id);
    const fid = req.tenant ?? DEFAULT_FAIRNESS_ID;
    const now = this.host.timers.now;
    for (const pa of grp.queue.programAware.values()) pa.completed(fid, req.inputTokens, completionTokens, now);
  }

  /** TTL sweep (EPP: every 1 s): requests queued longer than `defaultRequestTTL` are evicted with 429. */
  private sweep(): void {
    const g = this.g;
    const host = this.host;
    const fc = g.flowControl!;
    g.sweep = false;
    const now = host.timers.now;
    const deadline = now - fc.ttlS;
    for (const grp of g.groups) {
      grp.queue.expire(deadline, (id) => {
        const a = host.attempt(id);
        host.records.gatewayWait[id]! += now - a.queuedAt;
        a.queuedAt = -1;
        host.refuse(a, 429, "flow-control request TTL expired", fc.retryAfterS, DropReason.TimedOut);
      });
    }
    if (g.queued() > 0) {
      g.sweep = true;
      this.sweepTimer.at(now + fc.sweepS, 0);
    }
  }
}
