/**
 * chat-memory: memory per completed request. Runs chat-1m (32 replicas, gie-default) with 100,000 and with 1,000,000
 * requests, each in its own Node process, and reports (peak RSS at 1M − peak RSS at 100k) ÷ 900,000: what each further
 * request costs once the cluster is warm. Target (issue 16): ≤ 100 bytes per request.
 *
 * A process's peak RSS moves by ±10 MB from run to run (when the collector runs), which at 900,000 requests is ±11
 * bytes per request: the small run, cheap, is made three times and its median peak used; `reps` repeats the large
 * one too (median).
 *
 * `npm run bench -- chat-memory [small] [large] [reps]` changes the two request counts and the large run's repeats.
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BenchResult, finish, lastJson, mark, result } from "./common.ts";

const small = Number(process.argv[2] ?? 100_000);
const large = Number(process.argv[3] ?? 1_000_000);
const reps = Math.max(1, Number(process.argv[4] ?? 1));
const here = dirname(fileURLToPath(import.meta.url));
const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";

function chat(n: number): BenchResult {
  const execArgv = ext === ".ts" ? ["--import", "tsx"] : [];
  const r = spawnSync(
    process.execPath,
    [...execArgv, "--max-old-space-size=4096", join(here, `chat-1m${ext}`), String(n)],
    { encoding: "utf8", maxBuffer: 1 << 24 },
  );
  if (r.status !== 0) throw new Error(`chat-1m ${n} failed (${r.status}): ${r.stderr}`);
  return lastJson<BenchResult>(r.stdout);
}

/** The run with the median peak RSS of `k` runs of `n` requests, and every run's peak. */
function medianRun(n: number, k: number): { run: BenchResult; peaks: number[] } {
  const runs: BenchResult[] = [];
  for (let i = 0; i < k; i++) runs.push(chat(n));
  const sorted = [...runs].sort((x, y) => x.peak_rss_mb - y.peak_rss_mb);
  return { run: sorted[(k - 1) >> 1]!, peaks: runs.map((r) => r.peak_rss_mb) };
}

const t = mark();
const { run: a, peaks: pa } = medianRun(small, 3);
const { run: b, peaks: pb } = medianRun(large, reps);
const perRequest = ((b.peak_rss_mb - a.peak_rss_mb) * 1024 * 1024) / (b.requests - a.requests);
process.stdout.write(
  `chat-1m ${a.requests.toLocaleString("en-US")} requests: peak RSS ${a.peak_rss_mb} MB (median of ${pa.join(", ")}); ` +
    `${b.requests.toLocaleString("en-US")}: ${b.peak_rss_mb} MB${reps > 1 ? ` (median of ${pb.join(", ")})` : ""}\n`,
);
// The figures of the large run's process; bytes per request from both.
const res = {
  ...result("chat-memory", b.requests, b.events, t),
  wall_s: b.wall_s,
  cpu_s: b.cpu_s,
  process_wall_s: b.process_wall_s,
  process_cpu_s: b.process_cpu_s,
  requests_per_cpu_s: b.requests_per_cpu_s,
  events_per_cpu_s: b.events_per_cpu_s,
  peak_rss_mb: b.peak_rss_mb,
  bytes_per_request: Math.round(perRequest),
};
finish(
  "chat-memory (32 replicas, gie-default)",
  res,
  `${res.bytes_per_request} bytes per further request (target ≤ 100)`,
);
