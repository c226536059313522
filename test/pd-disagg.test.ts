// P/D disaggregation (issue 13, deliverable 3): a disaggregated request prefills on the prefill pod, its KV moves to
// the decode pod (bytes ÷ bandwidth + latency, inside TTFT), and the decode pod computes the last prompt token and
// decodes. One request's timeline by hand; properties of llm-d's pd-epp-config on 2 prefill + 4 decode pods.
import { describe, expect, it } from "vitest";
import { type DecisionRecord, simulate } from "../src/cluster/engine.ts";
import { InputError } from "../src/errors.ts";
import { analyzeRuns } from "../src/lab/compare.ts";
import { runScenario } from "../src/lab/run.ts";
import { summarize } from "../src/metrics/summary.ts";
import { kvBytesPerTokenPerRank } from "../src/models/kv-capacity.ts";
import { kvTransferLink } from "../src/models/kv-transfer.ts";
import { picked, pickedPd } from "../src/policies/common.ts";
import type { RouteResult, Router } from "../src/policies/types.ts";
import { formatComparison } from "../src/report/compare.ts";
import { formatRun } from "../src/report/text.ts";
import { type LoadedScenario, loadScenario, parseScenario } from "../src/scenario.ts";
import { Outcome } from "../src/sim/request.ts";
import { listSource, pool, req, toyCost } from "./helpers/sim.ts";

/** Every request: prefill on replica 0, decode on replica 1. */
class FixedPd implements Router {
  readonly name = "fixed-pd";
  route(): RouteResult {
    return pickedPd(1, 0);
  }
}

const opts = { seed: 1, scrapeIntervalS: 0.05, kvEventDelayS: 0, sampleIntervalS: 1 };

describe("one disaggregated request, by hand", () => {
  it("prefill on P, KV transfer, last prompt token and decode on D", () => {
    // step = 10 ms + 0.1 ms / prefill token + 1 ms / decode request; pre-queue 5 ms, 0.2 ms / output token, 0.7 ms
    // after the last one.
    const cost = toyCost(0.01, 0.0001, 0.001, { preQueue: 0.005, perOutputToken: 0.0002, postDecode: 0.0007 });
    // Llama-3.1-8B KV: 32 layers × 2·8·128 elements × 2 B = 131,072 B per token (TP 1).
    const perToken = kvBytesPerTokenPerRank("llama-3.1-8b-instruct", 1);
    expect(perToken).toBe(131072);
    const pools = [
      pool(cost, { name: "prefill", kvBytesPerToken: perToken, labels: { "llm-d.ai/role": "prefill" } }),
      pool(cost, { name: "decode", kvBytesPerToken: perToken, labels: { "llm-d.ai/role": "decode" } }),
    ];
    const link = kvTransferLink({ link: "rdma" }); // 50 GB/s, 50 µs
    const res = simulate(pools, listSource([req(0, 0, 1000, 5)]), new FixedPd(), { ...opts, kvTransfer: link });
    const r = res.records;
    const [P, D] = res.replicas;
    // P: enqueued at 5 ms (pre-queue), one prefill step of 1,000 tokens: 10 + 100 = 110 ms → ends at 115 ms.
    expect(r.enqueue[0]).toBeCloseTo(0.005, 12);
    expect(r.admit[0]).toBeCloseTo(0.005, 12);
    // The prefill leg's one token goes back to the sidecar: + 0.2 ms (token) + 0.7 ms (end of response) = 115.9 ms;
    // the decode leg enters D's queue 5 ms later, at 120.9 ms, and D admits it at once with 63 blocks to read.
    // Transfer: 63 blocks × 16 tokens × 131,072 B = 132,120,576 B ÷ 50e9 B/s = 2.64241152 ms, + 50 µs = 2.69241152 ms.
    expect(res.pd.transfers).toBe(1);
    expect(res.pd.bytes).toBe(132120576);
    expect(res.pd.times[0]! * 1000).toBeCloseTo(2.69241152, 9);
    // KV in at 123.59241152 ms; D computes the last prompt token: 10 + 0.1 = 10.1 ms → first token at 133.69241152 ms;
    // the client sees it 0.2 ms later: TTFT 133.89241152 ms (P's prefill, the hand-off and the transfer inside it).
    expect((r.firstToken[0]! - r.arrival[0]!) * 1000).toBeCloseTo(133.89241152, 9);
    // 4 decode steps of 11 ms on D; completion = last token + 5 × 0.2 ms + 0.7 ms = 179.39241152 ms.
    expect((r.completion[0]! - r.arrival[0]!) * 1000).toBeCloseTo(179.39241152, 9);
    expect(r.outcome[0]).toBe(Outcome.Completed);
    expect(r.output[0]).toBe(5);
    expect(r.replica[0]).toBe(1);
    // Work: P computed the prompt and nothing else; D computed one prompt token (vLLM recomputes the last one to get
    // the logits) and the 4 decode tokens; the client's 5 tokens all come from D.
    expect(P!.counters.prefillTokens).toBe(1000);
    expect(P!.counters.decodeTokens).toBe(0);
    expect(P!.counters.outputTokens).toBe(0);
    expect(D!.counters.prefillTokens).toBe(1);
    expect(D!.counters.decodeTokens).toBe(4);
    expect(D!.counters.outputTokens).toBe(5);
    // Both prefix caches hold the prompt's 62 full blocks; P freed its blocks after the transfer, D at completion.
    expect(P!.kv.cachedBlocks).toBe(62);
    expect(D!.kv.cachedBlocks).toBe(62);
    expect(P!.kv.usedBlocks).toBe(0);
    expect(D!.kv.usedBlocks).toBe(0);
    const s = summarize(res);
    expect(s.roles?.prefill).toMatchObject({ replicas: 1, requests: 0, prefill_requests: 1, prefill_tokens: 1000 });
    expect(s.roles?.decode).toMatchObject({ replicas: 1, requests: 1, prefill_tokens: 1, decode_tokens: 5 });
    expect(s.kv_transfer).toMatchObject({ link: "rdma", bandwidth_gb_s: 50, transfers: 1, bytes: 132120576 });
    expect(s.kv_transfer!.mean_ms).toBeCloseTo(2.69241152, 9);
  });

  it("a second request with the same prompt hits D's cache: only the blocks D lacks move", () => {
    const cost = toyCost();
    const pools = [pool(cost, { kvBytesPerToken: 1000 }), pool(cost, { name: "d", kvBytesPerToken: 1000 })];
    const shared = { id: 4242, tokens: 800 };
    const res = simulate(pools, listSource([req(0, 0, 1000, 2, shared), req(1, 5, 1000, 2, shared)]), new FixedPd(), {
      ...opts,
      kvTransfer: kvTransferLink({ bandwidth_gb_s: 1, latency_us: 0 }),
    });
    // First: 63 blocks; second: D holds the 50 shared blocks, so 63 − 50 = 13 blocks of 16 tokens × 1,000 B.
    expect(res.pd.bytes).toBe((63 + 13) * 16 * 1000);
    expect(res.pd.times[1]).toBeCloseTo((13 * 16 * 1000) / 1e9, 15);
    // The client's cached tokens are the prefill pod's (the sidecar reports them): 800 on P for the second.
    expect(res.records.cached[1]).toBe(800);
  });

  it("a prefill pick on the decode pod itself is not disaggregated", () => {
    const res = simulate([pool(toyCost())], listSource([req(0, 0, 100, 3)]), new RoundRobinSelfPd(), opts);
    expect(res.pd.transfers).toBe(0);
    expect(res.replicas[0]!.counters.prefillTokens).toBe(100);
  });
});

/** The engine treats pickedPd(r, r) like picked(r). */
class RoundRobinSelfPd implements Router {
  readonly name = "self-pd";
  route(): RouteResult {
    return pickedPd(0, 0);
  }
}

describe("routing decisions stay allocation-free", () => {
  it("pickedPd returns one shared frozen object per (decode, prefill) pair", () => {
    expect(pickedPd(3, 1)).toBe(pickedPd(3, 1));
    expect(Object.isFrozen(pickedPd(3, 1))).toBe(true);
    expect(pickedPd(3, 1)).toEqual({ replica: 3, prefill: 1 });
    expect(picked(3).prefill).toBeUndefined();
  });
});

const PD_EPP = "../shared/data/epp-configs/llm-d-router/deploy_pd-epp-config.yaml";

function shortScenario(durationS: number): LoadedScenario {
  const loaded = loadScenario("scenarios/pd-disagg.yaml");
  return { ...loaded, scenario: { ...loaded.scenario, duration_s: durationS } };
}

describe("llm-d's pd-epp-config on 2 prefill + 4 decode pods (scenarios/pd-disagg.yaml)", () => {
  const decisions: DecisionRecord[] = [];
  const out = runScenario(shortScenario(20), { eppConfig: PD_EPP, onDecision: (d) => decisions.push(d) });
  const { result: res, summary } = out;
  const rec = res.records;
  const roleOf = (i: number) => (i < 2 ? "prefill" : "decode");

  it("disaggregates the long prompts: prefill legs on prefill pods, decode on decode pods", () => {
    const pdOf = new Map<number, number>();
    for (const d of decisions)
      if (!d.result.refused && d.result.prefill !== undefined) pdOf.set(d.id, d.result.prefill);
    expect(pdOf.size).toBeGreaterThan(20);
    expect(res.pd.transfers).toBe(pdOf.size);
    for (const [id, p] of pdOf) {
      expect(roleOf(p)).toBe("prefill");
      expect(roleOf(rec.replica[id]!)).toBe("decode");
    }
    expect(summary.preemptions).toBe(0); // (the token accounting below assumes no recompute)
    // Per replica, exactly: a prefill pod computes the uncached prompt of its prefill legs (the client's cached
    // tokens are the prefill pod's) and decodes nothing; a decode pod computes one prompt token per disaggregated
    // request (the last one, recomputed for its logits) plus the uncached prompt of requests it runs whole.
    const want = new Float64Array(res.replicas.length);
    for (let id = 0; id < rec.size; id++) {
      const p = pdOf.get(id);
      if (p !== undefined) {
        want[p]! += rec.input[id]! - rec.cached[id]!;
        want[rec.replica[id]!]! += 1;
      } else want[rec.replica[id]!]! += rec.input[id]! - rec.cached[id]!;
    }
    for (const r of res.replicas) {
      expect(r.counters.prefillTokens, r.name).toBe(want[r.index]);
      if (roleOf(r.index) === "prefill") {
        expect(r.counters.decodeTokens, r.name).toBe(0);
        expect(r.counters.outputTokens, r.name).toBe(0);
        expect(summary.replicas[r.index]!.decode_tokens).toBe(0);
      }
    }
    expect(summary.roles?.prefill?.prefill_requests).toBe(pdOf.size);
    expect(summary.roles?.decode?.decode_tokens).toBe(summary.output_tokens);
  });

  it("every request completes once, after its transfer", () => {
    expect(summary.requests.completed).toBe(rec.size);
    for (let id = 0; id < rec.size; id++) {
      expect(rec.outcome[id]).toBe(Outcome.Completed);
      expect(rec.firstToken[id]!).toBeGreaterThan(rec.dispatch[id]!);
      expect(rec.completion[id]!).toBeGreaterThanOrEqual(rec.firstToken[id]!);
    }
    // No KV block is left held on any pod.
    for (const r of res.replicas) expect(r.kv.usedBlocks, r.name).toBe(0);
    // TTFT p50 includes at least one transfer of a ≥ 4k-token prompt (≥ 4,000 × 131,072 B ÷ 50 GB/s ≈ 10.5 ms).
    expect(summary.kv_transfer!.mean_ms).toBeGreaterThan(10);
    expect(summary.ttft_ms.p50).toBeGreaterThan(summary.kv_transfer!.mean_ms);
  });

  it("is deterministic, and fast-forward changes nothing (stepping every replica gives the same summary)", () => {
    const again = runScenario(shortScenario(20), { eppConfig: PD_EPP }).summary;
    expect(JSON.stringify(again)).toBe(JSON.stringify(summary));
    const stepped = runScenario(shortScenario(20), { eppConfig: PD_EPP, fastForward: false, checkInvariants: true });
    expect(JSON.stringify(stepped.summary)).toBe(JSON.stringify(summary));
  });

  it("says so in the text report: the note, the per-role table and the transfers", () => {
    const text = formatRun("pd", summary);
    expect(text).toContain("P/D disaggregation simulated");
    expect(text).toMatch(/role \(llm-d\.ai\/role\)/);
    expect(text).toMatch(/\nprefill +2 +0 +\d/);
    expect(text).toMatch(/KV transfers: [\d,]+, .* GB per TP rank/);
  });

  it("compare shows the aggregated counterpart on the same pods and the per-role lines", () => {
    const loaded = shortScenario(20);
    const agg = runScenario(loaded, { eppConfig: "scenarios/epp/llm-d-pd-aggregated.yaml" });
    expect(agg.result.pd.transfers).toBe(0);
    // Aggregated: every request runs whole on the pod it was routed to, whatever its role label.
    const roles = Object.values(agg.summary.roles ?? {});
    expect(roles.reduce((n, x) => n + x.requests, 0)).toBe(agg.result.records.size);
    expect(roles.every((x) => x.prefill_requests === 0)).toBe(true);
    const text = formatComparison(analyzeRuns(loaded, [out, agg], 42));
    expect(text).toMatch(/roles: deploy_pd-epp-config\.yaml: prefill ×2: 0 decoded, \d+ prefill legs/);
    expect(text).toMatch(/roles: llm-d-pd-aggregated\.yaml: .*no KV transfer \(aggregated\)/);
  });
});

describe("configuration errors", () => {
  it("a P/D config on pools without roles exits 2 (InputError), naming the filter", () => {
    expect(() => runScenario(loadScenario(), { eppConfig: "scenarios/epp/llm-d-pd.yaml" })).toThrow(
      /filter "prefill-filter".*keeps no replica/,
    );
    expect(() => runScenario(loadScenario(), { eppConfig: "scenarios/epp/llm-d-pd.yaml" })).toThrow(InputError);
  });

  it("kv_transfer is validated: unknown link, non-positive bandwidth, unknown field", () => {
    const base =
      "pools: [{ model: llama-3.1-8b-instruct, replicas: 1 }]\nrequests: 1\nworkload: { type: poisson, rate: 1, input: 100, output: 10 }\n";
    expect(() => parseScenario(`${base}kv_transfer: { link: pcie }\n`, "s.yaml", ".")).toThrow(
      /s\.yaml:4: kv_transfer\.link: expected one of rdma, nvlink/,
    );
    expect(() => parseScenario(`${base}kv_transfer: { bandwidth_gb_s: 0 }\n`, "s.yaml", ".")).toThrow(
      /kv_transfer\.bandwidth_gb_s/,
    );
    expect(() => parseScenario(`${base}kv_transfer: { latency_ms: 1 }\n`, "s.yaml", ".")).toThrow(
      /kv_transfer\.latency_ms: unknown field "latency_ms".*latency_us/,
    );
    const nv = kvTransferLink(
      parseScenario(`${base}kv_transfer: { link: nvlink }\n`, "s.yaml", ".").scenario.kv_transfer,
    );
    expect(nv.link).toBe("nvlink");
    expect(nv.bandwidthBytesPerS).toBe(450e9);
    expect(nv.latencyS).toBeCloseTo(50e-6, 15);
  });
});
