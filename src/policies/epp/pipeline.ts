/**
 * The Endpoint Picker as a gatelab `Router`: a loaded `EppConfig` compiled into profiles of filters → weighted
 * scorers → picker, run by the config's profile handler, with the data producers and PreRequest / ResponseBody hooks.
 *
 * Source: GIE v1.0 `pkg/epp/scheduling/scheduler.go`, `framework/scheduler_profile.go`; llm-d-router HEAD
 * `pkg/epp/requestcontrol/director.go` (docs/reference.md#endpoint-picker-pipeline):
 * - no candidate endpoint at all → 503 (the director's "no candidate pods");
 * - a filter that leaves no endpoint fails the profile ("no endpoints available"); when the primary profile fails
 *   the scheduler fails and the director answers 429 (`InferencePoolResourceExhausted`, "failed to find target pod");
 * - totals: Σ over the profile's scorers of `clamp(score, 0, 1) × weight`, weights not normalised;
 * - the picker chooses from the post-filter candidates with those totals.
 * Auto-created producers (as GIE last / llm-d do): the approximate prefix producer for `prefix-cache-scorer`,
 * `prefix-cache-affinity-filter`, `no-hit-lru-scorer`, `token-load-scorer`, `prefix-based-pd-decider` (taking the
 * prefix parameters written on `prefix-cache-scorer`, §2.10.3 note), and the in-flight load producer.
 * Decision trace: with `RouterInit.traceDecisions`, the decision carries `scores` (primary profile totals) and
 * `breakdown` (scorer name → replica → clamped score; `profile:scorer` for non-primary profiles).
 */
import { InputError } from "../../errors.ts";
import type { Request } from "../../sim/request.ts";
import { clamp01, NO_CANDIDATES, picked, pickedPd } from "../common.ts";
import type { EndpointView, KvEvent, KvView, RouteResult, Router, RouterInit, RoutingContext } from "../types.ts";
import { type Admitter, isAdmitter } from "./admitter.ts";
import { PLUGIN_TYPES } from "./catalog.ts";
import { ColumnBase } from "./column-base.ts";
import type { EppConfig, EppPlugin } from "./config.ts";
import { DcgmGpuUtilization, dcgmIntervalS } from "./endpoint-attribute.ts";
import { isLabelFilter, ROLE_LABEL, RoleFilter } from "./filters.ts";
import {
  type BuildEnv,
  Cycle,
  type Filter,
  type InflightTokens,
  isFilter,
  isPicker,
  isScorer,
  type Picker,
  type Plugin,
  type PrefixMatchProvider,
  type Scorer,
} from "./framework.ts";
import { InflightLoadProducer, inflightParams } from "./inflight.ts";
import {
  ApproxPrefixProducer,
  PREFIX_PRODUCER_KEYS,
  type PrefixProducerParams,
  resolvePrefixSettings,
} from "./prefix.ts";
import type { ProfileHandler } from "./profiles.ts";
import type { EppVariantName } from "./variants.ts";

/** HTTP status when scheduling fails (a filter left no endpoint): the EPP's ResourceExhausted → 429 (§2.2). */
export const SCHEDULING_FAILURE_STATUS = 429;

interface CompiledProfile {
  readonly name: string;
  readonly filters: readonly Filter[];
  readonly scorers: readonly { readonly scorer: Scorer; readonly weight: number }[];
  readonly picker: Picker;
  /**
   * The weighted sum of the column scorers, kept between decisions: present when the profile has one and every other
   * scorer can tell that it adds nothing for a cycle (`Scorer.skips`).
   */
  readonly base: ColumnBase | undefined;
  /** The scorers that are not column scorers (each has `skips`). */
  readonly others: readonly { readonly scorer: Scorer; readonly weight: number }[];
}

export interface EppRouterOptions {
  /** Router name (default: the config's source). */
  readonly name?: string;
}

/** Builds the plugin instances of a config (shared producers, references resolved on demand). */
class Builder implements BuildEnv {
  readonly init: RouterInit;
  readonly variant: EppVariantName;
  readonly profileNames: readonly string[];
  readonly featureGates: readonly string[];
  readonly instances = new Map<string, Plugin>();
  private readonly specs: Map<string, EppPlugin>;
  private readonly config: EppConfig;
  private readonly building = new Set<string>();
  prefix: (ApproxPrefixProducer & PrefixMatchProvider) | undefined;
  inflight: (InflightLoadProducer & InflightTokens) | undefined;

  constructor(config: EppConfig, init: RouterInit) {
    this.config = config;
    this.init = init;
    this.variant = config.variant;
    this.profileNames = config.schedulingProfiles.map((p) => p.name);
    this.featureGates = config.featureGates;
    this.specs = new Map(config.plugins.map((p) => [p.name, p]));
  }

  typeOf(name: string): string | undefined {
    return this.specs.get(name)?.type;
  }

  plugin(name: string): Plugin {
    const have = this.instances.get(name);
    if (have !== undefined) return have;
    const spec = this.specs.get(name);
    if (spec === undefined) throw new InputError(`${this.config.source}: no plugin named "${name}"`);
    if (spec.type === "approx-prefix-cache-producer") return this.prefixProducer();
    if (spec.type === "inflight-load-producer") return this.inflightProducer();
    const info = PLUGIN_TYPES.get(spec.type);
    if (info?.build === undefined) {
      throw new InputError(`${this.config.source}: plugin "${name}" (type ${spec.type}) has no routing role`);
    }
    if (this.building.has(name)) throw new InputError(`${this.config.source}: plugin "${name}" refers to itself`);
    this.building.add(name);
    const inst = info.build(name, spec.parsed, this);
    this.building.delete(name);
    this.instances.set(name, inst);
    return inst;
  }

  prefixProducer(): ApproxPrefixProducer {
    if (this.prefix !== undefined) return this.prefix;
    // Producer parameters written on prefix-cache-scorer plugins (GIE ≤ v1.4 style), then the explicit producer's.
    const merged: Record<string, unknown> = {};
    const from: Record<string, string> = {};
    for (const p of this.config.plugins) {
      if (p.type !== "prefix-cache-scorer") continue;
      const parsed = p.parsed as Record<string, unknown>;
      for (const k of PREFIX_PRODUCER_KEYS) {
        const v = parsed[k];
        if (v === undefined) continue;
        if (k in merged && merged[k] !== v) {
          throw new InputError(
            `${this.config.source}: prefix-cache-scorer plugins "${from[k]}" and "${p.name}" disagree on ${k} (${String(merged[k])} vs ${String(v)}); the prefix index is shared: set it once, or on approx-prefix-cache-producer`,
          );
        }
        merged[k] = v;
        from[k] = p.name;
      }
    }
    const explicit = this.config.plugins.find((p) => p.type === "approx-prefix-cache-producer");
    if (explicit !== undefined) {
      for (const [k, v] of Object.entries(explicit.parsed as Record<string, unknown>))
        if (v !== undefined) merged[k] = v;
    }
    const name = explicit?.name ?? "approx-prefix-cache-producer";
    this.prefix = new ApproxPrefixProducer(
      name,
      resolvePrefixSettings(merged as PrefixProducerParams, this.init, this.variant),
      this.init,
    );
    this.instances.set(name, this.prefix);
    return this.prefix;
  }

  latencyProducer(name?: string): Plugin {
    if (name !== undefined) return this.plugin(name);
    const type = "predicted-latency-producer";
    const explicit = this.config.plugins.find((p) => p.type === type);
    if (explicit !== undefined) return this.plugin(explicit.name);
    const have = this.instances.get(type);
    if (have !== undefined) return have;
    const info = PLUGIN_TYPES.get(type)!;
    const inst = info.build!(type, info.params.parse({}), this);
    this.instances.set(type, inst);
    return inst;
  }

  private dcgm: DcgmGpuUtilization | null | undefined;

  gpuUtilization(): DcgmGpuUtilization | undefined {
    if (this.dcgm !== undefined) return this.dcgm ?? undefined;
    this.dcgm = null;
    const sources = (this.config.dataLayer as { sources?: unknown } | undefined)?.sources;
    for (const s of Array.isArray(sources) ? (sources as { pluginRef?: string; extractors?: unknown }[]) : []) {
      const src = s.pluginRef !== undefined ? this.specs.get(s.pluginRef) : undefined;
      if (src?.type !== "dcgm-data-source") continue;
      const exts = Array.isArray(s.extractors) ? (s.extractors as { pluginRef?: string }[]) : [];
      if (!exts.some((e) => e.pluginRef !== undefined && this.specs.get(e.pluginRef)?.type === "dcgm-extractor"))
        continue;
      const where = `${this.config.source}: plugin "${src.name}" (type dcgm-data-source)`;
      this.dcgm = new DcgmGpuUtilization(this.init.replicas, dcgmIntervalS(src.parameters, where));
      break;
    }
    return this.dcgm ?? undefined;
  }

  inflightProducer(): InflightLoadProducer {
    if (this.inflight !== undefined) return this.inflight;
    const explicit = this.config.plugins.find((p) => p.type === "inflight-load-producer");
    const params = explicit !== undefined ? inflightParams.parse(explicit.parsed) : inflightParams.parse({});
    const name = explicit?.name ?? "inflight-load-producer";
    this.inflight = new InflightLoadProducer(name, params, this.init, this.prefixProducer());
    this.instances.set(name, this.inflight);
    return this.inflight;
  }
}

export class EppRouter implements Router {
  readonly name: string;
  readonly wantsKvEvents: boolean;
  /** The loaded config this router runs. */
  readonly config: EppConfig;
  private readonly handler: ProfileHandler;
  private readonly profiles = new Map<string, CompiledProfile>();
  private readonly hooks: readonly Plugin[];
  /** Admit plugins, run on the candidates before scheduling (director.go L330). */
  private readonly admitters: readonly Admitter[];
  private readonly kvHooks: readonly Plugin[];
  private readonly trace: boolean;
  private totals: Float64Array;
  private tmp: Float64Array;
  private seq = 0;
  /** The one cycle object, reused by every `route` call. */
  private cycle: Cycle | undefined;
  private cur: Cycle | undefined;
  private last: Cycle | undefined;
  private failReason = "";
  private profilesRun = 0;
  private scores: Map<number, number> | undefined;
  private breakdown: Map<string, Map<number, number>> | undefined;
  /** Plugin instances by name (tests, reports). */
  readonly plugins: ReadonlyMap<string, Plugin>;

  /** No-op plugins and loader notes, for the run output. */
  readonly notes: readonly string[];
  /** `data-parallel-profile-handler`: endpoints are DP ranks (X-Data-Parallel-Endpoint), src/cluster/engine.ts. */
  readonly dataParallelRanks: boolean;

  constructor(config: EppConfig, init: RouterInit, opts: EppRouterOptions = {}) {
    this.config = config;
    this.name = opts.name ?? config.source;
    this.trace = init.traceDecisions === true;
    this.notes = simulationNotes(config);
    this.dataParallelRanks = config.plugins.some((p) => p.type === "data-parallel-profile-handler");
    const b = new Builder(config, init);
    for (const p of config.plugins) {
      if (PLUGIN_TYPES.get(p.type)?.build !== undefined) b.plugin(p.name);
    }
    let handler: ProfileHandler | undefined;
    for (const inst of b.instances.values()) {
      if (typeof (inst as Partial<ProfileHandler>).schedule === "function") handler = inst as ProfileHandler;
    }
    if (handler === undefined) throw new InputError(`${config.source}: no profile handler`);
    this.handler = handler;
    for (const prof of config.schedulingProfiles) {
      const filters: Filter[] = [];
      const scorers: { scorer: Scorer; weight: number }[] = [];
      let picker: Picker | undefined;
      for (const ref of prof.plugins) {
        // A no-op plugin in a profile (a scorer that gives every endpoint the same score) has no instance.
        const spec = config.plugins.find((p) => p.name === ref.pluginRef);
        if (spec !== undefined && PLUGIN_TYPES.get(spec.type)?.status !== "simulated") continue;
        const inst = b.plugin(ref.pluginRef);
        if (isScorer(inst) && ref.weight !== undefined) scorers.push({ scorer: inst, weight: ref.weight });
        else if (isPicker(inst)) picker = inst;
        else if (isFilter(inst)) filters.push(inst);
      }
      if (picker === undefined) throw new InputError(`${config.source}: profile "${prof.name}" has no picker`);
      // A label or role filter that no replica passes: the config needs pod labels the pools lack. Refused here,
      // never silently routed around (set `labels:` on the scenario's pools, e.g. `llm-d.ai/role: prefill`).
      for (const f of filters) {
        if (isLabelFilter(f) && !f.selectsAny(init.replicas)) {
          const want = f instanceof RoleFilter ? ` (${ROLE_LABEL}: ${f.roles.join(" | ")})` : "";
          throw new InputError(
            `${config.source}: profile "${prof.name}": filter "${f.name}" (type ${f.type}) keeps no replica: no pool carries the labels it needs${want}; set pools[].labels in the scenario`,
          );
        }
      }
      const columnTerms = scorers.filter((s) => s.scorer.column !== undefined && s.scorer.addWeighted !== undefined);
      const others = scorers.filter((s) => !columnTerms.includes(s));
      const base =
        columnTerms.length > 0 && others.every((s) => s.scorer.skips !== undefined)
          ? new ColumnBase(columnTerms.map((s) => ({ term: s.scorer.column!, weight: s.weight })))
          : undefined;
      this.profiles.set(prof.name, { name: prof.name, filters, scorers, picker, base, others });
    }
    // Hook order: in-flight producer first, approximate prefix producer last (its PreRequest inserts the request,
    // which must come after every other hook has read this request's pre-insert match).
    const all = [...b.instances.values()];
    const ordered = [
      ...all.filter((p) => p === b.inflight),
      ...all.filter((p) => p !== b.inflight && p !== b.prefix),
      ...all.filter((p) => p === b.prefix),
    ];
    this.hooks = ordered.filter((p) => p.onDispatch || p.onFirstToken || p.onComplete);
    this.admitters = ordered.filter(isAdmitter);
    this.kvHooks = ordered.filter((p) => p.wantsKvEvents && p.onKvEvent);
    this.wantsKvEvents = this.kvHooks.length > 0;
    this.plugins = b.instances;
    this.totals = new Float64Array(Math.max(1, init.replicas));
    this.tmp = new Float64Array(Math.max(1, init.replicas));
  }

  route(req: Request, ctx: RoutingContext): RouteResult {
    if (ctx.endpoints.length === 0) return NO_CANDIDATES;
    let cycle = this.cycle;
    if (cycle === undefined) this.cycle = cycle = new Cycle(++this.seq, req, ctx);
    else cycle.reset(++this.seq, req, ctx);
    this.cur = cycle;
    this.last = cycle;
    this.failReason = "";
    this.profilesRun = 0;
    if (this.trace) {
      this.scores = new Map();
      this.breakdown = new Map();
    }
    for (let i = 0; i < this.admitters.length; i++) {
      const why = this.admitters[i]!.admit(cycle);
      if (why !== undefined) {
        this.cur = undefined;
        return { refused: true, status: SCHEDULING_FAILURE_STATUS, reason: why };
      }
    }
    const pick = this.handler.schedule(cycle, this.runProfile);
    this.cur = undefined;
    if (pick === undefined) {
      return { refused: true, status: SCHEDULING_FAILURE_STATUS, reason: this.failReason || "no endpoints available" };
    }
    cycle.primary = pick.index;
    // P/D: a prefill pick on another pod disaggregates the request (the sidecar sends the prefill there). A prefill
    // pick on the decode pod itself runs as one aggregated request here (see docs/gateway.md).
    const pf = cycle.prefill >= 0 && cycle.prefill !== pick.index ? cycle.prefill : -1;
    if (this.trace) {
      return {
        replica: pick.index,
        ...(pf >= 0 ? { prefill: pf } : {}),
        scores: this.scores!,
        breakdown: this.breakdown!,
      };
    }
    return pf >= 0 ? pickedPd(pick.index, pf) : picked(pick.index);
  }

  private readonly runProfile = (name: string): EndpointView | undefined => {
    const cycle = this.cur!;
    const prof = this.profiles.get(name);
    if (prof === undefined) return undefined;
    const primary = this.profilesRun++ === 0;
    let eps = cycle.ctx.endpoints;
    for (const f of prof.filters) {
      eps = f.filter(cycle, eps);
      if (eps.length === 0) {
        if (primary) this.failReason = `no endpoints available (profile "${name}", filter "${f.name}")`;
        return undefined;
      }
    }
    const idx = this.pickIn(prof, cycle, eps, primary, name);
    if (idx < 0) {
      if (primary) this.failReason = `no endpoints available (profile "${name}", picker "${prof.picker.name}")`;
      return undefined;
    }
    return eps[idx];
  };

  /** The profile's pick among `eps`: its totals from the column base when that applies, else summed here. */
  private pickIn(
    prof: CompiledProfile,
    cycle: Cycle,
    eps: readonly EndpointView[],
    primary: boolean,
    name: string,
  ): number {
    const n = eps.length;
    const picker = prof.picker;
    const base = prof.base !== undefined && this.breakdown === undefined ? this.fromBase(prof, cycle, eps) : undefined;
    if (base !== undefined) {
      const cb = prof.base!;
      if (picker.pickTop === undefined) return picker.pick(cycle, eps, base);
      cb.summarize();
      return cb.nan ? picker.pick(cycle, eps, base) : picker.pickTop(cycle, n, base, cb.max, cb.first, cb.holders);
    }
    if (this.totals.length < n) {
      this.totals = new Float64Array(n);
      this.tmp = new Float64Array(n);
    }
    const totals = this.totals;
    const tmp = this.tmp;
    totals.fill(0, 0, n);
    for (const { scorer, weight } of prof.scorers) {
      if (this.breakdown === undefined && scorer.addWeighted !== undefined) {
        scorer.addWeighted(cycle, eps, totals, weight);
        continue;
      }
      tmp.fill(0, 0, n);
      scorer.score(cycle, eps, tmp);
      for (let i = 0; i < n; i++) totals[i]! += clamp01(tmp[i]!) * weight;
      if (this.breakdown !== undefined) {
        const m = new Map<number, number>();
        for (let i = 0; i < n; i++) m.set(eps[i]!.index, clamp01(tmp[i]!));
        this.breakdown.set(primary ? scorer.name : `${name}:${scorer.name}`, m);
      }
    }
    if (primary && this.scores !== undefined) for (let i = 0; i < n; i++) this.scores.set(eps[i]!.index, totals[i]!);
    return picker.pick(cycle, eps, totals);
  }

  /**
   * The profile's totals from its column base, when they are what summing every scorer would give: the candidates are
   * the context's (with columns), and every other scorer adds nothing for this cycle. Else undefined.
   */
  private fromBase(prof: CompiledProfile, cycle: Cycle, eps: readonly EndpointView[]): Float64Array | undefined {
    const ctx = cycle.ctx;
    if (eps !== ctx.endpoints || ctx.columns === undefined) return undefined;
    for (const { scorer, weight } of prof.others) if (!scorer.skips!(cycle, weight)) return undefined;
    return prof.base!.update(ctx.columns, eps.length);
  }

  onDispatch(req: Request, replica: number, now: number): void {
    const cycle = this.last !== undefined && this.last.req.id === req.id ? this.last : undefined;
    for (const h of this.hooks) h.onDispatch?.(req, replica, now, cycle);
  }

  onFirstToken(req: Request, replica: number, now: number): void {
    for (const h of this.hooks) h.onFirstToken?.(req, replica, now);
  }

  onComplete(req: Request, replica: number, now: number): void {
    if (this.last !== undefined && this.last.req.id === req.id) this.last = undefined;
    for (const h of this.hooks) h.onComplete?.(req, replica, now);
  }

  onKvEvent(ev: KvEvent, now: number): void {
    for (const h of this.kvHooks) h.onKvEvent?.(ev, now);
  }

  /** The view replaces the events only if every plugin reading them takes it. */
  attachKvView(view: KvView): boolean {
    let all = true;
    for (const h of this.kvHooks) if (h.attachKvView?.(view) !== true) all = false;
    return all;
  }

  prefetchKvEvents(hashes: Float64Array, from: number, to: number): number {
    let acc = 0;
    for (const h of this.kvHooks) acc += h.prefetchKvEvents?.(hashes, from, to) ?? 0;
    return acc;
  }
}

const FLOW_CONTROL_KINDS = new Set(["fairness", "ordering", "usage-limit"]);

/**
 * Refuses a config that needs a plugin gatelab recognises but does not simulate (or a loader-test mock), and
 * returns the notes for the plugins that run as no-ops. Flow-control policies matter only with the flowControl
 * feature gate on (the loader ignores the section otherwise).
 */
export function simulationNotes(config: EppConfig): string[] {
  const notes = [...config.notes];
  for (const p of config.plugins) {
    const d = p.type === "disagg-profile-handler" ? (p.parsed as { deciders?: { prefill?: string } }) : undefined;
    if (d?.deciders?.prefill !== undefined) {
      notes.push(
        `plugin "${p.name}" (disagg-profile-handler): P/D disaggregation simulated: a request the decider sends to a prefill pod prefills there (max_tokens 1), its KV moves to the decode pod over the scenario's kv_transfer link, and the decode pod computes the last prompt token and decodes`,
      );
    }
  }
  const flowOn = config.featureGates.includes("flowControl");
  for (const p of config.plugins) {
    const info = PLUGIN_TYPES.get(p.type)!;
    if (info.status === "simulated") {
      if (info.why !== undefined) notes.push(`plugin "${p.name}" (type ${p.declaredType}): simulated, but ${info.why}`);
      continue;
    }
    const what = `plugin "${p.name}" (type ${p.declaredType})`;
    if (info.status === "no-op") {
      if (p.defaulted) continue; // the loader's default parsers and data sources: no news to the user
      notes.push(`${what}: runs as a no-op, it cannot change a routing decision here: ${info.why}`);
      continue;
    }
    if (FLOW_CONTROL_KINDS.has(info.kind) && !flowOn) {
      notes.push(`${what}: unused, the flowControl feature gate is off`);
      continue;
    }
    throw new InputError(`${config.source}: ${what}: recognised, not simulated: ${info.why}`);
  }
  return notes;
}

/** Builds a router that runs a loaded EndpointPickerConfig. */
export function createRouterFromEpp(config: EppConfig, init: RouterInit, opts: EppRouterOptions = {}): Router {
  return new EppRouter(config, init, opts);
}
