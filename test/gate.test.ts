import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../src/cli/main.ts";
import { drill } from "../src/lab/drill.ts";
import { missQuantile } from "../src/metrics/gate.ts";
import { loadScenario } from "../src/scenario.ts";
import { captureOutput } from "./helpers/capture.ts";

const io = captureOutput();

describe("missQuantile: unserved requests count as misses (+∞)", () => {
  it("equals numpy's linear percentile when everything was served", () => {
    // numpy.percentile([1,2,3,4,5], 95) = 4.8
    expect(missQuantile([1, 2, 3, 4, 5], 0, 0.95)).toBeCloseTo(4.8, 12);
    expect(missQuantile([1, 2, 3, 4, 5], 0, 0.5)).toBe(3);
  });
  it("is +∞ once the rank reaches an unserved request", () => {
    // 19 served + 1 unserved: rank (20−1)·0.95 = 18.05 interpolates towards the unserved one.
    const served = Array.from({ length: 19 }, (_, i) => i + 1);
    expect(missQuantile(served, 1, 0.95)).toBe(Number.POSITIVE_INFINITY);
    // 39 served + 1 unserved: rank 39·0.95 = 37.05 lies between the 38th and 39th served values.
    const more = Array.from({ length: 39 }, (_, i) => i + 1);
    expect(missQuantile(more, 1, 0.95)).toBeCloseTo(38.05, 12);
    expect(missQuantile([], 3, 0.5)).toBe(Number.POSITIVE_INFINITY);
    expect(missQuantile([], 0, 0.5)).toBeNull();
  });
});

const dir = mkdtempSync(join(tmpdir(), "gatelab-gate-"));
function file(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

const ALL_REJECTED = `name: all-rejected
requests: 20
pools:
  - model: llama-3.1-8b-instruct
    replicas: 1
    engine: { max_model_len: 10, total_kv_blocks: 2 }
workload:
  type: poisson
  rate: 5
  input: { dist: constant, value: 500 }
  output: { dist: constant, value: 10 }
slos:
  ttft_p95_ms: 1000
  e2e_p95_ms: 5000
  itl_p95_ms: 100
  tpot_p95_ms: 100
`;

describe("check cannot pass on nothing", () => {
  it("fails every latency SLO with exit 1 when every request is rejected", async () => {
    const f = file("all-rejected.yaml", ALL_REJECTED);
    expect(await main(["check", f])).toBe(1);
    expect(io.out).toContain("✗ TTFT p95 ∞ ms > 1,000 ms");
    expect(io.out).toContain("20 of 20 requests not served, counted as misses");
    for (const slo of ["ttft_p95_ms", "e2e_p95_ms", "itl_p95_ms", "tpot_p95_ms"])
      expect(io.out).toContain(`SLO ${slo} violated`);
    expect(io.out).not.toContain("PASS");
  });

  it("run says its percentiles cover completed requests only", async () => {
    const f = file("all-rejected-run.yaml", ALL_REJECTED);
    expect(await main(["run", f])).toBe(0);
    expect(io.out).toContain("no request completed");
  });

  it("JSON carries the verdict: actual is not a number that passes", async () => {
    const f = file("all-rejected-json.yaml", ALL_REJECTED);
    expect(await main(["check", f, "--json"])).toBe(1);
    const r = JSON.parse(io.out) as { ok: boolean; slos: { ok: boolean; note?: string }[] };
    expect(r.ok).toBe(false);
    expect(r.slos.every((s) => !s.ok && s.note !== undefined)).toBe(true);
  });
});

describe("drill counts shed requests against their class", () => {
  it("spike-flow-control: standard traffic does not pass when most of it was shed during the spike", () => {
    const loaded = loadScenario(join(import.meta.dirname, "../scenarios/spike-flow-control.yaml"));
    const d = drill(loaded, { factor: 4, at: 50, duration: 25 });
    const std = d.classPhases.find((c) => c.sloClass === "standard")!.phases.find((p) => p.name === "during")!;
    expect(std.requests).toBeGreaterThan(1000);
    // Most of standard's spike traffic is shed: far more than 5% unserved, so its p95 is a miss.
    expect(std.unserved / std.requests).toBeGreaterThan(0.5);
    expect(std.ttft_p95_ms).toBe(Number.POSITIVE_INFINITY);
    const c = d.checks.find((x) => x.name === "standard TTFT p95 during the spike")!;
    expect(c.ok).toBe(false);
    expect(c.detail).toMatch(/of [\d,]+ requests not served, counted as misses/);
    expect(d.ok).toBe(false);
  });
});

describe("compare tables with infinite values", () => {
  it("keeps a column holding ∞ right-aligned and gives it a non-zero Δ", async () => {
    const { renderTable } = await import("../src/report/table.ts");
    const { delta } = await import("../src/report/compare.ts");
    const t = renderTable(
      ["metric", "a"],
      [
        ["load skew", Number.POSITIVE_INFINITY],
        ["x", 12.5],
      ],
    ).split("\n");
    expect(t[2]).toMatch(/ ∞$/);
    expect(t[2]!.length).toBe(t[3]!.length);
    expect(delta(1.2, Number.POSITIVE_INFINITY)).toBe("+∞");
    expect(delta(Number.POSITIVE_INFINITY, 1.2)).toBe("-∞");
    expect(delta(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY)).toBe("0%");
  });
});
