import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "csv-stringify/sync";
import { describe, expect, it } from "vitest";
import type { RunOutput } from "../src/metrics/summary.ts";
import { writeChunksAtomic } from "../src/report/atomic.ts";
import { requestsCsv, requestsCsvChunks, writeRequestsCsv } from "../src/report/outputs.ts";
import { Outcome } from "../src/sim/outcomes.ts";
import { RequestTable } from "../src/sim/records.ts";

function fakeRun(policy: string, n: number): RunOutput {
  const rec = new RequestTable(8, false);
  for (let i = 0; i < n; i++) {
    rec.ensure(i);
    rec.arrival[i] = i * 0.013;
    rec.input[i] = 100 + (i % 7);
    rec.output[i] = 5;
    rec.sloClass[i] = rec.classes.id(i % 3 === 0 ? "batch" : 'chat, "quoted"');
    rec.tenant[i] = rec.tenants.id("default");
    rec.source[i] = rec.sources.id("default");
    rec.attempts[i] = 1;
    if (i % 5 !== 4) {
      rec.replica[i] = i % 2;
      rec.outcome[i] = Outcome.Completed;
      rec.status[i] = 200;
      rec.admit[i] = rec.arrival[i]! + 0.001;
      rec.firstToken[i] = rec.arrival[i]! + 0.02;
      rec.completion[i] = rec.arrival[i]! + 0.1;
    } else {
      rec.outcome[i] = Outcome.Dropped;
      rec.status[i] = 429;
    }
  }
  const replicas = [{ name: "a-0" }, { name: "a-1" }];
  return { policy, seed: 1, result: { records: rec, replicas }, summary: {} } as unknown as RunOutput;
}

describe("requests.csv in chunks", () => {
  it("chunks join to the text one stringify call gives, header once, quoting kept", () => {
    const runs = [fakeRun("p1", 9000), fakeRun("p2", 10)];
    const chunks = [...requestsCsvChunks(runs)];
    expect(chunks.length).toBe(3); // 4096 + 4096 + 818 rows (p1's last 808 and p2's 10 in one chunk)
    const text = chunks.join("");
    const lines = text.trimEnd().split("\n");
    expect(lines.length).toBe(1 + 9010);
    expect(lines[0]!.startsWith("policy,id,arrival_ms,")).toBe(true);
    expect(lines.filter((l) => l.startsWith("policy,")).length).toBe(1);
    // Row 4096 (the first of the second chunk): arrival 4096 · 0.013 s in ms, replica a-0, the quoted class.
    expect(lines[4097]).toBe(
      stringify([
        [
          "p1",
          4096,
          53248,
          "a-0",
          "completed",
          200,
          'chat, "quoted"',
          "default",
          "default",
          100 + (4096 % 7),
          5,
          0,
          20,
          100,
          1,
          1,
          0,
        ],
      ]).trimEnd(),
    );
    expect(lines[2]).toContain('"chat, ""quoted"""');
    expect(requestsCsv([])).toBe(`${lines[0]}\n`);
  });

  it("writes atomically: a failure leaves the old file and no temporary", () => {
    const dir = mkdtempSync(join(tmpdir(), "gatelab-csv-"));
    const path = join(dir, "requests.csv");
    writeRequestsCsv(path, [fakeRun("p", 5000)]);
    expect(readFileSync(path, "utf8")).toBe(requestsCsv([fakeRun("p", 5000)]));
    writeFileSync(path, "old\n");
    function* failing(): Generator<string> {
      yield "half,";
      throw new Error("boom");
    }
    expect(() => writeChunksAtomic(path, failing())).toThrow(/boom/);
    expect(readFileSync(path, "utf8")).toBe("old\n");
    expect(readdirSync(dir)).toEqual(["requests.csv"]);
  });
});
