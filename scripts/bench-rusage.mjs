// Preloaded by scripts/bench-paired.mjs (`node --import`): when the process exits, writes its whole-process figures —
// CPU seconds (user + system), wall seconds since Node started, peak RSS — as JSON to the file named by
// GATELAB_BENCH_RUSAGE. Works with any build of a benchmark, old or new, because it measures from outside the code.
import { writeFileSync } from "node:fs";

const out = process.env.GATELAB_BENCH_RUSAGE;
if (out) {
  process.on("exit", () => {
    const u = process.cpuUsage();
    writeFileSync(
      out,
      JSON.stringify({
        cpu_s: (u.user + u.system) / 1e6,
        wall_s: performance.now() / 1000,
        peak_rss_mb: process.resourceUsage().maxRSS / 1024,
      }),
    );
  });
}
