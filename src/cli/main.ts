/**
 * The `gatelab` command line. Thin: parse arguments, call the lab, print. Bad input → one line on stderr, exit 2.
 */
import { existsSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { z } from "zod";
import { errnoText, InputError, OutputError } from "../errors.ts";
import { expectedRequests } from "../lab/budget.ts";
import { compare } from "../lab/compare.ts";
import { runScenario } from "../lab/run.ts";
import { DEFAULT_EPP_VARIANT, EPP_VARIANTS } from "../policies/epp/variants.ts";
import { checkOutputSetDir, checkWritableFile, writeOutputSet } from "../report/atomic.ts";
import { comparisonJson, formatComparison } from "../report/compare.ts";
import { decisionTraceWriter } from "../report/decisions.ts";
import { assertInferencePerfScenario, parseReportFormat, writeInferencePerfOutputs } from "../report/inference-perf.ts";
import { formatIpStages } from "../report/inference-perf-stages.ts";
import { relocate, writeCompareOutputs } from "../report/lab-outputs.ts";
import { metricsOptions, OutputWriteError, writeMetricsFile } from "../report/openmetrics-cli.ts";
import { writeRunOutputs } from "../report/outputs.ts";
import { formatRun } from "../report/text.ts";
import { formatZodError, loadScenario } from "../scenario.ts";
import { didYouMean } from "../suggest.ts";
import { seedArg } from "./args.ts";
import { registerFidelityCommands } from "./fidelity.ts";
import { registerInferencePerfCommands } from "./inference-perf.ts";
import { registerLabCommands } from "./lab.ts";
import { registerModelsCommand } from "./models.ts";
import { registerPoliciesCommand } from "./policies.ts";
import { progressWanted, simulationProgress } from "./progress.ts";
import { registerTraceCommands } from "./trace.ts";

/** Policies `npm start` and `gatelab compare` use when none are given. */
export const DEFAULT_COMPARE_POLICIES = ["round-robin", "least-request", "gie-default"];

/** Where `compare` (and so `npm start`) writes its charts and report when no --out is given. */
export const DEFAULT_RESULTS_DIR = "results/latest";

function parseList(v: string): string[] {
  const list = v
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x.length > 0);
  if (list.length === 0) throw new InvalidArgumentError("expected a comma-separated list");
  return list;
}

export function buildProgram(): Command {
  const program = new Command("gatelab")
    .description(
      "Deterministic simulator of LLM-serving clusters and lab for inference-aware routing and admission policies.\n" +
        "With no command: compare the default policies on the embedded default scenario.",
    )
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)");

  program
    .command("run")
    .description("simulate one scenario with one policy and print the summary")
    .argument("[scenario]", "scenario YAML file (default: the embedded default scenario)")
    .option("-p, --policy <name>", "routing policy (see `gatelab policies`); overrides the scenario's gateway.policy")
    .option("--epp-config <file>", "EndpointPickerConfig YAML to route with (overrides --policy)")
    .option(
      "--epp-variant <name>",
      `Endpoint Picker semantics: ${EPP_VARIANTS.join(", ")} (default ${DEFAULT_EPP_VARIANT}, today's router)`,
    )
    .option("-s, --seed <n>", "random seed (overrides the scenario's seed)", seedArg)
    .option("--json", "print the summary as JSON")
    .option("-o, --out <dir>", "write summary.json and requests.csv to this folder")
    .option("--trace-decisions <file>", "write every routing decision (candidates, scores, pick) as JSONL")
    .option("--no-fast-forward", "step replicas one step at a time (the reference path; same results, slower)")
    .option("--metrics-out <file>", "write the run's time series as vLLM / Endpoint Picker metrics (OpenMetrics)")
    .option(
      "--report <format>",
      "with --out and a `type: inference-perf` workload: also write inference-perf's report files to " +
        "OUT/inference-perf/<policy>/ (inference-perf, or inference-perf-legacy for its 2025 format)",
    )
    .option(
      "--metrics-epoch <time>",
      "wall-clock time of simulated t=0: Unix seconds, ISO 8601, or now",
      "2025-01-01T00:00:00Z",
    )
    .option("--metrics-interval <s>", "seconds between metric points (whole seconds)", "5")
    .action(
      async (
        file: string | undefined,
        o: {
          policy?: string;
          eppConfig?: string;
          eppVariant?: string;
          seed?: number;
          json?: boolean;
          out?: string;
          traceDecisions?: string;
          fastForward?: boolean;
          metricsOut?: string;
          metricsEpoch: string;
          metricsInterval: string;
          report?: string;
        },
      ) => {
        const metrics = o.metricsOut !== undefined ? metricsOptions(o.metricsEpoch, o.metricsInterval) : undefined;
        const ipFormat = o.report !== undefined ? parseReportFormat(o.report) : undefined;
        if (ipFormat !== undefined && !o.out) throw new InputError("--report inference-perf needs --out DIR");
        const loaded = loadScenario(file);
        if (ipFormat !== undefined) assertInferencePerfScenario(loaded);
        if (o.out) checkOutputSetDir(o.out);
        if (o.metricsOut !== undefined) checkWritableFile(o.metricsOut, "metrics file");
        const tracer = o.traceDecisions ? decisionTraceWriter(o.traceDecisions) : undefined;
        const progress = simulationProgress(process.stderr, o.json !== true && progressWanted());
        const out = runScenario(loaded, {
          wrapSource: progress.wrap("run", expectedRequests(loaded.scenario)),
          ...(o.policy ? { policy: o.policy } : {}),
          ...(o.eppConfig ? { eppConfig: o.eppConfig } : {}),
          ...(o.eppVariant ? { eppVariant: o.eppVariant } : {}),
          ...(o.seed !== undefined ? { seed: o.seed } : {}),
          ...(tracer ? { onDecision: tracer.record } : {}),
          ...(o.fastForward === false ? { fastForward: false } : {}),
        });
        progress.done();
        tracer?.close();
        const outDir = o.out;
        const ipDirs =
          outDir === undefined
            ? []
            : await writeOutputSet(outDir, (stage) => {
                writeRunOutputs(stage, loaded, [out]);
                return (ipFormat !== undefined ? writeInferencePerfOutputs(stage, [out], ipFormat) : []).map((d) => ({
                  ...d,
                  dir: join(outDir, relative(stage, d.dir)),
                }));
              });
        if (o.metricsOut !== undefined && metrics !== undefined)
          writeMetricsFile(o.metricsOut, [out], metrics, loaded.scenario.name);
        if (o.json) process.stdout.write(`${JSON.stringify(out.summary, null, 2)}\n`);
        else {
          process.stdout.write(
            `${formatRun(`scenario "${loaded.scenario.name}" · policy ${out.policy} · seed ${out.seed}`, out.summary)}\n`,
          );
          if (out.summary.inference_perf)
            process.stdout.write(`\n${formatIpStages("inference-perf stages", out.summary.inference_perf)}\n`);
          if (o.out) process.stdout.write(`\nwrote ${o.out}/summary.json and ${o.out}/requests.csv\n`);
          for (const d of ipDirs) process.stdout.write(`inference-perf reports: ${d.dir}/ (${d.files.length} files)\n`);
        }
      },
    );

  const compareCmd = program
    .command("compare", { isDefault: true })
    .description(
      "run the same request stream against several policies and print them side by side (with no --out, charts and " +
        "an HTML report go to results/latest/)",
    )
    .argument("[scenario]", "scenario YAML file (default: the embedded default scenario)")
    .option(
      "-P, --policies <list>",
      `comma-separated policies (default: ${DEFAULT_COMPARE_POLICIES.join(",")})`,
      parseList,
    )
    .option(
      "--epp-config <files>",
      "comma-separated EndpointPickerConfig YAML files, compared after the policies",
      parseList,
    )
    .option("-s, --seed <n>", "random seed (overrides the scenario's seed)", seedArg)
    .option("--json", "print the summaries as JSON")
    .option("-o, --out <dir>", "write summary.json, requests.csv, charts/ and report.html to this folder")
    .option(
      "--report <format>",
      "with a `type: inference-perf` workload: also write inference-perf's report files per policy to " +
        "OUT/inference-perf/<policy>/ (inference-perf, or inference-perf-legacy for its 2025 format)",
    )
    .option("--no-report", "write no files unless --out is given, and no charts at all")
    .option("--metrics-out <file>", "write every policy's time series as vLLM / Endpoint Picker metrics (label policy)")
    .option(
      "--metrics-epoch <time>",
      "wall-clock time of simulated t=0: Unix seconds, ISO 8601, or now",
      "2025-01-01T00:00:00Z",
    )
    .option("--metrics-interval <s>", "seconds between metric points (whole seconds)", "5")
    .action(
      async (
        file: string | undefined,
        o: {
          policies?: string[];
          eppConfig?: string[];
          seed?: number;
          json?: boolean;
          out?: string;
          report?: boolean | string;
          metricsOut?: string;
          metricsEpoch: string;
          metricsInterval: string;
        },
      ) => {
        const metrics = o.metricsOut !== undefined ? metricsOptions(o.metricsEpoch, o.metricsInterval) : undefined;
        const ipFormat = typeof o.report === "string" ? parseReportFormat(o.report) : undefined;
        const reportOn = o.report !== false;
        if (ipFormat !== undefined && !o.out && o.json) throw new InputError("--report inference-perf needs --out DIR");
        const loaded = loadScenario(file);
        if (ipFormat !== undefined) assertInferencePerfScenario(loaded);
        const dir = o.out ?? (reportOn && !o.json ? DEFAULT_RESULTS_DIR : undefined);
        if (dir !== undefined) checkOutputSetDir(dir);
        if (o.metricsOut !== undefined) checkWritableFile(o.metricsOut, "metrics file");
        const policies = o.policies ?? (o.eppConfig ? [] : DEFAULT_COMPARE_POLICIES);
        const progress = simulationProgress(process.stderr, o.json !== true && progressWanted());
        const expected = expectedRequests(loaded.scenario);
        const c = compare(loaded, {
          wrapSource: (label) => progress.wrap(label, expected),
          policies,
          ...(o.eppConfig ? { eppConfigs: o.eppConfig } : {}),
          ...(o.seed !== undefined ? { seed: o.seed } : {}),
        });
        progress.done();
        if (o.json) process.stdout.write(`${JSON.stringify(comparisonJson(c), null, 2)}\n`);
        else {
          process.stdout.write(`${formatComparison(c)}\n`);
          for (const r of c.runs)
            if (r.summary.inference_perf)
              process.stdout.write(
                `\n${formatIpStages(`inference-perf stages · ${r.policy}`, r.summary.inference_perf)}\n`,
              );
        }
        if (o.metricsOut !== undefined && metrics !== undefined)
          writeMetricsFile(o.metricsOut, c.runs, metrics, loaded.scenario.name);
        if (dir !== undefined) {
          let ipDirs: { dir: string; files: string[] }[] = [];
          const files = relocate(
            await writeOutputSet(dir, (stage) => {
              if (ipFormat !== undefined)
                ipDirs = writeInferencePerfOutputs(stage, c.runs, ipFormat).map((d) => ({
                  ...d,
                  dir: join(dir, relative(stage, d.dir)),
                }));
              return writeCompareOutputs(stage, c, { charts: reportOn });
            }),
            dir,
          );
          const say = (s: string) => (o.json ? process.stderr : process.stdout).write(s);
          say(`\nwrote ${files.summary} and ${files.requests}\n`);
          if (files.charts.length > 0)
            say(`charts: ${dirname(files.charts[0]!)}/ (${files.charts.length} files, SVG + PNG)\n`);
          if (files.report) say(`report: ${files.report}\n`);
          for (const d of ipDirs) say(`inference-perf reports: ${d.dir}/ (${d.files.length} files)\n`);
        }
      },
    );
  void compareCmd;

  registerPoliciesCommand(program);
  registerModelsCommand(program);
  registerFidelityCommands(program);
  registerTraceCommands(program);
  registerLabCommands(program);
  registerInferencePerfCommands(program);
  return program;
}

/** Exit code of a bug (not of anything a user can cause): BSD sysexits' EX_SOFTWARE, apart from 0–3. */
export const EXIT_INTERNAL = 70;

/** Applies exit-override and error output to a command and every subcommand (nested ones included). */
function overrideExits(c: Command): void {
  c.exitOverride();
  c.configureOutput({
    writeErr: (s) => process.stderr.write(s),
    // One style for every error line: `gatelab: …`, as for bad files.
    outputError: (s, write) => write(`gatelab: ${s.replace(/^error: /, "")}`),
  });
  for (const sub of c.commands) overrideExits(sub);
}

/**
 * `gatelab sweeep …`: the default command (`compare`) takes an optional scenario path, so a misspelt command would be
 * read as a file name. A first word that is neither a command nor an existing file, and looks like neither a path
 * nor a YAML file, is refused with the closest command.
 */
function unknownCommand(program: Command, argv: readonly string[]): InputError | undefined {
  const first = argv[0];
  if (first === undefined || first.startsWith("-")) return undefined;
  const names = program.commands.flatMap((c) => [c.name(), ...c.aliases()]);
  if (names.includes(first) || first === "help") return undefined;
  if (/[./\\]/.test(first) || existsSync(first)) return undefined;
  const hint = didYouMean(first, names);
  return new InputError(
    `unknown command "${first}"${hint || `; commands: ${names.join(", ")} (or give a scenario file)`}`,
  );
}

/**
 * Runs the CLI; returns the exit code: 0 pass, 1 a failed gate or drill, 2 bad input or invocation, 3 an output that
 * cannot be written, 70 a bug (message and stack on stderr).
 */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  overrideExits(program);
  try {
    const bad = unknownCommand(program, argv);
    if (bad) throw bad;
    await program.parseAsync(argv as string[], { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    return exitCodeOf(e);
  }
}

/** Prints what went wrong and gives the exit code of the contract. */
export function exitCodeOf(e: unknown): number {
  if (e instanceof CommanderError) {
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return 0;
    return 2;
  }
  if (e instanceof InputError) {
    process.stderr.write(`gatelab: ${e.message}\n`);
    return 2;
  }
  if (e instanceof OutputError || e instanceof OutputWriteError) {
    process.stderr.write(`gatelab: ${e.message}\n`);
    return 3;
  }
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOSPC" || code === "EDQUOT" || code === "EROFS") {
    // A write that escaped the output helpers: still an output problem, never a bug.
    const path = (e as NodeJS.ErrnoException).path;
    process.stderr.write(`gatelab: ${path ?? "output"}: cannot write: ${errnoText(e)}\n`);
    return 3;
  }
  if (e instanceof z.ZodError) {
    // A schema check that escaped an edge's formatting: the input is at fault, not the program.
    process.stderr.write(`gatelab: ${formatZodError(e, "input", undefined, undefined)}\n`);
    return 2;
  }
  const err = e as Error;
  process.stderr.write(
    `gatelab: internal error (a bug in gatelab, not in your input; please report it with the command line):\n${err?.stack ?? String(e)}\n`,
  );
  return EXIT_INTERNAL;
}
