/**
 * Today's vLLM engine semantics: priority scheduling (waiting order, preemption victim), async scheduling (a finished
 * request's slot is free one step late; without it the CPU work adds to each step), and the adapter / cache_salt
 * extra keys of the block hash, on hand-computed toy runs.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { simulate } from "../src/cluster/engine.ts";
import { DEFAULT_SYNC_CPU_OVERHEAD, SyncSchedulingCost } from "../src/models/async-scheduling.ts";
import { emptyBatch } from "../src/models/cost.ts";
import { Seq } from "../src/models/seq.ts";
import { RoundRobinRouter } from "../src/policies/routers/round-robin.ts";
import { blockHashes, promptBlockHashes, requestHashSeed } from "../src/sim/hash.ts";
import type { Request } from "../src/sim/request.ts";
import { GatelabJsonlReader, jsonlLine } from "../src/workloads/jsonl.ts";
import { listSource, pool, toyCost } from "./helpers/sim.ts";

const OPTS = { seed: 1, scrapeIntervalS: 0, kvEventDelayS: 0, sampleIntervalS: 1, checkInvariants: true };
const reqOf = (id: number, arrival: number, input: number, output: number, extra: Partial<Request> = {}): Request => ({
  id,
  arrival,
  prompt: [{ id: 100 + id, tokens: input }],
  inputTokens: input,
  outputTokens: output,
  ...extra,
});

describe("scheduling_policy: priority", () => {
  it("serves the waiting queue by (priority, arrival): a later critical request overtakes", () => {
    // One slot; r0 runs, r1 (standard) and r2 (critical, later) wait.
    const reqs = [reqOf(0, 0, 50, 5), reqOf(1, 0.001, 50, 5, { priority: 0 }), reqOf(2, 0.002, 50, 5, { priority: 1 })];
    const first = (policy: "fcfs" | "priority") => {
      const r = simulate(
        [pool(toyCost(), {}, { maxNumSeqs: 1, schedulingPolicy: policy })],
        listSource(reqs.slice()),
        new RoundRobinRouter(),
        OPTS,
      ).records;
      return [r.firstToken[1]!, r.firstToken[2]!] as const;
    };
    const [f1, f2] = first("fcfs");
    expect(f1).toBeLessThan(f2);
    const [p1, p2] = first("priority");
    expect(p2).toBeLessThan(p1);
    // Hand-computed: r0 = prefill 0.015 + 4 decodes of 0.011 → done at 0.059; r2 prefills 0.059 → 0.074.
    expect(p2).toBeCloseTo(0.074, 9);
  });

  it("preempts the lowest-priority, latest-arrived running request (fcfs: the last admitted)", () => {
    // 10 blocks of 4 tokens; three 8-token prompts (2 blocks each) decoding 20 tokens each must preempt.
    // Arrival (= admission) order C (sheddable), A (standard), B (critical).
    const mk = () => [
      reqOf(0, 0, 8, 20, { priority: -1 }), // C
      reqOf(1, 0, 8, 20, { priority: 0 }), // A
      reqOf(2, 0, 8, 20, { priority: 1 }), // B
    ];
    const pre = (policy: "fcfs" | "priority") => {
      const eng = { numGpuBlocks: 10, blockSize: 4, maxNumSeqs: 3, schedulingPolicy: policy, asyncScheduling: false };
      const r = simulate([pool(toyCost(), {}, eng)], listSource(mk()), new RoundRobinRouter(), OPTS).records;
      return [r.preemptions[0]!, r.preemptions[1]!, r.preemptions[2]!];
    };
    const fcfs = pre("fcfs");
    expect(fcfs[2]).toBeGreaterThan(0); // B, last admitted, is fcfs's victim
    expect(fcfs[0]).toBe(0);
    const prio = pre("priority");
    expect(prio[0]).toBeGreaterThan(0); // C, lowest priority, although it runs first
    expect(prio[2]).toBe(0); // B never
  });
});

describe("async_scheduling", () => {
  // Slots for two; A (2 tokens) and D (10 tokens) run, B waits for A's slot.
  const reqs = () => [reqOf(0, 0, 100, 2), reqOf(1, 0, 100, 10), reqOf(2, 0, 100, 3)];
  const firstTokenOfB = (async: boolean) => {
    const eng = { maxNumSeqs: 2, asyncScheduling: async, syncCpuOverhead: { perStep: 0, perRequest: 0 } };
    const r = simulate([pool(toyCost(), {}, eng)], listSource(reqs()), new RoundRobinRouter(), OPTS).records;
    return r.firstToken[2]!;
  };
  it("frees a finished request's slot only after the next step was scheduled", () => {
    // A arrives first and starts alone: step 1 = prefill A (0.01 + 100·0.0001) → 0.020; step 2 = decode A + prefill D
    // (0.01 + 0.001 + 0.01) → 0.041, A done. Off: step 3 = decode D + prefill B (0.021) → B's first token at 0.062.
    expect(firstTokenOfB(false)).toBeCloseTo(0.062, 9);
    // On: step 3 is formed while A's end is unprocessed: D alone (0.011) → 0.052; step 4 = D + B (0.021) → 0.073.
    expect(firstTokenOfB(true)).toBeCloseTo(0.073, 9);
  });

  it("a request arriving while step N runs joins step N+2 (N+1 was formed when N started); an idle engine starts at once", () => {
    const firstToken = (async: boolean, reqs: Request[]) => {
      const eng = { asyncScheduling: async, syncCpuOverhead: { perStep: 0, perRequest: 0 } };
      return simulate([pool(toyCost(), {}, eng)], listSource(reqs), new RoundRobinRouter(), OPTS).records.firstToken;
    };
    // A: prefill 0 → 0.020, then decode steps of 0.011 (0.020 → 0.031 → 0.042 → …). B arrives at 0.025, in step 2.
    const busy = () => [reqOf(0, 0, 100, 10), reqOf(1, 0.025, 100, 3)];
    // Off: step 3 (from 0.031) = decode A + prefill B (0.021) → 0.052.
    expect(firstToken(false, busy())[1]).toBeCloseTo(0.052, 9);
    // On: step 3 was formed at 0.020, before B came: A alone → 0.042; step 4 = A + B → 0.063.
    expect(firstToken(true, busy())[1]).toBeCloseTo(0.063, 9);
    // A done at 0.020 (one output token); B at 0.05 finds the engine idle: its prefill runs at once → 0.070.
    const idle = () => [reqOf(0, 0, 100, 1), reqOf(1, 0.05, 100, 3)];
    expect(firstToken(true, idle())[1]).toBeCloseTo(0.07, 9);
    expect(firstToken(false, idle())[1]).toBeCloseTo(0.07, 9);
  });

  it("off: every step also pays the CPU work async scheduling hides (default ≈ 5.4 ms at batch 256)", () => {
    const b = emptyBatch();
    b.decodeRequests = 256;
    const inner = toyCost(0.01, 0, 0);
    expect(new SyncSchedulingCost(inner).stepTime(b)).toBeCloseTo(0.01 + 0.0054, 12);
    expect(DEFAULT_SYNC_CPU_OVERHEAD.perRequest * 256).toBeCloseTo(0.0054, 12);
    const eng = { asyncScheduling: false, syncCpuOverhead: { perStep: 0.002, perRequest: 0 } };
    const r = simulate([pool(toyCost(), {}, eng)], listSource([reqOf(0, 0, 100, 1)]), new RoundRobinRouter(), OPTS);
    expect(r.records.firstToken[0]).toBeCloseTo(0.01 + 0.01 + 0.002, 12);
  });
});

describe("block hashes: LoRA adapter and cache_salt as extra keys", () => {
  const shared = (id: number, extra: Partial<Request>): Request => ({
    id,
    arrival: id * 0.5,
    prompt: [{ id: 42, tokens: 256 }],
    inputTokens: 256,
    outputTokens: 2,
    ...extra,
  });
  const cachedOfSecond = (a: Partial<Request>, b: Partial<Request>): number => {
    const r = simulate([pool(toyCost())], listSource([shared(0, a), shared(1, b)]), new RoundRobinRouter(), OPTS);
    return r.records.cached[1]!;
  };
  it("shares cached blocks only between requests of the same adapter and salt", () => {
    expect(cachedOfSecond({}, {})).toBe(240); // 15 full blocks of 16 (the last token is always computed)
    expect(cachedOfSecond({ adapter: "a" }, { adapter: "a" })).toBe(240);
    expect(cachedOfSecond({ adapter: "a" }, { adapter: "b" })).toBe(0);
    expect(cachedOfSecond({}, { adapter: "a" })).toBe(0);
    expect(cachedOfSecond({ cacheSalt: "t1" }, { cacheSalt: "t1" })).toBe(240);
    expect(cachedOfSecond({ cacheSalt: "t1" }, { cacheSalt: "t2" })).toBe(0);
    expect(cachedOfSecond({ cacheSalt: "t1" }, {})).toBe(0);
  });

  it("keeps the plain chain for requests without either, and the router's hashes equal the engine's", () => {
    const plain = shared(0, {});
    expect(requestHashSeed(undefined, undefined)).toBe(0);
    expect(promptBlockHashes(plain, 16)).toEqual(blockHashes(plain.prompt, 16));
    const salted = shared(1, { adapter: "a", cacheSalt: "x" });
    const h = promptBlockHashes(salted, 16);
    expect(new Seq(salted, 16, 1 << 20).hashes).toEqual(h);
    // Every block differs (chained), not only the first.
    const p = blockHashes(plain.prompt, 16);
    for (let i = 0; i < h.length; i++) expect(h[i]).not.toBe(p[i]);
    // Adapter and salt are separate keys: adapter "x" ≠ salt "x".
    expect(requestHashSeed("x", undefined)).not.toBe(requestHashSeed(undefined, "x"));
  });
});

describe("cache_salt in gatelab JSONL", () => {
  const dir = mkdtempSync(join(tmpdir(), "gatelab-salt-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it("is read and written", () => {
    const f = join(dir, "t.jsonl");
    writeFileSync(
      f,
      '{"arrival":0,"input_tokens":4,"output_tokens":1,"cache_salt":"tenant-a"}\n{"arrival":1,"input_tokens":4,"output_tokens":1,"cache_salt":7}\n',
    );
    const rd = new GatelabJsonlReader(f, "t.jsonl", 1);
    const d = rd.next()!;
    expect(d.cacheSalt).toBe("tenant-a");
    expect(jsonlLine({ ...d, id: 0 })).toContain('"cache_salt":"tenant-a"');
    expect(() => rd.next()).toThrow("t.jsonl:2: cache_salt: expected a string, got 7");
  });
});
