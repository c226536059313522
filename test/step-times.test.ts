import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InputError } from "../src/errors.ts";
import { familyFor, type ModelKind } from "../src/lab/fit-families.ts";
import {
  fitStepTimes,
  groupExperiment,
  loadStepTable,
  parseStepTable,
  rowBatch,
  type StepRow,
  stepCoefficientFile,
} from "../src/lab/step-times.ts";
import { createCostModel } from "../src/models/cost-factory.ts";
import { RooflineBound } from "../src/models/cost-roofline.ts";

/** A five-minute measurement grid: prefills of 128…8192 tokens (cold and behind a cached prefix), decodes of batch
 * 1…256 at contexts 512…8192. */
function grid(): string[] {
  const lines = ["prefill_tokens,prefill_requests,cached_tokens,decode_batch,decode_context"];
  for (const t of [128, 512, 2048, 8192]) for (const c of [0, 4096]) lines.push(`${t},1,${c},0,0`);
  lines.push("8192,4,0,0,0");
  for (const b of [1, 8, 32, 128, 256]) for (const ctx of [512, 2048, 8192]) lines.push(`0,0,0,${b},${ctx}`);
  lines.push("1024,1,0,64,2048");
  return lines;
}

/** Measurements made by the simulator's own cost model with known coefficients (times in ms). */
function synthetic(model: string, gpu: string, tp: number, timeOf: (r: StepRow) => number): string {
  const g = grid();
  const t = parseStepTable(
    `${g[0]},time_ms\n${g
      .slice(1)
      .map((l) => `${l},1`)
      .join("\n")}`,
    "grid.csv",
    {
      model,
      gpu,
      tp,
    },
  );
  return `${g[0]},time_ms\n${t.rows.map((r, i) => `${g[i + 1]},${timeOf(r).toPrecision(12)}`).join("\n")}\n`;
}

const dir = mkdtempSync(join(tmpdir(), "gatelab-steps-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("step-time calibration: round trip", () => {
  const cases: { kind: ModelKind; model: string; theta: number[]; check: number[] }[] = [
    // linear: β0, β1 per prefill token, β2 per decode — all identifiable.
    { kind: "linear", model: "llama-3.1-8b-instruct", theta: [4200, 31.5, 95], check: [0, 1, 2] },
    // physics: the roofline scale and the per-request overhead are identifiable; per-layer and per-step overheads
    // are both constant for one model, so only their sum (checked through the step times) is.
    { kind: "physics", model: "llama-3.1-8b-instruct", theta: [1.37, 40, 150, 2500, 0], check: [0, 2] },
    // kernel tables: the table correction and the per-request overhead.
    { kind: "kernel", model: "llama-2-7b-hf", theta: [1.21, 30, 120, 3000, 0, 0], check: [0, 2] },
  ];
  for (const c of cases) {
    it(`recovers known ${c.kind} coefficients from simulated step times`, () => {
      const e = groupExperiment(c.model, "H100", 1);
      const fam = familyFor(c.kind, [e]);
      const truth = fam.build(e, Float64Array.from(c.theta), [0, 0, 0]);
      const csv = synthetic(c.model, "H100", 1, (r) => truth.stepTime(rowBatch(r)) * 1000);
      const table = parseStepTable(csv, "synthetic.csv", { model: c.model, gpu: "H100", tp: 1 });
      const fit = fitStepTimes([table], c.kind);
      for (const j of c.check) expect(Math.abs(fit.theta[j]! / c.theta[j]! - 1)).toBeLessThan(0.01);
      expect(fit.mape).toBeLessThan(0.002);
      // The written file, referenced as a scenario's coefficients, prices every measured step as measured.
      const file = stepCoefficientFile(fit, { name: "roundtrip" });
      const path = join(dir, `${c.kind}.json`);
      writeFileSync(path, JSON.stringify(file));
      const cm = createCostModel({ type: c.kind, coefficients: path }, { model: c.model, gpu: "H100", tp: 1 });
      // The factory bounds every model below by the roofline: a synthetic row faster than the hardware is priced
      // at the floor.
      const bound = new RooflineBound(c.model, "H100", 1);
      for (const r of table.rows) {
        const b = rowBatch(r);
        const expected = Math.max(r.timeMs, bound.seconds(b) * 1000);
        expect(Math.abs((cm.stepTime(b) * 1000) / expected - 1)).toBeLessThan(0.005);
      }
    });
  }

  it("weights rows by count and fits one θ across models (physics)", () => {
    const rows = [
      "model,gpu,tp,prefill_tokens,decode_batch,decode_context,time_ms,count",
      "llama-3.1-8b-instruct,H100,1,2048,0,0,60,5",
      "llama-3.1-8b-instruct,H100,1,0,32,1024,9,5",
      "llama-3.1-70b-instruct,H100,4,2048,0,0,150,5",
      "llama-3.1-70b-instruct,H100,4,0,32,1024,20,5",
    ].join("\n");
    const fit = fitStepTimes([parseStepTable(rows, "two.csv")], "physics");
    expect(fit.groups.map((g) => g.id)).toEqual(["llama-3.1-8b-instruct|H100|1", "llama-3.1-70b-instruct|H100|4"]);
    expect(fit.theta.length).toBe(5);
  });
});

describe("step-time CSV: malformed input", () => {
  const bad =
    (text: string, defaults = { model: "llama-3.1-8b-instruct", gpu: "H100", tp: 1 }) =>
    () =>
      parseStepTable(text, "steps.csv", defaults);
  it("names file, line and column", () => {
    expect(bad("prefill_tokens,time_ms\n512,abc\n")).toThrow(
      'steps.csv:2: time_ms: expected a positive number, got "abc"',
    );
    expect(bad("prefill_tokens,time_ms\n512,-3\n")).toThrow("steps.csv:2: time_ms: expected a positive number");
    expect(bad("prefill_tokens,time_ms\n# comment\n\n51.5,3\n")).toThrow(
      'steps.csv:4: prefill_tokens: expected a non-negative integer, got "51.5"',
    );
    expect(bad("prefill_tokens,time_ms,batch\n1,1,1\n")).toThrow("steps.csv:1: batch: unknown column");
    expect(bad("prefill_tokens,decode_batch\n1,1\n")).toThrow("steps.csv:1: time_ms: expected a column named time_ms");
    expect(bad("prefill_tokens,decode_batch,time_ms\n0,0,3\n")).toThrow(
      "steps.csv:2: prefill_tokens: expected prefill_tokens > 0 or decode_batch > 0",
    );
    expect(bad("prefill_tokens,time_ms\n1,2,3\n")).toThrow(
      "steps.csv:2: line: expected 2 comma-separated fields, got 3",
    );
    expect(bad("prefill_tokens,time_ms\n")).toThrow("steps.csv:1: rows: expected at least one measured step");
    expect(bad("")).toThrow("steps.csv:1: header: expected a header line");
    expect(bad("prefill_tokens,time_ms\n4,1\n", {} as never)).toThrow("steps.csv:1: model: expected a model column");
    expect(bad("model,prefill_tokens,time_ms\nnope,4,1\n")).toThrow('steps.csv:2: model: Unknown model "nope"');
    expect(bad("prefill_tokens,prefill_requests,time_ms\n4,5,1\n")).toThrow(
      "steps.csv:2: prefill_requests: expected ≤ prefill_tokens (4), got 5",
    );
  });
  it("is an InputError (exit 2), also for a missing file", () => {
    expect(bad("prefill_tokens,time_ms\n1,x\n")).toThrow(InputError);
    expect(() => loadStepTable("/nonexistent/steps.csv")).toThrow("/nonexistent/steps.csv: cannot read: ENOENT");
  });
});
