/**
 * `gatelab calibrate` and `gatelab validate`: fit cost-model coefficients to measured vLLM runs and compare the
 * simulator with them (src/lab/calibrate.ts, src/lab/validate.ts; docs/fidelity.md). Thin: parse, call the lab, print.
 */
import type { Command } from "commander";
import { InputError } from "../errors.ts";
import { type CalibrationOutput, calibrate, MODEL_KINDS, type ModelKind } from "../lab/calibrate.ts";
import { familyFor } from "../lab/fit-families.ts";
import { fitStepTimes, loadStepTable, type StepFit, stepCoefficientFile, withStepPrior } from "../lab/step-times.ts";
import {
  formatValidation,
  loadValidationSet,
  METRIC_LABELS,
  METRICS,
  type Metrics,
  validateFile,
  WORKLOAD_MODES,
  type WorkloadMode,
} from "../lab/validate.ts";
import { type BenchServer, benchExperiment, loadVllmBench } from "../lab/vllm-bench.ts";
import { COST_MODELS, type CostModelInput } from "../models/cost-factory.ts";
import { writeFileAtomic } from "../report/atomic.ts";
import { renderTable } from "../report/table.ts";
import { fieldBound } from "../scenario-bounds.ts";

function modelKind(v: string | undefined, flag: string): ModelKind {
  const k = (v ?? "kernel") as ModelKind;
  if (!MODEL_KINDS.includes(k)) throw new InputError(`${flag}: expected one of ${MODEL_KINDS.join(", ")}, got "${v}"`);
  return k;
}

function workloadMode(v: string | undefined): WorkloadMode {
  const m = (v ?? "fresh") as WorkloadMode;
  if (!WORKLOAD_MODES.includes(m)) {
    throw new InputError(`--workload-mode: expected one of ${WORKLOAD_MODES.join(", ")}, got "${v}"`);
  }
  return m;
}

const pct = (x: number | undefined): string =>
  x === undefined || Number.isNaN(x) ? "n/a" : `${(x * 100).toFixed(1)}%`; // NaN: a metric the measured run did not report

function metricRow(label: string, m: Partial<Metrics> | undefined): string[] {
  return [label, ...METRICS.map((k) => pct(m?.[k]))];
}

/** Text report of a calibration: coefficients, fitted errors, leave-one-out errors beside BLIS's. */
export function formatCalibration(out: CalibrationOutput, outPath: string): string {
  const f = out.fit;
  const lines: string[] = [];
  lines.push(`calibrated ${f.kind} on ${f.experiments.length} experiments in ${f.iterations} iterations`);
  lines.push(
    renderTable(
      ["coefficient", "value"],
      [
        ...f.family.terms.map((t, j) => [t, f.theta[j]!.toPrecision(6)]),
        ["alpha0_pre_queue_us", f.alpha[0]!.toFixed(1)],
        ["alpha1_post_decode_us", f.alpha[1]!.toFixed(1)],
        ["alpha2_per_output_token_us", f.alpha[2]!.toFixed(1)],
      ],
    ),
  );
  lines.push("", "fit error (absolute percentage error of the whole run, coefficients fitted on all experiments):");
  const head = ["experiment", ...METRICS.map((m) => METRIC_LABELS[m])];
  const rows = Object.entries(f.ape).map(([id, a]) => metricRow(id, a));
  rows.push(metricRow("MAPE", f.mape));
  lines.push(renderTable(head, rows));
  if (out.loo !== undefined) {
    const loo = out.loo;
    lines.push(
      "",
      `leave-one-out (fit on the others, predict the held-out run; ${loo.predictedFolds} of ${loo.folds.length} predictable):`,
    );
    const r2 = loo.folds.map((x) => metricRow(x.id, x.ape));
    r2.push(metricRow("gatelab MAPE", loo.mape));
    r2.push(metricRow("BLIS MAPE (file)", loo.blisMape));
    lines.push(renderTable(head, r2));
  }
  lines.push("", `wrote ${outPath} (${out.file.name})`);
  return lines.join("\n");
}

export function registerFidelityCommands(program: Command): void {
  program
    .command("calibrate")
    .description(
      "fit cost-model coefficients (and request overheads) to measured vLLM runs, vllm bench serve results and/or " +
        "measured step times; print the fit error",
    )
    .option("--data <files...>", "measured runs (schema of calibration_set_h100_vllm_7exp.json)")
    .option("--vllm-bench <files...>", "result files of vllm bench serve --save-result (docs/calibration.md)")
    .option("--steps <files...>", "CSV of measured step times (docs/calibration.md)")
    .option("--model <kind>", `cost model to fit: ${MODEL_KINDS.join(", ")}`, "kernel")
    .requiredOption("-o, --out <file>", "coefficient file to write (reference it as cost_model.coefficients)")
    .option("--name <name>", "name of the coefficient set (default calibrated-<model>)")
    .option("--model-name <name>", "catalog model of --steps rows and --vllm-bench runs without one")
    .option("--gpu <name>", "GPU of --steps rows and --vllm-bench runs without one")
    .option("--tp <n>", "tensor parallelism of --steps rows and --vllm-bench runs without one")
    .option("--max-num-seqs <n>", "the benchmarked server's max_num_seqs (default: vllm serve's for the GPU)")
    .option("--max-num-batched-tokens <n>", "the benchmarked server's max_num_batched_tokens (default: vllm serve's)")
    .option("--num-gpu-blocks <n>", "the benchmarked server's KV blocks (vLLM logs '# GPU blocks'; default: derived)")
    .option("--leave-one-out", "also fit on all runs but one and predict it, for every run (slower)")
    .option(
      "--workload-mode <mode>",
      `prompts of the runs: ${WORKLOAD_MODES.join(", ")} (see docs/fidelity.md)`,
      "fresh",
    )
    .option("--json", "print the coefficient file and the errors as JSON")
    .option("-q, --quiet", "no progress on stderr")
    .action(
      (o: {
        data?: string[];
        vllmBench?: string[];
        steps?: string[];
        model?: string;
        out: string;
        name?: string;
        modelName?: string;
        gpu?: string;
        tp?: string;
        maxNumSeqs?: string;
        maxNumBatchedTokens?: string;
        numGpuBlocks?: string;
        leaveOneOut?: boolean;
        workloadMode?: string;
        json?: boolean;
        quiet?: boolean;
      }) => {
        const kind = modelKind(o.model, "--model");
        const mode = workloadMode(o.workloadMode);
        if (o.data === undefined && o.vllmBench === undefined && o.steps === undefined) {
          throw new InputError("calibrate: expected measurements: --data, --vllm-bench and/or --steps");
        }
        // The server's settings describe --vllm-bench runs (and the model, GPU and TP --steps rows); --data
        // experiments carry their own, so there they would be ignored without a word.
        const serverOnly = [
          ["--max-num-seqs", o.maxNumSeqs],
          ["--max-num-batched-tokens", o.maxNumBatchedTokens],
          ["--num-gpu-blocks", o.numGpuBlocks],
        ] as const;
        for (const [flag, v] of serverOnly) {
          if (v !== undefined && o.vllmBench === undefined)
            throw new InputError(
              `${flag}: describes the server of --vllm-bench runs; give it with --vllm-bench (--data experiments carry their own engine settings)`,
            );
        }
        for (const [flag, v] of [
          ["--model-name", o.modelName],
          ["--gpu", o.gpu],
          ["--tp", o.tp],
        ] as const) {
          if (v !== undefined && o.vllmBench === undefined && o.steps === undefined)
            throw new InputError(
              `${flag}: applies to --steps rows and --vllm-bench runs without one; --data experiments carry their own`,
            );
        }
        const tp = positiveInt(o.tp, "--tp");
        const server: BenchServer = {
          ...(o.modelName !== undefined ? { model: o.modelName } : {}),
          ...(o.gpu !== undefined ? { gpu: o.gpu } : {}),
          ...(tp !== undefined ? { tp } : {}),
          ...optInt("maxNumSeqs", o.maxNumSeqs, "--max-num-seqs"),
          ...optInt("maxNumBatchedTokens", o.maxNumBatchedTokens, "--max-num-batched-tokens"),
          ...optInt("numGpuBlocks", o.numGpuBlocks, "--num-gpu-blocks"),
        };
        const log = o.quiet ? undefined : (l: string) => process.stderr.write(`${l}\n`);
        const stepDefaults = {
          ...(o.modelName !== undefined ? { model: o.modelName } : {}),
          ...(o.gpu !== undefined ? { gpu: o.gpu } : {}),
          ...(tp !== undefined ? { tp } : {}),
        };
        const stepFit =
          o.steps !== undefined
            ? fitStepTimes(
                o.steps.map((f) => loadStepTable(f, stepDefaults)),
                kind,
              )
            : undefined;
        if (stepFit !== undefined) log?.(`fitted ${stepFit.rows} step times: MAPE ${pct(stepFit.mape)}`);
        const sets = (o.data ?? []).map((f) => loadValidationSet(f));
        for (const f of o.vllmBench ?? []) {
          const runs = loadVllmBench(f);
          sets.push({
            file: f,
            description: "vllm bench serve",
            experiments: runs.map((r) => benchExperiment(r, server)),
          });
        }
        if (sets.length > 0 && !sets.some((s) => s.experiments.some((e) => e.actual_vllm_ms !== undefined))) {
          throw new InputError(`--data: no experiment has actual_vllm_ms (measurements are needed to calibrate)`);
        }
        if (sets.length === 0) {
          const file = stepCoefficientFile(stepFit!, { name: o.name ?? `calibrated-${kind}` });
          writeFileAtomic(o.out, `${JSON.stringify(file, null, 2)}\n`);
          if (o.json)
            process.stdout.write(`${JSON.stringify({ coefficients: file, steps: stepReport(stepFit!) }, null, 2)}\n`);
          else process.stdout.write(`${formatStepFit(stepFit!, o.out)}\n`);
          return;
        }
        const train = sets.flatMap((s) => s.experiments).filter((e) => e.actual_vllm_ms !== undefined);
        const out = calibrate(sets, {
          kind,
          workloadMode: mode,
          ...(stepFit !== undefined
            ? {
                family: withStepPrior(familyFor(kind, train), stepFit),
                start: { theta: withStepPrior(familyFor(kind, train), stepFit).prior, alpha: [0, 0, 0] },
              }
            : {}),
          ...(o.leaveOneOut ? { leaveOneOut: true } : {}),
          ...(o.name !== undefined ? { name: o.name } : {}),
          ...(log !== undefined ? { log } : {}),
        });
        const file =
          stepFit !== undefined
            ? {
                ...out.file,
                fit: { ...out.file.fit, steps: stepFit.files, step_rows: stepFit.rows, fitted_step_mape: stepFit.mape },
              }
            : out.file;
        writeFileAtomic(o.out, `${JSON.stringify(file, null, 2)}\n`);
        if (o.json) {
          const obj = {
            coefficients: file,
            fit: { ape: out.fit.ape, mape: out.fit.mape },
            ...(stepFit !== undefined ? { steps: stepReport(stepFit) } : {}),
            ...(out.loo !== undefined ? { leave_one_out: out.loo } : {}),
          };
          process.stdout.write(`${JSON.stringify(obj, null, 2)}\n`);
        } else {
          if (stepFit !== undefined)
            process.stdout.write(`step times: ${stepFit.rows} rows, MAPE ${pct(stepFit.mape)}\n`);
          process.stdout.write(`${formatCalibration(out, o.out)}\n`);
        }
      },
    );

  program
    .command("validate")
    .description("simulate measured vLLM runs and print predicted vs measured TTFT, E2E and ITL with their errors")
    .argument("<file>", "runs in the schema of calibration_set_h100_vllm_7exp.json")
    .option(
      "--model <kind>",
      `cost model: ${MODEL_KINDS.join(", ")} (default kernel; coefficients: kernel and linear the shipped ` +
        "calibrations, physics BLIS iter29)",
    )
    .option("--coefficients <ref>", "coefficient file (.json) or shipped set name for --model")
    .option("--only <ids>", "comma-separated experiment ids")
    .option(
      "--workload-mode <mode>",
      `prompts of the runs: ${WORKLOAD_MODES.join(", ")} (see docs/fidelity.md)`,
      "fresh",
    )
    .option("--json", "print {experiments: [{id, predicted, actual, ape, …}], mape} as JSON")
    .action(
      (
        file: string,
        o: { model?: string; coefficients?: string; only?: string; workloadMode?: string; json?: boolean },
      ) => {
        const kind = modelKind(o.model, "--model");
        const cm = {
          type: kind,
          ...(o.coefficients !== undefined ? { coefficients: o.coefficients } : defaultCoefficients(kind)),
        } as CostModelInput;
        const only = o.only
          ?.split(",")
          .map((x) => x.trim())
          .filter((x) => x.length > 0);
        const report = validateFile(file, {
          costModel: cm,
          baseDir: process.cwd(),
          workloadMode: workloadMode(o.workloadMode),
          ...(only !== undefined && only.length > 0 ? { only } : {}),
        });
        if (o.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else process.stdout.write(`${formatValidation(report, renderTable)}\n`);
      },
    );
}

/** The scenario field each engine flag sets: the flag takes that field's bound (src/scenario-bounds.ts). */
const FLAG_FIELD: Readonly<Record<string, string>> = {
  "--tp": "tp",
  "--num-gpu-blocks": "total_kv_blocks",
  "--max-num-seqs": "max_num_seqs",
  "--max-num-batched-tokens": "max_num_batched_tokens",
};

function positiveInt(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isInteger(x) || x <= 0) throw new InputError(`${flag}: expected a positive integer, got "${v}"`);
  const field = FLAG_FIELD[flag];
  const bound = field !== undefined ? fieldBound(field) : undefined;
  if (bound?.max !== undefined && x > bound.max)
    throw new InputError(`${flag}: at most ${bound.max.toLocaleString("en-US")} ${bound.why}, got "${v}"`);
  return x;
}

function optInt<K extends string>(key: K, v: string | undefined, flag: string): Partial<Record<K, number>> {
  const x = positiveInt(v, flag);
  return x === undefined ? {} : ({ [key]: x } as Partial<Record<K, number>>);
}

function stepReport(f: StepFit): Record<string, unknown> {
  return {
    rows: f.rows,
    mape: f.mape,
    terms: f.family.terms,
    theta: [...f.theta],
    predicted_ms: [...f.predictedMs],
    ape: [...f.ape],
  };
}

/** Text report of a step-time fit. */
export function formatStepFit(f: StepFit, outPath: string): string {
  const worst = [...f.ape].reduce((m, x) => Math.max(m, x), 0);
  return [
    `calibrated ${f.kind} on ${f.rows} measured step times (${f.files.join(", ")})`,
    renderTable(
      ["coefficient", "value"],
      f.family.terms.map((t, j) => [t, f.theta[j]!.toPrecision(6)]),
    ),
    "",
    `step time error: MAPE ${pct(f.mape)}, worst row ${pct(worst)}`,
    "request overheads (alpha) are 0: step times cannot show them; add --vllm-bench results to fit them",
    "",
    `wrote ${outPath}`,
  ].join("\n");
}

/** What `validate` prices with when no `--coefficients` is given: the registry's `validateWith`, else the model's own default. */
function defaultCoefficients(kind: ModelKind): { coefficients?: string } {
  const set = COST_MODELS[kind].calibration?.validateWith;
  return set !== undefined ? { coefficients: set } : {};
}
