import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { main } from "../src/cli/main.ts";
import type { SimResult } from "../src/cluster/engine.ts";
import { runScenario } from "../src/lab/run.ts";
import { openMetricsLines, VLLM_TTFT_BUCKETS } from "../src/report/openmetrics.ts";
import { metricsOptions } from "../src/report/openmetrics-cli.ts";
import { loadScenario } from "../src/scenario.ts";
import { RequestTable } from "../src/sim/records.ts";
import { Outcome } from "../src/sim/request.ts";
import { type Family, key, last, parseOpenMetrics } from "./helpers/openmetrics-parse.ts";

const tmp = mkdtempSync(join(tmpdir(), "gatelab-om-"));
const SMALL = join(import.meta.dirname, "fixtures", "lab-small.yaml");

function text(runs: Parameters<typeof openMetricsLines>[0], intervalS = 1, epochS = 1000): string {
  const out: string[] = [];
  openMetricsLines(runs, { epochS, intervalS }, (s) => out.push(s));
  return `${out.join("\n")}\n`;
}

/** One replica, two requests, values chosen by hand. */
function fabricated(): SimResult {
  const rec = new RequestTable(4);
  rec.ensure(1);
  // Request 0: arrives 0.5, dispatched 0.5, reaches vLLM 0.6, scheduled 0.7, first token 1, done 4, 31 tokens.
  rec.arrival[0] = 0.5;
  rec.dispatch[0] = 0.5;
  rec.enqueue[0] = 0.6;
  rec.admit[0] = 0.7;
  rec.firstToken[0] = 1;
  rec.completion[0] = 4;
  rec.input[0] = 100;
  rec.cached[0] = 64;
  rec.output[0] = 31;
  rec.replica[0] = 0;
  rec.outcome[0] = Outcome.Completed;
  rec.status[0] = 200;
  rec.preemptions[0] = 2;
  // Request 1: arrives 6, shed by the gateway (429), never dispatched.
  rec.arrival[1] = 6;
  rec.outcome[1] = Outcome.Dropped;
  rec.status[1] = 429;
  const time = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  return {
    records: rec,
    replicas: [{ index: 0, name: "p/0", pool: "p" }],
    pools: [{ name: "p", model: "m" }],
    series: {
      interval: 1,
      time,
      waiting: [[1, 0, 0, 0, 0, 0, 0, 0, 0]],
      running: [[0, 1, 1, 0, 0, 0, 0, 0, 0]],
      kvUsage: [[0, 0.25, 0.25, 0.125, 0, 0, 0, 0, 0]],
      attempts: time.map(() => 0),
      retries: time.map(() => 0),
      shed: time.map(() => 0),
      completed: time.map(() => 0),
      gatewayQueue: [0, 0, 0, 0, 0, 2, 0, 0, 0],
    },
    endTime: 9.2,
  } as unknown as SimResult;
}

const at = (f: Family | undefined, k: string) => new Map(f?.series.get(k) ?? []);

describe("OpenMetrics export (vLLM and Endpoint Picker names)", () => {
  it("hand-computed values: gauges at scrape points, counters, histogram buckets, ramps, errors", () => {
    const fams = parseOpenMetrics(text([{ policy: "x", result: fabricated() }]));
    const rep = {
      job: "gatelab",
      namespace: "gatelab",
      policy: "x",
      model_name: "m",
      engine: "0",
      pod: "p/0",
      instance: "p/0",
    };
    // Grid 0..10 s from epoch 1000. A gauge is the last sample at or before the point (none before t=1: 0).
    expect([...at(fams.get("vllm:num_requests_running"), key("vllm:num_requests_running", rep))]).toEqual(
      [0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0].map((v, i) => [1000 + i, v]),
    );
    expect(at(fams.get("vllm:kv_cache_usage_perc"), key("vllm:kv_cache_usage_perc", rep)).get(1004)).toBe(0.125);
    const c = (name: string, ts: number, l: Record<string, string> = rep) =>
      at(fams.get(name) ?? fams.get(name.replace(/_(bucket|count|sum)$/, "")), key(name, l)).get(ts);
    expect([c("vllm:prefix_cache_queries_total", 1000), c("vllm:prefix_cache_queries_total", 1001)]).toEqual([0, 100]);
    expect(c("vllm:prefix_cache_hits_total", 1001)).toBe(64);
    expect([c("vllm:num_preemptions_total", 1003), c("vllm:num_preemptions_total", 1004)]).toEqual([0, 2]);
    // 31 tokens from t=1 to t=4: 1 at the first token, then 30 more at a steady pace.
    expect([0, 1, 2, 3, 4, 5].map((t) => c("vllm:generation_tokens_total", 1000 + t))).toEqual([0, 1, 11, 21, 31, 31]);
    expect(c("vllm:request_success_total", 1004, { ...rep, finished_reason: "stop" })).toBe(1);
    // vLLM TTFT from its own arrival: 1 − 0.6 = 0.4 s → first bucket ≥ 0.4 is le="0.5".
    const b = (name: string, le: string, ts: number) => c(`${name}_bucket`, ts, { ...rep, le });
    expect([
      b("vllm:time_to_first_token_seconds", "0.25", 1001),
      b("vllm:time_to_first_token_seconds", "0.5", 1001),
    ]).toEqual([0, 1]);
    expect(b("vllm:time_to_first_token_seconds", "0.5", 1000)).toBe(0);
    expect(c("vllm:time_to_first_token_seconds_sum", 1010)).toBeCloseTo(0.4, 12);
    // ITL: a mean gap of 3 s / 30 = 0.1 s, observed 30 times at completion.
    expect([
      b("vllm:inter_token_latency_seconds", "0.075", 1004),
      b("vllm:inter_token_latency_seconds", "0.1", 1004),
    ]).toEqual([0, 30]);
    expect(c("vllm:inter_token_latency_seconds_count", 1004)).toBe(30);
    // E2E 4 − 0.6 = 3.4 s → le="5"; queue 0.7 − 0.6 = 0.1 → le="0.3".
    expect([
      b("vllm:e2e_request_latency_seconds", "2.5", 1004),
      b("vllm:e2e_request_latency_seconds", "5", 1004),
    ]).toEqual([0, 1]);
    expect(b("vllm:request_queue_time_seconds", "0.3", 1001)).toBe(1);
    // Endpoint Picker: pool averages, ready endpoints, request totals and errors (EPP codes), both name generations.
    const pool = { job: "gatelab", namespace: "gatelab", policy: "x", name: "p" };
    for (const n of ["llm_d_epp_average_kv_cache_utilization", "inference_pool_average_kv_cache_utilization"])
      expect(c(n, 1002, pool)).toBe(0.25);
    expect(c("llm_d_epp_average_queue_size", 1001, pool)).toBe(1);
    expect(c("inference_pool_ready_pods", 1000, pool)).toBe(1);
    const model = { job: "gatelab", namespace: "gatelab", policy: "x", model_name: "m", target_model_name: "m" };
    for (const n of ["llm_d_epp_request_total", "inference_objective_request_total"])
      expect([c(n, 1000, model), c(n, 1005, model), c(n, 1006, model)]).toEqual([0, 1, 2]);
    expect(c("llm_d_epp_request_error_total", 1006, { ...model, error_code: "ResourceExhausted" })).toBe(1);
    expect(c("llm_d_epp_request_running", 1001, model)).toBe(1);
    expect(c("llm_d_epp_request_running", 1004, model)).toBe(0);
    // Gateway E2E 4 − 0.5 = 3.5 s → le="4" of the EPP's general latency buckets.
    expect(c("llm_d_epp_request_duration_seconds_bucket", 1004, { ...model, le: "3" })).toBe(0);
    expect(c("llm_d_epp_request_duration_seconds_bucket", 1004, { ...model, le: "4" })).toBe(1);
    expect(
      c("llm_d_epp_flow_control_queue_size", 1006, {
        job: "gatelab",
        namespace: "gatelab",
        policy: "x",
        inference_pool: "p",
      }),
    ).toBe(2);
    expect(fams.get("vllm:time_to_first_token_seconds")!.series.size).toBe(VLLM_TTFT_BUCKETS.length + 3);
  });

  it("a simulated compare agrees with the runs' records and summaries (one file, label policy)", () => {
    const loaded = loadScenario(SMALL);
    const runs = ["round-robin", "gie-default"].map((p) => runScenario(loaded, { policy: p }));
    const fams = parseOpenMetrics(text(runs, 5, 1_800_000_000));
    for (const r of runs) {
      const s = r.summary;
      const p = { policy: r.policy };
      const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
      const q = sum(last(fams, "vllm:prefix_cache_queries_total", "vllm:prefix_cache_queries_total", p));
      const h = sum(last(fams, "vllm:prefix_cache_hits_total", "vllm:prefix_cache_hits_total", p));
      expect(h / q).toBeCloseTo(s.prefix_cache_hit_rate, 9);
      expect(sum(last(fams, "vllm:request_success_total", "vllm:request_success_total", p))).toBe(s.outcomes.completed);
      expect(sum(last(fams, "llm_d_epp_request_total", "llm_d_epp_request_total", p))).toBe(240);
      expect(sum(last(fams, "vllm:generation_tokens_total", "vllm:generation_tokens_total", p))).toBe(s.output_tokens);
      expect(sum(last(fams, "vllm:time_to_first_token_seconds", "vllm:time_to_first_token_seconds_count", p))).toBe(
        s.outcomes.completed,
      );
      // Two replicas per policy, each with its own series.
      expect(last(fams, "vllm:num_requests_waiting", "vllm:num_requests_waiting", p).length).toBe(2);
    }
  });

  it("run --metrics-out writes a file promtool accepts (when installed); bad options exit 2", async () => {
    const out = join(tmp, "run.om");
    let err = "";
    const o = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const e = vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => {
      err += String(s);
      return true;
    });
    try {
      expect(await main(["run", SMALL, "--metrics-out", out, "--metrics-epoch", "2026-12-01T00:00:00Z"])).toBe(0);
      expect(await main(["run", SMALL, "--metrics-out", out, "--metrics-epoch", "yesterday"])).toBe(2);
      expect(await main(["run", SMALL, "--metrics-out", join(tmp, "no", "dir", "x.om")])).toBe(3);
    } finally {
      o.mockRestore();
      e.mockRestore();
      process.exitCode = undefined;
    }
    expect(err).toContain(
      '--metrics-epoch: expected Unix seconds, an ISO 8601 time like 2026-12-01T00:00:00Z, or now, got "yesterday"',
    );
    const body = readFileSync(out, "utf8");
    const fams = parseOpenMetrics(body);
    const first = [...fams.get("vllm:num_requests_running")!.series.values()][0]![0]![0];
    expect(first).toBe(Date.UTC(2026, 11, 1) / 1000);
    const promtool = spawnSync("promtool", ["--version"]);
    if (promtool.error === undefined && promtool.status === 0) {
      // The linter flags the upstream names themselves (vLLM's "vllm:" colons; "_d_" of llm_d_epp read as "days"),
      // which the real exporters expose too; anything else (a parse error: exit 1) fails.
      const check = spawnSync("promtool", ["check", "metrics"], { input: body, encoding: "utf8" });
      const problems = `${check.stdout}${check.stderr}`
        .trim()
        .split("\n")
        .filter((l) => l !== "");
      expect([0, 3]).toContain(check.status);
      for (const p of problems)
        expect(p).toMatch(
          /^(vllm:\S+ metric names should not contain ':'|llm_d_epp_\S+ metric names should not contain abbreviated units)$/,
        );
      const db = join(tmp, "tsdb");
      const imp = spawnSync("promtool", ["tsdb", "create-blocks-from", "openmetrics", out, db], { encoding: "utf8" });
      expect(imp.status).toBe(0);
      let series = 0;
      for (const f of fams.values()) series += f.series.size;
      expect(imp.stdout).toMatch(new RegExp(`\\s${series}\\s+\\d+\\s*$`, "m"));
    }
  });

  it("epoch and interval options", () => {
    expect(metricsOptions("1700000000", "15")).toEqual({ epochS: 1_700_000_000, intervalS: 15 });
    expect(metricsOptions("2026-12-01T00:00:00Z", "1").epochS).toBe(Date.UTC(2026, 11, 1) / 1000);
    expect(metricsOptions("now", "1", () => 1_234_567_890_123).epochS).toBe(1_234_567_890);
    expect(() => metricsOptions("0", "0.5")).toThrow('--metrics-interval: expected whole seconds ≥ 1, got "0.5"');
  });
});
