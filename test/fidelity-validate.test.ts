import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../src/errors.ts";
import {
  type Experiment,
  experimentSource,
  formatValidation,
  METRICS,
  parseValidationSet,
  simulateExperiment,
  validateFile,
  validateSet,
} from "../src/lab/validate.ts";
import { createCostModel } from "../src/models/cost-factory.ts";
import { renderTable } from "../src/report/table.ts";
import { runFidelityCli } from "./helpers/fidelity-cli.ts";

const CAL_FILE = join(
  import.meta.dirname,
  "..",
  "..",
  "shared",
  "data",
  "sim-to-real-validation",
  "calibration_set_h100_vllm_7exp.json",
);

/** A small run in the schema of the calibration set (Qwen2.5-7B TP1, 30 s at 2 req/s, 40 output tokens). */
function small(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: "q",
    experiment: "small-qwen",
    model: "Qwen/Qwen2.5-7B-Instruct",
    hardware: "H100",
    tp: 1,
    max_num_seqs: 128,
    max_num_batched_tokens: 2048,
    total_kv_blocks_gpu: 65352,
    cpu_kv_blocks: 0,
    kv_block_size_tokens: 16,
    workload: {
      inference_perf: {
        shared_prefix: {
          enable_multi_turn_chat: true,
          num_unique_system_prompts: 2,
          num_users_per_system_prompt: 3,
          output_len: 40,
          question_len: 200,
          system_prompt_len: 100,
        },
        stages: [
          { duration: 30, rate: 2 },
          { duration: 30, rate: 4 },
        ],
      },
      num_requests: 180,
      seed: 42,
    },
    ...over,
  };
}

const file = (experiments: unknown[]) => JSON.stringify({ experiments });

describe("validation files", () => {
  it("malformed files give an InputError naming the experiment and the field", () => {
    expect(() => parseValidationSet("{", "v.json")).toThrow(/^v\.json: not valid JSON/);
    expect(() => parseValidationSet("{}", "v.json")).toThrow("v.json: experiments: expected an array of experiments");
    expect(() => parseValidationSet(file([small({ tp: "two" })]), "v.json")).toThrow(
      /^v\.json: experiments\.0 \(id "q"\)\.tp: expected number, got "two"$/,
    );
    expect(() => parseValidationSet(file([small({ tp: -2 })]), "v.json")).toThrow(
      /^v\.json: experiments\.0 \(id "q"\)\.tp: expected a number > 0, got -2$/,
    );
    const noTp = small();
    delete (noTp as { tp?: unknown }).tp;
    expect(() => parseValidationSet(file([noTp]), "v.json")).toThrow(
      /^v\.json: experiments\.0 \(id "q"\)\.tp: missing \(expected number\)$/,
    );
    expect(() => parseValidationSet(file([small(), small({ id: "b", model: "acme/unknown-7b" })]), "v.json")).toThrow(
      /^v\.json: experiments\.1 \(id "b"\)\.model: Unknown model "acme\/unknown-7b"/,
    );
    expect(() => parseValidationSet(file([small({ workload: { seed: 1 } })]), "v.json")).toThrow(
      /experiments\.0 \(id "q"\)\.workload\.inference_perf: /,
    );
    expect(() => parseValidationSet(file([small(), small()]), "v.json")).toThrow(/\.id: expected a unique id, "q"/);
    expect(() =>
      parseValidationSet(file([small({ actual_vllm_ms: { stage_0: { ttft_mean: 1 } } })]), "v.json"),
    ).toThrow(/actual_vllm_ms\.stage_0\.ttft_p90: /);
    const e = (() => {
      try {
        parseValidationSet(file([small({ hardware: "TPU" })]), "v.json");
      } catch (x) {
        return x;
      }
    })();
    expect(e).toBeInstanceOf(InputError);
    expect((e as Error).message).toMatch(/experiments\.0 \(id "q"\)\.hardware: Unknown GPU "TPU"/);
  });

  it("without measurements only predictions are reported, per stage", () => {
    const set = parseValidationSet(file([small()]), "v.json");
    const r = validateSet(set);
    expect(r.mape).toEqual({});
    const x = r.experiments[0]!;
    expect(x.completed).toBe(180);
    expect(x.stages.map((s) => s.stage)).toEqual(["summary", "stage_0", "stage_1"]);
    expect(x.actual).toBeUndefined();
    for (const m of METRICS) expect(x.predicted[m]).toBeGreaterThan(0);
    expect(x.predicted.e2e_mean).toBeGreaterThan(x.predicted.ttft_mean + 38 * x.predicted.itl_mean * 0.99);
    expect(formatValidation(r, renderTable)).toMatch(/predictions only/);
  });

  it("with measurements: APE per metric and MAPE; BLIS's predictions beside", () => {
    const set = parseValidationSet(file([small()]), "v.json");
    const pred = validateSet(set).experiments[0]!;
    const actual = Object.fromEntries(METRICS.map((m) => [m, pred.predicted[m] * 1.1]));
    const blis = Object.fromEntries(METRICS.map((m) => [`${m}_ms`, pred.predicted[m] * 0.8]));
    const set2 = parseValidationSet(
      file([small({ actual_vllm_ms: { summary: actual }, blis_trained_physics_iter29_predicted_summary_ms: blis })]),
      "v.json",
    );
    const r = validateSet(set2);
    for (const m of METRICS) {
      expect(r.mape[m]).toBeCloseTo(1 - 1 / 1.1, 9);
      expect(r.blis_mape![m]).toBeCloseTo(1 - 0.8 / 1.1, 9);
    }
    expect(r.experiments[0]!.stages[1]!.ape).toBeUndefined(); // no stage measurements given
  });

  it("fresh questions share only the system prompt; cycle repeats whole prompts", () => {
    const e = parseValidationSet(file([small()]), "v.json").experiments[0]! as Experiment;
    const cost = createCostModel({ type: "kernel" }, { model: e.model, gpu: "H100", tp: 1 });
    const fresh = simulateExperiment(e, cost);
    const cycle = simulateExperiment(e, cost, { workloadMode: "cycle" });
    const rate = (r: typeof fresh) =>
      r.result.replicas[0]!.counters.prefixHits / r.result.replicas[0]!.counters.prefixQueries;
    // 300-token prompts: 96 of the 100 system-prompt tokens are full blocks that hit after the first of each group.
    expect(rate(fresh)).toBeCloseTo(96 / 300, 1);
    expect(rate(cycle)).toBeGreaterThan(0.9);
    const a = experimentSource(e).next()!;
    expect(a.inputTokens).toBe(300);
    expect(a.prompt).toHaveLength(2);
  });
});

describe("gatelab validate (CLI)", () => {
  const cli = runFidelityCli;

  it("an unknown model or a bad option is an InputError (exit code 2 in the CLI)", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "gatelab-val-"));
    const bad = join(dir, "bad.json");
    writeFileSync(bad, file([small({ model: "nope" })]));
    await expect(cli(["validate", bad])).rejects.toBeInstanceOf(InputError);
    await expect(cli(["validate", bad])).rejects.toThrow(/experiments\.0 \(id "q"\)\.model: Unknown model "nope"/);
    const good = join(dir, "good.json");
    writeFileSync(good, file([small()]));
    await expect(cli(["validate", good, "--model", "nonesuch"])).rejects.toThrow(/--model: expected one of/);
    await expect(cli(["validate", good, "--only", "zz"])).rejects.toThrow(/no experiment with id zz/);
    const json = JSON.parse(await cli(["validate", good, "--json"]));
    expect(json.experiments[0].id).toBe("q");
    expect(Object.keys(json.experiments[0].predicted)).toEqual([...METRICS]);
    expect(json.mape).toEqual({});
  });

  // Regression guard: the shipped kernel coefficients on the calibration set (in-sample; docs/fidelity.md publishes
  // these figures and the leave-one-out ones). Not a wall-clock test: it asserts errors only.
  it.skipIf(!existsSync(CAL_FILE))(
    "the calibration set with the shipped kernel coefficients stays within the published errors",
    () => {
      const r = validateFile(CAL_FILE);
      expect(r.experiments).toHaveLength(7);
      // Published in docs/fidelity.md with one decimal (%): the rounded errors must not exceed them.
      const published = { ttft_mean: 7.2, e2e_mean: 2.7, itl_mean: 4.5 };
      for (const [m, v] of Object.entries(published)) {
        expect(Number((r.mape[m as keyof typeof published]! * 100).toFixed(1))).toBeLessThanOrEqual(v);
      }
      // BLIS's own predictions in the file: 14.4 %, 10.7 %, 8.5 %.
      expect(r.blis_mape!.ttft_mean!).toBeCloseTo(0.144, 3);
      expect(r.blis_mape!.e2e_mean!).toBeCloseTo(0.107, 3);
      expect(r.blis_mape!.itl_mean!).toBeCloseTo(0.085, 3);
    },
    60_000,
  );

  // The shipped roofline calibration on the same runs (in-sample; leave-one-out in docs/fidelity.md).
  it.skipIf(!existsSync(CAL_FILE))(
    "the calibration set with the shipped roofline calibration stays within the published errors",
    () => {
      const r = validateFile(CAL_FILE, {
        costModel: { type: "roofline", coefficients: "gatelab-h100-vllm-0.15.1-roofline" },
      });
      expect(r.experiments).toHaveLength(7);
      const published = { ttft_mean: 3.9, e2e_mean: 4.7, itl_mean: 4.9 };
      for (const [m, v] of Object.entries(published)) {
        expect(Number((r.mape[m as keyof typeof published]! * 100).toFixed(1))).toBeLessThanOrEqual(v + 0.2);
      }
    },
    120_000,
  );
});
