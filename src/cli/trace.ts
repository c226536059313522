/**
 * `gatelab trace stats|convert` and `gatelab workload export`: thin wrappers over `src/workloads/`. Bad input throws
 * `InputError` (the CLI maps it to exit code 2).
 */
import { resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { InputError } from "../errors.ts";
import { checkWritableFile } from "../report/atomic.ts";
import type { Request, RequestSource } from "../sim/request.ts";
import { buildWorkload, type WorkloadSource } from "../workloads/index.ts";
import { formatStats, traceStats } from "../workloads/stats.ts";
import {
  openWriter,
  outputFormat,
  TRACE_FORMATS,
  type TraceFormat,
  WRITE_FORMATS,
  type WriteFormat,
} from "../workloads/trace-formats.ts";
import { seedArg } from "./args.ts";

function positive(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got "${v}"`);
  if (n > 1e6) throw new InvalidArgumentError(`at most 1,000,000, got "${v}"`);
  return n;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got "${v}"`);
  return n;
}

/** A positive integer up to `max` (what an option can mean before it exhausts memory). */
function boundedInt(max: number, what: string): (v: string) => number {
  return (v) => {
    const n = positiveInt(v);
    if (n > max) throw new InvalidArgumentError(`at most ${max.toLocaleString("en-US")} ${what}, got "${v}"`);
    return n;
  };
}

function fraction(v: string): number {
  const n = Number(v);
  if (!(n > 0 && n <= 1)) throw new InvalidArgumentError(`expected a fraction in (0, 1], got "${v}"`);
  return n;
}

/** `START:END` seconds (either side may be empty). */
function windowArg(v: string): { start_s?: number; end_s?: number } {
  const m = /^\s*([\d.]*)\s*:\s*([\d.]*)\s*$/.exec(v);
  const a = m?.[1] ? Number(m[1]) : undefined;
  const b = m?.[2] ? Number(m[2]) : undefined;
  if (!m || (a !== undefined && !Number.isFinite(a)) || (b !== undefined && !Number.isFinite(b)))
    throw new InvalidArgumentError(`expected START:END in seconds (e.g. 600:1200 or :300), got "${v}"`);
  if (a !== undefined && b !== undefined && b <= a)
    throw new InvalidArgumentError(`the window ends (${b} s) before it starts (${a} s)`);
  return { ...(a !== undefined ? { start_s: a } : {}), ...(b !== undefined ? { end_s: b } : {}) };
}

function traceFormat(v: string): TraceFormat {
  if (!(TRACE_FORMATS as readonly string[]).includes(v))
    throw new InvalidArgumentError(`expected one of ${TRACE_FORMATS.join(", ")}, got "${v}"`);
  return v as TraceFormat;
}

function writeFormat(v: string): WriteFormat {
  if (!(WRITE_FORMATS as readonly string[]).includes(v))
    throw new InvalidArgumentError(`expected one of ${WRITE_FORMATS.join(", ")}, got "${v}"`);
  return v as WriteFormat;
}

interface TraceOpts {
  format?: TraceFormat;
  from?: TraceFormat;
  speedup?: number;
  window?: { start_s?: number; end_s?: number };
  sample?: number;
  limit?: number;
  seed?: number;
}

/** A request stream over a trace file (open loop). */
export function openTrace(file: string, o: TraceOpts): WorkloadSource {
  const cfg: Record<string, unknown> = { type: "trace", path: resolve(file) };
  const format = o.format ?? o.from;
  if (format) cfg.format = format;
  if (o.speedup !== undefined) cfg.speedup = o.speedup;
  if (o.window) cfg.window = o.window;
  if (o.sample !== undefined) cfg.sample = o.sample;
  return buildWorkload(cfg, { seed: o.seed ?? 42, baseDir: process.cwd(), maxRequests: o.limit, openLoop: true });
}

/** Writes every request of `src` to `out` atomically; returns the count. */
export function writeStream(src: RequestSource, out: string, format: WriteFormat): number {
  let w: ReturnType<typeof openWriter>;
  try {
    w = openWriter(format, out);
  } catch (e) {
    throw new InputError(`${out}: cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let n = 0;
  try {
    for (let r: Request | undefined = src.next(); r !== undefined; r = src.next()) {
      w.write(r);
      n++;
    }
  } catch (e) {
    w.abort();
    throw e;
  }
  w.close();
  return n;
}

export function registerTraceCommands(program: Command): void {
  const trace = program.command("trace").description("inspect and convert request traces");

  trace
    .command("stats")
    .description(
      "request count, duration, rates, inter-arrival CV, length percentiles and prefix-cache hit rates of a trace",
    )
    .argument("<file>", `trace file (formats: ${TRACE_FORMATS.join(", ")})`)
    .option("-f, --format <format>", "trace format (default: from the file name / first line)", traceFormat)
    .option("--json", "print JSON")
    .option(
      "--cache-tokens <n>",
      "also simulate one LRU prefix cache of N tokens",
      // 10⁸ tokens: 6 M blocks at block size 16 (~100 MB of index), 100× an H200's KV cache for an 8B model.
      boundedInt(100_000_000, "tokens of cache"),
    )
    .option("--block-size <n>", "KV block size for the hit rates", boundedInt(4096, "tokens per block"), 16)
    .option("--speedup <x>", "replay x times faster", positive)
    .option("--window <start:end>", "keep requests in this window of trace time (s)", windowArg)
    .option("--sample <p>", "keep each request with probability p", fraction)
    .action((file: string, o: TraceOpts & { json?: boolean; cacheTokens?: number; blockSize: number }) => {
      const src = openTrace(file, o);
      const s = traceStats(src, { blockSize: o.blockSize, cacheTokens: o.cacheTokens });
      src.close();
      if (o.json) process.stdout.write(`${JSON.stringify({ file, ...s }, null, 2)}\n`);
      else process.stdout.write(`${formatStats(s, file)}\n`);
    });

  trace
    .command("convert")
    .description(`convert a trace (read: ${TRACE_FORMATS.join(", ")}; write: ${WRITE_FORMATS.join(", ")})`)
    .argument("<in>", "input trace")
    .argument("<out>", "output file (written atomically)")
    .option("--from <format>", "input format (default: from the file name / first line)", traceFormat)
    .option("--to <format>", "output format (default: .csv → blis, .otlp.json → otlp, else jsonl)", writeFormat)
    .option("--speedup <x>", "replay x times faster", positive)
    .option("--window <start:end>", "keep requests in this window of trace time (s)", windowArg)
    .option("--sample <p>", "keep each request with probability p", fraction)
    .option("--limit <n>", "keep the first n requests", boundedInt(20_000_000, "requests"))
    .option("--seed <n>", "seed for sampling and generated content", seedArg)
    .action((input: string, out: string, o: TraceOpts & { to?: WriteFormat }) => {
      checkWritableFile(out, "converted trace");
      const src = openTrace(input, o);
      const n = writeStream(src, out, outputFormat(out, o.to));
      src.close();
      process.stdout.write(`wrote ${n} requests to ${out}\n`);
    });

  const workload = program.command("workload").description("generated workloads");
  workload
    .command("export")
    .description("generate a scenario's request stream (open loop) and save it as a replayable trace")
    .argument("<scenario>", "scenario YAML file")
    .requiredOption(
      "-o, --out <file>",
      "output file (.jsonl: gatelab JSONL; .csv: BLIS TraceV2; .otlp.json: OpenTelemetry OTLP JSON)",
    )
    .option("--to <format>", "output format", writeFormat)
    .option("-s, --seed <n>", "seed (overrides the scenario's)", seedArg)
    .option("--requests <n>", "stop after n requests (overrides the scenario's)", boundedInt(20_000_000, "requests"))
    .option("--duration <s>", "stop at this arrival time (overrides the scenario's duration_s)", positive)
    .action(
      async (
        file: string,
        o: { out: string; to?: WriteFormat; seed?: number; requests?: number; duration?: number },
      ) => {
        // Loaded on demand so that `trace stats|convert` never depend on the scenario module.
        const { loadScenario } = await import("../scenario.ts");
        const loaded = loadScenario(file);
        checkWritableFile(o.out, "exported trace");
        const s = loaded.scenario;
        const src = buildWorkload(s.workload, {
          seed: o.seed ?? s.seed,
          baseDir: loaded.baseDir,
          maxRequests: o.requests ?? s.requests,
          durationS: o.duration ?? s.duration_s,
          openLoop: true,
        });
        const n = writeStream(src, o.out, outputFormat(o.out, o.to));
        src.close();
        process.stdout.write(`wrote ${n} requests to ${o.out}\n`);
      },
    );
}
