import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../src/cli/main.ts";
import { diffBaseline, makeBaseline, parseTolerance } from "../src/lab/check.ts";
import type { LabMetrics } from "../src/metrics/lab-metrics.ts";
import { captureOutput } from "./helpers/capture.ts";

const FIXTURE = readFileSync(join(import.meta.dirname, "fixtures", "lab-small.yaml"), "utf8");

const io = captureOutput();

/** The fixture with other SLOs, in a fresh folder. */
function scenario(slos: string): string {
  const dir = mkdtempSync(join(tmpdir(), "gl-check-"));
  const f = join(dir, "s.yaml");
  writeFileSync(f, FIXTURE.replace(/slos:\n(?: {2}.*\n)+/, `slos:\n${slos}`));
  return f;
}

describe("gatelab check", () => {
  it("exits 0 when the SLOs hold and 1 when one is violated, naming it", async () => {
    expect(await main(["check", scenario("  ttft_p95_ms: 1000\n")])).toBe(0);
    expect(io.out).toContain("PASS");
    process.exitCode = undefined;
    io.out = "";
    expect(await main(["check", scenario("  ttft_p95_ms: 5\n  e2e_p95_ms: 100000\n")])).toBe(1);
    expect(io.out).toMatch(/FAIL: SLO ttft_p95_ms violated/);
    expect(io.out).not.toMatch(/e2e_p95_ms violated/);
  });

  it("writes a baseline, passes against it, and fails on a regression beyond the tolerance naming the metric", async () => {
    const f = scenario("  ttft_p95_ms: 1000\n");
    const baseline = f.replace(/\.yaml$/, ".baseline.json");
    expect(await main(["check", f, "--update-baseline"])).toBe(0);
    expect(existsSync(baseline)).toBe(true);
    process.exitCode = undefined;
    expect(await main(["check", f])).toBe(0);
    expect(io.out).toContain(`baseline ${baseline}`);
    // Pretend the baseline was 20% faster: today's run is a 25% regression.
    const b = JSON.parse(readFileSync(baseline, "utf8"));
    b.metrics.ttft_p95_ms *= 0.8;
    writeFileSync(baseline, JSON.stringify(b));
    process.exitCode = undefined;
    io.out = "";
    const junit = join(f, "..", "junit.xml");
    expect(await main(["check", f, "--tolerance", "5%", "--junit", junit])).toBe(1);
    expect(io.out).toMatch(/FAIL: ttft_p95_ms regressed \+25\.0%/);
    const xml = readFileSync(junit, "utf8");
    expect(xml).toMatch(/<testsuites name="gatelab check" tests="\d+" failures="1">/);
    expect(xml).toContain('name="ttft_p95_ms within 5.0% of baseline"');
    expect(xml).toContain("<failure");
    // Numbers as people read them (the metric's format), not raw floats like 47.00239434939246.
    expect(xml).toMatch(/message="TTFT p95 \(ms\): baseline [\d,.]+, now [\d,.]+ \(\+25\.0%\)"/);
    expect(xml).not.toMatch(/\d\.\d{6,}/);
    // Within a 30% tolerance it passes.
    process.exitCode = undefined;
    expect(await main(["check", f, "--tolerance", "30%"])).toBe(0);
  });

  it("bad input exits 2: a missing explicit baseline, a bad tolerance", async () => {
    const f = scenario("  ttft_p95_ms: 1000\n");
    expect(await main(["check", f, "--baseline", join(f, "..", "nope.json")])).toBe(2);
    expect(io.err).toMatch(/nope\.json: no such baseline/);
    expect(await main(["check", f, "--tolerance", "abc"])).toBe(2);
    writeFileSync(join(f, "..", "bad.json"), "{}");
    expect(await main(["check", f, "--baseline", join(f, "..", "bad.json")])).toBe(2);
    expect(io.err).toMatch(/not a gatelab baseline/);
    // A baseline that compares nothing (every regression would pass), or a negative latency (a corrupted file).
    const head = '{"format":"gatelab-baseline/1","scenario":"s","policy":"gie-default","seed":42,"metrics":';
    writeFileSync(join(f, "..", "empty.json"), `${head}{}}`);
    expect(await main(["check", f, "--baseline", join(f, "..", "empty.json")])).toBe(2);
    expect(io.err).toMatch(/empty\.json: metrics: none \(a baseline compares at least one metric/);
    writeFileSync(join(f, "..", "neg.json"), `${head}{"ttft_p95_ms":-1}}`);
    expect(await main(["check", f, "--baseline", join(f, "..", "neg.json")])).toBe(2);
    expect(io.err).toMatch(/neg\.json: metrics\.ttft_p95_ms: expected a number ≥ 0, got -1/);
  });
});

describe("baseline diff", () => {
  const m = (o: Partial<LabMetrics>) =>
    ({ ttft_p95_ms: 100, hit_rate: 0.5, throughput_rps: 10, shed: 0, ...o }) as unknown as LabMetrics;
  const base = makeBaseline("s", "p", 1, m({}));

  it("respects direction, tolerance and per-metric floors", () => {
    const d = (o: Partial<LabMetrics>, tol = 0.05) =>
      Object.fromEntries(diffBaseline(base, m(o), tol).map((x) => [x.key, x.status]));
    expect(d({ ttft_p95_ms: 104 }).ttft_p95_ms).toBe("ok");
    expect(d({ ttft_p95_ms: 106 }).ttft_p95_ms).toBe("regressed");
    expect(d({ ttft_p95_ms: 80 }).ttft_p95_ms).toBe("improved");
    expect(d({ hit_rate: 0.45 }).hit_rate).toBe("regressed");
    expect(d({ throughput_rps: 11 }).throughput_rps).toBe("improved");
    // 0 → 1 shed request: beyond the floor of 1? No (equal); 0 → 2: yes.
    expect(d({ shed: 1 }).shed).toBe("ok");
    expect(d({ shed: 2 }).shed).toBe("regressed");
  });

  it("parses tolerances", () => {
    expect(parseTolerance("5%")).toBe(0.05);
    expect(parseTolerance("0.1")).toBe(0.1);
    expect(parseTolerance("12")).toBe(0.12);
  });
});
