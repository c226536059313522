import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  calibrate,
  coefficientFile,
  fitCoefficients,
  kernelFamily,
  nnls,
  physicsBeta,
  record,
} from "../src/lab/calibrate.ts";
import { type Family, FIT_NOISE } from "../src/lab/fit-families.ts";
import { type Experiment, METRICS, type Metrics, parseValidationSet, simulateExperiment } from "../src/lab/validate.ts";
import { ROOFLINE_PRIOR, rooflineFamily } from "../src/models/cost-calibration.ts";
import { parseCoefficientFile } from "../src/models/cost-factory.ts";
import { BLIS_TRAINED_PHYSICS_ITER29 } from "../src/models/cost-physics.ts";
import { runFidelityCli } from "./helpers/fidelity-cli.ts";

const CAL = join(import.meta.dirname, "..", "..", "shared", "data", "sim-to-real-validation");
const CAL_FILE = join(CAL, "calibration_set_h100_vllm_7exp.json");

describe("NNLS (Lawson–Hanson)", () => {
  it("solves an unconstrained problem exactly and clamps a negative coefficient at 0", () => {
    // y = 2·x1 + 3·x2 exactly.
    const A = Float64Array.of(1, 0, 0, 1, 1, 1, 2, 1);
    const x = nnls(A, Float64Array.of(2, 3, 5, 7), 4, 2);
    expect(x[0]).toBeCloseTo(2, 10);
    expect(x[1]).toBeCloseTo(3, 10);
    // min ‖[1 1; 1 −1]x − (1, 3)‖ wants x2 = −1; with x ≥ 0 the answer is x = (2, 0) → residual (1, −1).
    const y = nnls(Float64Array.of(1, 1, 1, -1), Float64Array.of(1, 3), 2, 2);
    expect(y[0]).toBeCloseTo(2, 10);
    expect(y[1]).toBe(0);
  });
});

/** Three dense runs of the calibration set, shortened to 60-second stages, with measurements made by simulation. */
function syntheticSet(theta: number[], alpha: number[], fam: Family = kernelFamily()): Experiment[] {
  const base = parseValidationSet(
    JSON.stringify({
      experiments: ["20260217-155451", "60", "62"].map((id) => ({
        id,
        model: {
          "20260217-155451": "meta-llama/Llama-2-7b-hf",
          "60": "meta-llama/Llama-3.1-70B-Instruct",
          "62": "mistralai/Mistral-Nemo-Instruct-2407",
        }[id],
        tp: { "20260217-155451": 1, "60": 4, "62": 2 }[id],
        max_num_seqs: 128,
        max_num_batched_tokens: id === "60" ? 8192 : id === "62" ? 1024 : 2048,
        total_kv_blocks_gpu: { "20260217-155451": 7463, "60": 30251, "62": 48009 }[id],
        cpu_kv_blocks: 0,
        workload: {
          inference_perf: {
            shared_prefix: {
              num_unique_system_prompts: 9,
              num_users_per_system_prompt: 5,
              system_prompt_len: 100,
              question_len: 447,
              output_len: 248,
              enable_multi_turn_chat: true,
            },
            stages:
              id === "20260217-155451"
                ? [
                    { rate: 5, duration: 60 },
                    { rate: 10, duration: 60 },
                  ]
                : [
                    { rate: 2.5, duration: 60 },
                    { rate: 6, duration: 60 },
                  ],
          },
          seed: 42,
        },
      })),
    }),
    "synthetic.json",
  ).experiments;
  return base.map((e) => {
    const run = simulateExperiment(e, fam.build(e, Float64Array.from(theta), alpha));
    return { ...e, actual_vllm_ms: run.predicted as Record<string, Metrics> };
  });
}

describe("calibration on synthetic measurements with known coefficients", () => {
  const trueTheta = [1.15, 0, 0, 120, 0, 0];
  const trueAlpha = [9000, 0, 15];
  const exps = syntheticSet(trueTheta, trueAlpha);

  it("the linearised rows reproduce the simulation at the point they were taken", () => {
    const e = exps[0]!;
    const rc = record(e, kernelFamily(), Float64Array.from(trueTheta), trueAlpha);
    const p = [...trueTheta, ...trueAlpha];
    let sum = 0;
    for (let q = 0; q < rc.n; q++) {
      let v = rc.ttftC[q]!;
      for (let j = 0; j < rc.np; j++) v += rc.ttft[q * rc.np + j]! * p[j]!;
      sum += v;
    }
    // The constant parts are the residuals at this point, so the rows sum back to the simulated TTFTs exactly; the
    // rows alone (without constants) are within 0.1 % of them, i.e. the linearisation misses almost nothing.
    expect(sum / rc.n / 1000).toBeCloseTo(e.actual_vllm_ms!.summary!.ttft_mean, 6);
    let rowsOnly = 0;
    for (let q = 0; q < rc.n; q++) rowsOnly += Math.abs(rc.ttftC[q]!);
    expect(rowsOnly / sum).toBeLessThan(1e-3);
  });

  it("fitting from the raw tables recovers the coefficients and the measurements", () => {
    const f = fitCoefficients(exps, "kernel");
    expect(f.theta[0]).toBeCloseTo(1.15, 1); // the tables' correction, within 0.05
    expect(Math.abs(f.alpha[0]! - 9000) / 9000).toBeLessThan(0.1);
    for (const m of ["ttft_mean", "e2e_mean", "itl_mean"] as const) expect(f.mape[m]!).toBeLessThan(0.01);
    // Unused MoE terms stay at 0.
    expect(f.theta[4]).toBeCloseTo(0, 6);
    expect(f.theta[5]).toBeCloseTo(0, 6);
    const file = coefficientFile(f, { name: "synthetic", data: ["synthetic.json"] });
    expect(file.model).toBe("kernel");
    expect(file.beta).toHaveLength(6);
    expect(parseCoefficientFile(JSON.stringify(file), "x.json").name).toBe("synthetic");
  });

  it("is deterministic", () => {
    const a = fitCoefficients(exps, "kernel", { maxIterations: 2 });
    const b = fitCoefficients(exps, "kernel", { maxIterations: 2 });
    expect([...a.theta, ...a.alpha]).toEqual([...b.theta, ...b.alpha]);
  });

  it("physics: θ is a scale on BLIS iter29's roofline plus its overheads", () => {
    const b = BLIS_TRAINED_PHYSICS_ITER29.beta;
    const beta = physicsBeta([2, 10, 20, 30, 40]);
    expect(beta).toEqual([2 * b[0], 2 * b[1], 2 * b[2], 2 * b[3], 10, 20, 30, 40, 2 * b[8], 2 * b[9], 2 * b[10]]);
  });

  it("leave-one-out and linear: a model with a single run is not predictable by linear", () => {
    const sets = [{ file: "synthetic.json", description: "", experiments: exps }];
    const out = calibrate(sets, { kind: "linear", leaveOneOut: true, maxIterations: 2 });
    expect(out.loo!.predictedFolds).toBe(0);
    expect(out.file.linear).toHaveLength(3);
    for (const m of METRICS) expect(out.loo!.mape[m]).toBeUndefined();
  });
});

describe("gatelab calibrate (CLI)", () => {
  const dir = mkdtempSync(join(tmpdir(), "gatelab-cal-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cli = runFidelityCli;

  it("fits synthetic runs and writes a coefficient file a scenario can reference", async () => {
    const exps = syntheticSet([1.1, 0, 0, 100, 0, 0], [8000, 0, 10]).slice(1);
    const data = join(dir, "runs.json");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(data, JSON.stringify({ experiments: exps }));
    const out = join(dir, "coeffs.json");
    const text = await cli(["calibrate", "--data", data, "--model", "kernel", "--out", out, "--name", "t", "-q"]);
    expect(text).toMatch(/calibrated kernel on 2 experiments/);
    expect(text).toMatch(/MAPE/);
    const file = parseCoefficientFile(readFileSync(out, "utf8"), out);
    expect(file.name).toBe("t");
    expect(file.fit?.experiments).toEqual(["60", "62"]);
  });

  it("bad input is an InputError naming the field", async () => {
    await expect(
      cli(["calibrate", "--data", CAL_FILE, "--model", "nonesuch", "--out", join(dir, "x.json")]),
    ).rejects.toThrow(/--model: expected one of roofline, physics, linear, kernel, got "nonesuch"/);
    await expect(cli(["calibrate", "--data", join(dir, "none.json"), "--out", join(dir, "x.json")])).rejects.toThrow(
      /none\.json: cannot read/,
    );
  });

  it.skipIf(!existsSync(CAL_FILE))("the shipped kernel set was fitted on the calibration file", () => {
    const f = parseCoefficientFile(
      readFileSync(new URL("../data/calibrated/gatelab-h100-vllm-0.15.1-kernel.json", import.meta.url), "utf8"),
      "k.json",
    );
    expect(f.fit?.experiments).toHaveLength(7);
    expect(f.fit?.leave_one_out_folds).toBe(7);
  });
});

describe("roofline family: physics priors, α0 only", () => {
  // Runs made with the roofline family at known coefficients inside its prior's reach (compute × 0.6, memory × 0.95,
  // all-reduce × 0.5, 40 µs per layer, 3 µs per request, 130 µs per step) and α0 = 5 ms.
  const trueTheta = [0.6, 0.95, 0.5, 0.5, 40, 3, 130, 0];
  const exps = syntheticSet(trueTheta, [5000, 0, 0], rooflineFamily());

  it("declares a plain Gaussian prior (weight 1/FIT_NOISE²) and fits α0 alone", () => {
    const fam = rooflineFamily();
    expect(fam.priorWeight).toBeCloseTo(1 / FIT_NOISE ** 2, 9);
    expect(fam.fitAlpha).toEqual([true, false, false]);
    expect([...fam.prior]).toEqual([...ROOFLINE_PRIOR.mean]);
  });

  it("recovers the measurements; what no run sees stays at its prior; α1 = α2 = 0", () => {
    const f = fitCoefficients(exps, "roofline", { maxIterations: 4 });
    for (const m of ["ttft_mean", "e2e_mean", "itl_mean"] as const) expect(f.mape[m]!).toBeLessThan(0.02);
    expect(f.alpha[1]).toBe(0);
    expect(f.alpha[2]).toBe(0);
    // No MoE layer in these runs: the per-MoE-layer term keeps its prior mean.
    expect(f.theta[7]).toBeCloseTo(ROOFLINE_PRIOR.mean[7], 6);
    // The prior holds the scales near physics: the memory scale (± 0.1) lands within 0.1 of the truth.
    expect(Math.abs(f.theta[1]! - 0.95)).toBeLessThan(0.1);
    expect(Math.abs(f.alpha[0]! - 5000) / 5000).toBeLessThan(0.25);
  });

  it("on a TP 1 run alone the all-reduce scales are the prior's (no all-reduce to fit them on)", () => {
    const f = fitCoefficients([exps[0]!], "roofline", { maxIterations: 2 });
    expect(f.theta[2]).toBeCloseTo(ROOFLINE_PRIOR.mean[2], 6);
    expect(f.theta[3]).toBeCloseTo(ROOFLINE_PRIOR.mean[3], 6);
  });
});
