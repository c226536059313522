import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunOutput, runScenario } from "../src/lab/run.ts";
import {
  type IpRow,
  inferencePerfLog,
  lifecycleReport,
  statBlock,
  writeInferencePerfReports,
} from "../src/report/inference-perf.ts";
import { parseScenario } from "../src/scenario.ts";

const REPORTS = fileURLToPath(new URL("../../shared/data/inference-perf/reports/", import.meta.url));
const CONFIGS = fileURLToPath(new URL("../../shared/data/inference-perf/configs/", import.meta.url));
const PCT = [0.1, 1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9];

/** Every key path of a JSON value (objects only; a null stat block is a leaf). */
function keyPaths(x: unknown, prefix = ""): string[] {
  if (typeof x !== "object" || x === null || Array.isArray(x)) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(x)) out.push(prefix + k, ...keyPaths(v, `${prefix + k}.`));
  return out.sort();
}

const readJson = (p: string): unknown => JSON.parse(readFileSync(p, "utf8"));

describe("inference-perf reports of the KubeCon demo", () => {
  let run: RunOutput;
  let dirLegacy: string;
  let dirCurrent: string;
  beforeAll(() => {
    const loaded = parseScenario(
      `name: kubecon
seed: 42
pools:
  - name: vllm
    model: llama-3.1-8b-instruct
    gpu: H100
    replicas: 1
    engine: { max_num_seqs: 128, max_model_len: 512, enable_prefix_caching: false, enable_chunked_prefill: false }
workload:
  type: inference-perf
  config: ${CONFIGS}inference-perf__demos__kubecon-na-2025__config.yaml
`,
      "kubecon.yaml",
      ".",
    );
    run = runScenario(loaded);
    dirLegacy = mkdtempSync(join(tmpdir(), "ip-legacy-"));
    dirCurrent = mkdtempSync(join(tmpdir(), "ip-current-"));
    writeInferencePerfReports(dirLegacy, run, "legacy");
    writeInferencePerfReports(dirCurrent, run, "current");
  }, 120_000);
  afterAll(() => {
    rmSync(dirLegacy, { recursive: true, force: true });
    rmSync(dirCurrent, { recursive: true, force: true });
  });

  it("writes the same files as the real runs: stages 0–6 and the summary, lifecycle and Prometheus", () => {
    const real = readdirSync(REPORTS)
      .filter((f) => f.startsWith("inference-perf__demos__kubecon-na-2025__vllm__results__"))
      .map((f) => f.replace("inference-perf__demos__kubecon-na-2025__vllm__results__", ""))
      .sort();
    expect(readdirSync(dirLegacy).sort()).toEqual(real);
    expect(readdirSync(dirCurrent).sort()).toEqual(real);
  });

  it("legacy files carry exactly the keys of the six real runs' files", () => {
    for (const variant of [
      "vllm",
      "vllm+batch_size",
      "vllm+chunking_and_prefix_caching",
      "vllm+eagle",
      "vllm+quantization",
      "vllm+v0_engine",
    ]) {
      for (const f of readdirSync(dirLegacy)) {
        const real = readJson(`${REPORTS}inference-perf__demos__kubecon-na-2025__${variant}__results__${f}`);
        const ours = readJson(join(dirLegacy, f));
        expect(keyPaths(ours), `${variant} ${f}`).toEqual(keyPaths(real));
      }
    }
  });

  it("current files: today's schema (benchmark_time_seconds, prompt_tokens, media blocks), same latency keys", () => {
    const cur = readJson(join(dirCurrent, "stage_3_lifecycle_metrics.json")) as Record<string, Record<string, unknown>>;
    const real = readJson(
      `${REPORTS}inference-perf__demos__kubecon-na-2025__vllm__results__stage_3_lifecycle_metrics.json`,
    ) as Record<string, Record<string, unknown>>;
    expect(Object.keys(cur)).toEqual(["benchmark_time_seconds", "load_summary", "successes", "failures"]);
    expect(Object.keys(cur.successes!)).toEqual([
      "count",
      "latency",
      "throughput",
      "request_size_bytes",
      "image",
      "video",
      "audio",
      "prompt_tokens",
      "output_len",
      "output_tokens",
      "token_count_mismatches",
    ]);
    expect(keyPaths(cur.successes!.latency)).toEqual(keyPaths(real.successes!.latency));
    expect(Object.keys(cur.load_summary!)).toEqual(Object.keys(real.load_summary!));
    expect(Object.keys(cur.failures!)).toEqual(["count", "request_latency", "prompt_tokens", "by_label"]);
    const prom = readJson(join(dirCurrent, "stage_3_prometheus_metrics.json")) as { successes: object };
    expect(Object.keys(prom.successes)).toEqual(
      expect.arrayContaining([
        "queue_len",
        "kv_cache_usage_percentage",
        "prefix_cache_hit_percent",
        "num_requests_running",
      ]),
    );
  });

  it("stage reports follow inference-perf's formulas on the run's own requests", () => {
    const log = inferencePerfLog(run)!;
    const st = log.stages.find((s) => s.id === 2)!;
    const rows = log.rows.filter((r) => r.stage === 2);
    const rep = readJson(join(dirCurrent, "stage_2_lifecycle_metrics.json")) as {
      benchmark_time_seconds: number;
      load_summary: { count: number; requested_rate: number; achieved_rate: number; send_duration: number };
      successes: { count: number; throughput: { requests_per_sec: number; input_tokens_per_sec: number } };
    };
    expect(rep.load_summary.count).toBe(Math.trunc(st.rate * 60));
    expect(rep.load_summary.requested_rate).toBe(st.rate);
    const t0 = Math.min(...rows.map((r) => r.start));
    const t1 = Math.max(...rows.map((r) => r.end));
    const s1 = Math.max(...rows.map((r) => r.start));
    expect(rep.benchmark_time_seconds).toBeCloseTo(t1 - t0, 9);
    expect(rep.load_summary.send_duration).toBeCloseTo(s1 - t0, 9);
    expect(rep.load_summary.achieved_rate).toBeCloseTo(rows.length / (s1 - t0), 9);
    expect(rep.successes.throughput.requests_per_sec).toBeCloseTo(rep.successes.count / (t1 - t0), 9);
    // shared_prefix 10×10 with 128 + 64 prompt tokens: every prompt has 192 tokens.
    expect(rep.successes.throughput.input_tokens_per_sec).toBeCloseTo((192 * rep.successes.count) / (t1 - t0), 6);
    // The summary covers stages 0–6 (the probe is left out): 1 + … requests.
    const sum = readJson(join(dirCurrent, "summary_lifecycle_metrics.json")) as { load_summary: { count: number } };
    expect(sum.load_summary.count).toBe(log.rows.filter((r) => r.stage >= 0).length);
    expect(log.stages[0]!.id).toBe(-1);
  });
});

describe("lifecycle report formulas", () => {
  const row = (o: Partial<IpRow>): IpRow => ({
    id: 0,
    stage: 0,
    scheduled: 0,
    start: 0,
    end: 1,
    firstToken: 0.2,
    input: 100,
    output: 5,
    cached: 0,
    ok: true,
    status: 200,
    ...o,
  });

  it("hand-computed: three requests, one failed", () => {
    const rows = [
      row({ id: 0, scheduled: 1, start: 1, firstToken: 1.5, end: 3, input: 100, output: 5, cached: 64 }),
      row({ id: 1, scheduled: 2, start: 2.5, firstToken: 3, end: 4, input: 50, output: 3 }),
      row({ id: 2, scheduled: 3, start: 3, end: 5, ok: false, status: 429, output: 0, firstToken: -1 }),
    ];
    const stage = {
      id: 0,
      rate: 1.5,
      duration: 2,
      concurrency: undefined,
      begin: 0,
      schedStart: 1,
      end: 6,
      count: 3,
    };
    const r = lifecycleReport(rows, { percentiles: PCT, streaming: true, format: "current", stage }) as {
      benchmark_time_seconds: number;
      load_summary: Record<string, unknown> & { schedule_delay: Record<string, number> };
      successes: {
        latency: Record<string, Record<string, number>>;
        throughput: Record<string, number>;
        prompt_tokens: Record<string, number>;
      };
      failures: { count: number; by_label: Record<string, { count: number }> };
    };
    // total time = last end − first start = 5 − 1 = 4 s; send duration = 3 − 1 = 2 s.
    expect(r.benchmark_time_seconds).toBe(4);
    expect(r.load_summary.send_duration).toBe(2);
    expect(r.load_summary.achieved_rate).toBe(1.5);
    expect(r.load_summary.schedule_delay.max).toBe(0.5);
    expect(r.load_summary.schedule_delay.mean).toBeCloseTo(0.5 / 3, 12);
    // successes: input 150, output 8 tokens over 4 s.
    expect(r.successes.throughput).toEqual({
      input_tokens_per_sec: 37.5,
      output_tokens_per_sec: 2,
      total_tokens_per_sec: 39.5,
      requests_per_sec: 0.5,
      images_per_sec: 0,
      videos_per_sec: 0,
      audios_per_sec: 0,
    });
    // TPOT = (end − first token)/(output − 1): 1.5/4 and 1/2; NTPOT = latency/output: 2/5 and 1.5/3.
    expect(r.successes.latency.time_per_output_token!.min).toBe(0.375);
    expect(r.successes.latency.time_per_output_token!.max).toBe(0.5);
    expect(r.successes.latency.normalized_time_per_output_token!.mean).toBeCloseTo((0.4 + 0.5) / 2, 12);
    expect(r.successes.latency.time_to_first_token!.median).toBe(0.5);
    // ITL pools 4 gaps of 0.375 and 2 of 0.5.
    expect(r.successes.latency.inter_token_latency!.mean).toBeCloseTo((4 * 0.375 + 2 * 0.5) / 6, 12);
    expect(r.successes.prompt_tokens).toMatchObject({ total: 150, cached: 64, uncached: 86 });
    expect(r.failures.count).toBe(1);
    expect(r.failures.by_label["429 - Rate Limit"]!.count).toBe(1);
  });

  it("no streaming: no TTFT, TPOT or ITL (null), as inference-perf", () => {
    const r = lifecycleReport([row({})], { percentiles: PCT, streaming: false, format: "current" }) as {
      successes: { latency: Record<string, unknown> };
      load_summary: Record<string, unknown>;
    };
    expect(r.successes.latency.time_to_first_token).toBeNull();
    expect(r.successes.latency.time_per_output_token).toBeNull();
    expect(r.successes.latency.inter_token_latency).toBeNull();
    expect(r.successes.latency.request_latency).not.toBeNull();
    // Summary reports carry no send_duration / rates.
    expect(Object.keys(r.load_summary)).toEqual(["count", "schedule_delay"]);
  });

  it("stat blocks: numpy-linear percentiles, `median` for 50, key order by format", () => {
    const b = statBlock([1, 2, 3, 4], [50, 90, 99.9])!;
    expect(Object.keys(b)).toEqual(["mean", "min", "max", "median", "p90", "p99.9"]);
    const want = { mean: 2.5, min: 1, max: 4, median: 2.5, p90: 3.7, "p99.9": 3.997 };
    for (const [k, v] of Object.entries(want)) expect(b[k]).toBeCloseTo(v, 12);
    expect(Object.keys(statBlock([1], [10], "legacy")!)).toEqual(["mean", "min", "p10", "max"]);
    expect(statBlock([], [50])).toBeNull();
  });
});
