/**
 * `npm run bench` runs every benchmark, `npm run bench -- NAME [args]` one. Each runs in its own Node process (so
 * that its peak RSS is its own) and prints a readable line then, as its last line, one JSON object (bench/common.ts).
 * To compare two builds, use scripts/bench-paired.mjs (docs/performance.md): ratios only from interleaved pairs.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const BENCHES = [
  "blis-chat-r40",
  "chat-1m",
  "chat-memory",
  "mooncake",
  "sweep-scaling",
  "workload-stream",
] as const;

const here = dirname(fileURLToPath(import.meta.url));
const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
const [name, ...args] = process.argv.slice(2);
const selected = name ? [name] : [...BENCHES];
let failed = 0;
for (const b of selected) {
  const file = join(here, `${b}${ext}`);
  if (!(BENCHES as readonly string[]).includes(b) || !existsSync(file)) {
    process.stderr.write(`unknown benchmark "${b}"; available: ${BENCHES.join(", ")}\n`);
    process.exitCode = 2;
    break;
  }
  const execArgv = ext === ".ts" ? ["--import", "tsx"] : [];
  const r = spawnSync(process.execPath, [...execArgv, "--max-old-space-size=4096", file, ...args], {
    stdio: "inherit",
  });
  if (r.status !== 0) failed++;
}
if (failed > 0) process.exitCode = 1;
