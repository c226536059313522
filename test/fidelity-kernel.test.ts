import { describe, expect, it } from "vitest";
import { getModel } from "../src/models/catalog.ts";
import { type BatchShape, emptyBatch } from "../src/models/cost.ts";
import { CostModelSchema, createCostModel } from "../src/models/cost-factory.ts";
import {
  decodeAttentionFit,
  findKernelProfile,
  interp1,
  interp2,
  KERNEL_TERM_COUNT,
  KernelCostModel,
  kernelBasis,
  kernelSpec,
  listKernelProfiles,
  loadKernelProfile,
  parseKernelProfile,
} from "../src/models/cost-kernel.ts";

const LLAMA2 = "h100-llama-2-7b-hf-tp1";
const SCOUT = "h100-llama-4-scout-17b-16e-instruct-fp8-dynamic-tp2";

function prefill(tokens: number, context = 0): BatchShape {
  const b = emptyBatch();
  b.prefillRequests = 1;
  b.prefillTokens = tokens;
  b.prefillAttnWork = tokens * (context + tokens / 2);
  b.prefillContext = context + tokens;
  b.prefillTokensSq = tokens * tokens;
  return b;
}

function decode(requests: number, contextEach: number): BatchShape {
  const b = emptyBatch();
  b.decodeRequests = requests;
  b.decodeContext = requests * contextEach;
  return b;
}

const coeffs = (beta: number[], alpha: [number, number, number] = [0, 0, 0]) => ({
  name: "test",
  alpha,
  beta,
  source: "test",
});

describe("kernel profiles", () => {
  it("ships one profile per (model, TP) of the BLIS kernel tables", () => {
    expect(listKernelProfiles()).toEqual([
      "h100-llama-2-7b-hf-tp1",
      "h100-llama-3.1-70b-instruct-tp4",
      "h100-llama-4-scout-17b-16e-instruct-fp8-dynamic-tp2",
      "h100-mistral-nemo-instruct-2407-tp1",
      "h100-mistral-nemo-instruct-2407-tp2",
      "h100-qwen2.5-7b-instruct-tp1",
      "h100-yi-34b-tp2",
    ]);
    const p = loadKernelProfile(LLAMA2);
    expect(p.numLayers).toBe(32);
    expect(p.gemm.y[9]).toBe(259.358557); // 512 tokens
    expect(findKernelProfile("meta-llama/Llama-2-7b-hf", "H100", 1)).toBe(p);
    expect(findKernelProfile("llama-4-scout-fp8", "h100", 2).numMoeLayers).toBe(24);
  });

  it("a model, GPU or TP without a profile is an error listing the profiles", () => {
    expect(() => findKernelProfile("llama-3.1-8b-instruct", "H100", 1)).toThrow(
      /no kernel profile for llama-3\.1-8b-instruct on H100 TP1; shipped profiles: h100-llama-2-7b-hf-tp1/,
    );
    expect(() => findKernelProfile("llama-2-7b-hf", "A100-80GB", 1)).toThrow(/no kernel profile/);
    expect(() => loadKernelProfile("nope")).toThrow(/unknown kernel profile "nope"; shipped profiles: h100-/);
  });

  it("a malformed profile names the file and the field", () => {
    expect(() => parseKernelProfile("gpu: h100_sxm\n", "x.yaml")).toThrow(/^x\.yaml: backend: /);
    const text = `gpu: h100_sxm
backend: vllm
version: 0.14.0
model: m
tp: 1
num_layers: 2
hidden_dim: 8
gemm: {tokens: [1, 2], latency_us: [1]}
context_attention: {batch_size: [1], isl: [64], latency_us: [[1]]}
generation_attention: {tokens: [1], context: [64], latency_us: [[1]]}
allreduce: {tokens: [1], latency_us: [0]}
logits_gemm: {tokens: [1], latency_us: [1]}
`;
    expect(() => parseKernelProfile(text, "y.yaml")).toThrow(/y\.yaml: gemm: 2 tokens but 1 latencies/);
  });
});

describe("interpolation", () => {
  const p = loadKernelProfile(LLAMA2);

  it("1-D: linear between grid points, first value below, proportional above", () => {
    expect(interp1(p.gemm, 512)).toBe(259.358557);
    expect(interp1(p.gemm, 768)).toBeCloseTo((259.358557 + 504.086259) / 2, 9);
    expect(interp1(p.gemm, 0.5)).toBe(151.664832);
    expect(interp1(p.gemm, 8192)).toBeCloseTo(2 * 2058.655873, 9);
  });

  it("2-D: bilinear inside, edge values scaled by the axis powers outside", () => {
    const ga = p.generationAttention; // rows = context, cols = batch
    expect(interp2(ga, 1024, 16, 1, 1)).toBe(112.133256);
    const mid = (41.032291 + 154.586935 + 112.133256 + 203.284053) / 4; // contexts 512/1024 × batches 16/32
    expect(interp2(ga, 768, 24, 1, 1)).toBeCloseTo(mid, 9);
    expect(interp2(ga, 8192, 512, 1, 1)).toBeCloseTo(2 * 10257.947608, 6); // context beyond 4096: linear
    expect(interp2(ga, 16, 1, 1, 1)).toBe(11.844528); // below the grid: the first entry
    const ca = p.contextAttention; // rows = isl, cols = batch
    expect(interp2(ca, 8192, 1, 2, 1)).toBeCloseTo(4 * interp2(ca, 4096, 1, 2, 1), 9); // quadratic in isl
  });
});

describe("kernel cost model", () => {
  const model = (beta: number[], profile = LLAMA2, decodeAttention?: "fit" | "table") =>
    new KernelCostModel({
      model: profile === LLAMA2 ? "llama-2-7b-hf" : "llama-4-scout-fp8",
      gpu: "H100",
      tp: profile === LLAMA2 ? 1 : 2,
      profile,
      coefficients: coeffs(beta),
      ...(decodeAttention !== undefined ? { decodeAttention } : {}),
    });

  it("a 512-token prefill on Llama-2-7B TP1, by hand from the table", () => {
    // gemm(512) = 259.358557 µs/layer, logits(1) = 100.589690 µs, context attention (isl 512, batch 1) = 23.178667
    // µs/layer; 32 layers, no all-reduce at TP1:
    //   tables = 32·259.358557 + 100.58969 + 32·23.178667 = 9141.780858 µs
    //   step   = 1.1·tables + 2·32 (per layer) + 3·1 (per request) + 4 (per step) = 10126.9589438 µs
    const m = model([1.1, 2, 3, 4, 0, 0]);
    expect(m.stepMicros(prefill(512))).toBeCloseTo(1.1 * 9141.780858 + 64 + 3 + 4, 6);
    expect(m.stepTime(prefill(512))).toBeCloseTo(10126.9589438e-6, 12);
  });

  it("a chunk after cached context is priced on the row of equal causal work", () => {
    // 256 new tokens after 384 cached: work 256·(384 + 128) = 131072 = 512²/2 → isl 512, as a fresh 512 prefill.
    const m = model([1, 0, 0, 0, 0, 0]);
    const expected = 32 * 181.39372 + 100.58969 + 32 * 23.178667; // gemm(256) + logits(1) + attention(512, 1)
    expect(m.stepMicros(prefill(256, 384))).toBeCloseTo(expected, 6);
  });

  it("decode: 16 requests with 1,024 tokens of context each, raw table", () => {
    // gemm(16) = 157.349581, logits(16) = 95.730244, generation attention (1024, 16) = 112.133256 µs/layer
    const m = model([1, 0, 0, 0, 0, 0], LLAMA2, "table");
    expect(m.stepMicros(decode(16, 1024))).toBeCloseTo(32 * 157.349581 + 95.730244 + 32 * 112.133256, 6);
  });

  it("decode attention fitted to the table is close to the HBM bound of Llama-2-7B's KV reads", () => {
    const p = loadKernelProfile(LLAMA2);
    const [a, b, c] = decodeAttentionFit(p);
    // KV per token per layer = 2 · 32 heads · 128 · 2 B = 16,384 B; at 3.35 TB/s = 0.00489 µs.
    expect(b!).toBeGreaterThan(0.0044);
    expect(b!).toBeLessThan(0.0054);
    expect(a!).toBeGreaterThan(0);
    expect(c!).toBeGreaterThan(0);
    const m = model([1, 0, 0, 0, 0, 0]); // default: fit
    const att = 32 * (a! + b! * 16 * 1024 + c! * 16);
    expect(m.stepMicros(decode(16, 1024))).toBeCloseTo(32 * 157.349581 + 95.730244 + att, 6);
  });

  it("MoE (Llama-4-Scout TP2): experts, all-reduce and the expert-activation term", () => {
    // 8 decodes, 1,024 context each. Per layer: gemm(8) 111.716446, generation attention (1024, 8) 18.765338,
    // all-reduce(8) 4.6428; per MoE layer (24): moe(8) 49.109333; logits(8) 350.887887.
    const tables = 48 * 111.716446 + 24 * 49.109333 + 350.887887 + 48 * 18.765338 + 48 * 4.6428;
    const share = 1 - (1 - 1 / 16) ** 8; // 16 experts, 1 per token
    expect(getModel("llama-4-scout-fp8").moe?.numExperts).toBe(16);
    const m = model([1, 0, 0, 0, 10, 100], SCOUT, "table");
    expect(m.stepMicros(decode(8, 1024))).toBeCloseTo(tables + 10 * 24 + 100 * 24 * share, 6);
    const out = new Float64Array(KERNEL_TERM_COUNT);
    kernelBasis(kernelSpec(loadKernelProfile(SCOUT), "llama-4-scout-fp8", "table"), decode(8, 1024), out);
    expect([...out]).toEqual([expect.closeTo(tables, 6), 48, 8, 1, 24, expect.closeTo(24 * share, 12)]);
  });

  it("an empty batch costs 1 µs; overheads come from α", () => {
    const m = new KernelCostModel({
      model: "llama-2-7b-hf",
      gpu: "H100",
      tp: 1,
      coefficients: coeffs([1, 0, 0, 0, 0, 0], [9000, 500, 20]),
    });
    expect(m.stepMicros(emptyBatch())).toBe(1);
    expect(m.overheads.preQueue).toBeCloseTo(0.009, 15);
    expect(m.overheads.perOutputToken).toBeCloseTo(0.00002, 15);
    expect(m.overheads.postDecode).toBeCloseTo(0.0005, 15);
    expect(
      () => new KernelCostModel({ model: "llama-2-7b-hf", gpu: "H100", tp: 1, coefficients: coeffs([1, 0]) }),
    ).toThrow(/need 6 beta values/);
  });
});

describe("factory: kernel branch and coefficient files", () => {
  const target = { model: "llama-2-7b-hf", gpu: "H100", tp: 1 };

  it("type kernel uses the shipped calibration by default", () => {
    const m = createCostModel({ type: "kernel" }, target);
    expect(m.kind).toBe("kernel");
    expect(m.source).toContain("gatelab-h100-vllm-0.15.1-kernel");
    expect(m.overheads.preQueue).toBeGreaterThan(0.0005); // the file's α0, 0.905 ms (the raw tables have none)
    const named = createCostModel({ type: "kernel", coefficients: "gatelab-h100-vllm-0.15.1-kernel" }, target);
    expect(named.stepTime(decode(4, 500))).toBe(m.stepTime(decode(4, 500)));
  });

  it("explicit coefficients, profile and decode attention", () => {
    const m = createCostModel(
      {
        type: "kernel",
        profile: LLAMA2,
        decode_attention: "table",
        coefficients: { alpha: [0, 0, 0], beta: [1, 0, 0, 0, 0, 0] },
      },
      target,
    );
    expect(m.stepTime(decode(16, 1024)) * 1e6).toBeCloseTo(32 * 157.349581 + 95.730244 + 32 * 112.133256, 6);
  });

  it("coefficient files are read by path for kernel, physics and linear", () => {
    const dir = new URL("../data/calibrated/", import.meta.url).pathname;
    const k = createCostModel(
      { type: "kernel", coefficients: "gatelab-h100-vllm-0.15.1-kernel.json" },
      {
        ...target,
        baseDir: dir,
      },
    );
    expect(k.source).toContain("gatelab-h100-vllm-0.15.1-kernel");
    const p = createCostModel({ type: "physics", coefficients: "gatelab-h100-vllm-0.15.1-physics" }, target);
    expect(p.source).toContain("gatelab-h100-vllm-0.15.1-physics");
    const l = createCostModel({ type: "linear", coefficients: "gatelab-h100-vllm-0.15.1-linear" }, target);
    expect(l.source).toContain("gatelab-h100-vllm-0.15.1-linear");
    expect(() =>
      createCostModel(
        { type: "linear", coefficients: "gatelab-h100-vllm-0.15.1-linear" },
        { ...target, model: "yi-34b" },
      ),
    ).toThrow(/no linear fit for yi-34b on H100 TP1/);
    expect(() => createCostModel({ type: "kernel", coefficients: "missing.json" }, target)).toThrow(
      /missing\.json: cannot read the coefficient file/,
    );
  });

  it("the schema checks the kernel fields", () => {
    expect(CostModelSchema.safeParse({ type: "kernel" }).success).toBe(true);
    expect(CostModelSchema.safeParse({ type: "kernel", coefficients: "iter30" }).success).toBe(false);
    expect(
      CostModelSchema.safeParse({ type: "kernel", coefficients: { alpha: [0, 0, 0], beta: [1, 2, 3] } }).success,
    ).toBe(false);
    expect(CostModelSchema.safeParse({ type: "kernel", decode_attention: "smooth" }).success).toBe(false);
    expect(CostModelSchema.safeParse({ type: "physics", coefficients: "x.json" }).success).toBe(true);
  });
});
