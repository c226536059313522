/**
 * Profile handlers and P/D deciders (docs/reference.md#endpoint-picker-pipeline).
 * - `single-profile-handler`: runs the one profile; it is primary.
 * - `disagg-profile-handler` (llm-d; older name `pd-profile-handler`): runs `decode` first (primary; no endpoint →
 *   the request fails), then `encode` if the encode decider approves, then `prefill` if the prefill decider approves.
 *   Parameters `profiles.{decode,prefill,encode}` (defaults "decode"/"prefill"/"encode") and
 *   `deciders.{prefill,encode}` (plugin names). A prefill pick on another pod disaggregates the request: the router's
 *   decision carries it (`RoutingDecision.prefill`) and the engine runs the prefill there, moves the KV and decodes on
 *   the decode target (src/cluster/engine.ts, docs/gateway.md); the pick also feeds the prefix index and no-hit LRU (as
 *   llm-d's PreRequest does). The encode stage is never run (text-only requests). A role filter that keeps no replica
 *   of the cluster is refused when the router is built (pipeline.ts).
 * - `data-parallel-profile-handler` (deprecated; `primaryPort` 8000): one profile, as single; with it the router
 *   addresses data-parallel ranks as endpoints (`EppRouter.dataParallelRanks`, src/cluster/engine.ts).
 * - `prefix-based-pd-decider` (`nonCachedTokens` N, default 0 = never): disaggregate iff `input ≥ N` and
 *   `input − matchBlocks·blockSize (on the decode target) ≥ N`; input = the prompt's tokens (the real one estimates
 *   characters ÷ 4). `always-disagg-pd-decider`: always. `always-disagg-multimodal-decider`: requests with
 *   image/video/audio parts — gatelab requests are text only, so never.
 */
import { z } from "zod";
import type { EndpointView } from "../types.ts";
import type { Cycle, Decider, Plugin, PrefixMatchProvider } from "./framework.ts";
import { nonNegInt, posInt } from "./params.ts";

/** Runs one profile by name; returns its pick or undefined when it found no endpoint. */
export type RunProfile = (profile: string) => EndpointView | undefined;

export interface ProfileHandler extends Plugin {
  /** Profiles this handler runs (validated to exist). */
  readonly profiles: readonly string[];
  /** Runs the profiles; returns the primary profile's pick (undefined: scheduling failed). */
  schedule(cycle: Cycle, run: RunProfile): EndpointView | undefined;
}

// llm-d-router pkg/epp/framework/plugins/scheduling/profilehandler/disagg/disagg_profile_handler.go L66–L140: the
// nested form, and the deprecated flat one (`decodeProfile`, `prefillDeciderPluginName`, `deciderPluginName`, …,
// also the parameters of the deprecated `pd-profile-handler`, pd_profile_handler.go L33–L43) mapped onto it.
export const disaggParams = z
  .strictObject({
    stageOrder: z.enum(["decode-first", "prefill-first"]).optional(),
    profiles: z
      .strictObject({ decode: z.string().optional(), prefill: z.string().optional(), encode: z.string().optional() })
      .optional(),
    deciders: z.strictObject({ prefill: z.string().optional(), encode: z.string().optional() }).optional(),
    decodeProfile: z.string().optional(),
    prefillProfile: z.string().optional(),
    encodeProfile: z.string().optional(),
    prefillDeciderPluginName: z.string().optional(),
    encodeDeciderPluginName: z.string().optional(),
    deciderPluginName: z.string().optional(),
    prefixPluginType: z.string().optional(),
    prefixPluginName: z.string().optional(),
    primaryPort: z.number().int().optional(),
    prefixMatchInfoProducerName: z.string().optional(),
  })
  .transform((p) => {
    const decode = p.profiles?.decode ?? p.decodeProfile;
    const prefill = p.profiles?.prefill ?? p.prefillProfile;
    const encode = p.profiles?.encode ?? p.encodeProfile;
    const dPrefill = p.deciders?.prefill ?? (p.prefillDeciderPluginName || p.deciderPluginName || undefined);
    const dEncode = p.deciders?.encode ?? (p.encodeDeciderPluginName || undefined);
    return {
      ...(p.stageOrder !== undefined ? { stageOrder: p.stageOrder } : {}),
      profiles: {
        ...(decode ? { decode } : {}),
        ...(prefill ? { prefill } : {}),
        ...(encode ? { encode } : {}),
      },
      deciders: { ...(dPrefill ? { prefill: dPrefill } : {}), ...(dEncode ? { encode: dEncode } : {}) },
    } as {
      stageOrder?: "decode-first" | "prefill-first";
      profiles: { decode?: string; prefill?: string; encode?: string };
      deciders: { prefill?: string; encode?: string };
    };
  });
export type DisaggParams = z.output<typeof disaggParams>;

export const dataParallelParams = z.strictObject({ primaryPort: posInt.default(8000) });

export class SingleProfileHandler implements ProfileHandler {
  readonly type: string;
  readonly name: string;
  readonly profiles: readonly string[];
  constructor(name: string, type: string, profile: string) {
    this.name = name;
    this.type = type;
    this.profiles = [profile];
  }
  schedule(_cycle: Cycle, run: RunProfile): EndpointView | undefined {
    return run(this.profiles[0]!);
  }
}

export class DisaggProfileHandler implements ProfileHandler {
  readonly type = "disagg-profile-handler";
  readonly name: string;
  readonly profiles: readonly string[];
  private readonly decode: string;
  private readonly prefillProfile: string;
  private readonly encode: string;
  private readonly prefillDecider: Decider | undefined;
  private readonly encodeDecider: Decider | undefined;

  constructor(name: string, params: DisaggParams, prefillDecider?: Decider, encodeDecider?: Decider) {
    this.name = name;
    this.decode = params.profiles?.decode ?? "decode";
    this.prefillProfile = params.profiles?.prefill ?? "prefill";
    this.encode = params.profiles?.encode ?? "encode";
    this.prefillDecider = prefillDecider;
    this.encodeDecider = encodeDecider;
    const ps = [this.decode];
    if (prefillDecider !== undefined) ps.push(this.prefillProfile);
    if (encodeDecider !== undefined) ps.push(this.encode);
    this.profiles = ps;
  }

  schedule(cycle: Cycle, run: RunProfile): EndpointView | undefined {
    const d = run(this.decode);
    if (d === undefined) return undefined;
    if (this.encodeDecider?.decide(cycle, d)) run(this.encode);
    if (this.prefillDecider?.decide(cycle, d)) {
      const p = run(this.prefillProfile);
      if (p !== undefined) cycle.prefill = p.index;
    }
    return d;
  }
}

// prefix_based_pd_decider.go L22–L31: `promptTokens` gates on the prompt length first (0 = no gate).
export const prefixDeciderParams = z.strictObject({
  nonCachedTokens: nonNegInt.default(0),
  promptTokens: nonNegInt.default(0),
});

export class PrefixBasedPdDecider implements Decider {
  readonly type = "prefix-based-pd-decider";
  readonly name: string;
  private readonly n: number;
  private readonly minPrompt: number;
  private readonly prefix: PrefixMatchProvider;
  constructor(name: string, params: { nonCachedTokens: number; promptTokens?: number }, prefix: PrefixMatchProvider) {
    this.name = name;
    this.n = params.nonCachedTokens;
    this.minPrompt = params.promptTokens ?? 0;
    this.prefix = prefix;
  }
  decide(cycle: Cycle, decodeTarget: EndpointView): boolean {
    if (this.n <= 0) return false;
    const input = cycle.req.inputTokens;
    if (input < this.minPrompt) return false;
    if (input < this.n) return false;
    const m = this.prefix.match(cycle);
    return input - m.matchBlocks[decodeTarget.index]! * m.blockSize >= this.n;
  }
}

export class ConstantDecider implements Decider {
  readonly type: string;
  readonly name: string;
  private readonly value: boolean;
  constructor(name: string, type: string, value: boolean) {
    this.name = name;
    this.type = type;
    this.value = value;
  }
  decide(): boolean {
    return this.value;
  }
}
