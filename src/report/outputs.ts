/** Files a run leaves behind (`--out DIR`): summary.json and requests.csv, written atomically. */
import { join } from "node:path";
import { stringify } from "csv-stringify/sync";
import type { RunOutput } from "../metrics/summary.ts";
import type { LoadedScenario } from "../scenario.ts";
import { OUTCOME_NAMES } from "../sim/request.ts";
import { writeChunksAtomic, writeFileAtomic } from "./atomic.ts";

const ms = (x: number) => (x < 0 ? "" : Math.round(x * 1e6) / 1e3);

const REQUEST_COLUMNS = [
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
];

/** Rows per chunk of `requestsCsvChunks`. */
const CHUNK_ROWS = 4096;

/**
 * `requests.csv` in chunks of rows (the header with the first): one row per request and policy, in id order per
 * policy; times in ms from the start of the run, latencies in ms. Rows are formatted a chunk at a time, so a run of
 * 1M requests never holds all its rows (or the whole text) at once.
 */
export function* requestsCsvChunks(runs: readonly RunOutput[]): Generator<string> {
  let rows: unknown[][] = [];
  let header = true;
  const flush = (): string => {
    const text = stringify(rows, { header, columns: REQUEST_COLUMNS });
    header = false;
    rows = [];
    return text;
  };
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
      if (rows.length === CHUNK_ROWS) yield flush();
    }
  }
  if (rows.length > 0 || header) yield flush();
}

/** `requests.csv` as one string (`requestsCsvChunks` joined). */
export function requestsCsv(runs: readonly RunOutput[]): string {
  return [...requestsCsvChunks(runs)].join("");
}

/** Writes `requests.csv` at `path` atomically, a chunk of rows at a time. */
export function writeRequestsCsv(path: string, runs: readonly RunOutput[]): void {
  writeChunksAtomic(path, requestsCsvChunks(runs));
}

export function writeRunOutputs(dir: string, loaded: LoadedScenario, runs: readonly RunOutput[]): void {
  const summary = {
    scenario: loaded.scenario.name,
    runs: runs.map((r) => ({ policy: r.policy, seed: r.seed, summary: r.summary })),
  };
  writeFileAtomic(join(dir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  writeRequestsCsv(join(dir, "requests.csv"), runs);
}
