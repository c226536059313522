import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { main } from "../src/cli/main.ts";
import { InputError } from "../src/errors.ts";
import {
  drill,
  drillTargets,
  drillWindow,
  formatDrill,
  parseDuration,
  parseFactor,
  warpTime,
  withSpike,
} from "../src/lab/drill.ts";
import { gatePercentile, gateSample } from "../src/metrics/gate.ts";
import { loadScenario } from "../src/scenario.ts";

const SCENARIO = join(import.meta.dirname, "fixtures", "lab-small.yaml");

describe("drill parsing", () => {
  it("parses factors and times", () => {
    expect(parseFactor("4x")).toBe(4);
    expect(parseFactor("x2.5")).toBe(2.5);
    expect(parseFactor("300%")).toBe(3);
    expect(() => parseFactor("lots")).toThrow(InputError);
    expect(parseDuration("60s")).toBe(60);
    expect(parseDuration("2m")).toBe(120);
    expect(parseDuration("500ms")).toBe(0.5);
    expect(parseDuration("15")).toBe(15);
    expect(() => parseDuration("soon")).toThrow(InputError);
    expect(drillWindow(30)).toBe(5);
    expect(drillWindow(10)).toBe(1);
  });

  it("time warp squeezes duration × factor seconds into duration, monotonically", () => {
    const w = (t: number) => warpTime(t, 10, 5, 4);
    expect(w(5)).toBe(5);
    expect(w(10)).toBe(10);
    expect(w(30)).toBe(15); // 10 + 20 s of stream → 5 s
    expect(w(40)).toBe(25);
    let prev = -1;
    for (let t = 0; t < 60; t += 0.25) {
      expect(w(t)).toBeGreaterThanOrEqual(prev);
      prev = w(t);
    }
  });

  it("adds the spike to every generated component", () => {
    const s = withSpike(loadScenario().scenario, { at: 20, duration: 10, factor: 3 });
    const mix = (s.workload as unknown as { mix: { arrival: { spikes: unknown[] } }[] }).mix;
    expect(mix).toHaveLength(2);
    for (const c of mix) expect(c.arrival.spikes).toContainEqual({ at: 20, duration: 10, factor: 3 });
  });
});

describe("drill verdicts", () => {
  const loaded = loadScenario(SCENARIO);

  it("a mild spike passes; the spike's requests fall in the 'during' phase", () => {
    const d = drill(loaded, { factor: 1.5, at: 2, duration: 2 });
    expect(d.ok).toBe(true);
    expect(d.method).toBe("arrival-spikes");
    const [before, during] = d.phases;
    // 1.5× the rate for 2 s against 2 s before.
    expect(during!.requests / 2).toBeGreaterThan((before!.requests / 2) * 1.1);
    expect(d.recovery.recovered).toBe(true);
    expect(formatDrill(d)).toContain("verdict: PASS");
  });

  it("a wrapSource (the CLI's progress line) sees every request the engine pulls and changes no result", () => {
    const plain = drill(loaded, { factor: 1.5, at: 2, duration: 2 });
    let pulled = 0;
    let lastArrival = -1;
    let ordered = true;
    const watched = drill(loaded, {
      factor: 1.5,
      at: 2,
      duration: 2,
      wrapSource: (src) => ({
        next() {
          const r = src.next();
          if (r !== undefined) {
            pulled++;
            if (r.arrival < lastArrival) ordered = false;
            lastArrival = r.arrival;
          }
          return r;
        },
      }),
    });
    expect(pulled).toBe(plain.phases.reduce((a, p) => a + p.requests, 0));
    expect(ordered).toBe(true);
    expect(formatDrill(watched)).toBe(formatDrill(plain));
  });

  it("a spike that swamps the replicas fails, and recovery takes time", () => {
    const s = structuredClone(loaded.scenario);
    delete s.requests;
    s.duration_s = 16;
    const d = drill({ ...loaded, scenario: s }, { factor: 5, at: 2, duration: 2, ttftSloMs: 200 });
    expect(d.ok).toBe(false);
    const [before, during, after] = d.phases;
    expect(before!.ttft_p95_ms!).toBeLessThan(200);
    expect(during!.ttft_p95_ms!).toBeGreaterThan(200);
    expect(during!.max_waiting).toBeGreaterThan(before!.max_waiting);
    expect(after!.requests).toBeGreaterThan(0);
    expect(d.recovery.recovered).toBe(true);
    expect(d.recovery.time_s!).toBeGreaterThan(0);
    expect(formatDrill(d)).toMatch(/verdict: FAIL — .*TTFT p95 during the spike/);
  });

  it("judges per-class targets when the scenario sets them", () => {
    const s = structuredClone(loaded.scenario) as typeof loaded.scenario & { slos: Record<string, unknown> };
    s.slos = { classes: { interactive: { ttft_p95_ms: 1000 }, batch: { e2e_p95_ms: 60000 } } };
    expect(drillTargets(s)).toEqual([
      { sloClass: "batch", ttft_p95_ms: null, e2e_p95_ms: 60000 },
      { sloClass: "interactive", ttft_p95_ms: 1000, e2e_p95_ms: null },
    ]);
    expect(drillTargets(s, 250)).toEqual([{ sloClass: null, ttft_p95_ms: 250, e2e_p95_ms: null }]);
    const d = drill({ ...loaded, scenario: s }, { factor: 1.5, at: 2, duration: 2 });
    expect(d.classPhases.map((c) => c.sloClass)).toEqual(["batch", "interactive"]);
    // Every request of the fixture is interactive: its class phases equal the cluster's.
    expect(d.classPhases[1]!.phases).toEqual(d.phases);
    expect(d.checks.map((c) => c.name)).toContain("interactive TTFT p95 during the spike");
    expect(d.recovery.target?.sloClass).toBe("interactive");
  });

  it("recovery is the first window after the spike, of the given width, whose p95 TTFT (unserved as misses) is back within the SLO", () => {
    const s = structuredClone(loaded.scenario);
    delete s.requests;
    s.duration_s = 16;
    for (const w of [0.25, 0.5, 0.7]) {
      const d = drill({ ...loaded, scenario: s }, { factor: 5, at: 2, duration: 2, ttftSloMs: 200, windowS: w });
      const rec = d.run.result.records;
      let last = 0;
      for (let i = 0; i < rec.size; i++) last = Math.max(last, rec.arrival[i]!);
      // Reference: windows [t0, t0 + w) from the spike's end, every row of the table tested against each.
      let want: number | null = null;
      let late = 0;
      for (let t0 = 4; t0 <= last; t0 += w) {
        const g = gateSample(rec, (i) => rec.arrival[i]! >= t0 && rec.arrival[i]! < t0 + w);
        const p = gatePercentile(g, "ttft", 0.95);
        if (p !== null && p <= 200) {
          want = t0 - 4;
          break;
        }
        late++;
      }
      expect(want, `window ${w}`).not.toBeNull();
      expect(late, `window ${w}: some windows after the spike are not yet back`).toBeGreaterThan(0);
      expect(d.recovery.time_s).toBe(want);
      expect(d.recovery.window_s).toBe(w);
    }
  });

  it("refuses a window of 0 s, and one that would cut the traffic into more than 100,000 windows", () => {
    expect(() => drill(loaded, { factor: 2, at: 1, duration: 1, windowS: 0 })).toThrow(
      /--window: the window must be > 0 s/,
    );
    expect(() => drill(loaded, { factor: 2, at: 1, duration: 1, windowS: 1e-6 })).toThrow(
      /--window 0\.000001s: [\d,]+ windows over the [\d.]+ s of traffic; at most 100,000 \(use --window [\d.e-]+s or more\)/,
    );
  });

  it("needs a TTFT target", () => {
    const s = structuredClone(loaded.scenario);
    s.slos = {};
    expect(() => drill({ ...loaded, scenario: s }, { factor: 2, at: 1, duration: 1 })).toThrow(/ttft_p95_ms/);
  });
});

describe("gatelab drill (CLI)", () => {
  beforeEach(() => {
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });

  it("exit code 0 when the SLOs hold, 1 when they don't", async () => {
    expect(await main(["drill", SCENARIO, "--spike", "1.5x", "--at", "2s", "--for", "2s"])).toBe(0);
    process.exitCode = undefined;
    expect(await main(["drill", SCENARIO, "--spike", "12x", "--at", "1s", "--for", "3s", "--ttft-p95", "200"])).toBe(1);
    process.exitCode = undefined;
    expect(await main(["drill", SCENARIO, "--spike", "none"])).toBe(2);
    process.exitCode = undefined;
    expect(await main(["drill", SCENARIO, "--window", "0s"])).toBe(2);
  });
});
