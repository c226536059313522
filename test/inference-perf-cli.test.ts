import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../src/cli/main.ts";
import { compareStages, readStageReports } from "../src/report/inference-perf-compare.ts";
import { captureOutput } from "./helpers/capture.ts";

const REPORTS = fileURLToPath(new URL("../../shared/data/inference-perf/reports/", import.meta.url));
const SCENARIO = fileURLToPath(new URL("../scenarios/inference-perf-kubecon-measured-rates.yaml", import.meta.url));
const VARIANTS = [
  "vllm",
  "vllm+batch_size",
  "vllm+chunking_and_prefix_caching",
  "vllm+eagle",
  "vllm+quantization",
  "vllm+v0_engine",
];
const measured = (v: string) => `${REPORTS}inference-perf__demos__kubecon-na-2025__${v}__results__`;

describe("gatelab inference-perf", () => {
  const io = captureOutput();
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), "ip-cli-"));
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("run --report inference-perf writes the reports per policy; without --out it is refused", async () => {
    expect(await main(["run", SCENARIO, "--out", out, "--report", "inference-perf"])).toBe(0);
    const dir = join(out, "inference-perf", "round-robin");
    expect(readdirSync(dir)).toContain("stage_6_lifecycle_metrics.json");
    expect(io.out).toContain("inference-perf reports:");
    expect(await main(["run", SCENARIO, "--report", "inference-perf"])).toBe(2);
    expect(io.err).toContain("--report inference-perf needs --out DIR");
    expect(await main(["run", SCENARIO, "--out", out, "--report", "nope"])).toBe(2);
  }, 120_000);

  it("refuses --report inference-perf for other workloads", async () => {
    const code = await main(["run", "--out", join(out, "x"), "--report", "inference-perf"]);
    expect(code).toBe(2);
    expect(io.err).toContain("must be `type: inference-perf`");
  }, 120_000);

  it("compare prints measured, predicted and error per stage and metric for each of the six KubeCon runs", async () => {
    const predicted = join(out, "inference-perf", "round-robin");
    if (!existsSync(predicted))
      expect(await main(["run", SCENARIO, "--out", out, "--report", "inference-perf"])).toBe(0);
    for (const v of VARIANTS) {
      io.out = "";
      expect(await main(["inference-perf", "compare", "--measured", measured(v), "--predicted", predicted])).toBe(0);
      const lines = io.out.split("\n");
      expect(lines[0]).toMatch(/^stage\s+metric\s+measured\s+predicted\s+error$/);
      // 7 stages × 12 metrics.
      expect(lines.filter((l) => /^\d\s/.test(l)).length).toBe(84);
      expect(io.out).toContain("median |error| over stages");
    }
    // The baseline run's stage rates are the scenario's: requested rate matches exactly at every stage.
    const rows = compareStages(readStageReports(measured("vllm")), readStageReports(predicted));
    const req = rows.filter((r) => r.metric.startsWith("requested rate"));
    expect(req.length).toBe(7);
    for (const r of req) expect(Math.abs(r.error!)).toBeLessThan(1e-12);
  }, 120_000);

  it("a run's reports are found from its folder prefix or from any one of its stage reports", () => {
    const byPrefix = readStageReports(measured("vllm"));
    expect(byPrefix.length).toBeGreaterThan(1);
    expect(readStageReports(`${measured("vllm")}stage_2_lifecycle_metrics.json`)).toEqual(byPrefix);
  });

  it("compare --knee-ttft-p95-ms prints both knees (the measured baseline's by hand: 92.19 req/s)", async () => {
    const predicted = join(out, "inference-perf", "round-robin");
    if (!existsSync(predicted))
      expect(await main(["run", SCENARIO, "--out", out, "--report", "inference-perf"])).toBe(0);
    expect(
      await main([
        "inference-perf",
        "compare",
        "--measured",
        measured("vllm"),
        "--predicted",
        predicted,
        "--knee-ttft-p95-ms",
        "1000",
      ]),
    ).toBe(0);
    // Stage 3 (92.19 req/s): TTFT p95 well under 1 s, achieved 92.2; stage 4 (122.59): achieved 106.5 < 95 %.
    expect(io.out).toMatch(
      /knee \(TTFT p95 ≤ 1000 ms, achieved ≥ 95 % of requested\): measured 92\.19 req\/s, predicted /,
    );
  }, 120_000);

  it("compare --chart writes the rate chart; bad folders are input errors", async () => {
    const predicted = join(out, "inference-perf", "round-robin");
    const chart = join(out, "chart");
    expect(
      await main([
        "inference-perf",
        "compare",
        "--measured",
        measured("vllm"),
        "--predicted",
        predicted,
        "--chart",
        chart,
      ]),
    ).toBe(0);
    expect(readdirSync(chart).sort()).toEqual(["inference-perf-vs-rate.png", "inference-perf-vs-rate.svg"]);
    expect(await main(["inference-perf", "compare", "--measured", join(out, "nope"), "--predicted", predicted])).toBe(
      2,
    );
    expect(io.err).toMatch(/no (such folder|stage_<N>)/);
  }, 120_000);

  it("check prints what a config replays and notes", async () => {
    const cfg = fileURLToPath(new URL("../data/inference-perf/kubecon-na-2025-config.yaml", import.meta.url));
    expect(await main(["inference-perf", "check", cfg])).toBe(0);
    expect(io.out).toContain("sweep linear: probe 2000 requests, then 7 stages × 60 s");
    expect(io.out).toContain("client cap 440");
    const bad = `${fileURLToPath(new URL("../../shared/data/inference-perf/configs/", import.meta.url))}inference-perf__examples__multimodal__image.yaml`;
    expect(await main(["inference-perf", "check", bad])).toBe(2);
    expect(io.err).toContain("data.multimodal");
  });
});
