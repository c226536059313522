import { cpSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSweepBase, mergeSweeps, pointFile, runSweep } from "../src/lab/sweep.ts";
import { manifestProblem } from "../src/lab/sweep-files.ts";

const SCENARIO = join(import.meta.dirname, "fixtures", "lab-small.yaml");
const base = loadSweepBase(SCENARIO);
const PARAMS = ["queue-scorer.weight=1,2,3"];

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "gl-sweepfiles-"));
}

/** One finished sweep (3 points), copied for each test. */
const ref = tmp();
await runSweep(base, { params: PARAMS, out: ref, jobs: 1, charts: false });
function copy(): string {
  const d = join(tmp(), "s");
  cpSync(ref, d, { recursive: true });
  return d;
}

function edit(file: string, f: (o: Record<string, unknown>) => void): void {
  const o = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  f(o);
  writeFileSync(file, `${JSON.stringify(o, null, 2)}\n`);
}

describe("merge validates every point file", () => {
  it("a point whose id does not match its file name is refused, naming the file", async () => {
    const d = copy();
    edit(pointFile(d, 1), (o) => {
      o.id = 2;
    });
    await expect(mergeSweeps([d], tmp(), { charts: false })).rejects.toThrow(
      `${pointFile(d, 1)}: id: 2 does not match the file name (point 1)`,
    );
  });
  it("a point file renamed to another id (duplicate and missing ids) is refused", async () => {
    const d = copy();
    renameSync(pointFile(d, 2), pointFile(d, 0));
    await expect(mergeSweeps([d], tmp(), { charts: false })).rejects.toThrow(/id: 2 does not match the file name/);
  });
  it('a metric that is not a number ("ttft_p95_ms": "x") is refused', async () => {
    const d = copy();
    edit(pointFile(d, 0), (o) => {
      (o.metrics as Record<string, unknown>).ttft_p95_ms = "x";
    });
    await expect(mergeSweeps([d], tmp(), { charts: false })).rejects.toThrow(
      `${pointFile(d, 0)}: metrics.ttft_p95_ms: expected a number, got "x"`,
    );
  });
  it("a point of another scenario (its hash) is refused", async () => {
    const d = copy();
    edit(pointFile(d, 0), (o) => {
      o.scenario_sha256 = "0".repeat(64);
    });
    await expect(mergeSweeps([d], tmp(), { charts: false })).rejects.toThrow(/scenario_sha256: differs/);
  });
  it("a malformed manifest is refused naming the field", async () => {
    const d = copy();
    edit(join(d, "sweep.json"), (o) => {
      o.points = 1e12;
    });
    await expect(mergeSweeps([d], tmp(), { charts: false })).rejects.toThrow(
      /sweep\.json: not a gatelab sweep manifest: points/,
    );
    expect(manifestProblem({ format: "gatelab-sweep/1" })).toBe("scenario: expected a name");
  });
  it("sound folders merge", async () => {
    const r = await mergeSweeps([copy()], tmp(), { charts: false });
    expect(r.results.points).toHaveLength(3);
  });
});

describe("a resumed sweep runs a bad point again", () => {
  it("a corrupted point file is recomputed, the rest kept", async () => {
    const d = copy();
    edit(pointFile(d, 1), (o) => {
      (o.metrics as Record<string, unknown>).hit_rate = { bad: true };
    });
    writeFileSync(pointFile(d, 2), "{ half a fi");
    const r = await runSweep(base, { params: PARAMS, out: d, jobs: 1, charts: false });
    expect(r.skipped).toBe(1);
    expect(r.ran).toBe(2);
    expect(readFileSync(pointFile(d, 1), "utf8")).toBe(readFileSync(pointFile(ref, 1), "utf8"));
  });
});
