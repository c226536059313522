/**
 * From a validated scenario to a simulation run: pools of replicas (catalog, KV capacity, cost model), the workload
 * stream, the router, and the engine options.
 */

import { type DecisionRecord, type PoolSpec, simulate } from "../cluster/engine.ts";
import { InputError } from "../errors.ts";
import { type RunOutput, summarize } from "../metrics/summary.ts";
import { kvTransferLink } from "../models/kv-transfer.ts";
import { eppVariant } from "../policies/epp/variants.ts";
import { admissionSimOptions } from "../policies/flow-control/options.ts";
import { createRouter } from "../policies/schema.ts";
import type { Router, RouterInit } from "../policies/types.ts";
import { inferencePerfLabSummary } from "../report/inference-perf-stages.ts";
import type { LoadedScenario } from "../scenario.ts";
import type { RequestSource } from "../sim/request.ts";
import { buildWorkload } from "../workloads/index.ts";
import { checkRunBudget } from "./budget.ts";
import { buildPools } from "./pools.ts";

export interface RunOverrides {
  /** Routing policy name (replaces `gateway.policy`, drops `gateway.epp_config`). */
  readonly policy?: string;
  /** EndpointPickerConfig file (replaces the gateway's policy). */
  readonly eppConfig?: string;
  /** Router semantics for the Endpoint Picker (replaces `gateway.epp_variant`). */
  readonly eppVariant?: string;
  readonly seed?: number;
  readonly onDecision?: (d: DecisionRecord) => void;
  /** Check engine invariants after every step (slow; tests). */
  readonly checkInvariants?: boolean;
  /** false: step every replica one step at a time (the reference for fast-forward). Default true. */
  readonly fastForward?: boolean;
  /** false: routers read the endpoint views only, not their columns (the reference for `EndpointColumns`). */
  readonly endpointColumns?: boolean;
  /**
   * false: every KV block in the prefix cache's map and every hash in the routers' indexes (the reference for
   * `KvCache.registerOwn` and `RouterInit.singleDispatch`).
   */
  readonly ownBlocks?: boolean;
  /** Transforms the request stream before the engine pulls it (e.g. the drill's time warp for trace replays). */
  readonly wrapSource?: (source: RequestSource) => RequestSource;
}

export function buildSource(loaded: LoadedScenario, seed: number): RequestSource {
  const s = loaded.scenario;
  return buildWorkload(s.workload, {
    seed,
    baseDir: loaded.baseDir,
    ...(s.requests !== undefined ? { maxRequests: s.requests } : {}),
    ...(s.duration_s !== undefined ? { durationS: s.duration_s } : {}),
  });
}

export function buildRouter(loaded: LoadedScenario, pools: readonly PoolSpec[], o: RunOverrides): Router {
  const s = loaded.scenario;
  const numGpuBlocks: number[] = [];
  const labels: Readonly<Record<string, string>>[] = [];
  for (const [pi, p] of pools.entries()) {
    for (let i = 0; i < p.replicas; i++) {
      numGpuBlocks.push(p.engine.numGpuBlocks);
      labels.push(s.pools[pi]?.labels ?? {});
    }
  }
  const requestSlos = new Map<string, { ttftMs: number; tpotMs: number }>();
  for (const [cls, c] of Object.entries(s.slos.classes ?? {})) {
    if (c.ttft_ms !== undefined || c.tpot_ms !== undefined) {
      requestSlos.set(cls, { ttftMs: c.ttft_ms ?? 0, tpotMs: c.tpot_ms ?? 0 });
    }
  }
  const init: RouterInit = {
    replicas: numGpuBlocks.length,
    blockSize: pools[0]!.engine.blockSize,
    numGpuBlocks,
    labels,
    ...(requestSlos.size > 0 ? { requestSlos } : {}),
    ...(o.onDecision ? { traceDecisions: true } : {}),
    // Client retries (`clients`) are the only way a request is dispatched again (`admissionSimOptions`).
    ...(o.ownBlocks !== false && (s.clients === undefined || Object.keys(s.clients).length === 0)
      ? { singleDispatch: true }
      : {}),
  };
  let gw = s.gateway;
  if (o.eppVariant !== undefined) gw = { ...gw, epp_variant: eppVariant(o.eppVariant, "--epp-variant").name };
  if (o.eppConfig !== undefined) gw = { ...gw, epp_config: o.eppConfig };
  else if (o.policy !== undefined) {
    const { epp_config: _drop, ...rest } = gw;
    gw = { ...rest, policy: o.policy };
  }
  const base = o.eppConfig !== undefined ? process.cwd() : loaded.baseDir;
  // The scenario's `gateway:` fields (a router parameter out of range, an unknown policy) name the scenario file.
  try {
    return createRouter(gw, init, base);
  } catch (e) {
    if (!(e instanceof InputError) || !e.message.startsWith("gateway.")) throw e;
    // A policy named on the command line is the flag's error, not the file's.
    if (o.policy !== undefined && e.message.startsWith("gateway.policy:"))
      throw new InputError(e.message.replace(/^gateway\.policy:/, "command line (-p/-P):"));
    // So is a config file named with --epp-config (`run --epp-config nope.yaml` named the scenario).
    if (o.eppConfig !== undefined && e.message.startsWith("gateway.epp_config:"))
      throw new InputError(e.message.replace(/^gateway\.epp_config:/, "command line (--epp-config):"));
    throw new InputError(`${loaded.file}: ${e.message}`);
  }
}

export type { RunOutput } from "../metrics/summary.ts";

/** Names the scenario file in an input error the workload raised while running (it knows fields, not files). */
function withFile<T>(file: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof InputError && e.message.startsWith("workload")) throw new InputError(`${file}: ${e.message}`);
    throw e;
  }
}

/** Scenarios already warned about their memory (compare and sweeps run one scenario many times). */
const budgetWarned = new Set<string>();

/** Runs a scenario once. The workload depends only on (scenario, seed), never on the policy. */
export function runScenario(loaded: LoadedScenario, o: RunOverrides = {}): RunOutput {
  const s = loaded.scenario;
  const seed = o.seed ?? s.seed;
  const pools = buildPools(s, loaded.baseDir);
  // Refuse (or warn about) a run that would exhaust memory before it starts, not minutes into it.
  const note = checkRunBudget(loaded.file, s, pools);
  if (note !== undefined && !budgetWarned.has(loaded.file)) {
    budgetWarned.add(loaded.file);
    process.stderr.write(`${note}\n`);
  }
  const router = buildRouter(loaded, pools, o);
  const built = buildSource(loaded, seed);
  const source = o.wrapSource ? o.wrapSource(built) : built;
  const result = withFile(loaded.file, () =>
    simulate(pools, source, router, {
      seed,
      scrapeIntervalS: s.gateway.scrape_interval_ms / 1000,
      kvEventDelayS: s.gateway.kv_event_delay_ms / 1000,
      sampleIntervalS: s.sample_interval_s,
      ...(o.onDecision ? { onDecision: o.onDecision } : {}),
      ...(o.checkInvariants ? { checkInvariants: true } : {}),
      ...(o.fastForward === false ? { fastForward: false } : {}),
      ...(o.endpointColumns === false ? { endpointColumns: false } : {}),
      ...(o.ownBlocks === false ? { ownBlocks: false } : {}),
      kvTransfer: kvTransferLink(s.kv_transfer),
      ...(s.requests !== undefined ? { expectedRequests: s.requests } : {}),
      ...admissionSimOptions(s, router), // the gateway in front of the router: flow control, quotas, retries
    }),
  );
  const summary = summarize(result);
  if (router.notes !== undefined && router.notes.length > 0) summary.notes = [...router.notes];
  const out: RunOutput = { policy: router.name, seed, result, summary, source: built };
  const ip = inferencePerfLabSummary(out, s.slos);
  if (ip !== undefined) summary.inference_perf = ip;
  return out;
}
