/**
 * P/D disaggregation in the run summary: per-role aggregates (pools labelled `llm-d.ai/role`) and the KV transfers.
 * Both sections appear only when the pools carry roles or a request was disaggregated, so runs without P/D keep
 * their summary as it was.
 */
import type { SimResult } from "../cluster/engine.ts";
import { ROLE_LABEL } from "../policies/epp/filters.ts";

/** One role's replicas, summed (busy fraction: their mean). */
export interface RoleSummary {
  replicas: number;
  /** Requests these replicas decoded (routed to them as the decode / only target). */
  requests: number;
  /** Prefill legs they ran for requests decoded elsewhere. */
  prefill_requests: number;
  /** Prompt tokens they computed. */
  prefill_tokens: number;
  /** Output tokens they produced for clients. */
  decode_tokens: number;
  /** Mean fraction of the run their engines were busy. */
  busy_fraction: number;
}

export interface KvTransferSummary {
  link: string;
  bandwidth_gb_s: number;
  latency_us: number;
  transfers: number;
  /** Bytes moved per TP rank (ranks move their shards in parallel). */
  bytes: number;
  mean_ms: number;
  p95_ms: number;
}

/** Role of each replica ("none" for a pod without the label), or undefined when no pool carries roles. */
export function replicaRoles(res: SimResult): string[] | undefined {
  if (!res.pools.some((p) => p.labels?.[ROLE_LABEL] !== undefined) && res.pd.transfers === 0) return undefined;
  const roles: string[] = [];
  for (const p of res.pools) {
    const role = p.labels?.[ROLE_LABEL] ?? "none";
    for (let i = 0; i < p.replicas; i++) roles.push(role);
  }
  return roles;
}

/** The `roles` and `kv_transfer` sections (undefined when the run has no P/D). */
export function pdSummary(
  res: SimResult,
  routed: readonly number[],
): { roles: Record<string, RoleSummary>; kv_transfer: KvTransferSummary } | undefined {
  const roles = replicaRoles(res);
  if (roles === undefined) return undefined;
  const out: Record<string, RoleSummary> = {};
  for (const r of res.replicas) {
    const name = roles[r.index]!;
    const s = (out[name] ??= {
      replicas: 0,
      requests: 0,
      prefill_requests: 0,
      prefill_tokens: 0,
      decode_tokens: 0,
      busy_fraction: 0,
    });
    s.replicas++;
    s.requests += routed[r.index]!;
    s.prefill_requests += res.pd.prefillLegs[r.index]!;
    s.prefill_tokens += r.counters.prefillTokens;
    s.decode_tokens += r.counters.outputTokens;
    s.busy_fraction += res.endTime > 0 ? r.counters.busyTime / res.endTime : 0;
  }
  for (const s of Object.values(out)) s.busy_fraction /= s.replicas;
  const pd = res.pd;
  const times = Float64Array.from(pd.times).sort();
  let sum = 0;
  for (const t of times) sum += t;
  const p95 = times.length > 0 ? times[Math.min(times.length - 1, Math.ceil(0.95 * times.length) - 1)]! : 0;
  return {
    roles: out,
    kv_transfer: {
      link: pd.link.link,
      bandwidth_gb_s: pd.link.bandwidthBytesPerS / 1e9,
      latency_us: pd.link.latencyS * 1e6,
      transfers: pd.transfers,
      bytes: pd.bytes,
      mean_ms: times.length > 0 ? (sum / times.length) * 1000 : 0,
      p95_ms: p95 * 1000,
    },
  };
}
