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

describe("request table columns", () => {
  it("keeps token counts in Uint16 columns and widens one exactly at its first value that needs more", () => {
    const rec = new RequestTable(4, false);
    rec.ensure(2);
    rec.setInput(0, 512);
    rec.setOutput(0, 7);
    rec.setCached(0, 65535);
    expect(rec.input).toBeInstanceOf(Uint16Array);
    expect(rec.cached).toBeInstanceOf(Uint16Array);
    rec.setCached(1, 65536); // a 128k-context prompt's cache hit: 32 bits
    expect(rec.cached).toBeInstanceOf(Int32Array);
    rec.setCached(2, 2 ** 31 - 1);
    expect(rec.cached).toBeInstanceOf(Int32Array);
    rec.setInput(1, 12.5);
    rec.setCached(3, 2 ** 31);
    expect(rec.input).toBeInstanceOf(Float64Array);
    expect(rec.cached).toBeInstanceOf(Float64Array);
    expect(rec.output).toBeInstanceOf(Uint16Array);
    expect([rec.input[0], rec.input[1], rec.output[0]]).toEqual([512, 12.5, 7]);
    expect([...rec.cached.subarray(0, 4)]).toEqual([65535, 65536, 2 ** 31 - 1, 2 ** 31]);
    // Growing keeps each column's type and values.
    rec.ensure(100);
    expect(rec.input).toBeInstanceOf(Float64Array);
    expect(rec.output).toBeInstanceOf(Uint16Array);
    expect(rec.input[1]).toBe(12.5);
    expect(rec.output[0]).toBe(7);
    expect(rec.gatewayWait.length).toBe(0);
  });

  it("reads back every status, whether stored or derived from the outcome, across the first unusual one", () => {
    const rec = new RequestTable(2, false);
    rec.ensure(4);
    rec.setEnd(0, Outcome.Completed, 200);
    rec.setEnd(1, Outcome.Rejected, 413);
    rec.setEnd(3, Outcome.Rejected, 413);
    rec.setEnd(3, Outcome.Completed, 200); // a retry that completed
    rec.setEnd(2, Outcome.Dropped, 429); // the first status its outcome does not imply: the column is stored
    rec.setEnd(4, Outcome.Completed, 200);
    expect([...rec.status.subarray(0, 5)]).toEqual([200, 413, 429, 200, 200]);
    const fresh = new RequestTable(2, false);
    fresh.ensure(1);
    fresh.setEnd(0, Outcome.Completed, 200);
    expect([...fresh.status.subarray(0, 2)]).toEqual([200, 0]); // read before any unusual status; row 1 pending
  });

  it("keeps replicas in 16 bits and attempts and preemptions in bytes until a value needs more", () => {
    const rec = new RequestTable(2, false);
    rec.ensure(3);
    expect(rec.replica[3]).toBe(-1); // grown rows are unrouted
    rec.setReplica(0, 32767);
    rec.setAttempts(0, 255);
    rec.setPreemptions(0, 3);
    expect(rec.replica).toBeInstanceOf(Int16Array);
    expect(rec.attempts).toBeInstanceOf(Uint8Array);
    rec.setReplica(1, 40000);
    rec.setAttempts(1, 256);
    rec.setPreemptions(1, 1000);
    expect(rec.replica).toBeInstanceOf(Int32Array);
    expect(rec.attempts).toBeInstanceOf(Int32Array);
    expect(rec.preemptions).toBeInstanceOf(Int32Array);
    expect([...rec.replica]).toEqual([32767, 40000, -1, -1]);
    expect([rec.attempts[0], rec.attempts[1], rec.preemptions[0], rec.preemptions[1]]).toEqual([255, 256, 3, 1000]);
  });

  it("keeps group ids in bytes until an id passes 255", () => {
    const rec = new RequestTable(2);
    rec.ensure(1);
    rec.setGroups(0, 3, 255, 0);
    expect(rec.tenant).toBeInstanceOf(Uint8Array);
    rec.setGroups(1, 4, 256, 1);
    expect(rec.tenant).toBeInstanceOf(Int32Array);
    expect(rec.sloClass).toBeInstanceOf(Uint8Array);
    expect([rec.tenant[0], rec.tenant[1], rec.sloClass[0], rec.sloClass[1], rec.source[1]]).toEqual([
      255, 256, 3, 4, 1,
    ]);
    expect(rec.gatewayWait.length).toBe(2);
  });

  it("derives dispatch times from arrivals without an admission layer, and stores them at the first other time", () => {
    const rec = new RequestTable(4, false);
    for (let i = 0; i < 3; i++) {
      rec.ensure(i);
      rec.arrival[i] = 1 + i;
    }
    rec.setDispatch(0, 1);
    rec.replica[0] = 5;
    expect([rec.dispatchAt(0), rec.dispatchAt(1)]).toEqual([1, -1]);
    rec.setDispatch(1, 2.5); // later than its arrival (2): the column is stored from here on
    rec.replica[1] = 0;
    expect([rec.dispatchAt(0), rec.dispatchAt(1), rec.dispatchAt(2)]).toEqual([1, 2.5, -1]);
    expect([...rec.dispatch.subarray(0, 3)]).toEqual([1, 2.5, -1]);
    // With an admission layer the column is stored from the start.
    const gw = new RequestTable(2, true);
    gw.ensure(0);
    gw.arrival[0] = 3;
    gw.setDispatch(0, 3);
    expect(gw.dispatch[0]).toBe(3);
  });
});
