import { describe, expect, it } from "vitest";
import { simulate } from "../src/cluster/engine.ts";
import { summarize } from "../src/metrics/summary.ts";
import { RoundRobinRouter } from "../src/policies/routers/round-robin.ts";
import { Outcome } from "../src/sim/request.ts";
import { listSource, pool, req, toyCost } from "./helpers/sim.ts";

const opts = { seed: 1, scrapeIntervalS: 0.05, kvEventDelayS: 0, sampleIntervalS: 1 };

describe("one request on an idle replica", () => {
  it("TTFT = overheads + one prefill step; E2E adds the decode steps", () => {
    // step = 10 ms + 0.1 ms/prefill token + 1 ms/decode request
    const cost = toyCost(0.01, 0.0001, 0.001, { preQueue: 0.005, perOutputToken: 0.0002, postDecode: 0.0007 });
    const res = simulate([pool(cost)], listSource([req(0, 1.0, 1000, 11)]), new RoundRobinRouter(), opts);
    const r = res.records;
    // prefill step: 10 + 0.1·1000 = 110 ms; TTFT = 5 (pre-queue) + 110 + 0.2 (first token) = 115.2 ms
    expect((r.firstToken[0]! - r.arrival[0]!) * 1000).toBeCloseTo(115.2, 9);
    // 10 decode steps of 11 ms, each token +0.2 ms, then 0.7 ms post-decode:
    // E2E = 5 + 110 + 10·11 + 11·0.2 + 0.7 = 227.9 ms
    expect((r.completion[0]! - r.arrival[0]!) * 1000).toBeCloseTo(227.9, 9);
    expect(r.outcome[0]).toBe(Outcome.Completed);
    expect(r.output[0]).toBe(11);
    const s = summarize(res);
    expect(s.itl_ms.mean).toBeCloseTo(11.2, 9);
    expect(s.itl_ms.p99).toBeCloseTo(11.2, 9);
    // TPOT = (E2E − TTFT) / (n − 1) includes the post-decode overhead: (227.9 − 115.2) / 10
    expect(s.tpot_ms.mean).toBeCloseTo(11.27, 9);
    expect(s.queue_ms.mean).toBeCloseTo(5, 9);
  });

  it("chunks a long prompt by max_num_batched_tokens", () => {
    const cost = toyCost(0.01, 0.0001, 0.001);
    const res = simulate(
      [pool(cost, {}, { maxNumBatchedTokens: 2048 })],
      listSource([req(0, 0, 5000, 2)]),
      new RoundRobinRouter(),
      opts,
    );
    // chunks 2048 + 2048 + 904: (10 + 204.8) + (10 + 204.8) + (10 + 90.4) = 530 ms
    expect(res.records.firstToken[0]! * 1000).toBeCloseTo(530, 9);
    // one decode step of 11 ms
    expect(res.records.completion[0]! * 1000).toBeCloseTo(541, 9);
  });
});

describe("prefix caching", () => {
  it("the second of two requests sharing a 1,024-token prefix gets 1,024 cached tokens", () => {
    const cost = toyCost();
    const shared = { id: 777, tokens: 1024 };
    const res = simulate(
      [pool(cost)],
      listSource([req(0, 0, 1500, 5, shared), req(1, 5, 1300, 5, shared)]),
      new RoundRobinRouter(),
      opts,
    );
    expect(res.records.cached[0]).toBe(0);
    expect(res.records.cached[1]).toBe(1024);
    const s = summarize(res);
    expect(s.prefix_cache_hit_rate).toBeCloseTo(1024 / 2800, 12);
  });

  it("a fully cached prompt still computes its last token (at most prompt − 1 tokens hit)", () => {
    const shared = { id: 9, tokens: 1024 };
    const res = simulate(
      [pool(toyCost())],
      listSource([req(0, 0, 1024, 2, shared), req(1, 5, 1024, 2, shared)]),
      new RoundRobinRouter(),
      opts,
    );
    // 1024 = 64 full blocks; the last block is recomputed, so 63 blocks = 1008 tokens hit.
    expect(res.records.cached[1]).toBe(1008);
  });
});
