/**
 * The lab's commands: `sweep`, `merge`, `drill`, `check`. Thin: parse arguments, call `src/lab/`, print, set the
 * exit code (0 ok, 1 failed verdict, 2 bad input via InputError).
 */
import { dirname, join } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import { InputError } from "../errors.ts";
import { expectedRequests } from "../lab/budget.ts";
import { check, formatCheck, junitXml, parseTolerance } from "../lab/check.ts";
import { defaultSpikeWindow, drill, drillJson, formatDrill, parseDuration, parseFactor } from "../lab/drill.ts";
import { formatSweep, loadSweepBase, mergeSweeps, parseShard, runSweep, type Shard } from "../lab/sweep.ts";
import {
  checkOutputSetDir,
  checkWritableDir,
  checkWritableFile,
  writeFileAtomic,
  writeOutputSet,
} from "../report/atomic.ts";
import { loadScenario } from "../scenario.ts";
import { seedArg } from "./args.ts";
import { progressWanted as cliProgressWanted, onInterrupt, simulationProgress } from "./progress.ts";

function parsePositive(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got "${v}"`);
  return n;
}

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

function list(v: string): string[] {
  return v
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");
}

/** Shard from `--shard i/N`, or from Kubernetes' `JOB_COMPLETION_INDEX` with `--shard N` / `--shards N`. */
export function resolveShard(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): Shard | undefined {
  if (flag === undefined) return undefined;
  if (/^\d+$/.test(flag.trim())) {
    const idx = env.JOB_COMPLETION_INDEX;
    if (idx === undefined || !/^\d+$/.test(idx)) {
      throw new InputError(`--shard ${flag}: give i/${flag}, or set JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs do)`);
    }
    return parseShard(`${idx}/${flag.trim()}`);
  }
  const m = /^(\$?JOB_COMPLETION_INDEX|env)\/(\d+)$/.exec(flag.trim());
  if (m) return resolveShard(m[2], env);
  return parseShard(flag);
}

function progressWanted(flag: boolean): boolean {
  return flag && process.stderr.isTTY === true && !process.env.CI;
}

/** A progress bar on stderr; cli-progress is loaded only when one is shown. */
async function progressBar(): Promise<((done: number, total: number) => void) & { stop: () => void }> {
  const { SingleBar, Presets } = await import("cli-progress");
  const bar = new SingleBar(
    {
      stream: process.stderr,
      format: "sweep [{bar}] {value}/{total} points · {percentage}% · eta {eta_formatted}",
      hideCursor: true,
      clearOnComplete: true,
    },
    Presets.shades_classic,
  );
  let started = false;
  const update = (done: number, total: number) => {
    if (!started) {
      bar.start(total, done);
      started = true;
    } else bar.update(done);
  };
  return Object.assign(update, {
    stop: () => {
      if (started) bar.stop();
    },
  });
}

export function registerLabCommands(program: Command): void {
  program
    .command("sweep")
    .description(
      "grid or random search over scenario fields and plugin parameters, on worker threads; resumable and shardable",
    )
    .argument("<scenario>", "scenario YAML file")
    .requiredOption(
      "--param <name=values>",
      "a parameter and its values (repeatable): prefix-cache-scorer.weight=0..5:1, pools.0.replicas=2..6:2, " +
        "gateway.scrape_interval_ms=10,50,200, gateway.policy=round-robin,gie-default, 1..64:*2 (geometric)",
      collect,
    )
    .option("-j, --jobs <n>", "worker threads (default: the machine's cores; 1 = no threads)", parsePositive)
    .option("--random <k>", "random search: k points sampled from the parameters' values/ranges", parsePositive)
    .option("-s, --seed <n>", "base seed (default: the scenario's): samples random points and seeds the runs", seedArg)
    .option("--vary-seed", "seed each point from (base seed, point id) instead of the same seed for every point")
    .option("--pareto <metrics>", "Pareto objectives (default ttft_p95_ms:min,throughput_rps:max)", list)
    .option("--objective <metric>", "what 'best' optimizes among points meeting the SLOs (default ttft_p95_ms:min)")
    .option(
      "--shard <i/N>",
      "run only points with id ≡ i (mod N); `--shard N` takes i from JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs)",
    )
    .option("--epp-config <file>", "EndpointPickerConfig YAML to route with (replaces the scenario's gateway policy)")
    .option("-o, --out <dir>", "output folder (resumes what is already there)", "results/sweep")
    .option("--no-charts", "skip charts and the HTML report")
    .option("--no-progress", "no progress bar (it shows only on a terminal, never when CI is set)")
    .action(
      async (
        file: string,
        o: {
          param: string[];
          jobs?: number;
          random?: number;
          seed?: number;
          varySeed?: boolean;
          pareto?: string[];
          objective?: string;
          shard?: string;
          eppConfig?: string;
          out: string;
          charts: boolean;
          progress: boolean;
        },
      ) => {
        const base = loadSweepBase(file, o.eppConfig);
        const shard = resolveShard(o.shard);
        checkWritableDir(o.out);
        const bar = progressWanted(o.progress) ? await progressBar() : undefined;
        let saved = 0;
        let planned: number | undefined;
        // Ctrl-C: the bar hid the cursor and turned line wrap off; give both back and say what is on disk. Installed
        // once the plan is made and points start (the sweep then yields between points, so a handler can run; during
        // the synchronous planning the default handlers keep Ctrl-C immediate).
        let uninstall = () => {};
        const progress = (done: number, total: number) => {
          if (planned === undefined)
            uninstall = onInterrupt(
              () =>
                `${saved}${planned !== undefined ? ` of ${planned}` : ""} points are saved in ${o.out}; ` +
                "run the same command again to resume (finished points are not run again)",
              () => bar?.stop(),
            );
          saved = done;
          planned = total;
          bar?.(done, total);
        };
        let r: Awaited<ReturnType<typeof runSweep>>;
        try {
          r = await runSweep(base, {
            params: o.param,
            out: o.out,
            charts: o.charts,
            ...(o.jobs !== undefined ? { jobs: o.jobs } : {}),
            ...(o.random !== undefined ? { random: o.random } : {}),
            ...(o.seed !== undefined ? { seed: o.seed } : {}),
            ...(o.varySeed ? { varySeed: true } : {}),
            ...(o.pareto ? { pareto: o.pareto } : {}),
            ...(o.objective ? { objective: o.objective } : {}),
            ...(shard ? { shard } : {}),
            onProgress: progress,
          });
        } finally {
          bar?.stop();
          uninstall();
        }
        const resumed = r.skipped > 0 ? ` (${r.skipped} already in ${r.dir}, ${r.ran} run now)` : "";
        if (shard) {
          process.stdout.write(
            `shard ${shard.index}/${shard.count}: ${r.total} of ${r.manifest.points} points in ${r.dir}${resumed}\n` +
              `when every shard is done: gatelab merge <shard folders…> --out <folder>\n`,
          );
          return;
        }
        process.stdout.write(`${formatSweep(r.results!)}\n\n`);
        process.stdout.write(`${r.total} points${resumed}\n`);
        process.stdout.write(`wrote ${r.dir}/results.csv, ${r.dir}/results.json`);
        const report = r.files.find((f) => f.endsWith("report.html"));
        if (report) process.stdout.write(`, charts in ${r.dir}/charts/, report ${report}`);
        process.stdout.write("\n");
      },
    );

  program
    .command("merge")
    .description("combine the folders of a sharded sweep into the result one machine would have written")
    .argument("<dirs...>", "sweep output folders (one per shard)")
    .requiredOption("-o, --out <dir>", "folder for the merged sweep")
    .option("--no-charts", "skip charts and the HTML report")
    .action(async (dirs: string[], o: { out: string; charts: boolean }) => {
      checkWritableDir(o.out);
      const r = await mergeSweeps(dirs, o.out, { charts: o.charts });
      process.stdout.write(
        `${formatSweep(r.results)}\n\nmerged ${dirs.length} folders: ${r.manifest.points} points into ${o.out}\n`,
      );
    });

  program
    .command("drill")
    .description("burst drill: multiply the arrival rate for a while and judge p95 TTFT, backpressure and recovery")
    .argument("[scenario]", "scenario YAML file (default: the embedded default scenario)")
    .option("--spike <factor>", "arrival-rate multiplier during the spike, e.g. 4x", "4x")
    .option("--at <time>", "spike start, e.g. 60s (default: a third into the traffic)")
    .option("--for <time>", "spike length, e.g. 30s (default: a sixth of the traffic)")
    .option("-p, --policy <name>", "routing policy (overrides the scenario's)")
    .option("--epp-config <file>", "EndpointPickerConfig YAML to route with")
    .option("-s, --seed <n>", "random seed (overrides the scenario's)", seedArg)
    .option("--window <time>", "window for p95 over time and the recovery time (default: the spike length / 6)")
    .option("--ttft-p95 <ms>", "TTFT p95 target in ms (default: the scenario's slos.ttft_p95_ms)", Number)
    .option("--json", "print the verdict as JSON")
    .option("-o, --out <dir>", "write drill.json, summary.json, requests.csv, charts/ and report.html")
    .action(
      async (
        file: string | undefined,
        o: {
          spike: string;
          at?: string;
          for?: string;
          policy?: string;
          eppConfig?: string;
          seed?: number;
          window?: string;
          ttftP95?: number;
          json?: boolean;
          out?: string;
        },
      ) => {
        const loaded = loadScenario(file);
        if (o.out) checkOutputSetDir(o.out);
        const def = defaultSpikeWindow(loaded.scenario);
        if (o.ttftP95 !== undefined && !(o.ttftP95 > 0)) throw new InputError("--ttft-p95: expected milliseconds > 0");
        const progress = simulationProgress(process.stderr, o.json !== true && cliProgressWanted());
        const d = drill(loaded, {
          wrapSource: progress.wrap("drill", expectedRequests(loaded.scenario)),
          factor: parseFactor(o.spike),
          at: o.at !== undefined ? parseDuration(o.at, "--at") : def.at,
          duration: o.for !== undefined ? parseDuration(o.for, "--for") : def.duration,
          ...(o.policy ? { policy: o.policy } : {}),
          ...(o.eppConfig ? { eppConfig: o.eppConfig } : {}),
          ...(o.seed !== undefined ? { seed: o.seed } : {}),
          ...(o.window !== undefined ? { windowS: parseDuration(o.window, "--window") } : {}),
          ...(o.ttftP95 !== undefined ? { ttftSloMs: o.ttftP95 } : {}),
        });
        progress.done();
        const text = formatDrill(d);
        if (o.json) process.stdout.write(`${JSON.stringify(drillJson(d), null, 2)}\n`);
        else process.stdout.write(`${text}\n`);
        if (o.out) {
          const { relocate, writeCompareOutputs } = await import("../report/lab-outputs.ts");
          const { drillSection } = await import("../report/html/views.ts");
          const out = o.out;
          const files = relocate(
            await writeOutputSet(out, async (stage) => {
              writeFileAtomic(join(stage, "drill.json"), `${JSON.stringify(drillJson(d), null, 2)}\n`);
              return writeCompareOutputs(stage, d.analysis, {
                spans: d.spans,
                windowS: d.recovery.window_s,
                title: `gatelab drill: ${d.scenario}`,
                kind: "drill",
                verdict: { ok: d.ok, text: d.ok ? "PASS — the SLOs hold through the spike" : "FAIL" },
                lead: [drillSection(d, text)],
              });
            }),
            out,
          );
          const say = o.json ? process.stderr : process.stdout;
          say.write(
            `\nwrote ${o.out}/drill.json, charts in ${dirname(files.charts[0] ?? `${o.out}/charts/x`)}/, report ${files.report}\n`,
          );
        }
        process.exitCode = d.ok ? 0 : 1;
      },
    );

  program
    .command("check")
    .description("CI gate: assert the scenario's SLOs and compare key metrics with a baseline (exit 0 pass, 1 fail)")
    .argument("<scenario>", "scenario YAML file")
    .option("--baseline <file>", "baseline JSON (default: <scenario>.baseline.json beside the scenario)")
    .option("--update-baseline", "write the baseline from this run")
    .addOption(new Option("--tolerance <pct>", "allowed regression per metric, e.g. 5%").default("5%"))
    .option("--junit <file>", "also write a JUnit XML report")
    .option("--report <file>", "also write an HTML report (SLO verdicts, the baseline diff)")
    .option("-p, --policy <name>", "routing policy (overrides the scenario's)")
    .option("--epp-config <file>", "EndpointPickerConfig YAML to route with")
    .option("-s, --seed <n>", "random seed (overrides the scenario's)", seedArg)
    .option("--json", "print the result as JSON")
    .action(
      async (
        file: string,
        o: {
          baseline?: string;
          updateBaseline?: boolean;
          tolerance: string;
          junit?: string;
          report?: string;
          policy?: string;
          eppConfig?: string;
          seed?: number;
          json?: boolean;
        },
      ) => {
        const loaded = loadScenario(file);
        if (o.junit) checkWritableFile(o.junit, "JUnit report");
        if (o.report) checkWritableFile(o.report, "HTML report");
        const tolerance = parseTolerance(o.tolerance);
        const r = check(loaded, {
          tolerance,
          ...(o.baseline ? { baseline: o.baseline } : {}),
          ...(o.updateBaseline ? { updateBaseline: true } : {}),
          ...(o.policy ? { policy: o.policy } : {}),
          ...(o.eppConfig ? { eppConfig: o.eppConfig } : {}),
          ...(o.seed !== undefined ? { seed: o.seed } : {}),
        });
        // The verdict first: should a report file fail after all, the gate's answer is still on the screen.
        if (o.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        else process.stdout.write(`${formatCheck(r)}\n`);
        if (o.junit) writeFileAtomic(o.junit, junitXml(r));
        if (o.report) {
          const [{ renderHtmlReport }, { checkReport }] = await Promise.all([
            import("../report/html.ts"),
            import("../report/html/views.ts"),
          ]);
          writeFileAtomic(o.report, renderHtmlReport(checkReport(r, formatCheck(r))));
        }
        process.exitCode = r.exitCode;
      },
    );
}
