/**
 * The column base (`ColumnBase`): a profile's sum of column scorers kept between decisions from the columns' change
 * log, with the maximum of the sum and how many candidates hold it. It must equal, bit for bit, what the scorers'
 * `addWeighted` sum to from zero, after any sequence of changes (few, many, past the log's length, moving a min-max
 * range, NaN), and the max-score picker given its summary (`pickTop`) must pick as `pick` does, with the same draws.
 * The scenario case routes 256 replicas with staggered scrapes and herding (many candidates tied at the top score)
 * with the base and without it (views only) and compares the whole summaries.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runScenario } from "../src/lab/run.ts";
import { ColumnBase } from "../src/policies/epp/column-base.ts";
import { Cycle, type Scorer } from "../src/policies/epp/framework.ts";
import { MaxScorePicker } from "../src/policies/epp/pickers.ts";
import { KvCacheUtilizationScorer, QueueScorer, RunningRequestsSizeScorer } from "../src/policies/epp/scorers.ts";
import { context, endpoints, request } from "../src/policies/testing.ts";
import type { EndpointColumns } from "../src/policies/types.ts";
import { parseScenario } from "../src/scenario.ts";
import { rngStream } from "../src/sim/rng.ts";

interface Cols extends EndpointColumns {
  readonly changes: Int32Array;
  changeCount: number;
}

function columns(n: number, logLength: number): Cols {
  return {
    index: Int32Array.from({ length: n }, (_, i) => i),
    waiting: new Float64Array(n),
    running: new Float64Array(n),
    kvCacheUsage: new Float64Array(n),
    changes: new Int32Array(logLength),
    changeCount: 0,
  };
}

/** What the framework's totals hold: zero, then each scorer's `addWeighted` over the columns, in order. */
function reference(scorers: { scorer: Scorer; weight: number }[], cols: Cols, n: number): Float64Array {
  const eps = endpoints(n);
  const req = request([{ id: 1, tokens: 4 }]);
  const ctx = { ...context(req, eps), columns: cols };
  const cycle = new Cycle(1, req, ctx);
  const totals = new Float64Array(n);
  for (const { scorer, weight } of scorers) scorer.addWeighted!(cycle, eps, totals, weight);
  return totals;
}

const SCORERS = [
  () => new QueueScorer("q"),
  () => new RunningRequestsSizeScorer("r"),
  () => new KvCacheUtilizationScorer("kv"),
];
/** Few distinct values, so that ties and moves of the minimum and maximum are common. */
const COUNTS = [0, 0, 0, 1, 2, 3, 7];
const USAGES = [0, 0, 0.25, 0.5, 0.75, 1, 1.25, 0.1 + 0.2];

const change = fc.record({
  pos: fc.nat(),
  field: fc.constantFrom("waiting", "running", "kvCacheUsage"),
  pick: fc.nat(),
  nan: fc.integer({ min: 0, max: 60 }),
});
const spec = fc.record({
  n: fc.integer({ min: 1, max: 40 }),
  logLength: fc.integer({ min: 1, max: 16 }),
  scorers: fc.array(
    fc.record({
      kind: fc.integer({ min: 0, max: 2 }),
      weight: fc.constantFrom(0, 1, 2, 3, 0.5, 1.7, -1),
    }),
    { minLength: 1, maxLength: 4 },
  ),
  init: fc.array(fc.nat(), { minLength: 120, maxLength: 120 }),
  batches: fc.array(fc.array(change, { maxLength: 20 }), { minLength: 1, maxLength: 25 }),
});

describe("column base", () => {
  it("equals the scorers' sum from zero, bit for bit, and the picker's scan of it after any changes", () => {
    fc.assert(
      fc.property(spec, (s) => {
        const { n } = s;
        const cols = columns(n, s.logLength);
        for (let i = 0; i < n; i++) {
          cols.waiting[i] = COUNTS[s.init[i]! % COUNTS.length]!;
          cols.running[i] = COUNTS[s.init[i + 40]! % COUNTS.length]!;
          cols.kvCacheUsage[i] = USAGES[s.init[i + 80]! % USAGES.length]!;
        }
        const scorers = s.scorers.map((x) => ({ scorer: SCORERS[x.kind]!(), weight: x.weight }));
        const base = new ColumnBase(scorers.map((x) => ({ term: x.scorer.column!, weight: x.weight })));
        for (const batch of s.batches) {
          for (const c of batch) {
            const p = c.pos % n;
            const col = cols[c.field as "waiting" | "running" | "kvCacheUsage"];
            const v =
              c.nan === 0 && c.field === "kvCacheUsage"
                ? Number.NaN
                : c.field === "kvCacheUsage"
                  ? USAGES[c.pick % USAGES.length]!
                  : COUNTS[c.pick % COUNTS.length]!;
            if (!Object.is(col[p], v)) {
              col[p] = v;
              cols.changes[cols.changeCount++ % cols.changes.length] = p;
            }
          }
          const got = base.update(cols, n)!;
          const want = reference(scorers, cols, n);
          for (let i = 0; i < n; i++) expect(Object.is(got[i], want[i]), `position ${i}`).toBe(true);
          base.summarize();
          // The max-score picker's scan of the reference totals.
          let top = 0;
          let ties = 1;
          let nan = Number.isNaN(want[0]!);
          for (let i = 1; i < n; i++) {
            if (want[i]! > want[top]!) {
              top = i;
              ties = 1;
            } else if (want[i] === want[top]) ties++;
            else if (Number.isNaN(want[i]!)) nan = true;
          }
          expect(base.nan).toBe(nan);
          if (!nan) {
            expect(base.max).toBe(want[top]);
            expect(base.holders).toBe(ties);
            if (ties === 1) expect(base.first).toBe(top);
          }
        }
      }),
      { seed: 20261204, numRuns: 300 },
    );
  });

  it("keeps no base without a change log", () => {
    const cols = columns(3, 4);
    const bare: EndpointColumns = {
      index: cols.index,
      waiting: cols.waiting,
      running: cols.running,
      kvCacheUsage: cols.kvCacheUsage,
    };
    expect(new ColumnBase([{ term: new QueueScorer("q").column, weight: 1 }]).update(bare, 3)).toBeUndefined();
  });
});

describe("max-score picker given the maximum (pickTop)", () => {
  it("picks what pick picks and leaves the routing stream where pick leaves it", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(0, 0.5, 1, 2, 2, 2), { minLength: 1, maxLength: 300 }),
        fc.nat(),
        (values, seed) => {
          const n = values.length;
          const scores = Float64Array.from(values);
          let max = scores[0]!;
          let top = 0;
          for (let i = 1; i < n; i++) if (scores[i]! > max) [max, top] = [scores[i]!, i];
          const ties = values.filter((v) => v === max).length;
          const eps = endpoints(n);
          const req = request([{ id: 1, tokens: 4 }]);
          const a = rngStream(seed, "routing");
          const b = rngStream(seed, "routing");
          const pa = new MaxScorePicker("m").pick(new Cycle(1, req, context(req, eps, { rng: a })), eps, scores);
          const pb = new MaxScorePicker("m").pickTop(
            new Cycle(1, req, context(req, eps, { rng: b })),
            n,
            scores,
            max,
            ties === 1 ? top : -1,
            ties,
          );
          expect(pb).toBe(pa);
          expect(b.next()).toBe(a.next());
        },
      ),
      { seed: 7, numRuns: 300 },
    );
  });
});

describe("column base in a run", () => {
  it("routes 256 replicas with staggered scrapes and ties at the top exactly as the views do", () => {
    // 10 requests a second per replica against a 50 ms scrape: ~128 decisions per interval on stale metrics, so many
    // idle replicas tie at the top score and the herd moves the queue scorer's maximum.
    const yaml = `name: herd
seed: 3
requests: 6000
pools:
  - model: llama-3.1-8b-instruct
    replicas: 256
gateway: { policy: gie-default, scrape_interval_ms: 50 }
workload:
  type: poisson
  rate: 2560
  input: { dist: normal, mean: 512, std: 128, min: 16 }
  output: { dist: normal, mean: 64, std: 16, min: 8 }
`;
    const loaded = parseScenario(yaml, "herd", ".");
    const views = runScenario(loaded, { endpointColumns: false });
    const cols = runScenario(loaded);
    expect(cols.summary.requests.total).toBe(6000);
    // Routed counts first (a short message when a decision differs), then the whole summaries.
    expect(cols.summary.replicas.map((r) => r.routed)).toEqual(views.summary.replicas.map((r) => r.routed));
    expect(JSON.stringify(cols.summary) === JSON.stringify(views.summary)).toBe(true);
    // The herd this case is for: some replica got at least twice its fair share in every window.
    expect(cols.summary.routing?.herded_share).toBe(1);
  });
});
