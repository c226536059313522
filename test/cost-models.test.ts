import { describe, expect, it } from "vitest";
import { type BatchShape, emptyBatch } from "../src/models/cost.ts";
import { CostModelSchema, createCostModel } from "../src/models/cost-factory.ts";
import { BLACKBOX_ROWS, LinearCostModel, linearCoefficients } from "../src/models/cost-linear.ts";
import { BLIS_TRAINED_PHYSICS_ITER29, PhysicsCostModel, physicsBasis } from "../src/models/cost-physics.ts";

/** One prefill of `t` new tokens with `s` tokens already cached. */
function prefill(t: number, s = 0): BatchShape {
  const b = emptyBatch();
  b.prefillRequests = 1;
  b.prefillTokens = t;
  b.prefillAttnWork = t * (s + t / 2);
  b.prefillContext = s + t;
  b.prefillTokensSq = t * t;
  return b;
}

/** `n` decoding requests, each with `ctx` tokens in the KV cache. */
function decode(n: number, ctx: number): BatchShape {
  const b = emptyBatch();
  b.decodeRequests = n;
  b.decodeContext = n * ctx;
  return b;
}

describe("physics cost model (BLIS trained-physics, iter29)", () => {
  const llama8 = new PhysicsCostModel({ model: "llama-3.1-8b-instruct", gpu: "H100", tp: 1 });

  it("basis of Llama-3.1-8B / H100 / TP1 by hand", () => {
    const b = llama8.basis;
    // T_weight = [32·4096·(8192 + 2048)·2 + 32·3·4096·14336·2] B / 3.35e6 B/µs = 13,958,643,712 / 3.35e6
    expect(b.weight).toBeCloseTo(13_958_643_712 / 3.35e6, 9);
    expect(b.weight).toBeCloseTo(4166.7593, 4);
    // per token: [32·2·4096·10240 + 32·6·4096·14336] FLOP / 989.5e6 FLOP/µs
    expect(b.computePerToken).toBeCloseTo((32 * 2 * 4096 * 10240 + 32 * 6 * 4096 * 14336) / 989.5e6, 12);
    // attention: 32·4·32·128 FLOP per (query, key) pair / 989.5e6
    expect(b.attentionPerUnit).toBeCloseTo(524_288 / 989.5e6, 15);
    // KV: 32·2·1024·2 B per token / 3.35e6
    expect(b.kvPerToken).toBeCloseTo(131_072 / 3.35e6, 15);
    expect(b.tpPerToken).toBe(0);
  });

  // BLIS trained-physics worked out for Llama-3.1-8B / H100 / TP 1 (µs, rounded;
  // docs/reference.md#blis-inference-sim-facts).
  const prefillRows: [number, number][] = [
    [128, 7112],
    [512, 7965],
    [1000, 9102],
    [2048, 11737],
  ];
  it.each(prefillRows)("single prefill of %i tokens → %i µs (±1)", (tokens, us) => {
    const got = llama8.stepMicros(prefill(tokens));
    expect(Math.abs(got - us)).toBeLessThanOrEqual(1);
    expect(llama8.stepTime(prefill(tokens))).toBeCloseTo(got * 1e-6, 12);
  });

  const decodeRows: [number, number, number][] = [
    [1, 1000, 6911],
    [16, 1000, 8121],
    [64, 1000, 11994],
    [256, 1000, 27483],
    [128, 2000, 26908],
  ];
  it.each(decodeRows)("decode B=%i, context %i → %i µs (±1)", (n, ctx, us) => {
    expect(Math.abs(llama8.stepMicros(decode(n, ctx)) - us)).toBeLessThanOrEqual(1);
  });

  it("the table's unrounded values", () => {
    // fixed = β3·4166.7593 + β5·32 + β7 = 5677.3 + 1027.05 + 126.02; + β6 per request; see docs/models.md
    expect(llama8.stepMicros(prefill(1000))).toBeCloseTo(9101.7694, 3);
    expect(llama8.stepMicros(decode(1, 1000))).toBeCloseTo(6911.0863, 3);
    expect(llama8.stepMicros(decode(256, 1000))).toBeCloseTo(27483.3401, 3);
  });

  it("causal prefill attention drops BLIS's extra t·t pair-units", () => {
    const causal = new PhysicsCostModel({
      model: "llama-3.1-8b-instruct",
      gpu: "H100",
      tp: 1,
      prefillAttention: "causal",
    });
    // difference = β1a · 524,288 / 989.5e6 · 1000² = 80.605 µs
    expect(llama8.stepMicros(prefill(1000)) - causal.stepMicros(prefill(1000))).toBeCloseTo(
      (0.152128 * 524_288 * 1e6) / 989.5e6,
      6,
    );
    expect(causal.stepMicros(prefill(1000))).toBeCloseTo(9021.1642, 3);
  });

  it("a mixed batch adds its parts with one fixed cost and β6 per request", () => {
    const mixed = prefill(512);
    mixed.decodeRequests = 16;
    mixed.decodeContext = 16_000;
    // fixed part of every step = β3·T_weight + β5·L + β7
    const fixed = 1.36252915 * llama8.basis.weight + 32.09546717 * 32 + 126.024825;
    expect(fixed).toBeCloseTo(6830.4108, 3);
    expect(llama8.stepMicros(mixed)).toBeCloseTo(
      llama8.stepMicros(prefill(512)) + llama8.stepMicros(decode(16, 1000)) - fixed,
      6,
    );
  });

  it("an empty batch costs 1 µs; overheads come from α", () => {
    expect(llama8.stepMicros(emptyBatch())).toBe(1);
    expect(llama8.overheads.preQueue).toBeCloseTo(15563.199579e-6, 15);
    expect(llama8.overheads.preQueuePerInputToken).toBe(0);
    expect(llama8.overheads.perOutputToken).toBeCloseTo(45.907545e-6, 15);
    expect(llama8.overheads.postDecode).toBeCloseTo(777.3455e-6, 15);
  });

  it("TP4 adds all-reduce time: Llama-3.1-70B / H100", () => {
    const b = physicsBasis("llama-3.1-70b-instruct", "H100", 4);
    // weights per rank: [80·8192·(16384 + 2048)·2 + 80·3·8192·28672·2] / 4 = 34,225,520,640 B
    expect(b.weight).toBeCloseTo(34_225_520_640 / 3.35e6, 6);
    // all-reduce: 2·80 units · 8192 · 2 B · 2 · (3/4) per token / 3.35e6
    expect(b.tpPerToken).toBeCloseTo((160 * 8192 * 4 * 0.75) / 3.35e6, 12);
  });

  it("MoE: Mixtral-8x7B / H100 / TP2 streams all experts and computes k of them", () => {
    const b = physicsBasis("mixtral-8x7b", "H100", 2);
    // weights: attention 32·4096·10240·2/2 + experts 32·(8/2)·3·4096·14336·2 = 46,439,333,888 B
    expect(b.weight).toBeCloseTo(46_439_333_888 / 3.35e6, 6);
    // compute per token: [32·2·4096·10240/2 + 32·(2/2)·6·4096·14336] / 989.5e6
    expect(b.computePerToken).toBeCloseTo((32 * 2 * 4096 * 10240) / 2 / 989.5e6 + (32 * 6 * 4096 * 14336) / 989.5e6, 9);
    // all-reduce: 32 attention + 32 MoE units
    expect(b.tpPerToken).toBeCloseTo((64 * 4096 * 4 * 0.5) / 3.35e6, 12);
    expect(b.interleavedMoeLayers).toBe(0);
  });

  it("interleaved MoE (Llama-4-Scout FP8 / H100 / TP2): BLIS split, FP8 peak, β8 per MoE layer", () => {
    const b = physicsBasis("llama-4-scout-fp8", "H100", 2);
    expect(b.interleavedMoeLayers).toBe(24); // floor(48 / (1 + 1))
    // weights (1 B): attention 48·5120·12288/2 + dense 24·3·5120·16384/2 + experts 24·(16/2)·3·5120·8192
    expect(b.weight).toBeCloseTo((1_509_949_440 + 3_019_898_880 + 24_159_191_040) / 3.35e6, 6);
    // FP8 peak 1979 TFLOPS: attention pair FLOPs 48·4·20·128 / 1979e6
    expect(b.attentionPerUnit).toBeCloseTo((48 * 4 * 20 * 128) / 1979e6, 15);
  });
});

describe("linear cost model (BLIS blackbox)", () => {
  it("reads the 111 rows of the CSV", () => {
    expect(BLACKBOX_ROWS).toHaveLength(111);
  });

  it("Llama-3.1-8B / H100 / TP1 → the v0.11.0 fit", () => {
    const row = linearCoefficients("llama-3.1-8b-instruct", "H100", 1);
    expect(row.vllmVersion).toBe("vllm/vllm-openai:v0.11.0");
    expect(row.beta).toEqual([6472.007648778123, 19.79721387814611, 304.4021040302657]);
    expect(row.alpha).toEqual([10326.268121600151, 0.0, 0.0]);
    expect(linearCoefficients("Meta-Llama/Llama-3.1-8B-Instruct", "h100", 1, "0.11.0")).toBe(row);
    expect(linearCoefficients("llama-3.1-8b-instruct", "H100", 1, "v0.11.0")).toBe(row);
  });

  it("golden step time by hand", () => {
    const row = linearCoefficients("llama-3.1-8b-instruct", "H100", 1);
    const m = new LinearCostModel(row);
    const b = prefill(100);
    b.prefillRequests = 1;
    b.decodeRequests = 10;
    b.decodeContext = 5000;
    // 6472.007648778123 + 19.79721387814611·100 + 304.4021040302657·10 = 11,495.750076895391 µs
    expect(m.stepMicros(b)).toBeCloseTo(11495.750076895391, 9);
    expect(m.stepTime(b)).toBeCloseTo(0.0114957500768954, 15);
    // BLIS blackbox row (data/blis/blackbox_coefficients.csv), rounded: 6472.01 + 1979.7 + 3044.0 = 11,495.71
    const rounded = new LinearCostModel({ beta: [6472.01, 19.797, 304.4], alpha: [0, 0, 0], source: "test" });
    expect(rounded.stepMicros(b)).toBeCloseTo(11495.71, 9);
    // overheads: α0 10,326.27 µs before the queue; no per-token terms in this fit
    expect(m.overheads.preQueue).toBeCloseTo(0.010326268121600151, 15);
    expect(m.overheads.preQueuePerInputToken).toBe(0);
    expect(m.overheads.perOutputToken).toBe(0);
    expect(m.overheads.postDecode).toBe(0);
  });

  it("α1 is per input token, α2 per output token (Llama-3.1-8B / A100-80 / TP1, v0.8.4)", () => {
    const row = linearCoefficients("meta-llama/Llama-3.1-8B-Instruct", "A100-80GB", 1);
    expect(row.gpu).toBe("A100-80");
    expect(row.beta[0]).toBe(16441.531547147923);
    const m = new LinearCostModel(row);
    expect(m.overheads.preQueue).toBeCloseTo(7739.7334212001515e-6, 15);
    expect(m.overheads.preQueuePerInputToken).toBeCloseTo(2.308926798943791e-6, 15);
    expect(m.overheads.perOutputToken).toBeCloseTo(6276.246189076296e-6, 15);
  });

  it("duplicated combinations pick the lowest best_loss; ids outside the catalog work", () => {
    expect(linearCoefficients("RedHatAI/phi-4-FP8-dynamic", "H100", 1).bestLoss).toBe(198.5839129752874);
    expect(linearCoefficients("microsoft/phi-4", "H100", 2).beta[0]).toBe(574.3193908443218);
  });

  it("a missing combination lists what exists", () => {
    expect(() => linearCoefficients("llama-3.1-8b-instruct", "H200", 1)).toThrow(
      /No BLIS linear coefficients for llama-3\.1-8b-instruct on H200 TP1\. Available for this model: .*A100-80 TP1 vllm\/vllm-openai:v0\.8\.4.*H100 TP1 vllm\/vllm-openai:v0\.11\.0/,
    );
    expect(() => linearCoefficients("qwen2.5-7b-instruct", "H100", 1, "0.8.4")).toThrow(/Available for this model/);
    expect(() => linearCoefficients("yi-34b", "H100", 1)).toThrow(/Models with fits: .*meta-llama\/llama-3\.1-8b/);
  });
});

describe("cost-model factory", () => {
  const target = { model: "llama-3.1-8b-instruct", gpu: "H100", tp: 1 };

  it("defaults to the roofline model; physics still gives BLIS iter29's decode step", () => {
    expect(createCostModel(undefined, target).kind).toBe("roofline");
    const m = createCostModel({ type: "physics" }, target);
    expect(m.kind).toBe("physics");
    expect(m.source).toContain("blis-trained-physics-iter29");
    // A decode step is above the roofline floor, so the bound leaves BLIS's value unchanged.
    expect(m.stepTime(decode(1, 1000)) * 1e6).toBeCloseTo(6911.0863, 3);
    expect(createCostModel({ type: "physics", coefficients: "blis-trained-physics-iter29" }, target).overheads).toEqual(
      m.overheads,
    );
  });

  it("physics with explicit coefficients", () => {
    const beta = [...BLIS_TRAINED_PHYSICS_ITER29.beta];
    beta[6] = 1126.024825; // β7 + 1000 µs
    const m = createCostModel(
      { type: "physics", coefficients: { alpha: [1000, 2000, 3000], beta } },
      { ...target, model: "meta-llama/Llama-3.1-8B-Instruct" },
    );
    expect(m.stepTime(decode(1, 1000)) * 1e6).toBeCloseTo(7911.0863, 3);
    expect(m.overheads).toEqual({
      preQueue: 0.001,
      preQueuePerInputToken: 0,
      perOutputToken: 0.003,
      postDecode: 0.002,
    });
  });

  it("linear from the CSV, by vLLM version", () => {
    const m = createCostModel({ type: "linear", vllm_version: "0.11.0" }, target);
    expect(m.kind).toBe("linear");
    expect(m.stepTime(prefill(100)) * 1e6).toBeCloseTo(6472.007648778123 + 1979.721387814611, 9);
    expect(m.source).toContain("blackbox_coefficients.csv");
  });

  it("linear with explicit beta (alpha defaults to zero)", () => {
    const m = createCostModel({ type: "linear", beta: [6472.01, 19.797, 304.4] }, target);
    expect(m.stepTime(decode(10, 100)) * 1e6).toBeCloseTo(6472.01 + 3044, 9);
    expect(m.overheads).toEqual({ preQueue: 0, preQueuePerInputToken: 0, perOutputToken: 0, postDecode: 0 });
  });

  it("overheads override field by field (ms)", () => {
    const lin = createCostModel({ type: "linear", overheads: { pre_queue_ms: 5, per_output_token_ms: 0.25 } }, target);
    expect(lin.overheads).toEqual({
      preQueue: 0.005,
      preQueuePerInputToken: 0,
      perOutputToken: 0.00025,
      postDecode: 0,
    });
    const phys = createCostModel({ type: "physics", overheads: { post_decode_ms: 1 } }, target);
    expect(phys.overheads.postDecode).toBe(0.001);
    expect(phys.overheads.preQueue).toBeCloseTo(0.015563199579, 15);
  });

  it("the schema is strict", () => {
    expect(CostModelSchema.safeParse({ type: "physics" }).success).toBe(true);
    expect(CostModelSchema.safeParse({ type: "physics", foo: 1 }).success).toBe(false);
    expect(CostModelSchema.safeParse({ type: "linear", betas: [1, 2, 3] }).success).toBe(false);
    expect(CostModelSchema.safeParse({ type: "linear", beta: [1, 2] }).success).toBe(false);
    expect(CostModelSchema.safeParse({ type: "physics", overheads: { pre_queue: 1 } }).success).toBe(false);
    expect(CostModelSchema.safeParse({ type: "physics", coefficients: "iter30" }).success).toBe(false);
    expect(CostModelSchema.safeParse({ type: "physics", coefficients: { alpha: [0, 0, 0], beta: [1] } }).success).toBe(
      false,
    );
    // `{type: "kernel"}` alone is valid (the shipped calibrated kernel coefficients are the default).
    expect(CostModelSchema.safeParse({ type: "kernel" }).success).toBe(true);
    expect(() => createCostModel({ type: "linear", beta: [1, 2, 3], vllm_version: "0.11.0" }, target)).toThrow(
      /either beta/,
    );
  });

  it("unknown model or GPU, and missing fits, surface as errors", () => {
    expect(() => createCostModel(undefined, { ...target, gpu: "B200" })).toThrow(/Unknown GPU/);
    expect(() => createCostModel(undefined, { ...target, model: "nope" })).toThrow(/Unknown model/);
    expect(() => createCostModel({ type: "linear" }, { ...target, gpu: "L40S" })).toThrow(/Available for this model/);
  });
});
