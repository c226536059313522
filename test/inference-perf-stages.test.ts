import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runScenario } from "../src/lab/run.ts";
import { formatIpStages, kneeRate } from "../src/report/inference-perf-stages.ts";
import { parseScenario } from "../src/scenario.ts";

describe("knee of a rate ladder", () => {
  it("is the highest rate up to which every stage (in rate order) meets the SLOs", () => {
    const st = (r: number, ok: boolean) => ({ requested_rate: r, meets_slos: ok });
    expect(kneeRate([st(10, true), st(20, true), st(30, false), st(40, true)])).toBe(20);
    expect(kneeRate([st(30, false), st(10, true), st(20, true)])).toBe(20);
    expect(kneeRate([st(10, false), st(20, true)])).toBeNull();
    expect(kneeRate([st(10, true), st(20, true)])).toBe(20);
    expect(kneeRate([{ requested_rate: 1, meets_slos: undefined }])).toBeUndefined();
  });
});

describe("per-stage lab summary of an inference-perf run", () => {
  const dir = mkdtempSync(join(tmpdir(), "ip-stages-"));
  writeFileSync(
    join(dir, "ip.yaml"),
    `load:
  type: constant
  interval: 1
  stages: [{rate: 2, duration: 5}, {rate: 20, duration: 5}, {rate: 200, duration: 5}]
  num_workers: 1
  worker_max_concurrency: 16
api: { streaming: true }
data:
  type: random
  input_distribution: { min: 300, max: 300, mean: 300, std_dev: 0 }
  output_distribution: { min: 200, max: 200, mean: 200, std_dev: 0 }
`,
  );
  const run = (slos: string) =>
    runScenario(
      parseScenario(
        `name: s
seed: 1
pools:
  - name: p
    model: llama-3.1-8b-instruct
    gpu: H100
    replicas: 2
    engine: { max_num_seqs: 4 }
slos: ${slos}
workload: { type: inference-perf, config: ip.yaml }
`,
        "s.yaml",
        dir,
      ),
    );

  it("counts, throughput formulas, schedule delay under the client cap, waiting queue and the knee", () => {
    const out = run("{ ttft_p95_ms: 2000 }");
    rmSync(dir, { recursive: true, force: true });
    const s = out.summary.inference_perf!;
    expect(s.stages.map((x) => x.requests)).toEqual([10, 100, 1000]);
    for (const x of s.stages) {
      // Fixed lengths: input tokens/s = 300 × req/s, output 200 × req/s, total their sum.
      expect(x.input_tokens_per_s).toBeCloseTo(300 * x.requests_per_s, 6);
      expect(x.output_tokens_per_s).toBeCloseTo(200 * x.requests_per_s, 6);
      expect(x.total_tokens_per_s).toBeCloseTo(500 * x.requests_per_s, 6);
      // NTPOT = latency / 200 ≥ TPOT-ish; both in ms.
      expect(x.ntpot_p50_ms).toBeGreaterThan(0);
    }
    // 2 replicas × 4 running seats < 16 client slots: at 200/s requests queue in vLLM and wait for a client slot.
    const top = s.stages[2]!;
    expect(top.waiting_per_replica).toBeGreaterThan(1);
    expect(top.waiting_per_replica).toBeLessThanOrEqual(16 / 2);
    expect(top.schedule_delay_p50_ms).toBeGreaterThan(100);
    expect(top.achieved_rate).toBeLessThan(200);
    expect(s.stages[0]!.schedule_delay_p50_ms).toBe(0);
    expect(s.stages[0]!.meets_slos).toBe(true);
    expect(top.meets_slos).toBe(false);
    expect(s.knee_rate).toBe(s.stages[1]!.meets_slos ? 20 : 2);
    const text = formatIpStages("stages", s);
    expect(text).toContain("knee:");
    expect(text.split("\n").length).toBe(7);
  });
});
