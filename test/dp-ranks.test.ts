// Data-parallel ranks (issue 13, deliverable 4): a pool's `data_parallel_size: N` makes each pod N engine ranks; the
// router sees ranks (data-parallel-profile-handler, or `data_parallel_endpoints: ranks`) or one endpoint per pod, where
// vLLM's internal DP balancer picks the rank. Hand-checked balancer picks, where requests go, conservation,
// determinism, and data_parallel_size 1 changing nothing.
import { describe, expect, it } from "vitest";
import type { DecisionRecord } from "../src/cluster/engine.ts";
import { InputError } from "../src/errors.ts";
import { runScenario } from "../src/lab/run.ts";
import { DpBalancer } from "../src/models/dp-balancer.ts";
import { loadScenario, parseScenario } from "../src/scenario.ts";
import { Outcome } from "../src/sim/request.ts";

describe("vLLM's DP balancer (DPLBAsyncMPClient.get_core_engine_for_request)", () => {
  it("picks the lowest max(inflight, waiting + running) + waiting·6·max(0, kv − 0.5), scanning from a rotating start", () => {
    const b = new DpBalancer(8, 3); // a pod whose ranks are replicas 8, 9, 10
    // Coordinator snapshot [waiting, running, kv_cache_usage] per rank.
    b.setSnapshot(0, 2, 3, 0.9, 0); // 5 + 2·6·0.4 = 9.8
    b.setSnapshot(1, 0, 6, 0.95, 0); // 6 (no queue: no KV penalty)
    b.setSnapshot(2, 1, 4, 0.5, 0); // 5 + 1·6·0 = 5
    expect(b.pickRank()).toBe(2);
    // Rank 2's snapshot waiting is now 2 (local increment), its in-flight 1; the scan starts at rank 1:
    // rank 1: 6; rank 2: max(1, 2 + 4) = 6, not strictly lower; rank 0: 9.8 → rank 1.
    expect(b.pickRank()).toBe(1);
    // Start 2: rank 2: 6; rank 0: 9.8; rank 1: max(1, 1 + 6) + 1·6·0.45 = 9.7 → rank 2.
    expect(b.pickRank()).toBe(2);
    expect(b.inFlight(2)).toBe(2);
    expect(b.inFlight(1)).toBe(1);
    b.done(10);
    expect(b.inFlight(2)).toBe(1);
  });

  it("is round-robin on idle ranks (ties: the rotating scan start)", () => {
    const b = new DpBalancer(0, 4);
    for (let i = 0; i < 4; i++) b.setSnapshot(i, 0, 0, 0, 0);
    const picks = Array.from({ length: 8 }, () => b.pickRank());
    expect(picks).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
  });
});

/** The dp-ranks scenario, shortened, with `over` appended to the pool. */
function scenario(pool: string, duration = 15) {
  const text = `
name: dp-test
seed: 7
duration_s: ${duration}
pools:
  - name: main
    model: llama-3.1-8b-instruct
    gpu: H100
    replicas: 2
    engine: { total_kv_blocks: 3000 }
${pool}
gateway: { epp_config: epp/llm-d-dp.yaml, scrape_interval_ms: 50 }
workload:
  type: shared-prefix
  shared_prefix: { num_groups: 32, num_prompts_per_group: 8, system_prompt_len: 2000, question_len: 200, output_len: 60 }
  stages: [{ rate: 20, duration: ${duration} }]
  load_type: poisson
`;
  return parseScenario(text, "dp.yaml", "scenarios");
}

function run(pool: string, eppConfig?: string) {
  const decisions: DecisionRecord[] = [];
  const out = runScenario(scenario(pool), {
    onDecision: (d) => decisions.push({ ...d, result: { ...d.result }, candidates: [...d.candidates] }), // results are reused
    ...(eppConfig !== undefined ? { eppConfig } : {}),
  });
  return { out, decisions };
}

describe("routing to data-parallel ranks", () => {
  it("data-parallel-profile-handler: every rank is an endpoint and the pick is the rank that runs the request", () => {
    const { out, decisions } = run("    data_parallel_size: 4");
    const rec = out.result.records;
    expect(out.result.replicas.length).toBe(8);
    expect(decisions.length).toBeGreaterThan(200);
    for (const d of decisions) {
      expect(d.candidates.map((c) => c.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      expect(d.result.refused).toBeFalsy();
      if (!d.result.refused) expect(rec.replica[d.id]).toBe(d.result.replica);
    }
    // The prefix scorer spreads the 32 groups over ranks: every rank of both pods gets work.
    const routed = new Set(decisions.map((d) => rec.replica[d.id]));
    expect(routed.size).toBe(8);
  });

  it("one endpoint per pod: the router sees rank 0 of each pod, vLLM's balancer places the request within the pod", () => {
    const { out, decisions } = run("    data_parallel_size: 4", "scenarios/epp/llm-d-dp-pod.yaml");
    const rec = out.result.records;
    const ranksUsed = new Set<number>();
    for (const d of decisions) {
      expect(d.candidates.map((c) => c.index)).toEqual([0, 4]);
      if (d.result.refused) throw new Error("refused");
      const ep = d.result.replica;
      const r = rec.replica[d.id]!;
      expect(r).toBeGreaterThanOrEqual(ep);
      expect(r).toBeLessThan(ep + 4);
      ranksUsed.add(r);
    }
    expect(ranksUsed.size).toBe(8);
  });

  it("data_parallel_endpoints: ranks exposes the ranks to a router without the DP profile handler", () => {
    const { decisions } = run(
      "    data_parallel_size: 2\n    data_parallel_endpoints: ranks",
      "scenarios/epp/llm-d-dp-pod.yaml",
    );
    for (const d of decisions) expect(d.candidates.length).toBe(4);
  });

  it("conserves requests, is deterministic, and rank-aware routing beats pod-level on prefix-cache hits", () => {
    const a = run("    data_parallel_size: 4");
    const b = run("    data_parallel_size: 4");
    expect(JSON.stringify(b.out.summary)).toBe(JSON.stringify(a.out.summary));
    const pod = run("    data_parallel_size: 4", "scenarios/epp/llm-d-dp-pod.yaml");
    for (const o of [a.out, pod.out]) {
      const rec = o.result.records;
      const n = o.summary.requests.total;
      expect(n).toBe(a.out.summary.requests.total); // the same stream
      let completed = 0;
      const perReplica = new Array<number>(8).fill(0);
      for (let i = 0; i < n; i++) {
        if (rec.outcome[i] === Outcome.Completed) completed++;
        perReplica[rec.replica[i]!]!++;
      }
      expect(completed).toBe(n);
      expect(perReplica.reduce((x, y) => x + y, 0)).toBe(n);
    }
    expect(a.out.summary.prefix_cache_hit_rate).toBeGreaterThan(pod.out.summary.prefix_cache_hit_rate + 0.1);
  });

  it("data_parallel_size: 1 changes nothing", () => {
    const plain = runScenario(scenario(""));
    const one = runScenario(scenario("    data_parallel_size: 1"));
    expect(JSON.stringify(one.summary)).toBe(JSON.stringify(plain.summary));
  });

  it("bad DP knobs are input errors naming the field", () => {
    expect(() => scenario("    data_parallel_endpoints: ranks")).toThrow(
      /data_parallel_endpoints.*data_parallel_size > 1/,
    );
    expect(() => scenario("    data_parallel_size: 0")).toThrow(InputError);
    expect(() => scenario("    data_parallel_size: 1.5")).toThrow(/data_parallel_size/);
  });

  it("the shipped scenario loads", () => {
    const s = loadScenario("scenarios/dp-ranks.yaml");
    expect(s.scenario.pools[0]!.data_parallel_size).toBe(4);
  });
});
