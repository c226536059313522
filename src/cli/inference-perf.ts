/** `gatelab inference-perf …`: inference-perf configs and reports (docs/inference-perf.md). */
import { resolve } from "node:path";
import type { Command } from "commander";
import { InputError, OutputError } from "../errors.ts";
import { writeCharts } from "../report/charts.ts";
import {
  compareStages,
  errorSummary,
  formatStageComparison,
  kneeFromReports,
  rateCharts,
  readStageReports,
} from "../report/inference-perf-compare.ts";
import { OutputWriteError } from "../report/openmetrics-cli.ts";
import { loadInferencePerfConfig } from "../workloads/inference-perf-config.ts";

export function registerInferencePerfCommands(program: Command): void {
  const ip = program.command("inference-perf").description("read inference-perf configs; set its reports side by side");

  ip.command("compare")
    .description(
      "print, per stage and metric, a measured inference-perf run beside gatelab's prediction (stage_<N>_lifecycle_" +
        "metrics.json in both) with the relative error; --chart writes latency and throughput against request rate",
    )
    .requiredOption("--measured <dir>", "folder (or folder/file-name prefix) of the measured run's reports")
    .requiredOption(
      "--predicted <dir>",
      "folder of gatelab's reports (`run|compare --report inference-perf --out OUT` → OUT/inference-perf/<policy>)",
    )
    .option("--chart <dir>", "write inference-perf-vs-rate.svg and .png into this folder")
    .option("--json", "print the rows as JSON")
    .option("--knee-ttft-p95-ms <ms>", "also print each run's knee: highest rate with TTFT p95 ≤ this and keeping up")
    .action(
      async (o: { measured: string; predicted: string; chart?: string; json?: boolean; kneeTtftP95Ms?: string }) => {
        const m = readStageReports(o.measured);
        const p = readStageReports(o.predicted);
        const rows = compareStages(m, p);
        if (o.json) process.stdout.write(`${JSON.stringify({ rows, summary: errorSummary(rows) }, null, 2)}\n`);
        else process.stdout.write(`${formatStageComparison(rows)}\n`);
        if (o.kneeTtftP95Ms !== undefined) {
          const t = Number(o.kneeTtftP95Ms);
          if (!(t > 0))
            throw new InputError(`--knee-ttft-p95-ms: expected a positive number of ms, got "${o.kneeTtftP95Ms}"`);
          const fmt = (k: number | null) => (k === null ? "none (the lowest stage misses)" : `${k} req/s`);
          (o.json ? process.stderr : process.stdout).write(
            `knee (TTFT p95 ≤ ${t} ms, achieved ≥ 95 % of requested): measured ${fmt(kneeFromReports(m, t / 1000))}, ` +
              `predicted ${fmt(kneeFromReports(p, t / 1000))}\n`,
          );
        }
        if (o.chart !== undefined) {
          let files: string[];
          try {
            files = await writeCharts(resolve(o.chart), rateCharts(m, p));
          } catch (e) {
            // An output error already names the path and the cause; anything else (the renderer) is said here.
            if (e instanceof OutputError) throw e;
            throw new OutputWriteError(`${o.chart}: cannot write the chart (${(e as Error).message})`);
          }
          (o.json ? process.stderr : process.stdout).write(`chart: ${files.join(", ")}\n`);
        }
      },
    );

  ip.command("check")
    .description("read an inference-perf config as gatelab would: what it replays, and what it notes or refuses")
    .argument("<config>", "inference-perf config YAML (or Helm values, or llm-d-benchmark template)")
    .option("--workload <name>", "llm-d-benchmark templates: which entry of `workload:`")
    .action((file: string, o: { workload?: string }) => {
      const p = loadInferencePerfConfig(resolve(file), file, o.workload);
      const stages = p.sweep
        ? `sweep ${p.sweep.type}: probe ${p.sweep.numRequests} requests, then ${p.sweep.numStages} stages × ${p.sweep.stageDuration} s`
        : p.stages
            .map((s) => `${s.rate}/s × ${s.duration} s${s.concurrency ? ` (concurrency ${s.concurrency})` : ""}`)
            .join(", ");
      const lines = [
        `${file}: loads`,
        `load: ${p.loadType}, ${stages}, interval ${p.interval} s, client cap ${p.cap > 0 ? p.cap : "per stage"}`,
        `data: ${p.data.type}${p.data.type === "shared_prefix" ? ` ${p.data.groups}×${p.data.perGroup}${p.data.multiTurn ? " multi-turn" : ""}` : ""}`,
        `streaming: ${p.streaming}, ignore_eos: ${p.ignoreEos}`,
        ...p.notes.map((n) => `note: ${n}`),
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
