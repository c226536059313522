import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { main } from "../src/cli/main.ts";
import { compare } from "../src/lab/compare.ts";
import { labMetrics } from "../src/metrics/lab-metrics.ts";
import { checkRunSlos, meetsTargets, requestTargets, type Slos } from "../src/metrics/slo.ts";
import { delta, formatComparison } from "../src/report/compare.ts";
import { parseScenario } from "../src/scenario.ts";
import { Outcome } from "../src/sim/request.ts";

const TWO_TENANTS = `name: two-tenants
seed: 5
duration_s: 6
pools:
  - model: llama-3.1-8b-instruct
    replicas: 2
    gpu_hour_usd: 3
workload:
  mix:
    - type: poisson
      name: chat
      rate: 20
      input: { dist: uniform, min: 100, max: 800 }
      output: { dist: uniform, min: 10, max: 100 }
      prefix: { groups: 3, tokens: 800 }
      slo_class: interactive
      tenant: acme
    - type: batch
      name: offline
      rate: 2
      input: { dist: uniform, min: 2000, max: 4000 }
      output: { dist: uniform, min: 50, max: 200 }
      tenant: globex
slos:
  ttft_p95_ms: 500
  e2e_p95_ms: 4000
`;

const loaded = parseScenario(TWO_TENANTS, "two-tenants.yaml", join(import.meta.dirname, "fixtures"));

describe("compare", () => {
  const c = compare(loaded, { policies: ["round-robin", "gie-default"] });

  it("runs every policy on the same request stream", () => {
    const [a, b] = c.runs;
    expect(a!.result.records.size).toBe(b!.result.records.size);
    for (let i = 0; i < a!.result.records.size; i++) {
      expect(b!.result.records.arrival[i]).toBe(a!.result.records.arrival[i]);
    }
  });

  it("goodput counts the completed requests within their targets", () => {
    const run = c.runs[0]!;
    const rec = run.result.records;
    const t = requestTargets(loaded.scenario.slos)("interactive");
    expect(t).toEqual({ ttftS: 0.5, e2eS: 4 });
    let good = 0;
    for (let i = 0; i < rec.size; i++) {
      if (rec.outcome[i] !== Outcome.Completed) continue;
      if (rec.firstToken[i]! - rec.arrival[i]! <= 0.5 && rec.completion[i]! - rec.arrival[i]! <= 4) good++;
    }
    const m = c.metrics[0]!;
    expect(m.goodput_fraction).toBeCloseTo(good / rec.size, 12);
    // The same rule as the run summary's goodput.
    const sg = (run.summary as unknown as { goodput?: { requests: number } }).goodput;
    if (sg) expect(sg.requests).toBe(good);
    expect(m.goodput_rps).toBeLessThanOrEqual(m.throughput_rps);
    expect(m.gpu_hours).toBeCloseTo((2 * run.summary.duration_s) / 3600, 12);
    expect(m.usd_per_mtok).toBeGreaterThan(0);
  });

  it("counts 429s as shed and 503s as unavailable", () => {
    const run = c.runs[0]!;
    const rec = run.result.records;
    const saved = [rec.status[0], rec.status[1], rec.outcome[0], rec.outcome[1]] as const;
    rec.status[0] = 429;
    rec.outcome[0] = Outcome.Dropped;
    rec.status[1] = 503;
    rec.outcome[1] = Outcome.Dropped;
    const m = labMetrics(run, requestTargets(loaded.scenario.slos));
    expect(m.shed).toBe(1);
    expect(m.unavailable).toBe(1);
    rec.status[0] = saved[0]!;
    rec.status[1] = saved[1]!;
    rec.outcome[0] = saved[2]!;
    rec.outcome[1] = saved[3]!;
  });

  it("breaks metrics down per SLO class and per tenant", () => {
    expect(c.groups.slo_class[0]!.map((g) => g.group)).toEqual(["batch", "interactive"]);
    expect(c.groups.tenant[0]!.map((g) => g.group)).toEqual(["acme", "globex"]);
    const total = c.groups.tenant[0]!.reduce((s, g) => s + g.metrics.requests, 0);
    expect(total).toBe(c.metrics[0]!.requests);
    const text = formatComparison(c);
    expect(text).toMatch(/SLO class\s+metric\s+round-robin\s+gie-default\s+Δ/);
    expect(text).toMatch(/tenant\s+metric/);
    expect(text).toContain("acme");
    expect(text).toContain("GPU-hours");
    expect(text).toContain("$ per M output tokens");
    expect(text).toMatch(/SLOs \(TTFT p95 ≤ 500 ms, E2E p95 ≤ 4,000 ms; percentiles over every request/);
  });

  it("formats deltas so that columns stay numeric", () => {
    expect(delta(10, 10)).toBe("0%");
    expect(delta(10, 12)).toBe("+20.0%");
    expect(delta(0, 3)).toBe("+3");
  });
});

describe("SLOs", () => {
  it("per-class targets replace the scenario-wide ones for listed classes (the run summary's rule)", () => {
    const slos = {
      ttft_p95_ms: 1000,
      e2e_p95_ms: 9000,
      classes: { batch: { ttft_ms: 60000 }, interactive: { ttft_p95_ms: 300, tpot_ms: 50 } },
    } as unknown as Slos;
    const t = requestTargets(slos);
    expect(t("batch")).toEqual({ ttftS: 60 });
    expect(t("interactive")).toEqual({ ttftS: 0.3, tpotS: 0.05 });
    expect(t("other")).toEqual({ ttftS: 1, e2eS: 9 });
  });

  it("evaluates cluster SLOs and per-class percentiles", () => {
    const run = compare(loaded, { policies: ["round-robin"] }).runs[0]!;
    const slos = {
      ttft_p95_ms: 1e9,
      classes: { interactive: { ttft_p95_ms: 0.001 }, absent: { ttft_p95_ms: 1 } },
    } as unknown as Slos;
    const checks = checkRunSlos(run, slos);
    // A class with no request in the run ("absent") has nothing to judge and is skipped.
    expect(checks.map((x) => [x.name, x.ok])).toEqual([
      ["ttft_p95_ms", true],
      ["classes.interactive.ttft_p95_ms", false],
    ]);
    const rec = run.result.records;
    expect(meetsTargets(rec, 0, {})).toBe(rec.outcome[0] === Outcome.Completed);
  });
});

describe("gatelab compare (CLI)", () => {
  let out = "";
  beforeEach(() => {
    out = "";
    vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => {
      out += String(s);
      return true;
    });
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });

  it("--json prints per-policy metrics; --no-report writes nothing", async () => {
    const f = join(import.meta.dirname, "fixtures", "lab-small.yaml");
    expect(await main(["compare", f, "-P", "round-robin,least-request", "--json", "--no-report"])).toBe(0);
    const j = JSON.parse(out);
    expect(j.runs.map((r: { policy: string }) => r.policy)).toEqual(["round-robin", "least-request"]);
    expect(j.runs[0].metrics.ttft_p95_ms).toBeGreaterThan(0);
    expect(j.runs[0].slos_ok).toBe(true);
  });
});
