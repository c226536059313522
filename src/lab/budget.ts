/**
 * The memory a run will need, estimated before it starts from what the scenario says: per-request rows, KV-cache
 * tables, time-series samples. A run whose estimate exceeds the limit is refused (bad input: exit 2) with the terms
 * that dominate; one above a quarter of it gets a warning on stderr. The estimate is deliberately coarse (within a
 * factor of about two of the measured heap) and errs high; its constants are bytes per item of gatelab's own tables:
 * - a request: its row in the request table (~90 B of typed columns) plus the request object, its prompt segments and
 *   engine state while in flight, ~1 KB all told (measured: 200k requests of the default scenario ≈ 180 MB heap);
 * - a KV block: hash (8 B), reference count, LRU links (4 B each) and its prefix-index entry (~24 B): 48 B;
 * - a time-series sample: 8 series × 8 B per replica.
 * The limit is the smaller of 3/4 of the machine's memory and `GATELAB_MAX_MEMORY_GB` when set.
 */
import { totalmem } from "node:os";
import type { PoolSpec } from "../cluster/engine.ts";
import { InputError } from "../errors.ts";
import type { Scenario } from "../scenario.ts";

const BYTES_PER_REQUEST = 1024;
const BYTES_PER_KV_BLOCK = 48;
const BYTES_PER_CPU_BLOCK = 24;
const BYTES_PER_SAMPLE_PER_REPLICA = 64;
const GiB = 1024 ** 3;

export interface MemoryEstimate {
  readonly bytes: number;
  /** Requests the run is expected to create (undefined: unknown, e.g. a trace without a `requests` limit). */
  readonly requests: number | undefined;
  /** Simulated seconds the time series will cover (estimated). */
  readonly seconds: number | undefined;
  readonly terms: readonly { readonly what: string; readonly bytes: number }[];
}

interface Comp {
  type?: string;
  rate?: number;
  arrival?: { rate?: number; spikes?: { factor: number }[] };
  mix?: Comp[];
}

/** Σ of the open-loop request rates the workload declares (spikes at their peak), or undefined when unknown. */
function declaredRate(s: Scenario): number | undefined {
  const w = s.workload as unknown as Comp;
  const comps = w.mix ?? [w];
  let sum = 0;
  let known = false;
  for (const c of comps) {
    const r = c.rate ?? c.arrival?.rate;
    if (r === undefined) continue;
    const peak = Math.max(1, ...(c.arrival?.spikes ?? []).map((x) => x.factor));
    sum += r * peak;
    known = true;
  }
  if (w.mix !== undefined && w.rate !== undefined) return w.rate;
  return known ? sum : undefined;
}

/** Requests a run of `s` is expected to create (its `requests` limit, or rate × duration), when the scenario says. */
export function expectedRequests(s: Scenario): number | undefined {
  const rate = declaredRate(s);
  let requests = s.requests;
  if (s.duration_s !== undefined && rate !== undefined) {
    const byTime = rate * s.duration_s;
    requests = requests === undefined ? byTime : Math.min(requests, byTime);
  }
  return requests;
}

export function estimateRunMemory(s: Scenario, pools: readonly PoolSpec[]): MemoryEstimate {
  const rate = declaredRate(s);
  const requests = expectedRequests(s);
  let seconds = s.duration_s;
  if (seconds === undefined && requests !== undefined && rate !== undefined && rate > 0) seconds = requests / rate;
  let replicas = 0;
  let kv = 0;
  let cpu = 0;
  for (const p of pools) {
    replicas += p.replicas;
    kv += p.replicas * p.engine.numGpuBlocks * BYTES_PER_KV_BLOCK;
    cpu += p.replicas * (p.cpuKvBlocks ?? 0) * BYTES_PER_CPU_BLOCK;
  }
  const series = seconds !== undefined ? (seconds / s.sample_interval_s) * replicas * BYTES_PER_SAMPLE_PER_REPLICA : 0;
  const terms = [
    { what: `${fmt(requests)} requests`, bytes: (requests ?? 0) * BYTES_PER_REQUEST },
    { what: `KV-cache tables of ${replicas.toLocaleString("en-US")} replicas`, bytes: kv },
    { what: "CPU KV offload tables", bytes: cpu },
    {
      what: `time series (${fmt(seconds)} s every sample_interval_s ${s.sample_interval_s} s × ${replicas} replicas)`,
      bytes: series,
    },
  ].filter((t) => t.bytes > 0);
  return { bytes: terms.reduce((a, t) => a + t.bytes, 0), requests, seconds, terms };
}

function fmt(x: number | undefined): string {
  return x === undefined ? "?" : Math.round(x).toLocaleString("en-US");
}

/** The most memory a run may be estimated to need, bytes. */
export function memoryLimit(env: NodeJS.ProcessEnv = process.env): number {
  const machine = totalmem() * 0.75;
  const set = Number(env.GATELAB_MAX_MEMORY_GB);
  return Number.isFinite(set) && set > 0 ? Math.min(machine, set * GiB) : machine;
}

/**
 * Refuses (InputError) a run estimated to need more than `limit` bytes, naming what dominates; returns a warning line
 * when it needs more than a quarter of it (undefined otherwise).
 */
export function checkRunBudget(
  file: string,
  s: Scenario,
  pools: readonly PoolSpec[],
  limit = memoryLimit(),
): string | undefined {
  const e = estimateRunMemory(s, pools);
  const gb = (b: number) => `${(b / GiB).toFixed(1)} GB`;
  const parts = [...e.terms]
    .sort((a, b) => b.bytes - a.bytes)
    .map((t) => `${t.what} ≈ ${gb(t.bytes)}`)
    .join(", ");
  if (e.bytes > limit) {
    throw new InputError(
      `${file}: this run would need about ${gb(e.bytes)} of memory (${parts}); at most ${gb(limit)} is available ` +
        "(set GATELAB_MAX_MEMORY_GB to change the limit): lower requests or duration_s, replicas or KV blocks, or raise sample_interval_s",
    );
  }
  if (e.bytes > limit / 4) return `note: this run needs about ${gb(e.bytes)} of memory (${parts})`;
  return undefined;
}
