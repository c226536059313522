/**
 * Refits the roofline cost model's per-GPU efficiencies and overheads (data/roofline/coefficients.json) from the
 * measurements in ../shared/data, and prints the error per data set.
 *
 *   npx tsx scripts/fit-roofline.ts [--data ../shared/data] [--out data/roofline/splitwise-2023.json]
 *                                   [--default-out data/roofline/coefficients.json] [--check]
 *
 * Deterministic (fixed order coordinate search). One set per GPU, never per model: every data set of a GPU is fitted
 * jointly, whatever model it measured.
 *   1. all-reduce latency and link efficiency: least squares on vidur's NCCL all-reduce profiles
 *      (profiling/network/{h100,a100}_dgx/all_reduce.csv, TP 2/4/8, 1 KiB–64 MiB);
 *   2. GEMM η_max, m_half, memory η, attention η, per-layer / per-step / per-request overheads: coordinate search on
 *      the mean squared log error over
 *      - Splitwise (splitwise-sim/perf_model.csv, Llama-2-70B via the catalog's 70B geometry, TP 2/4/8): whole-prompt
 *        prefill time and decode time per token, weight 1 per (prompt, batch, TP) point;
 *      - vidur per-layer GEMM times (attn_pre_proj + attn_post_proj + mlp_up_proj + mlp_down_proj, median) against
 *        the model's dense-layer GEMM, weight 0.25;
 *      - BLIS / AIConfigurator kernel tables (H100 only): per-layer GEMM, context and generation attention, weight 0.25.
 * `--check` fits and compares with the shipped file instead of writing it (exit 1 if a coefficient moved > 1 %).
 * `--markdown` also prints the per-data-set error tables of docs/fidelity.md (every cost model on the whole-step data
 * sets; the roofline model on the per-operator tables).
 */
import { readFileSync, writeFileSync } from "node:fs";
import {
  dropBelowRoofline,
  errorsBySet,
  FREE,
  fitAll,
  fitAllReduce,
  fitSplitwiseEngineCpu,
  kernelPoints,
  loss,
  round,
  SPLITWISE_STACK,
  splitwisePoints,
  stepErrors,
  vidurPoints,
} from "../src/lab/roofline-fit.ts";
import { SyncSchedulingCost } from "../src/models/async-scheduling.ts";
import type { ModelSpec } from "../src/models/catalog.ts";

/** Per-data-set error of every cost model (markdown), with the shipped coefficients. */
function markdownTables(dataDir: string): string {
  const pct = (x: number) => (Number.isNaN(x) ? "—" : `${(x * 100).toFixed(1)} %`);
  const tryBuild =
    (cfg: Parameters<typeof createCostModel>[0], splitwiseStack = false) =>
    (m: ModelSpec, gpu: string, tp: number) => {
      try {
        const cost = createCostModel(cfg, {
          model: m,
          gpu,
          tp,
          enforceEager: splitwiseStack,
          disableCustomAllReduce: splitwiseStack,
        });
        if (!splitwiseStack) return cost;
        // async_scheduling: false with the stack's CPU time per scheduled sequence (SPLITWISE_STACK).
        const cpu = SPLITWISE_STACK.sync_cpu_overhead;
        return new SyncSchedulingCost(cost, { perStep: cpu.per_step_ms / 1000, perRequest: cpu.per_request_ms / 1000 });
      } catch {
        return undefined;
      }
    };
  const models: [string, ReturnType<typeof tryBuild>][] = [
    // Splitwise measured a 2023 stack without CUDA graphs, vLLM's custom all-reduce or async scheduling: the default
    // model with those engine knobs (SPLITWISE_STACK).
    ["roofline (default) with Splitwise's stack (engine knobs)", tryBuild(undefined, true)],
    ["roofline (default), as `vllm serve` today", tryBuild(undefined)],
    ["physics (BLIS iter29, bounded)", tryBuild({ type: "physics" })],
    ["kernel (shipped set)", tryBuild({ type: "kernel" })],
    ["linear (BLIS CSV)", tryBuild({ type: "linear" })],
  ];
  const lines: string[] = [];
  lines.push("| data set | GPU | points | " + models.map((m) => m[0]).join(" | ") + " |");
  lines.push("|---|---|---|" + models.map(() => "---").join("|") + "|");
  for (const [swModel, title] of [
    ["llama2-70b", "Splitwise"],
    ["bloom-176b", "Splitwise BLOOM-176B TP 8 (hold-out)"],
  ] as const) {
    for (const gpu of ["H100", "A100-80GB"]) {
      const pts = splitwisePoints(dataDir, gpu, swModel);
      for (const [set, filter] of [
        ["prefill, 1 prompt of 512–8,192", (l: string) => / × 1$/.test(l) && !/prompt (128|256) /.test(l)],
        ["prefill, all", () => true],
        ["decode, all", () => true],
      ] as const) {
        const kind = set.includes("decode") ? "splitwise-decode" : "splitwise-prefill";
        const sel = pts.filter((p) => p.set === kind && filter(p.label));
        const cells = models.map(([, b]) => {
          const e = stepErrors(sel, b);
          return e.n === 0 ? "—" : `${pct(e.mape)} (worst ${pct(e.worst)}${e.n < e.of ? `; ${e.n} of ${e.of}` : ""})`;
        });
        lines.push(`| ${title} ${set} | ${gpu} | ${sel.length} | ${cells.join(" | ")} |`);
      }
    }
  }
  lines.push("");
  lines.push("| per-operator table | GPU | points | roofline MAPE | worst |");
  lines.push("|---|---|---|---|---|");
  for (const gpu of ["H100", "A100-80GB"]) {
    const c = shippedRooflineFile().sets.find((s) => s.gpu === gpu)!;
    const pts = [...vidurPoints(dataDir, gpu), ...kernelPoints(dataDir, gpu)];
    for (const e of errorsBySet(pts, c)) {
      lines.push(`| ${e.set} | ${gpu} | ${e.n} | ${pct(e.mape)} | ${pct(e.worst)} (${e.worstLabel}) |`);
    }
  }
  return lines.join("\n");
}

import { createCostModel } from "../src/models/cost-factory.ts";
import { BLIS_TRAINED_PHYSICS_ITER29 } from "../src/models/cost-physics.ts";
import {
  type RooflineCoefficients,
  type RooflineFile,
  rooflineEfficiencySet,
  shippedRooflineFile,
} from "../src/models/cost-roofline.ts";

const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const DATA = arg("--data", "../shared/data");
const OUT = arg("--out", "data/roofline/splitwise-2023.json");
const DEFAULT_OUT = arg("--default-out", "data/roofline/coefficients.json");
const CHECK = args.includes("--check");
/** Weight of one per-operator table point relative to one Splitwise prefill point. */
const OPS_WEIGHT = Number(arg("--ops-weight", "0.25"));

{
  const old = shippedRooflineFile();
  const sets: RooflineCoefficients[] = [];
  const fit: Record<string, unknown> = {};
  for (const gpuName of ["H100", "A100-80GB"]) {
    // A fixed starting point (not the shipped file), so that the fit is reproducible.
    const start: RooflineCoefficients = {
      gpu: gpuName,
      gemm_eta_max: 0.7,
      gemm_m_half: 64,
      memory_eta: 0.8,
      attention_prefill_eta: 0.5,
      attention_prefill_t_half: 256,
      attention_decode_memory_eta: 0.7,
      allreduce_latency_us: 20,
      allreduce_hop_us: 5,
      allreduce_eta: 0.6,
      allreduce_knee_bytes: 3e7,
      allreduce_large_eta: 0.1,
      per_layer_us: 30,
      // No MoE model in these data sets: the calibration on real runs sets it (gatelab calibrate --model roofline).
      per_moe_layer_us: 0,
      per_step_us: 500,
      per_request_us: 10,
      // Request overheads outside the GPU step (API server, tokenisation, streaming) are not in these data sets:
      // BLIS's iter29 α, fitted on real vLLM H100 runs (cost-physics.ts), for every GPU.
      alpha_us: [...BLIS_TRAINED_PHYSICS_ITER29.alpha],
      source: "start",
    };
    const ar = fitAllReduce(DATA, gpuName);
    const points = dropBelowRoofline(
      [
        ...splitwisePoints(DATA, gpuName),
        ...vidurPoints(DATA, gpuName, OPS_WEIGHT),
        ...kernelPoints(DATA, gpuName, OPS_WEIGHT),
      ],
      console.log,
    );
    const init: RooflineCoefficients = { ...start, allreduce_latency_us: round(ar.latency), allreduce_eta: ar.eta };
    const c = fitAll(points, init);
    const rounded = Object.fromEntries(
      Object.entries(c).map(([k, v]) => [k, typeof v === "number" ? round(v) : v]),
    ) as RooflineCoefficients;
    rounded.source =
      `fitted by scripts/fit-roofline.ts on ../shared/data: splitwise-sim/perf_model.csv (Llama-2-70B ${gpuName} TP 2/4/8), ` +
      `vidur per-layer GEMM profiles${gpuName === "H100" ? ", BLIS kernel_profiles (AIConfigurator, vLLM 0.14)" : ""}, ` +
      `vidur ${gpuName === "H100" ? "h100" : "a100"}_dgx all_reduce.csv (latency ${round(ar.latency)} µs, ` +
      `all-reduce fit MAPE ${(ar.mape * 100).toFixed(1)} %)`;
    sets.push(rounded);
    const errs = errorsBySet(points, rounded);
    fit[gpuName] = {
      points: points.length,
      loss_msle: round(loss(points, rounded)),
      allreduce_profile_latency_us: round(ar.latency),
      allreduce_profile_eta: round(ar.eta),
      errors: errs.map((e) => ({ ...e, mape: round(e.mape, 3), worst: round(e.worst, 3) })),
    };
    console.log(`${gpuName}: loss ${loss(points, rounded).toFixed(4)}`);
    console.log(JSON.stringify(rounded));
    if (args.includes("--verbose")) {
      for (const p of points) {
        if (!p.set.startsWith("splitwise")) continue;
        const pr = p.predict(rounded);
        console.log(
          `    ${p.set} ${p.label}: measured ${(p.measured / 1000).toFixed(1)} ms, predicted ${(pr / 1000).toFixed(1)} ms (${((pr / p.measured - 1) * 100).toFixed(0)} %)`,
        );
      }
    }
    for (const e of errs) {
      console.log(
        `  ${e.set.padEnd(34)} n=${String(e.n).padStart(4)} MAPE ${(e.mape * 100).toFixed(1).padStart(5)} %  worst ${(e.worst * 100).toFixed(1)} % (${e.worstLabel})`,
      );
    }
  }
  // GPUs without measurements borrow: H200 the H100 set (same compute die; its own peaks and bandwidth apply),
  // L40S the A100 set (closest memory-bound profile).
  const h100 = sets.find((s) => s.gpu === "H100")!;
  const a100 = sets.find((s) => s.gpu === "A100-80GB")!;
  sets.push({ ...h100, gpu: "H200", source: "borrowed from the H100 set (same GH100 compute die); no H200 data" });
  sets.push({ ...a100, gpu: "L40S", source: "borrowed from the A100-80GB set; no L40S data" });
  const file: RooflineFile = {
    format: "gatelab-roofline/1",
    name: "splitwise-2023",
    description: rooflineEfficiencySet("splitwise-2023").description,
    sets,
    fit,
  };
  // The default file: the same sets, except that H100 (and H200) price decode like today's vLLM (0.15.1) while
  // keeping every prefill-side coefficient of the Splitwise fit (see docs/fidelity.md):
  //  - all-reduces whose input is under vLLM's custom all-reduce max_size (8 MiB; vllm/distributed/
  //    device_communicators/custom_all_reduce.py) — every decode step's — take one call of VLLM_CUSTOM_AR_US instead
  //    of Splitwise's NCCL latency + hop × log2(tp); prefills of ≥ 512 tokens of a 70B model are ≥ 8 MiB and keep it;
  //  - weight and KV-read memory η ÷ 0.917, the memory scale an earlier calibration on the 7 vLLM 0.15.1 runs fitted
  //    on the splitwise-2023 set (kept fixed: the calibration now scales this set, so it cannot feed it);
  //  - per-layer / per-request / per-step / per-MoE-layer overheads and α0: the absolute values that
  //    `gatelab calibrate --model roofline` fits on the 7 runs (data/calibrated/gatelab-h100-vllm-0.15.1-roofline.json;
  //    its prior does not depend on this set, so folding them in is no loop); α1 = α2 = 0 as that fit has them.
  // vLLM's custom all-reduce on H100 measured 8.5–10.1 µs for 512 B–32 KB at TP 2/4/8 without CUDA graphs, and the
  // same kernel form without the launch and input copy 3.7–5.9 µs (sgl-project/sglang PR #2904); inside vLLM's CUDA
  // graphs the buffers are registered, so no copy and no launch: 5 µs.
  const VLLM_CUSTOM_AR_US = 5;
  // Outside CUDA graphs (engine.enforce_eager) the same kernel pays its launch and input copy: the middle of the PR's
  // 8.5–10.1 µs.
  const VLLM_CUSTOM_AR_EAGER_US = 9.3;
  // With engine.disable_custom_all_reduce and CUDA graphs on, a small all-reduce is one NCCL call replayed from the
  // graph: vidur's NCCL profile latency of the GPU (GPU time of the call, fitted in step 1; H200 uses the H100's).
  const ncclLatency = (gpu: string) =>
    (fit[gpu === "H200" ? "H100" : gpu] as { allreduce_profile_latency_us: number }).allreduce_profile_latency_us;
  const stackFields = (s: RooflineCoefficients) => ({
    custom_allreduce_max_bytes: 8 * 1024 * 1024,
    custom_allreduce_latency_us: VLLM_CUSTOM_AR_US,
    custom_allreduce_eager_latency_us: VLLM_CUSTOM_AR_EAGER_US,
    nccl_latency_us: ncclLatency(s.gpu),
  });
  const MODERN_MEMORY_SCALE = 0.917;
  const CALIBRATED = "data/calibrated/gatelab-h100-vllm-0.15.1-roofline.json";
  const cal = JSON.parse(readFileSync(CALIBRATED, "utf8")) as { beta: number[]; alpha_us: number[] };
  const modern = (s: RooflineCoefficients): RooflineCoefficients => ({
    ...s,
    memory_eta: round(Math.min(0.95, s.memory_eta / MODERN_MEMORY_SCALE)),
    attention_decode_memory_eta: round(Math.min(0.95, s.attention_decode_memory_eta / MODERN_MEMORY_SCALE)),
    per_layer_us: round(cal.beta[4]!),
    per_request_us: round(cal.beta[5]!),
    per_step_us: round(cal.beta[6]!),
    per_moe_layer_us: round(cal.beta[7]!),
    alpha_us: [round(cal.alpha_us[0]!), 0, 0],
    ...stackFields(s),
    source:
      `${s.gpu === "H200" ? "the H100 set (same GH100 compute die; no H200 data): " : ""}decode priced like vLLM 0.15.1, ` +
      "prefill as splitwise-2023 (scripts/fit-roofline.ts): GEMM, attention and all-reduce traffic η and the " +
      "all-reduce latency of ≥ 8 MiB messages are the splitwise-2023 H100 values (Splitwise + vidur + BLIS kernel " +
      `tables); smaller all-reduces take vLLM's custom all-reduce (max_size 8 MiB) at ${VLLM_CUSTOM_AR_US} µs ` +
      `(sgl-project/sglang PR #2904's H100 measurement; ${VLLM_CUSTOM_AR_EAGER_US} µs without CUDA graphs, ` +
      `engine.enforce_eager; with engine.disable_custom_all_reduce they pay vidur's NCCL latency ` +
      `${ncclLatency(s.gpu)} µs inside graphs, or the eager NCCL latency with enforce_eager too); ` +
      "weight and KV-read memory η = splitwise-2023 ÷ 0.917; " +
      "per-layer / per-request / per-step / per-MoE-layer overheads and α0 fitted on the 7 vLLM 0.15.1 runs " +
      `(${CALIBRATED}, gatelab calibrate --model roofline)`,
  });
  const defaultFile: RooflineFile = {
    ...old,
    sets: sets.map((s) =>
      s.gpu === "H100" || s.gpu === "H200"
        ? modern(s)
        : s.gpu === "A100-80GB"
          ? {
              // No modern-stack data for the A100: the splitwise-2023 set with today's all-reduce. vLLM enables its
              // custom all-reduce on NVLink-connected GPUs whatever their generation (custom_all_reduce.py disables it
              // only for > 2 GPUs without full NVLink, or without P2P); a DGX-A100's NVSwitch qualifies. Splitwise's
              // stack had none: with engine.disable_custom_all_reduce the set prices exactly as splitwise-2023.
              ...s,
              alpha_us: [round(cal.alpha_us[0]!), 0, 0],
              ...stackFields(s),
              source:
                `${s.source}; no modern-stack (vLLM ≥ 0.10) data for this GPU: the splitwise-2023 set, except that ` +
                `all-reduces under vLLM's custom all-reduce max_size (8 MiB) take its one-shot kernel at ` +
                `${VLLM_CUSTOM_AR_US} µs (${VLLM_CUSTOM_AR_EAGER_US} µs eager; the H100 measurements of sgl-project/sglang ` +
                `PR #2904, no A100 figure; with engine.disable_custom_all_reduce vidur's A100 NCCL latency ` +
                `${ncclLatency(s.gpu)} µs inside CUDA graphs), and α0 ` +
                `of the vLLM 0.15.1 calibration (${CALIBRATED}; request overheads outside the GPU step)`,
            }
          : {
              ...s,
              alpha_us: [round(cal.alpha_us[0]!), 0, 0],
              source:
                `${s.source}; no modern-stack (vLLM ≥ 0.10) data for this GPU: the splitwise-2023 set, with α0 of the ` +
                `vLLM 0.15.1 calibration (${CALIBRATED}; request overheads outside the GPU step); no custom ` +
                `all-reduce (vLLM disables it on more than two GPUs without NVLink; at TP 2 over PCIe it would run)`,
            },
    ),
    fit: { note: "the per-data-set fit of the prefill side is in splitwise-2023.json" },
  };
  const text = `${JSON.stringify(file, null, 2)}\n`;
  if (CHECK) {
    let moved = false;
    for (const [mine, shippedFile] of [
      [sets, rooflineEfficiencySet("splitwise-2023")],
      [defaultFile.sets, old],
    ] as const) {
      for (const s of mine) {
        const o = shippedFile.sets.find((x) => x.gpu === s.gpu);
        for (const k of [
          ...FREE,
          "custom_allreduce_latency_us",
          "custom_allreduce_eager_latency_us",
          "nccl_latency_us",
          "per_moe_layer_us",
        ] as const) {
          const a = s[k] ?? 0;
          const z = o?.[k] ?? 0;
          if (o === undefined || Math.abs(a - z) > 0.01 * Math.abs(z) + 1e-9) moved = true;
        }
      }
    }
    const cpu = fitSplitwiseEngineCpu(DATA);
    console.log(
      `Splitwise's engine CPU per scheduled sequence: ${cpu.perSequenceUs} µs (SPLITWISE_STACK: ${SPLITWISE_STACK.sync_cpu_overhead.per_request_ms * 1000} µs)`,
    );
    if (cpu.perSequenceUs !== SPLITWISE_STACK.sync_cpu_overhead.per_request_ms * 1000) moved = true;
    console.log(moved ? "coefficients differ from the shipped files" : "shipped files reproduced");
    process.exit(moved ? 1 : 0);
  }
  console.log(
    `Splitwise's engine CPU per scheduled sequence (SPLITWISE_STACK in src/lab/roofline-fit.ts): ${fitSplitwiseEngineCpu(DATA).perSequenceUs} µs`,
  );
  writeFileSync(OUT, text);
  writeFileSync(DEFAULT_OUT, `${JSON.stringify(defaultFile, null, 2)}\n`);
  console.log(`wrote ${OUT} and ${DEFAULT_OUT}`);
  if (args.includes("--markdown")) console.log(markdownTables(DATA));
}
