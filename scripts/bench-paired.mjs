#!/usr/bin/env node
// Paired comparison of two builds on one benchmark:
// `node scripts/bench-paired.mjs [--reps N] [--b-args "ARGS"] DIR_A DIR_B BENCH [ARGS…]`
// where DIR_A and DIR_B are build folders (a `dist/` each, e.g. a copy of the dist/ of the parent commit and the
// current dist/) and BENCH one of bench/ (chat-1m, mooncake, blis-chat-r40…).
//
// Runs the two builds' benchmark processes interleaved (A B B A A B B A …: drift on a shared machine falls on both
// alike), each a fresh Node process, and reports per build the median whole-process CPU seconds (user + system, from
// Node's start to its exit), wall seconds and peak RSS, plus the in-process CPU seconds when the benchmark's JSON line
// has them; then the ratio B ÷ A of each pair, as median and range. Only these paired ratios are meant to be quoted:
// two figures from separate runs on a shared machine differ by more than most changes do. `--b-args` gives B other
// arguments (space-separated) than A: one build, two settings (e.g. `dist dist chat-1m 100000 32` with
// `--b-args "100000 1024"` for CPU per request at 1,024 replicas against 32).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
let reps = 4;
let bArgs;
for (;;) {
  if (args[0] === "--reps") reps = Number(args[1]);
  else if (args[0] === "--b-args") bArgs = args[1].split(" ").filter((x) => x !== "");
  else break;
  args.splice(0, 2);
}
const [dirA, dirB, bench, ...rest] = args;
if (!dirA || !dirB || !bench || !(reps >= 1)) {
  process.stderr.write("usage: node scripts/bench-paired.mjs [--reps N] DIR_A DIR_B BENCH [ARGS…]\n");
  process.exit(2);
}
const preload = fileURLToPath(new URL("./bench-rusage.mjs", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "gatelab-paired-"));

function runOnce(dir, tag, i) {
  const benchArgs = tag === "B" && bArgs !== undefined ? bArgs : rest;
  const file = resolve(dir, "bench", `${bench}.js`);
  if (!existsSync(file)) {
    process.stderr.write(`${file}: no such benchmark in this build\n`);
    process.exit(2);
  }
  const out = join(tmp, `${tag}-${i}.json`);
  const r = spawnSync(process.execPath, ["--import", preload, "--max-old-space-size=8192", file, ...benchArgs], {
    encoding: "utf8",
    maxBuffer: 1 << 26,
    env: { ...process.env, GATELAB_BENCH_RUSAGE: out },
  });
  if (r.status !== 0) {
    process.stderr.write(`${tag} (${dir}) failed with ${r.status}:\n${r.stderr}\n`);
    process.exit(1);
  }
  const whole = JSON.parse(readFileSync(out, "utf8"));
  let inner = {};
  try {
    const lines = r.stdout.trim().split("\n");
    inner = JSON.parse(lines[lines.length - 1]);
  } catch {
    // a benchmark without a JSON line: whole-process figures only
  }
  return { ...whole, in_cpu_s: inner.cpu_s, in_wall_s: inner.wall_s, requests: inner.requests, events: inner.events };
}

const a = [];
const b = [];
for (let i = 0; i < reps; i++) {
  // A B, then B A: each build goes first as often as the other.
  if (i % 2 === 0) {
    a.push(runOnce(dirA, "A", i));
    b.push(runOnce(dirB, "B", i));
  } else {
    b.push(runOnce(dirB, "B", i));
    a.push(runOnce(dirA, "A", i));
  }
  const fa = a[i];
  const fb = b[i];
  process.stdout.write(
    `pair ${i + 1}/${reps}: A ${fa.cpu_s.toFixed(2)} CPU-s ${Math.round(fa.peak_rss_mb)} MB · B ${fb.cpu_s.toFixed(2)} CPU-s ${Math.round(fb.peak_rss_mb)} MB · B/A ${(fb.cpu_s / fa.cpu_s).toFixed(3)}\n`,
  );
}
rmSync(tmp, { recursive: true, force: true });

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ratio = (key) => {
  const rs = a.map((x, i) => b[i][key] / x[key]).filter((r) => Number.isFinite(r));
  return rs.length === 0 ? undefined : { median: median(rs), min: Math.min(...rs), max: Math.max(...rs) };
};
const fig = (runs, key) => {
  const xs = runs.map((r) => r[key]).filter((x) => typeof x === "number");
  return xs.length === runs.length ? median(xs) : undefined;
};
const row = (key) => ({ a: fig(a, key), b: fig(b, key), ratio: ratio(key) });
const report = {
  bench,
  args: rest,
  b_args: bArgs ?? rest,
  reps,
  a: resolve(dirA),
  b: resolve(dirB),
  process_cpu_s: row("cpu_s"),
  process_wall_s: row("wall_s"),
  peak_rss_mb: row("peak_rss_mb"),
  in_process_cpu_s: row("in_cpu_s"),
};
const show = (label, r, digits = 3) => {
  if (r.a === undefined || r.b === undefined || r.ratio === undefined) return;
  process.stdout.write(
    `${label}: A ${r.a.toFixed(digits)} · B ${r.b.toFixed(digits)} (medians) · B/A ${r.ratio.median.toFixed(3)} (pairs ${r.ratio.min.toFixed(3)}–${r.ratio.max.toFixed(3)})\n`,
  );
};
if ([...a, ...b].every((r) => r.requests > 0 && typeof r.in_cpu_s === "number")) {
  // CPU per simulated request, for runs of different sizes (`--b-args`).
  for (const r of [...a, ...b]) r.cpu_us_per_request = (r.in_cpu_s / r.requests) * 1e6;
  report.in_process_cpu_us_per_request = row("cpu_us_per_request");
  show("in-process CPU µs per request", report.in_process_cpu_us_per_request, 1);
}
show("whole-process CPU s", report.process_cpu_s);
show("in-process CPU s", report.in_process_cpu_s);
show("whole-process wall s", report.process_wall_s);
show("peak RSS MB", report.peak_rss_mb, 0);
process.stdout.write(`${JSON.stringify(report)}\n`);
