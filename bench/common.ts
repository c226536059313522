/**
 * Shared helpers for the benchmarks. Each benchmark prints readable lines, then as its LAST line one JSON object
 * (`BenchResult`). Times are measured here, in bench/ only: the simulation itself never reads a clock.
 *
 * Two clocks per figure: CPU time (user + system, `process.cpuUsage`) is what the rates are computed from, because the
 * project's machines are shared and wall time depends on the neighbours; wall time is reported beside it. "In-process"
 * covers the measured work only (scenario parsing, simulation, summary); "whole-process" runs from Node's start to
 * the end of the benchmark (start-up and module loading included), which is what a user waits for.
 */
import { readFileSync } from "node:fs";
import { fmtNum } from "../src/report/table.ts";

export interface BenchResult {
  name: string;
  requests: number;
  events: number;
  /** In-process wall seconds (the measured work). */
  wall_s: number;
  /** In-process CPU seconds, user + system. */
  cpu_s: number;
  /** Simulated requests per in-process CPU second. */
  requests_per_cpu_s: number;
  /** Engine events per in-process CPU second. */
  events_per_cpu_s: number;
  /** Whole process so far (Node start-up included): wall and CPU seconds. */
  process_wall_s: number;
  process_cpu_s: number;
  /** Peak resident set size of the process (getrusage maxrss), MB. */
  peak_rss_mb: number;
}

/** Wall seconds (monotonic). */
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

/** CPU seconds of this process so far, user + system. */
export function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** A start mark for `result`: wall and CPU seconds. */
export interface Mark {
  wall: number;
  cpu: number;
}

export function mark(): Mark {
  return { wall: now(), cpu: cpuNow() };
}

/** Peak resident set size of this process so far, in MB (getrusage maxrss). */
export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** The figures of the work measured since `from`. */
export function result(name: string, requests: number, events: number, from: Mark): BenchResult {
  const wall = now() - from.wall;
  const cpu = Math.max(cpuNow() - from.cpu, 1e-6);
  return {
    name,
    requests,
    events,
    wall_s: r3(wall),
    cpu_s: r3(cpu),
    requests_per_cpu_s: Math.round(requests / cpu),
    events_per_cpu_s: Math.round(events / cpu),
    process_wall_s: r3(performance.now() / 1000),
    process_cpu_s: r3(cpuNow()),
    peak_rss_mb: Math.round(peakRssMb()),
  };
}

export function line(label: string, r: BenchResult, extra = ""): string {
  return (
    `${label}: ${fmtNum(r.requests)} requests, ${fmtNum(r.events)} events in ${r.cpu_s.toFixed(3)} CPU-s ` +
    `(${r.wall_s.toFixed(3)} s wall) → ${fmtNum(r.requests_per_cpu_s)} req/CPU-s, ${fmtNum(r.events_per_cpu_s)} events/CPU-s; ` +
    `whole process ${r.process_cpu_s.toFixed(3)} CPU-s (${r.process_wall_s.toFixed(3)} s wall); peak RSS ${r.peak_rss_mb} MB` +
    (extra ? ` · ${extra}` : "")
  );
}

export function finish(label: string, r: BenchResult, extra = ""): void {
  process.stdout.write(`${line(label, r, extra)}\n${JSON.stringify(r)}\n`);
}

/** The JSON object on the last non-empty line of a benchmark's output. */
export function lastJson<T>(stdout: string): T {
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!) as T;
}

/**
 * CPU seconds (user + system) of the child processes this process has waited for (Linux: `cutime` + `cstime` of
 * /proc/self/stat, in clock ticks of 1/100 s); NaN elsewhere.
 */
export function childCpuNow(): number {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    // Fields after the command name (which may contain spaces) start at field 3; cutime and cstime are fields 16, 17.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[13]) + Number(f[14])) / 100;
  } catch {
    return Number.NaN;
  }
}
