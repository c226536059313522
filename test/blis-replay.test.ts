/**
 * Validation against BLIS: replaying BLIS's exported request streams on 4 replicas with round-robin, BLIS's
 * trained-physics step times and overheads must reproduce BLIS's own latency figures
 * (../shared/data/blis-traces/README.md) within 5 %.
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../src/lab/run.ts";
import { loadScenario, parseScenario } from "../src/scenario.ts";

const DATA = new URL("../../shared/data/blis-traces/", import.meta.url);

function within(actual: number, expected: number, rel = 0.05): void {
  expect(Math.abs(actual - expected) / expected, `${actual} vs ${expected}`).toBeLessThanOrEqual(rel);
}

describe("BLIS request streams", () => {
  it("chat-r40 (Poisson 40 req/s): TTFT p50/p95 and E2E p50/p95 within 5 % of BLIS", () => {
    const out = runScenario(loadScenario(new URL("../scenarios/blis-chat-r40.yaml", import.meta.url).pathname));
    const s = out.summary;
    expect(s.requests.completed).toBe(10000);
    within(s.ttft_ms.p50, 28.6);
    within(s.ttft_ms.p95, 32.1);
    within(s.e2e_ms.p50, 2078);
    within(s.e2e_ms.p95, 2907);
    within(s.itl_ms.mean, 8.03);
  });

  it("rag-r80 (RAG + bursty mix, shared prefixes): the same, and the lookup-weighted hit rate BLIS's study estimates (≈0.82)", () => {
    const text = `name: rag
requests: 10000
pools:
  - model: llama-3.1-8b-instruct
    replicas: 4
    engine: { total_kv_blocks: 26312, async_scheduling: false, sync_cpu_overhead: { per_request_ms: 0 } }
    cost_model: { type: physics }
workload: { type: trace, format: blis, path: trace-rag-r80.csv }
`;
    const out = runScenario(parseScenario(text, "rag.yaml", DATA.pathname));
    const s = out.summary;
    within(s.ttft_ms.p50, 32.8);
    within(s.ttft_ms.p95, 38.7);
    within(s.e2e_ms.p50, 1969);
    within(s.e2e_ms.p95, 3866);
    within(s.prefix_cache_hit_rate, 0.82, 0.03);
  });
});
