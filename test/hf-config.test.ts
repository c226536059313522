/**
 * Hugging Face config.json parsing (catalog entries and a scenario's own file): architecture numbers, MoE / MLA /
 * sliding / chunked layers, quantization, KV capacity, and a clear error naming the field it cannot interpret.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../src/cli/main.ts";
import { getModel } from "../src/models/catalog.ts";
import { HfConfigError, parseHfConfig, readHfConfigFile } from "../src/models/hf-config.ts";
import { kvCapacity, kvCapacityLayers } from "../src/models/kv-capacity.ts";
import { captureOutput } from "./helpers/capture.ts";

const io = captureOutput();
const CONFIGS = new URL("../data/model-configs/", import.meta.url).pathname;
const read = (dir: string) =>
  JSON.parse(readFileSync(join(CONFIGS, dir, "config.json"), "utf8")) as Record<string, unknown>;
const names = { name: "t", hfId: "t", aliases: [], source: "test" };

describe("config.json → ModelSpec", () => {
  it("Qwen3-32B: dense GQA, head_dim from the file; parameters counted by hand", () => {
    const m = getModel("Qwen/Qwen3-32B");
    expect([m.numLayers, m.hiddenSize, m.numHeads, m.numKvHeads, m.headDim]).toEqual([64, 5120, 64, 8, 128]);
    // per layer: q 5120·8192 + k,v 2·5120·1024 + o 8192·5120 + MLP 3·5120·25600 + 2 norms; embeddings untied.
    const perLayer = 5120 * 8192 * 2 + 2 * 5120 * 1024 + 3 * 5120 * 25600 + 2 * 5120;
    expect(m.paramCount).toBe(64 * perLayer + 2 * 151936 * 5120 + 5120);
    expect(m.slidingLayers + m.chunkedLayers).toBe(0);
    expect(m.weightBytes).toBe(m.paramCount * 2);
  });

  it("gpt-oss-20b: MXFP4 experts at 4.25 bits, BF16 elsewhere; sliding window 128 on every other layer", () => {
    const m = getModel("openai/gpt-oss-20b");
    expect(m.quantization).toBe("mxfp4");
    expect(m.moe).toMatchObject({ numExperts: 32, expertsPerToken: 4, numMoeLayers: 24 });
    expect([m.slidingWindow, m.slidingLayers]).toEqual([128, 12]);
    const experts = 24 * 32 * 3 * 2880 * 2880;
    expect(m.weightBytes).toBeCloseTo((m.paramCount - experts) * 2 + (experts * 4.25) / 8, 0);
    expect(m.expertWeightBytesPerParam).toBe(4.25 / 8);
  });

  it("DeepSeek-V3: FP8 weights, MLA latent KV (512 + 64 per token and layer, not split by TP), 3 dense layers", () => {
    const m = getModel("deepseek-v3");
    expect(m.quantization).toBe("fp8");
    expect(m.kvElementsPerTokenPerLayer).toBe(576);
    expect(m.kvShardedAcrossTp).toBe(false);
    expect(m.moe).toMatchObject({ numExperts: 256, expertsPerToken: 8, numDenseLayers: 3, numMoeLayers: 58 });
    expect(m.paramCount / 1e9).toBeCloseTo(671, 0);
  });

  it("Llama-4-Maverick: MoE every 2nd layer, chunked attention on the RoPE layers (3 of 4)", () => {
    const m = getModel("llama-4-maverick");
    expect(m.moe).toMatchObject({ numMoeLayers: 24, numDenseLayers: 24 });
    expect([m.attentionChunkSize, m.chunkedLayers]).toEqual([8192, 36]);
  });

  it("Gemma-3-27B: text_config, 5 sliding : 1 global layers, vocab from transformers' default, tied embeddings", () => {
    const m = getModel("gemma-3-27b-it");
    expect([m.numLayers, m.slidingLayers, m.slidingWindow, m.vocabSize]).toEqual([62, 52, 1024, 262208]);
    expect(m.tieWordEmbeddings).toBe(true);
  });

  it("Qwen2.5-72B: sliding_window given but use_sliding_window false → full attention", () => {
    expect(getModel("qwen2.5-72b").slidingLayers).toBe(0);
  });
});

describe("KV capacity with sliding-window layers (vLLM hybrid KV-cache manager)", () => {
  it("gpt-oss-20b: one block stands for the 12 full-attention layers; TP 1 H100 capacity by hand", () => {
    const m = getModel("gpt-oss-20b");
    expect(kvCapacityLayers(m)).toBe(12);
    const cap = kvCapacity({ model: m, gpu: "H100", tp: 1 });
    expect(cap.bytesPerBlock).toBe(12 * 2 * 8 * 64 * 2 * 16);
    const usable = 80 * 2 ** 30 * 0.9 - m.weightBytes - 8 * 2 ** 30 - 0.15 * 2 ** 30; // MoE activation reserve 8 GiB
    expect(cap.blocks).toBe(Math.floor(usable / cap.bytesPerBlock));
  });

  it("Gemma 3: groups of 10 (the global layers) → a block stands for 10 layers", () => {
    expect(kvCapacityLayers(getModel("gemma-3-27b-it"))).toBe(10);
  });

  it("dense and chunked-attention models keep every layer", () => {
    expect(kvCapacityLayers(getModel("qwen3-32b"))).toBe(64);
    expect(kvCapacityLayers(getModel("llama-4-maverick"))).toBe(48);
  });
});

describe("fields it cannot interpret", () => {
  const cases: [string, (c: Record<string, unknown>) => void, string][] = [
    [
      "an unknown quantization method",
      (c) => (c.quantization_config = { quant_method: "awq-x" }),
      "quantization_config",
    ],
    ["an unknown layer type", (c) => (c.layer_types = new Array(64).fill("linear_attention")), "layer_types[0]"],
    ["a Mamba block", (c) => (c.ssm_state_size = 128), "ssm_state_size"],
    ["a non-integer size", (c) => (c.hidden_size = "5120"), "hidden_size"],
    ["an MoE config without experts per token", (c) => (c.num_experts = 8), "num_experts_per_tok"],
    // Zeros name their own field (all three were reported as "num_hidden_layers"), and a layer count past any model
    // (10^12 built a per-layer table: an internal error).
    ["zero hidden size", (c) => (c.hidden_size = 0), "hidden_size"],
    ["zero attention heads", (c) => (c.num_attention_heads = 0), "num_attention_heads"],
    ["10^12 layers", (c) => (c.num_hidden_layers = 1e12), "num_hidden_layers"],
    ["a zero head_dim (an 'Infinity GB' memory estimate)", (c) => (c.head_dim = 0), "head_dim"],
    ["a zero vocabulary", (c) => (c.vocab_size = 0), "vocab_size"],
    ["a zero context length", (c) => (c.max_position_embeddings = 0), "max_position_embeddings"],
  ];
  // MoE: experts per token outside 1..E (more than E made the roofline's expected-experts term negative: the run
  // never ended), and a zero MoE layer frequency.
  const moeCases: [string, (c: Record<string, unknown>) => void, string, string][] = [
    [
      "more experts per token than experts",
      (c) => (c.num_experts_per_tok = 1000),
      "num_experts_per_tok",
      "expected 1 to 256 (the experts), got 1000",
    ],
    [
      "zero experts per token",
      (c) => (c.num_experts_per_tok = 0),
      "num_experts_per_tok",
      "expected 1 to 256 (the experts), got 0",
    ],
    ["a zero MoE layer frequency", (c) => (c.moe_layer_freq = 0), "moe_layer_freq", "expected an integer > 0, got 0"],
  ];
  for (const [what, edit, field, detail] of moeCases) {
    it(`DeepSeek-V3 with ${what} → an error naming ${field}`, () => {
      const c = read("deepseek-ai--deepseek-v3");
      edit(c);
      expect(() => parseHfConfig(c, "cfg.json", names)).toThrow(`cfg.json: field "${field}": ${detail}`);
    });
  }
  for (const [what, edit, field] of cases) {
    it(`${what} → an error naming ${field}`, () => {
      const c = read("qwen--qwen3-32b");
      edit(c);
      expect(() => parseHfConfig(c, "cfg.json", names)).toThrow(HfConfigError);
      expect(() => parseHfConfig(c, "cfg.json", names)).toThrow(`cfg.json: field "${field}"`);
    });
  }

  it("a missing file names the file", () => {
    expect(() => readHfConfigFile("/nonexistent/config.json", "./x/config.json")).toThrow(
      "./x/config.json: cannot read the model config.json (no such file)",
    );
  });

  it("gatelab run with such a config exits 2 and names the pool, the file and the field", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gl-hf-"));
    const c = read("qwen--qwen3-32b");
    c.quantization_config = { quant_method: "awq-x" };
    writeFileSync(join(dir, "config.json"), JSON.stringify(c));
    writeFileSync(
      join(dir, "s.yaml"),
      `name: s
requests: 2
pools:
  - model: ./config.json
    tp: 2
    replicas: 1
workload: { type: poisson, rate: 1, input: { dist: constant, value: 100 }, output: { dist: constant, value: 4 } }
`,
    );
    expect(await main(["run", join(dir, "s.yaml")])).toBe(2);
    expect(io.err).toContain('pools.0.model: ./config.json: field "quantization_config"');
  });

  it("the shipped bring-your-own scenario runs end to end", async () => {
    const f = new URL("../scenarios/byo-qwen3-32b.yaml", import.meta.url).pathname;
    expect(await main(["run", f, "--json"])).toBe(0);
    const s = JSON.parse(io.out);
    expect(s.requests.completed).toBe(s.requests.total);
    expect(s.requests.total).toBeGreaterThan(1000);
  });
});
