import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../src/cli/main.ts";
import { captureOutput } from "./helpers/capture.ts";

const io = captureOutput();

const small = `name: small
seed: 3
requests: 40
pools:
  - model: llama-3.1-8b-instruct
    replicas: 2
workload:
  type: poisson
  rate: 20
  input: { dist: uniform, min: 100, max: 600 }
  output: { dist: uniform, min: 10, max: 60 }
  prefix: { groups: 4, tokens: 512 }
`;

function scenarioFile(text = small): string {
  const dir = mkdtempSync(join(tmpdir(), "gl-cli-"));
  const f = join(dir, "s.yaml");
  writeFileSync(f, text);
  return f;
}

describe("gatelab CLI", () => {
  it("run --json prints the documented summary shape", async () => {
    expect(await main(["run", scenarioFile(), "--json"])).toBe(0);
    const s = JSON.parse(io.out);
    for (const k of ["ttft_ms", "e2e_ms", "itl_ms", "tpot_ms", "queue_ms"]) {
      expect(Object.keys(s[k])).toEqual(["mean", "p50", "p90", "p95", "p99"]);
    }
    expect(s.requests).toEqual({ total: 40, completed: 40, rejected: 0, dropped: 0 });
    expect(typeof s.prefix_cache_hit_rate).toBe("number");
    expect(s.throughput.requests_per_s).toBeGreaterThan(0);
    expect(s.replicas).toHaveLength(2);
    expect(s.replicas[0].ttft_ms.p95).toBeGreaterThan(0);
  });

  it("the same scenario and seed print byte-identical JSON; another seed differs", async () => {
    const f = scenarioFile();
    await main(["run", f, "--json"]);
    const a = io.out;
    io.out = "";
    await main(["run", f, "--json"]);
    expect(io.out).toBe(a);
    io.out = "";
    await main(["run", f, "--json", "--seed", "4"]);
    expect(io.out).not.toBe(a);
  });

  it("--out writes summary.json and requests.csv", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gl-out-"));
    expect(await main(["run", scenarioFile(), "--out", dir, "--policy", "least-request"])).toBe(0);
    const csv = readFileSync(join(dir, "requests.csv"), "utf8").trim().split("\n");
    expect(csv[0]).toMatch(/^policy,id,arrival_ms,replica,outcome/);
    expect(csv).toHaveLength(41);
    expect(JSON.parse(readFileSync(join(dir, "summary.json"), "utf8")).runs[0].policy).toBe("least-request");
  });

  it("--trace-decisions writes one JSON line per request", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gl-dec-"));
    const f = join(dir, "d.jsonl");
    expect(await main(["run", scenarioFile(), "--trace-decisions", f])).toBe(0);
    const lines = readFileSync(f, "utf8").trim().split("\n");
    expect(lines).toHaveLength(40);
    const d = JSON.parse(lines[0]!);
    expect(d.id).toBe(0);
    expect(d.candidates).toHaveLength(2);
    expect([0, 1]).toContain(d.pick);
  });

  it("bad input: one clear line on stderr, exit code 2, no stack trace", async () => {
    expect(await main(["run", scenarioFile(small.replace("replicas: 2", "replicas: two"))])).toBe(2);
    expect(io.err).toContain('s.yaml:6: pools.0.replicas: expected a number, got "two"');
    expect(io.err).not.toMatch(/\n\s+at /);
    io.err = "";
    expect(await main(["run", "/no/such.yaml"])).toBe(2);
    expect(io.err).toBe("gatelab: /no/such.yaml: cannot read the scenario file (no such file)\n");
    io.err = "";
    expect(await main(["run", "--policy", "nope", scenarioFile()])).toBe(2);
    // Named on the command line: the flag's error, not the scenario file's.
    expect(io.err).toMatch(/^gatelab: command line \(-p\/-P\): unknown policy "nope"; accepted: round-robin/);
    io.err = "";
    expect(await main(["compare", "--epp-config", "nope.yaml", scenarioFile()])).toBe(2);
    expect(io.err).toBe(
      'gatelab: command line (--epp-config): "nope.yaml": cannot read the EndpointPickerConfig (no such file)\n',
    );
    io.err = "";
    expect(await main(["run", "--seed", "x"])).toBe(2);
    expect(io.err).toMatch(/expected a non-negative integer/);
    io.err = "";
    // A seed a double cannot hold exactly: 1e30 passed for an integer, and seeds above 2^53 were one another's.
    expect(await main(["run", "--seed", "1e30"])).toBe(2);
    expect(io.err).toMatch(/at most 9,007,199,254,740,991 \(2\^53 − 1: larger seeds are not told apart\), got "1e30"/);
  });
});
