/** Human-readable reports of one run. */
import type { RunSummary } from "../metrics/summary.ts";
import { fmtNum, fmtPct, renderTable } from "./table.ts";

export function formatRun(title: string, s: RunSummary): string {
  const out: string[] = [];
  out.push(title);
  out.push("");
  const d = (name: string, x: RunSummary["ttft_ms"]) => [name, x.mean, x.p50, x.p90, x.p95, x.p99];
  out.push(
    renderTable(
      ["latency (ms)", "mean", "p50", "p90", "p95", "p99"],
      [d("TTFT", s.ttft_ms), d("E2E", s.e2e_ms), d("ITL", s.itl_ms), d("TPOT", s.tpot_ms), d("queue", s.queue_ms)],
    ),
  );
  const r = s.requests;
  if (r.completed < r.total)
    out.push(
      r.completed === 0
        ? "(no request completed: there are no latencies to report)"
        : `(latencies of the ${fmtNum(r.completed)} completed requests only; ${fmtNum(r.total - r.completed)} of ${fmtNum(r.total)} were not served)`,
    );
  out.push("");
  out.push(
    `requests ${fmtNum(r.total)}: ${fmtNum(r.completed)} completed, ${fmtNum(r.rejected)} rejected, ${fmtNum(r.dropped)} dropped` +
      ` · ${fmtNum(s.throughput.requests_per_s)} req/s, ${fmtNum(s.throughput.output_tokens_per_s)} output tok/s over ${fmtNum(s.duration_s)} s`,
  );
  out.push(
    `prefix-cache hit rate ${fmtPct(s.prefix_cache_hit_rate)} (tokens), ${fmtPct(s.prefix_cache_hit_rate_blocks)} (blocks)` +
      ` · preemptions ${fmtNum(s.preemptions)} · recomputed tokens ${fmtNum(s.recomputed_tokens)} · load skew ${fmtNum(s.load_skew)}`,
  );
  for (const [reason, n] of Object.entries(s.rejections)) out.push(`  ${fmtNum(n)} × ${reason}`);
  const h = s.routing;
  out.push(
    h.findings.length === 0
      ? `routing: healthy (no replica under 10 % of its fair share; ${fmtNum(h.herded_windows)} of ${fmtNum(h.windows)} windows of ${h.window_s} s herded)`
      : `routing: ${h.findings.join("; ")}`,
  );
  for (const n of s.notes ?? []) out.push(`note: ${n}`);
  const flows = s.gateway.flows;
  if (flows !== undefined && Object.keys(flows).length > 0) {
    out.push("");
    out.push(
      renderTable(
        ["flow (tenant:priority)", "queued", "dispatched", "expired", "wait mean (ms)", "wait max (ms)"],
        Object.entries(flows).map(([k, f]) => [k, f.enqueued, f.dispatched, f.expired, f.wait_mean_ms, f.wait_max_ms]),
      ),
    );
  }
  out.push(...pdLines(s));
  out.push("");
  out.push(
    renderTable(
      ["replica", "routed", "done", "TTFT p50", "TTFT p95", "E2E p95", "hit rate", "preempt", "busy"],
      s.replicas.map((x) => [
        x.name,
        x.routed,
        x.requests.completed,
        x.ttft_ms.p50,
        x.ttft_ms.p95,
        x.e2e_ms.p95,
        fmtPct(x.prefix_cache_hit_rate),
        x.preemptions,
        fmtPct(x.busy_fraction),
      ]),
    ),
  );
  return out.join("\n");
}

/** P/D: the per-role table and the KV transfer line (nothing when the run has no roles). */
export function pdLines(s: RunSummary): string[] {
  if (s.roles === undefined) return [];
  const out = [""];
  out.push(
    renderTable(
      ["role (llm-d.ai/role)", "replicas", "decoded", "prefill legs", "prefill tok", "decode tok", "busy"],
      Object.entries(s.roles).map(([role, x]) => [
        role,
        x.replicas,
        x.requests,
        x.prefill_requests,
        x.prefill_tokens,
        x.decode_tokens,
        fmtPct(x.busy_fraction),
      ]),
    ),
  );
  const k = s.kv_transfer;
  if (k !== undefined) {
    out.push(
      k.transfers === 0
        ? `KV transfers: none (no request was disaggregated)`
        : `KV transfers: ${fmtNum(k.transfers)}, ${fmtNum(k.bytes / 1e9)} GB per TP rank, mean ${fmtNum(k.mean_ms)} ms, p95 ${fmtNum(k.p95_ms)} ms` +
            ` (${k.link}: ${fmtNum(k.bandwidth_gb_s)} GB/s, ${fmtNum(k.latency_us)} µs; inside TTFT)`,
    );
  }
  return out;
}
