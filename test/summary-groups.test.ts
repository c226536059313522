import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runScenario } from "../src/lab/run.ts";
import { dist, summarizeGroups, summarizeRows } from "../src/metrics/summary.ts";
import { parseScenario } from "../src/scenario.ts";
import { RequestTable } from "../src/sim/records.ts";
import { Outcome } from "../src/sim/request.ts";

/**
 * The per-replica summaries come from one grouped pass over the request table (`summarizeGroups`); the references
 * are `summarizeRows` with the group as its row filter, and the group's rows taken one by one, each metric's sample
 * through `dist`.
 */
describe("summarizeGroups", () => {
  it("hand-computed: two groups, rows interleaved, a rejection, a drop and a row outside every group", () => {
    const rec = new RequestTable(8);
    // row: group, outcome, arrival, admit, first token, completion, input, output, cached, preemptions
    const rows = [
      [0, Outcome.Completed, 0, 0.5, 1, 3, 100, 5, 40, 0],
      [1, Outcome.Completed, 1, 1, 1.25, 2.25, 200, 1, 0, 0],
      [0, Outcome.Completed, 2, 2, 2.5, 4.5, 100, 3, 60, 2],
      [1, Outcome.Rejected, 3, -1, -1, -1, 50, 0, 0, 0],
      [-1, Outcome.Dropped, 3.5, -1, -1, -1, 10, 0, 0, 0],
      [0, Outcome.Dropped, 0.25, -1, -1, -1, 10, 0, 0, 0],
    ] as const;
    rows.forEach(([g, o, arr, adm, ft, done, inp, out, cached, pre], i) => {
      rec.ensure(i);
      rec.arrival[i] = arr;
      rec.admit[i] = adm;
      rec.firstToken[i] = ft;
      rec.completion[i] = done;
      rec.setInput(i, inp);
      rec.setOutput(i, out);
      rec.setCached(i, cached);
      rec.setPreemptions(i, pre);
      if (g >= 0) rec.setReplica(i, g);
      rec.setEnd(i, o, o === Outcome.Completed ? 200 : 503);
    });
    const [a, b] = summarizeGroups(rec, rec.replica, 2);
    // Group 0: rows 0, 2 completed (TTFT 1 and 0.5 s, E2E 3 and 2.5 s, queue 0.5 and 0 s), row 5 dropped.
    expect(a!.requests).toEqual({ total: 3, completed: 2, rejected: 0, dropped: 1 });
    expect(a!.ttft_ms.mean).toBe(750);
    expect(a!.ttft_ms.p50).toBe(750);
    expect(a!.ttft_ms.p90).toBe(950); // numpy linear: 500 + 0.9 × 500
    expect(a!.e2e_ms.mean).toBe(2750);
    expect(a!.queue_ms.p99).toBe(495);
    // TPOT: (3 − 1) / 4 = 0.5 s and (2.5 − 0.5) / 2 = 1 s; ITL mean = Σ gaps / Σ gap count = (2 + 2) / (4 + 2).
    expect(a!.tpot_ms.mean).toBe(750);
    expect(a!.itl_ms.mean).toBeCloseTo(4000 / 6, 9);
    expect(a!.itl_ms.p50).toBe(a!.tpot_ms.p50);
    expect(a!.prefix_cache_hit_rate).toBe(0.5); // (40 + 60) / 200
    expect(a!.preemptions).toBe(2);
    // Span from the first arrival (0, the dropped row at 0.25 does not move it) to the last completion (4.5 s).
    expect(a!.throughput.requests_per_s).toBeCloseTo(2 / 4.5, 12);
    expect(a!.throughput.output_tokens_per_s).toBeCloseTo(8 / 4.5, 12);
    // Group 1: one completed row with a single output token (no TPOT), one rejection.
    expect(b!.requests).toEqual({ total: 2, completed: 1, rejected: 1, dropped: 0 });
    expect(b!.ttft_ms.p95).toBe(250);
    expect(b!.tpot_ms).toEqual({ mean: 0, p50: 0, p90: 0, p95: 0, p99: 0 });
    expect(b!.itl_ms.mean).toBe(0);
    expect(b!.throughput.requests_per_s).toBeCloseTo(1 / 1.25, 12); // arrivals from 1 s, last completion 2.25 s
    for (const g of [0, 1]) expect(summarizeGroups(rec, rec.replica, 2)[g]).toEqual(ref(rec, g));
  });

  it("equals the reference per replica on shipped scenarios with rejections, drops and preemptions", () => {
    for (const file of ["spike-flow-control.yaml", "lora-heavy.yaml", "mixed.yaml", "pd-disagg.yaml"]) {
      const path = `scenarios/${file}`;
      const out = runScenario(parseScenario(readFileSync(path, "utf8"), path, "scenarios"));
      const rec = out.result.records;
      const n = out.result.replicas.length;
      const groups = summarizeGroups(rec, rec.replica, n);
      expect(groups).toHaveLength(n);
      let total = 0;
      for (let g = 0; g < n; g++) {
        expect(groups[g], `${file} replica ${g}`).toEqual(ref(rec, g));
        expect(summarizeRows(rec, (i) => rec.replica[i] === g, undefined)).toEqual(groups[g]);
        total += groups[g]!.requests.total;
      }
      expect(total).toBeGreaterThan(0);
      // The run's summary carries these numbers for its replicas.
      for (let g = 0; g < n; g++) expect(out.summary.replicas[g]!.ttft_ms).toEqual(groups[g]!.ttft_ms);
    }
  });

  it("also when the rows of a replica are spread evenly over the table (many replicas)", () => {
    const yaml = `name: many
seed: 3
requests: 3000
pools:
  - model: llama-3.1-8b-instruct
    replicas: 96
    engine: { total_kv_blocks: 400 }
gateway: { policy: round-robin }
workload:
  type: poisson
  rate: 900
  input: { dist: normal, mean: 900, std: 300, min: 16 }
  output: { dist: normal, mean: 200, std: 80, min: 1 }
`;
    const out = runScenario(parseScenario(yaml, "many.yaml", "."));
    const rec = out.result.records;
    expect(out.summary.preemptions).toBeGreaterThan(0);
    const groups = summarizeGroups(rec, rec.replica, 96);
    for (let g = 0; g < 96; g++) expect(groups[g]).toEqual(ref(rec, g));
  });
});

describe("class and tenant summaries", () => {
  it("equal summarizeRows over their rows, whether a class or tenant holds every row (taken from the all-rows summary) or not", () => {
    let whole = 0;
    let part = 0;
    for (const file of ["spike-flow-control.yaml", "spike-fairness.yaml", "spike-quotas.yaml", "mixed.yaml"]) {
      const path = `scenarios/${file}`;
      const out = runScenario(parseScenario(readFileSync(path, "utf8"), path, "scenarios"));
      const rec = out.result.records;
      const check = (names: readonly string[], col: ArrayLike<number>, got: Record<string, object>, what: string) => {
        names.forEach((name, g) => {
          const keep = (i: number) => col[i] === g;
          const ref = summarizeRows(rec, keep, undefined);
          const rows = Array.from({ length: rec.size }, (_, i) => i).filter(keep).length;
          if (rows === rec.size) whole++;
          else part++;
          // Every field summarizeRows reports, as it reports it (the group's ITL from its TPOT sample, not the
          // cluster's token-level ITL), and no Dist object shared with the run's own.
          expect(got[name], `${file} ${what} ${name}`).toMatchObject(ref);
          expect((got[name] as { ttft_ms: object }).ttft_ms).not.toBe(out.summary.ttft_ms);
        });
      };
      check(rec.classes.names, rec.sloClass, out.summary.classes, "class");
      check(rec.tenants.names, rec.tenant, out.summary.tenants, "tenant");
    }
    expect(whole).toBeGreaterThan(0);
    expect(part).toBeGreaterThan(0);
  });
});

/** The summary of replica `g`'s rows, computed row by row, each latency sample through `dist`. */
function ref(rec: RequestTable, g: number) {
  const ttft: number[] = [];
  const e2e: number[] = [];
  const tpot: number[] = [];
  const queue: number[] = [];
  let total = 0;
  let rejected = 0;
  let dropped = 0;
  let out = 0;
  let preemptions = 0;
  let cached = 0;
  let prompt = 0;
  let itlSum = 0;
  let itlCount = 0;
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  for (let i = 0; i < rec.size; i++) {
    if (rec.replica[i] !== g) continue;
    total++;
    const o = rec.outcome[i];
    if (o === Outcome.Rejected) rejected++;
    if (o === Outcome.Dropped) dropped++;
    const arr = rec.arrival[i]!;
    first = Math.min(first, arr);
    if (o !== Outcome.Completed) continue;
    const ft = rec.firstToken[i]! - arr;
    const done = rec.completion[i]! - arr;
    last = Math.max(last, rec.completion[i]!);
    ttft.push(ft);
    e2e.push(done);
    queue.push(rec.admit[i]! - arr);
    const n = rec.output[i]!;
    out += n;
    if (n > 1) {
      tpot.push((done - ft) / (n - 1));
      itlSum += done - ft;
      itlCount += n - 1;
    }
    preemptions += rec.preemptions[i]!;
    cached += rec.cached[i]!;
    prompt += rec.input[i]!;
  }
  const ms = (xs: number[]) => dist(Float64Array.from(xs), 1000);
  const tpotMs = ms(tpot);
  const completed = ttft.length;
  const span = last > first ? last - first : 0;
  return {
    ttft_ms: ms(ttft),
    e2e_ms: ms(e2e),
    itl_ms: { ...tpotMs, mean: itlCount > 0 ? (itlSum / itlCount) * 1000 : 0 },
    tpot_ms: tpotMs,
    queue_ms: ms(queue),
    prefix_cache_hit_rate: prompt > 0 ? cached / prompt : 0,
    requests: { total, completed, rejected, dropped },
    throughput: { requests_per_s: span > 0 ? completed / span : 0, output_tokens_per_s: span > 0 ? out / span : 0 },
    preemptions,
  };
}
