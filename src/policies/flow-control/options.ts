/**
 * The admission layer's options for one run, from a scenario (and the router it built): flow control from
 * `gateway.flow_control`, else from an EndpointPickerConfig with `featureGates: [flowControl]`; degradation rules;
 * tenant quotas; client retry policies; SLO classes (for goodput in the summary).
 */
import type { EppConfig } from "../epp/config.ts";
import type { Router } from "../types.ts";
import type { ClientsConfig, DegradationRule, FlowControlConfig, QuotasConfig, SloClassesConfig } from "./schema.ts";
import { type FlowControlSettings, flowControlFromEpp, flowControlFromScenario } from "./settings.ts";

export interface AdmissionOptions {
  readonly flowControl?: FlowControlSettings | undefined;
  readonly degradation?: readonly DegradationRule[] | undefined;
  readonly quotas?: QuotasConfig | undefined;
  readonly clients?: ClientsConfig | undefined;
  /** SLO class → per-request TTFT target in ms (`slos.classes.<class>.ttft_ms`), for slo-deadline ordering. */
  readonly ttftTargetsMs?: Readonly<Record<string, number>> | undefined;
}

/** The percentile SLO targets (ms), as the scenario's `slos` and each of its `slos.classes` declare them. */
export interface PercentileSloTargets {
  readonly ttft_p50_ms?: number | undefined;
  readonly ttft_p95_ms?: number | undefined;
  readonly ttft_p99_ms?: number | undefined;
  readonly e2e_p95_ms?: number | undefined;
  readonly e2e_p99_ms?: number | undefined;
  readonly tpot_p95_ms?: number | undefined;
}

/** Flat scenario SLO fields plus classes (what the summary needs for goodput). */
export interface SloTargets extends PercentileSloTargets {
  readonly classes?: SloClassesConfig | undefined;
}

/** The scenario sections the admission layer reads (`gateway.*`, `clients`, `slos`). */
export interface AdmissionSections {
  readonly gateway: {
    readonly flow_control?: FlowControlConfig | undefined;
    readonly degradation?: readonly DegradationRule[] | undefined;
    readonly quotas?: QuotasConfig | undefined;
  };
  readonly clients?: ClientsConfig | undefined;
  readonly slos: SloTargets;
}

/** The EndpointPickerConfig a router runs, if it is the EPP pipeline. */
function eppConfigOf(router: Router): EppConfig | undefined {
  const c = (router as { config?: unknown }).config;
  if (c !== null && typeof c === "object" && (c as EppConfig).kind === "EndpointPickerConfig") return c as EppConfig;
  return undefined;
}

/**
 * Engine options for the admission layer (spread into `SimOptions`). Empty when the scenario configures none of it,
 * so a scenario without these sections runs exactly as before.
 */
export function admissionSimOptions(
  s: AdmissionSections,
  router: Router,
): { admission?: AdmissionOptions; slo?: SloTargets } {
  const gw = s.gateway;
  let flowControl: FlowControlSettings | undefined;
  if (gw.flow_control !== undefined) flowControl = flowControlFromScenario(gw.flow_control);
  else {
    const epp = eppConfigOf(router);
    if (epp !== undefined) flowControl = flowControlFromEpp(epp);
  }
  const usesSloDeadline =
    flowControl !== undefined &&
    [flowControl.defaultBand, flowControl.negativeBand, ...flowControl.bands.values()].some(
      (b) => b.ordering === "slo-deadline-ordering-policy",
    );
  const ttft: Record<string, number> = {};
  for (const [cls, c] of Object.entries(s.slos.classes ?? {})) if (c.ttft_ms !== undefined) ttft[cls] = c.ttft_ms;
  const admission: AdmissionOptions = {
    ...(flowControl !== undefined ? { flowControl } : {}),
    ...(usesSloDeadline ? { ttftTargetsMs: ttft } : {}),
    ...(gw.degradation !== undefined && gw.degradation.length > 0 ? { degradation: gw.degradation } : {}),
    ...(gw.quotas !== undefined ? { quotas: gw.quotas } : {}),
    ...(s.clients !== undefined && Object.keys(s.clients).length > 0 ? { clients: s.clients } : {}),
  };
  return {
    ...(Object.keys(admission).length > 0 ? { admission } : {}),
    slo: s.slos,
  };
}
