import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { buildPools } from "../src/lab/pools.ts";
import { runScenario } from "../src/lab/run.ts";
import { loadScenario, parseScenario } from "../src/scenario.ts";

const LORA_HEAVY = resolve(import.meta.dirname, "../scenarios/lora-heavy.yaml");

describe("lora-heavy scenario: 48 Zipf adapters, 8 GPU slots per replica", () => {
  const loaded = loadScenario(LORA_HEAVY);
  const affinity = runScenario(loaded).summary; // the scenario's EPP config with lora-affinity-scorer
  const rr = runScenario(loaded, { policy: "round-robin" }).summary;

  it("lora-affinity-scorer loads fewer adapters and cuts TTFT p95 against round-robin", () => {
    expect(affinity.requests.completed).toBe(affinity.requests.total);
    expect(rr.requests.completed).toBe(rr.requests.total);
    expect(affinity.lora.loads).toBeLessThan(rr.lora.loads * 0.8);
    expect(affinity.lora.delayed_requests).toBeLessThan(rr.lora.delayed_requests);
    expect(affinity.ttft_ms.p95).toBeLessThan(rr.ttft_ms.p95 / 2);
    expect(affinity.goodput.fraction).toBeGreaterThan(rr.goodput.fraction);
  });

  it("reports adapter loads, load time and delayed requests per replica and for the cluster", () => {
    const sum = (f: (r: (typeof rr.replicas)[number]) => number) => rr.replicas.reduce((a, r) => a + f(r), 0);
    expect(sum((r) => r.lora!.loads)).toBe(rr.lora.loads);
    expect(sum((r) => r.lora!.delayed_requests)).toBe(rr.lora.delayed_requests);
    expect(sum((r) => r.lora!.load_time_s)).toBeCloseTo(rr.lora.load_time_s, 9);
    expect(rr.lora.disk_loads).toBeLessThanOrEqual(rr.lora.loads);
    // Each load costs at least the fitted host → GPU latency of a rank-8 adapter minus its transfer.
    expect(rr.lora.load_time_s / rr.lora.loads).toBeGreaterThan(0.006);
  });

  it("reserves GPU memory for the adapter slots when the KV cache size is derived", () => {
    const s = loaded.scenario;
    const withLora = buildPools(s)[0]!.engine.numGpuBlocks;
    const { max_loras: _a, max_cpu_loras: _b, max_lora_rank: _c, ...engine } = s.pools[0]!.engine;
    const { lora: _l, ...rest } = s.pools[0]!;
    const without = buildPools({ ...s, pools: [{ ...rest, engine }] })[0]!.engine.numGpuBlocks;
    // 8 slots × rank 16 × all 7 projections of Llama-3.1-8B (81,920 features × 32 layers × 2 B per rank) ≈ 671 MB;
    // a 16-token block holds 2 MiB of KV: 320 blocks.
    expect(without - withLora).toBe(Math.ceil((8 * 16 * 81_920 * 32 * 2) / (16 * 131_072)));
  });
});

describe("bad adapter settings name the field", () => {
  const base = (engine: string, lora = "") => `
pools:
  - model: llama-3.1-8b-instruct
    replicas: 1
    engine: {${engine}}
${lora}
workload: {type: poisson, rate: 1, input: 100, output: 10}
requests: 10
`;
  const err = (text: string) => {
    try {
      parseScenario(text, "s.yaml", ".");
    } catch (e) {
      return (e as Error).message;
    }
    return "no error";
  };
  it("max_cpu_loras below max_loras", () => {
    expect(err(base("max_loras: 4, max_cpu_loras: 2"))).toMatch(
      /s\.yaml:5: pools\.0\.engine\.max_cpu_loras: must be ≥ max_loras \(4\)/,
    );
  });
  it("max_lora_rank not one of vLLM's", () => {
    expect(err(base("max_loras: 4, max_lora_rank: 12"))).toMatch(
      /pools\.0\.engine\.max_lora_rank: expected one of vLLM's max_lora_rank values 1, 8, 16/,
    );
  });
  it("LoRA knobs without max_loras", () => {
    expect(err(base("max_cpu_loras: 4"))).toMatch(/pools\.0\.engine\.max_cpu_loras: needs max_loras/);
    expect(err(base("max_num_seqs: 8", "    lora: {default_rank: 8}"))).toMatch(
      /pools\.0\.lora: needs engine\.max_loras/,
    );
  });
  it("an adapter rank above max_lora_rank", () => {
    expect(err(base("max_loras: 2, max_lora_rank: 16", "    lora: {adapters: {big: 64}}"))).toMatch(
      /pools\.0\.lora\.adapters\.big: rank 64 exceeds engine\.max_lora_rank 16/,
    );
  });
  it("an unknown target module or field", () => {
    expect(err(base("max_loras: 2", "    lora: {target_modules: [qkv]}"))).toMatch(/pools\.0\.lora\.target_modules\.0/);
    expect(err(base("max_loras: 2", "    lora: {ranks: {a: 8}}"))).toMatch(
      /pools\.0\.lora\.ranks: unknown field "ranks"/,
    );
  });
});
