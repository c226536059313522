/** Files a run leaves behind (`--out DIR`): summary.json and requests.csv, written atomically. */
import { join } from "node:path";
import { stringify } from "csv-stringify/sync";
import type { RunOutput } from "../metrics/summary.ts";
import type { LoadedScenario } from "../scenario.ts";
import { OUTCOME_NAMES } from "../sim/request.ts";
import { writeFileAtomic } from "./atomic.ts";

const ms = (x: number) => (x < 0 ? "" : Math.round(x * 1e6) / 1e3);

/** One row per request and policy: times in ms from the start of the run, latencies in ms. */
export function requestsCsv(runs: readonly RunOutput[]): string {
  const rows: unknown[][] = [];
  for (const run of runs) {
    const r = run.result.records;
    const names = run.result.replicas.map((x) => x.name);
    for (let i = 0; i < r.size; i++) {
      const arr = r.arrival[i]!;
      const ok = r.firstToken[i]! >= 0;
      rows.push([
        run.policy,
        i,
        ms(arr),
        r.replica[i]! >= 0 ? names[r.replica[i]!] : "",
        OUTCOME_NAMES[r.outcome[i]!] ?? "",
        r.status[i],
        r.classes.names[r.sloClass[i]!],
        r.tenants.names[r.tenant[i]!],
        r.sources.names[r.source[i]!],
        r.input[i],
        r.output[i],
        r.cached[i],
        ok ? ms(r.firstToken[i]! - arr) : "",
        r.completion[i]! >= 0 ? ms(r.completion[i]! - arr) : "",
        r.admit[i]! >= 0 ? ms(r.admit[i]! - arr) : "",
        r.attempts[i],
        r.preemptions[i],
      ]);
    }
  }
  return stringify(rows, {
    header: true,
    columns: [
      "policy",
      "id",
      "arrival_ms",
      "replica",
      "outcome",
      "status",
      "slo_class",
      "tenant",
      "source",
      "input_tokens",
      "output_tokens",
      "cached_tokens",
      "ttft_ms",
      "e2e_ms",
      "queue_ms",
      "attempts",
      "preemptions",
    ],
  });
}

export function writeRunOutputs(dir: string, loaded: LoadedScenario, runs: readonly RunOutput[]): void {
  const summary = {
    scenario: loaded.scenario.name,
    runs: runs.map((r) => ({ policy: r.policy, seed: r.seed, summary: r.summary })),
  };
  writeFileAtomic(join(dir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileAtomic(join(dir, "requests.csv"), requestsCsv(runs));
}
