import { describe, expect, it } from "vitest";
import { getGpu, getModel, kvHeadsPerRank, listGpus, listModels } from "../src/models/catalog.ts";
import { kvBlocksFor, kvCapacity } from "../src/models/kv-capacity.ts";

describe("GPU catalog", () => {
  it("H100 has the figures of data/blis/hardware_config.json", () => {
    const g = getGpu("h100");
    expect(g.name).toBe("H100");
    expect(g.peakBf16Flops).toBe(989.5e12);
    expect(g.peakFp8Flops).toBe(1979e12);
    expect(g.memoryBandwidth).toBe(3.35e12);
    expect(g.memoryGiB).toBe(80);
    expect(getGpu("H100-SXM")).toBe(g);
  });

  it("H200 has NVIDIA's datasheet figures", () => {
    const g = getGpu("H200");
    expect(g.peakBf16Flops).toBe(989.5e12);
    expect(g.peakFp8Flops).toBe(1979e12);
    expect(g.memoryBandwidth).toBe(4.8e12);
    expect(g.memoryGiB).toBe(141);
  });

  it("A100 aliases resolve to A100-80GB, which has no FP8", () => {
    const g = getGpu("A100-80GB");
    expect(getGpu("A100-80")).toBe(g);
    expect(getGpu("a100-sxm")).toBe(g);
    expect(g.peakBf16Flops).toBe(312e12);
    expect(g.peakFp8Flops).toBeNull();
    expect(g.memoryBandwidth).toBe(2.039e12);
    expect(g.memoryGiB).toBe(80);
  });

  it("L40S", () => {
    const g = getGpu("L40S");
    expect(g.peakBf16Flops).toBe(362.05e12);
    // Dense FP8 (datasheet 733 TFLOPS; BLIS's 1466 is the with-sparsity figure).
    expect(g.peakFp8Flops).toBe(733e12);
    expect(g.memoryBandwidth).toBe(0.864e12);
    expect(g.memoryGiB).toBe(48);
  });

  it("lists four GPUs, each with a source", () => {
    expect(listGpus().map((g) => g.name)).toEqual(["H100", "H200", "A100-80GB", "L40S"]);
    for (const g of listGpus()) expect(g.source.length).toBeGreaterThan(10);
  });

  it("an unknown GPU throws and lists the accepted names", () => {
    expect(() => getGpu("B200")).toThrow(/Unknown GPU "B200".*H100.*H200.*A100-80GB \(A100-80, A100-SXM.*L40S/);
  });
});

describe("model catalog", () => {
  it("Llama-3.1-8B-Instruct by HF id, any case", () => {
    const m = getModel("META-LLAMA/llama-3.1-8b-INSTRUCT");
    expect(m).toBe(getModel("llama-3.1-8b-instruct"));
    expect(m.hfId).toBe("meta-llama/Llama-3.1-8B-Instruct");
    expect(m.numLayers).toBe(32);
    expect(m.hiddenSize).toBe(4096);
    expect(m.numHeads).toBe(32);
    expect(m.numKvHeads).toBe(8);
    expect(m.headDim).toBe(128);
    expect(m.intermediateSize).toBe(14336);
    expect(m.vocabSize).toBe(128256);
    expect(m.maxPositionEmbeddings).toBe(131072);
    expect(m.dtype).toBe("bfloat16");
    expect(m.quantization).toBeNull();
    expect(m.moe).toBeNull();
    expect(m.mla).toBeNull();
    // embeddings 128256·4096 = 525,336,576 (×2: lm_head untied) + final norm 4096
    // + 32 × (attention 4096·(4096 + 2·1024 + 4096) = 41,943,040 + norms 8192 + FFN 3·4096·14336 = 176,160,768)
    expect(m.paramCount).toBe(2 * 525_336_576 + 4096 + 32 * (41_943_040 + 8192 + 176_160_768));
    expect(m.paramCount).toBe(8_030_261_248);
    expect(m.weightBytes).toBe(16_060_522_496); // bf16: 2 bytes/param
    expect(m.kvElementsPerTokenPerLayer).toBe(2 * 8 * 128);
  });

  it("Mixtral-8x7B: uniform MoE", () => {
    const m = getModel("mistralai/Mixtral-8x7B-v0.1");
    expect(m.moe).toEqual({
      numExperts: 8,
      expertsPerToken: 2,
      expertIntermediateSize: 14336,
      sharedExpertIntermediateSize: 0,
      denseIntermediateSize: 14336,
      interleaveMoeLayerStep: null,
      firstKDenseReplace: null,
      numMoeLayers: 32,
      numDenseLayers: 0,
    });
    // common = embeddings 2·32000·4096 + 4096 + 32·(attention 41,943,040 + norms 8192) = 1,604,587,520;
    // per MoE layer: 8 experts × 3·4096·14336 (176,160,768) + router 8·4096
    expect(m.paramCount).toBe(1_604_587_520 + 32 * (8 * 176_160_768 + 32_768));
    expect(m.paramCount).toBe(46_702_792_704);
    expect(m.activeParamCount).toBe(1_604_587_520 + 32 * (2 * 176_160_768 + 32_768));
  });

  it("DeepSeek-V2-Lite: first_k_dense_replace, shared experts, MLA", () => {
    const m = getModel("deepseek-ai/DeepSeek-V2-Lite");
    expect(m.moe?.numExperts).toBe(64); // n_routed_experts
    expect(m.moe?.expertsPerToken).toBe(6);
    expect(m.moe?.expertIntermediateSize).toBe(1408);
    expect(m.moe?.sharedExpertIntermediateSize).toBe(2 * 1408);
    expect(m.moe?.firstKDenseReplace).toBe(1);
    expect(m.moe?.numDenseLayers).toBe(1);
    expect(m.moe?.numMoeLayers).toBe(26);
    expect(m.mla).toEqual({ kvLoraRank: 512, qLoraRank: null, qkNopeHeadDim: 128, qkRopeHeadDim: 64, vHeadDim: 128 });
    expect(m.kvElementsPerTokenPerLayer).toBe(512 + 64);
    expect(m.kvShardedAcrossTp).toBe(false);
    // attention: q 2048·16·192 + kv_a 2048·576 + norm 512 + kv_b 512·16·256 + o 16·128·2048 = 13,763,072
    expect(m.attentionParamsPerLayer).toBe(13_763_072);
    // 2·102400·2048 + 2048 + 27·(13,763,072 + 4096) + dense 3·2048·10944
    //   + 26·(64·3·2048·1408 + 3·2048·2816 + 64·2048) = 15,706,484,224 (published: 15.7 B)
    expect(m.paramCount).toBe(
      2 * 102_400 * 2048 +
        2048 +
        27 * (13_763_072 + 4096) +
        3 * 2048 * 10_944 +
        26 * (64 * 3 * 2048 * 1408 + 3 * 2048 * 2816 + 64 * 2048),
    );
    expect(m.paramCount).toBe(15_706_484_224);
  });

  it("Llama-4-Scout FP8: text_config, interleave step, fp8 weights at 1 byte", () => {
    const m = getModel("RedHatAI/Llama-4-Scout-17B-16E-Instruct-FP8-dynamic");
    expect(m.name).toBe("llama-4-scout-17b-16e-instruct-fp8-dynamic");
    expect(m.numLayers).toBe(48);
    expect(m.hiddenSize).toBe(5120);
    expect(m.quantization).toBe("fp8");
    expect(m.weightBytesPerParam).toBe(1);
    expect(m.weightBytes).toBe(m.paramCount);
    expect(m.moe?.numExperts).toBe(16);
    expect(m.moe?.expertsPerToken).toBe(1);
    expect(m.moe?.interleaveMoeLayerStep).toBe(1);
    expect(m.moe?.numMoeLayers).toBe(48); // HF: step 1 → every layer is MoE
    expect(m.moe?.denseIntermediateSize).toBe(16384);
    expect(m.moe?.sharedExpertIntermediateSize).toBe(8192);
  });

  it("GLM-5.2-FP8 (quant_method fp8) and Qwen3-30B-A3B (num_experts, explicit head_dim)", () => {
    const glm = getModel("zai-org/glm-5.2-fp8");
    expect(glm.quantization).toBe("fp8");
    expect(glm.moe?.numExperts).toBe(256);
    expect(glm.moe?.firstKDenseReplace).toBe(3);
    const q = getModel("Qwen/Qwen3-30B-A3B");
    expect(q.moe?.numExperts).toBe(128);
    expect(q.moe?.expertsPerToken).toBe(8);
    expect(q.moe?.expertIntermediateSize).toBe(768);
    expect(q.headDim).toBe(128); // config head_dim, not 2048 / 32
  });

  it("lists the 13 BLIS model configs and the 15 of data/model-configs, each with an HF alias", () => {
    expect(listModels()).toHaveLength(28);
    for (const m of listModels()) {
      expect(getModel(m.hfId)).toBe(m);
      expect(m.paramCount).toBeGreaterThan(1e9);
    }
  });

  it("BLOOM-176B: n_layer / n_head, multi-head attention, a plain 4 × hidden MLP, tied embeddings", () => {
    const m = getModel("bigscience/bloom");
    expect([m.numLayers, m.numHeads, m.numKvHeads, m.headDim, m.intermediateSize, m.mlpMatrices]).toEqual([
      70, 112, 112, 128, 57344, 2,
    ]);
    expect(m.tieWordEmbeddings).toBe(true);
    expect(m.maxPositionEmbeddings).toBeNull();
    // 70 × (4·d² attention + 2·d·4d MLP + 2 norms of d) + 250,880 × d embeddings + the final norm (biases left out):
    const d = 14336;
    expect(m.paramCount).toBe(70 * (4 * d * d + 8 * d * d + 2 * d) + 250880 * d + d);
    expect(m.paramCount / 1e9).toBeCloseTo(176.24, 2); // BLOOM's published 176B
    // KV per token per layer: K and V of 112 heads × 128
    expect(m.kvElementsPerTokenPerLayer).toBe(2 * 112 * 128);
  });

  it("an unknown model throws and lists the accepted names", () => {
    expect(() => getModel("gpt-5")).toThrow(
      /Unknown model "gpt-5"\. Accepted names: .*llama-3\.1-8b-instruct \(meta-llama\/Llama-3\.1-8B-Instruct\)/,
    );
  });

  it("tensor parallelism is checked as vLLM does", () => {
    const m = getModel("llama-3.1-8b-instruct");
    expect(kvHeadsPerRank(m, 2)).toBe(4);
    expect(kvHeadsPerRank(m, 8)).toBe(1);
    expect(kvHeadsPerRank(getModel("qwen2.5-7b-instruct"), 1)).toBe(4);
    expect(() => kvHeadsPerRank(m, 3)).toThrow(/not divisible by TP 3/);
    expect(() => kvHeadsPerRank(m, 0)).toThrow(/positive integer/);
  });
});

describe("KV capacity", () => {
  it("Llama-3.1-8B / H100 / TP1 / 0.9 reproduces BLIS's 26,312 blocks", () => {
    // usable = 80 GiB·0.9 − 16,060,522,496 (weights) − 5.5 GiB (activation) − 0.15 GiB (non-torch)
    //        = 77,309,411,328 − 16,060,522,496 − 5,905,580,032 − 161,061,273.6 = 55,182,247,526.4 B
    // block  = 32 layers × 2·8·128 elements × 2 B × 16 tokens = 2,097,152 B → 26,312.94 → 26,312
    const c = kvCapacity({ model: "llama-3.1-8b-instruct", gpu: "H100", tp: 1 });
    expect(c.bytesPerBlock).toBe(2_097_152);
    expect(c.kvBytesPerRank).toBeCloseTo(55_182_247_526.4, 0);
    expect(c.blocks).toBe(26_312);
    expect(Math.abs(c.blocks - 26_312) / 26_312).toBeLessThan(0.01);
  });

  it("an FP8 KV cache holds twice the tokens", () => {
    // 55,182,247,526.4 / 1,048,576 = 52,625.9
    expect(kvBlocksFor({ model: "llama-3.1-8b-instruct", gpu: "H100", tp: 1, kvBytesPerElement: 1 })).toBe(52_625);
  });

  it("Llama-3.1-70B / H100 / TP4: per-rank count, within 1 % of vLLM's measured 30,251", () => {
    // per rank: 77,309,411,328 − 141,107,412,992/4 − 5.5 GiB/4 − 0.6 GiB = 39,911,917,977.6 B
    // block = 80 × 2·(8/4)·128 × 2 B × 16 = 1,310,720 B → 30,450.37
    const c = kvCapacity({ model: "llama-3.1-70b-instruct", gpu: "H100", tp: 4 });
    expect(c.bytesPerBlock).toBe(1_310_720);
    expect(c.blocks).toBe(30_450);
    // trained_physics_iter29.json experiment 60 (vLLM, H100, TP4): total_kv_blocks 30,251
    expect(Math.abs(c.blocks - 30_251) / 30_251).toBeLessThan(0.01);
  });

  it("MLA caches one latent per token, not split by TP", () => {
    // DeepSeek-V2-Lite TP1: block = 27 × (512 + 64) × 2 B × 16 = 497,664 B; MoE activation reserve 8 GiB;
    // (77,309,411,328 − 31,412,968,448 − 8,589,934,592 − 161,061,273.6) / 497,664 = 74,639.6
    const c = kvCapacity({ model: "deepseek-v2-lite", gpu: "H100", tp: 1 });
    expect(c.bytesPerBlock).toBe(497_664);
    expect(c.blocks).toBe(74_639);
  });

  it("utilisation and block size are honoured", () => {
    // 0.8: 68,719,476,736 − 16,060,522,496 − 5,905,580,032 − 161,061,273.6 = 46,592,312,934.4 B; 32-token blocks 4 MiB
    expect(
      kvBlocksFor({ model: "llama-3.1-8b-instruct", gpu: "H100", tp: 1, gpuMemoryUtilization: 0.8, blockSize: 32 }),
    ).toBe(11_108);
  });

  it("a model that does not fit throws a clear error", () => {
    expect(() => kvBlocksFor({ model: "llama-3.1-70b-instruct", gpu: "H100", tp: 1 })).toThrow(
      /no room for the KV cache/,
    );
  });
});
