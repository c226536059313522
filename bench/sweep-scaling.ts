/**
 * sweep-scaling: a 16-point weight sweep (prefix-cache-scorer × queue-scorer weights on the default scenario with
 * gie-default, 240 simulated seconds per point) with `--jobs 1` and then `--jobs 2`, through the CLI as a user runs it
 * (without charts, which are drawn once at the end on the main thread). Prints both wall times (and the
 * sweep processes' CPU seconds), the speed-up (target ≥ 1.8× on 2 cores) and checks the two result files are byte-identical.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packageRoot } from "../src/scenario.ts";
import { type BenchResult, childCpuNow, cpuNow, finish, now, result } from "./common.ts";

const root = packageRoot();
const cli = join(root, "dist", "src", "cli", "bin.js");
const scenario = join(root, "scenarios", "default.yaml");
const params = [
  "--param",
  "gateway.policy=gie-default",
  "--param",
  "duration_s=240",
  "--param",
  "prefix-cache-scorer.weight=0..3:1",
  "--param",
  "queue-scorer.weight=1..4:1",
];

function sweep(jobs: number): { wall: number; cpu: number; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), `gatelab-sweep-j${jobs}-`));
  const t = now();
  const c = childCpuNow();
  const r = spawnSync(
    process.execPath,
    [cli, "sweep", scenario, ...params, "--jobs", String(jobs), "--out", dir, "--no-progress", "--no-charts"],
    { encoding: "utf8" },
  );
  const wall = now() - t;
  const cpu = childCpuNow() - c;
  if (r.status !== 0) throw new Error(`sweep --jobs ${jobs} failed (${r.status}): ${r.stderr}`);
  return { wall, cpu, dir };
}

const one = sweep(1);
const two = sweep(2);
const csv = readFileSync(join(one.dir, "results.csv"), "utf8");
const same = csv === readFileSync(join(two.dir, "results.csv"), "utf8");
// Simulated requests over all points (the `requests` column).
const lines = csv.trim().split("\n");
const col = lines[0]!.split(",").indexOf("requests");
const requests = lines.slice(1).reduce((a, l) => a + Number(l.split(",")[col]), 0);
rmSync(one.dir, { recursive: true, force: true });
rmSync(two.dir, { recursive: true, force: true });
const speedup = one.wall / two.wall;
process.stdout.write(
  `sweep-scaling --jobs 1: 16 points in ${one.wall.toFixed(2)} s wall, ${one.cpu.toFixed(2)} CPU-s (every process)\n`,
);
// Parallel speed-up is a wall-clock figure by nature; the CPU seconds are the sweep processes' own (children).
const res: BenchResult = {
  ...result("sweep-scaling", requests, requests, { wall: now() - two.wall, cpu: cpuNow() }),
  cpu_s: Math.round(two.cpu * 1000) / 1000,
  requests_per_cpu_s: Math.round(requests / two.cpu),
  events_per_cpu_s: Math.round(requests / two.cpu),
};
finish(
  "sweep-scaling --jobs 2",
  res,
  `speed-up ${speedup.toFixed(2)}× over --jobs 1; results ${same ? "byte-identical" : "DIFFER"}`,
);
if (!same) process.exitCode = 1;
