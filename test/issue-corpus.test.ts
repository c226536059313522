/**
 * The malformed inputs a new user tried (the reliability campaign), one case each: the exit code of the contract and
 * a message naming the place. Gate and drill verdicts are in gate.test.ts, outputs and option errors in
 * exit-codes.test.ts; this file holds the input corpus.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../src/cli/main.ts";
import { captureOutput } from "./helpers/capture.ts";

const io = captureOutput();
const dir = mkdtempSync(join(tmpdir(), "gatelab-corpus-"));
function file(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

/** A small valid scenario with `patch` lines replacing the workload or adding fields. */
function scenario(name: string, o: { workload?: string; extra?: string; pool?: string } = {}): string {
  return file(
    name,
    `name: ${name}
requests: 20
pools:
  - model: llama-3.1-8b-instruct
    replicas: 2
${o.pool ?? ""}workload:
${
  o.workload ??
  `  type: poisson
  rate: 10
  input: 200
  output: 10`
}
${o.extra ?? ""}`,
  );
}

async function expectInputError(argv: string[], ...fragments: string[]): Promise<void> {
  const code = await main(argv);
  expect(io.err).not.toContain("internal error");
  expect(code).toBe(2);
  expect(io.err.startsWith("gatelab: ")).toBe(true);
  for (const f of fragments) expect(io.err).toContain(f);
}

describe("scenario values out of range", () => {
  it("input: 0 (hung forever)", async () => {
    const f = scenario("in0.yaml", { workload: "  type: poisson\n  rate: 10\n  input: 0\n  output: 10" });
    await expectInputError(["run", f], `${f}:9: workload.input: 0 tokens`);
  });
  it("adapter count: 1e9 (V8 ran out of heap building the names)", async () => {
    const f = scenario("adapters.yaml", {
      workload: "  type: poisson\n  rate: 10\n  input: 200\n  output: 10\n  adapter: { count: 1e9 }",
    });
    await expectInputError(["run", f], `${f}:11: workload.adapter.count: 1e+9 is more than the most accepted`);
  });
  it('a misspelt choice: the choices plainly, the value written, the closest (zod: \'Invalid option: …"a"|"b"\')', async () => {
    const f = scenario("choice.yaml", {
      workload: "  type: poisson\n  rate: 10\n  input: { dist: lognorm, mean: 200, std: 50 }\n  output: 10",
    });
    await expectInputError(
      ["run", f],
      `${f}:9: workload.input.dist: expected one of constant, normal, lognormal, uniform, exponential, empirical, got "lognorm"; did you mean "lognormal"?`,
    );
    const g = scenario("proc.yaml", {
      workload: "  type: poisson\n  rate: 10\n  input: 200\n  output: 10\n  arrival: { process: gama }",
    });
    await expectInputError(
      ["run", g],
      `workload.arrival.process: expected one of poisson, gamma, weibull, uniform, got "gama"; did you mean "gamma"?`,
    );
  });
  it("an empty list and an empty name, in words", async () => {
    const f = scenario("empty.yaml", {
      workload: '  type: poisson\n  rate: 10\n  input: 200\n  output: 10\n  tenant: ""',
      extra: "gateway:\n  policy: round-robin\n  quotas:\n    tenants:\n      a: { requests_per_s: 1, models: [] }\n",
    });
    await expectInputError(["run", f], 'workload.tenant: expected a non-empty string, got ""');
    const g = scenario("empty2.yaml", {
      extra: "gateway:\n  policy: round-robin\n  quotas:\n    tenants:\n      a: { requests_per_s: 1, models: [] }\n",
    });
    await expectInputError(["run", g], "gateway.quotas.tenants.a.models: expected at least 1 item, got an empty list");
  });
  it("a quota for a tenant no request carries (a typo: the quota silently never applied)", async () => {
    const quotas = "gateway:\n  policy: round-robin\n  quotas:\n    tenants:\n      nosiy: { requests_per_s: 1 }\n";
    const f = scenario("quota.yaml", {
      workload: "  type: poisson\n  rate: 10\n  input: 200\n  output: 10\n  tenant: { values: [noisy, acme] }",
      extra: quotas,
    });
    await expectInputError(
      ["run", f],
      `${f}:16: gateway.quotas.tenants.nosiy: no request carries tenant "nosiy" (the workload's tenants: noisy, acme), so this quota would never apply; did you mean "noisy"?`,
    );
    // Untagged requests are the "default" tenant; a trace may carry any tenant, so there the quota stands.
    const ok = scenario("quota-default.yaml", { extra: quotas.replace("nosiy", "default") });
    expect(await main(["run", ok, "--json"])).toBe(0);
  });
  it("a misspelt P/D role label (no filter would keep the pod) and a pool name used twice, with their lines", async () => {
    const f = scenario("role.yaml", { pool: "    labels: { llm-d.ai/role: prefil }\n" });
    await expectInputError(
      ["run", f],
      `${f}:6: pools.0.labels.llm-d.ai/role: "prefil" is no role llm-d's filters know`,
      'did you mean "prefill"?',
    );
    const g = file(
      "dup.yaml",
      "name: dup\nrequests: 5\npools:\n  - { name: a, model: llama-3.1-8b-instruct, replicas: 1 }\n  - { name: a, model: llama-3.1-8b-instruct, replicas: 1 }\nworkload: { type: poisson, rate: 10, input: 200, output: 10 }\n",
    );
    await expectInputError(["run", g], `${g}:5: pools.1.name: duplicate pool name "a" (pools.0 has it)`);
  });
  it("replicas: 1e12 (aborted V8)", async () => {
    const f = scenario("rep.yaml");
    writeFileSync(f, `${(await import("node:fs")).readFileSync(f, "utf8").replace("replicas: 2", "replicas: 1e12")}`);
    await expectInputError(["run", f], `${f}:5: pools.0.replicas: 1e+12 is more than the most accepted, 10,000`);
  });
  it("input: 1e12 (internal error: Invalid typed array length)", async () => {
    const f = scenario("in12.yaml", { workload: "  type: poisson\n  rate: 10\n  input: 1e12\n  output: 10" });
    await expectInputError(["run", f], `${f}:9: workload.input: 1e+12 is more than the most accepted`);
  });
  it("requests: 30000000 (nothing printed for five minutes, 9.6 GB)", async () => {
    const f = scenario("req.yaml");
    writeFileSync(f, (await import("node:fs")).readFileSync(f, "utf8").replace("requests: 20", "requests: 30000000"));
    await expectInputError(["run", f], `${f}:2: requests: 3e+7 is more than the most accepted`);
  });
  it("sample_interval_s: 1e-6 (970 MB for 3 simulated seconds)", async () => {
    const f = scenario("si.yaml", { extra: "sample_interval_s: 0.000001\n" });
    await expectInputError(["run", f], "sample_interval_s: 1e-6 is less than the least accepted, 0.01");
  });
  it("gateway.scrape_interval_ms: 1e-9 (a run that never ends: every replica scraped 10^12 times a second)", async () => {
    const f = scenario("scrape.yaml", { extra: "gateway: { policy: gie-default, scrape_interval_ms: 1e-9 }\n" });
    await expectInputError(
      ["run", f],
      `${f}:11: gateway.scrape_interval_ms: 1e-9 ms is less than the least accepted, 0.1 ms`,
      "0 means the gateway always sees the current state",
    );
    // 0 (always-fresh metrics, no scrape events) and the shortest period accepted still run.
    for (const ms of [0, 0.1]) {
      const g = scenario(`scrape-${ms}.yaml`, {
        extra: `gateway: { policy: gie-default, scrape_interval_ms: ${ms} }\n`,
      });
      expect(await main(["run", g])).toBe(0);
    }
  });
  it("retry storms and flow-control loops that never let simulated time move on", async () => {
    const fc = (extra: string) =>
      `gateway:\n  policy: gie-default\n  flow_control:\n    saturationDetector: { type: concurrency-detector, parameters: { maxConcurrency: 1 } }\n${extra}`;
    // 10^9 retries with no backoff against a gateway that refuses (it ran forever at one instant).
    const a = scenario("storm.yaml", {
      extra: `${fc("")}clients:\n  default: { max_retries: 1000000000, backoff_s: 0 }\n`,
    });
    await expectInputError(
      ["run", a],
      `${a}:16: clients.default.max_retries: 1e+9 is more than the most accepted, 1,000`,
    );
    // A backoff cap of 10^12 s stretched the run that far.
    const b = scenario("cap.yaml", { extra: `${fc("")}clients:\n  default: { max_backoff_s: 1e12 }\n` });
    await expectInputError(["run", b], "clients.default.max_backoff_s: 1e+12 is more than the most accepted, 3,600");
    // The same through the gateway's Retry-After, and a 1 ns expiry sweep (10^9 events a simulated second).
    const c = scenario("ra.yaml", { extra: fc("    retryAfter: 100000000000s\n") });
    await expectInputError(["run", c], `${c}:15: gateway.flow_control.retryAfter: expected at most 3600 s`);
    const d = scenario("sweep.yaml", { extra: fc("    expirySweep: 1ns\n") });
    await expectInputError(
      ["run", d],
      `${d}:15: gateway.flow_control.expirySweep: expected a period of at least 0.1 ms`,
    );
    // The shortest period accepted ("100us" is 9.999…e-5 in floating point) still runs.
    const e = scenario("tick.yaml", { extra: fc("    dispatchTick: 100us\n    expirySweep: 100us\n") });
    expect(await main(["run", e])).toBe(0);
  });
  it("costs, delays, bandwidths and arrival pauses that stretched simulated time without end", async () => {
    // A sync CPU overhead of 10^12 ms a step.
    const a = scenario("step.yaml", {
      pool: "    engine: { async_scheduling: false, sync_cpu_overhead: { per_step_ms: 1e12, per_request_ms: 0 } }\n",
    });
    await expectInputError(
      ["run", a],
      `${a}:6: pools.0.engine.sync_cpu_overhead.per_step_ms: 1e+12 ms is more than the most accepted, 1,000 ms a step`,
    );
    // A LoRA load of 10^15 ms, a KV link of 10^-15 GB/s, a KV-event delay of 10^15 ms.
    const b = scenario("lora.yaml", {
      pool: "    engine: { max_loras: 2 }\n    lora: { load: { host_to_gpu_ms: 1e15 } }\n",
    });
    await expectInputError(
      ["run", b],
      "pools.0.lora.load.host_to_gpu_ms: 1e+15 ms is more than the most accepted, 3.6e+6 ms",
    );
    const c = scenario("link.yaml", { extra: "kv_transfer: { bandwidth_gb_s: 1e-15 }\n" });
    await expectInputError(
      ["run", c],
      `${c}:11: kv_transfer.bandwidth_gb_s: 1e-15 GB/s is less than the least accepted, 0.001`,
    );
    // And one of 10^308 GB/s, which made every transfer free (faster than any GPU's memory can read the KV).
    const c2 = scenario("link2.yaml", { extra: "kv_transfer: { bandwidth_gb_s: 1e308 }\n" });
    await expectInputError(
      ["run", c2],
      `${c2}:11: kv_transfer.bandwidth_gb_s: 1e+308 GB/s is more than the most accepted, 100,000 GB/s`,
    );
    const d = scenario("kvd.yaml", { extra: "gateway: { policy: llm-d-precise, kv_event_delay_ms: 1e15 }\n" });
    await expectInputError(["run", d], "gateway.kv_event_delay_ms: 1e+15 ms is more than the most accepted");
    // An on/off arrival process with a 10^12 s pause (scrapes ran all through it).
    const e = scenario("off.yaml", {
      workload:
        "  type: poisson\n  arrival: { rate: 10, bursts: { mean_on_s: 1, mean_off_s: 1e12, off_level: 0 } }\n  input: 100\n  output: 10",
    });
    await expectInputError(
      ["run", e],
      "workload.arrival.bursts.mean_off_s: 1e+12 is more than the most accepted, 1e+7",
    );
    // SLO targets are thresholds, not costs: a generous one is accepted.
    const f = scenario("slo.yaml", { extra: "slos: { ttft_p95_ms: 1e9, e2e_p99_ms: 1e12 }\n" });
    expect(await main(["run", f])).toBe(0);
  });
  it("sessions whose context limit is below every first prompt: refused, not a stack overflow or a run without end", async () => {
    // max_context_tokens: 1 overflowed the stack (one recursive call per session ended before its first turn);
    // without the recursion the run would wait forever for a first request.
    const a = scenario("ctx.yaml", {
      workload:
        "  type: agent\n  rate: 2\n  tools: 500\n  task: 50\n  rounds: 3\n  output: 20\n  tool_output: 50\n  max_context_tokens: 1",
    });
    await expectInputError(
      ["run", a],
      "workload.max_context_tokens: 1 tokens is less than the first prompt (shared prefix and first message) of 10,000 sessions in a row",
    );
    // A limit that ends only some sessions early runs: those that fit get their turns.
    const b = scenario("ctx2.yaml", {
      workload:
        "  type: agent\n  rate: 2\n  tools: 500\n  task: { dist: uniform, min: 10, max: 1000 }\n  rounds: 3\n  output: 20\n  tool_output: 50\n  max_context_tokens: 1000",
    });
    expect(await main(["run", b])).toBe(0);
  });
  it("a number below or above the schema's bound is shown with the bound and the value written", async () => {
    const a = scenario("neg.yaml");
    writeFileSync(a, (await import("node:fs")).readFileSync(a, "utf8").replace("replicas: 2", "replicas: -3"));
    await expectInputError(["run", a], `${a}:5: pools.0.replicas: expected a number > 0, got -3`);
    const b = scenario("jit.yaml", { extra: "clients:\n  default: { jitter: 2 }\n" });
    await expectInputError(["run", b], `${b}:12: clients.default.jitter: expected a number ≤ 1, got 2`);
    // A sweep point too (zod said "pools.0.replicas: Too small: expected number to be >0" there).
    const c = scenario("sw.yaml");
    await expectInputError(
      ["sweep", c, "--param", "pools.0.replicas=0,1", "--jobs", "1", "--out", join(dir, "sw-out")],
      `point 0: ${c} with pools.0.replicas=0: pools.0.replicas: expected a number > 0, got 0`,
    );
  });
  it("a router parameter out of range names the scenario file (SGLang's eviction every 10^-12 s never ended)", async () => {
    const f = scenario("sg.yaml", {
      extra: "gateway: { policy: sglang-cache-aware, params: { sglang-cache-aware.evictionIntervalSecs: 1e-12 } }\n",
    });
    await expectInputError(
      ["run", f],
      `${f}: gateway.params: "sglang-cache-aware.evictionIntervalSecs": expected a number ≥ 0.001, got 1e-12`,
    );
    const g = scenario("sg2.yaml", {
      extra: 'gateway: { policy: sglang-cache-aware, params: { sglang-cache-aware.balanceAbsThreshold: "x" } }\n',
    });
    await expectInputError(
      ["run", g],
      `${g}: gateway.params: "sglang-cache-aware.balanceAbsThreshold": expected number, got "x"`,
    );
  });
  it("session pauses of months or more (think time, tool latency) are refused; a day still runs", async () => {
    const f = scenario("think.yaml", { workload: "  type: chat\n  rate: 1\n  think_time: 1e7" });
    await expectInputError(["run", f], `${f}:9: workload.think_time: 1e+7 s is more than the most accepted, 86,400 s`);
    const g = scenario("tool.yaml", {
      workload: "  type: agent\n  rate: 1\n  rounds: 3\n  tool_latency: { dist: lognormal, mean: 1e8, std: 1 }",
    });
    await expectInputError(["run", g], "workload.tool_latency.mean: 1e+8 s is more than the most accepted");
    // One issue per field: 1e8 s is also above any distribution field's 10^7, said once.
    expect(io.err.match(/tool_latency\.mean/g)).toHaveLength(1);
    const h = scenario("day.yaml", { workload: "  type: chat\n  rate: 1\n  turns: 2\n  think_time: 86400" });
    expect(await main(["run", h])).toBe(0);
  });
  it("the estimated memory of a run is checked before it starts", async () => {
    const f = scenario("mem.yaml", {
      pool: "    engine: { total_kv_blocks: 100000000 }\n",
    });
    const text = (await import("node:fs")).readFileSync(f, "utf8").replace("replicas: 2", "replicas: 9000");
    writeFileSync(f, text);
    await expectInputError(["run", f], "this run would need about", "KV-cache tables of 9,000 replicas");
  });
});

describe("contradictions", () => {
  it("uniform min > max", async () => {
    const f = scenario("uni.yaml", {
      workload: "  type: poisson\n  rate: 10\n  input: { dist: uniform, min: 500, max: 100 }\n  output: 10",
    });
    await expectInputError(["run", f], `${f}:9: workload.input.min: min 500 is above max 100`);
  });
  it("chat turns: 0", async () => {
    const f = scenario("chat.yaml", { workload: "  type: chat\n  rate: 1\n  turns: 0" });
    await expectInputError(["run", f], "workload.turns: 0 turns");
  });
  it("RAG k > documents", async () => {
    const f = scenario("rag.yaml", { workload: "  type: rag\n  rate: 1\n  documents: 5\n  k: 8" });
    await expectInputError(["run", f], "workload.k: 8 documents per request, but the corpus has 5");
  });
  it("an slo_class the scenario never defines", async () => {
    const f = scenario("cls.yaml", {
      workload: "  type: poisson\n  rate: 10\n  input: 200\n  output: 10\n  slo_class: interactiv",
      extra: "slos:\n  classes:\n    interactive: { ttft_p95_ms: 500 }\n",
    });
    await expectInputError(["run", f], 'workload.slo_class: class "interactiv"', 'did you mean "interactive"?');
  });
  it("an inverted trace window, in a scenario and on the command line", async () => {
    const t = file("w.jsonl", '{"timestamp": 0, "input_length": 10, "output_length": 1, "hash_ids": [1]}\n');
    const f = scenario("win.yaml", {
      workload: `  type: trace\n  path: ${t}\n  format: mooncake\n  window: { start_s: 50, end_s: 10 }`,
    });
    await expectInputError(["run", f], "workload.window.end_s: the window ends (10 s) before it starts (50 s)");
    await expectInputError(["trace", "stats", t, "--window", "50:10"], "before it starts");
  });
});

describe("traces", () => {
  it("a Mooncake input_length of 1e15 (internal error: Invalid typed array length)", async () => {
    const t = file("mc.jsonl", '{"timestamp": 0, "input_length": 1e15, "output_length": 5, "hash_ids": [0]}\n');
    await expectInputError(["trace", "stats", t, "--format", "mooncake"], `${t}:1: input tokens: 1e+15`);
  });
  it("--cache-tokens 1e12 (internal error: Invalid typed array length)", async () => {
    const t = file("mc2.jsonl", '{"timestamp": 0, "input_length": 10, "output_length": 5, "hash_ids": [0]}\n');
    await expectInputError(["trace", "stats", t, "--cache-tokens", "1000000000000"], "at most 100,000,000 tokens");
  });
  it("empty and header-only traces", async () => {
    const e = file("e.csv", "");
    await expectInputError(["trace", "stats", e, "--format", "azure"], `${e}:1: header`);
    const h = file("h.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n");
    await expectInputError(["trace", "stats", h, "--format", "azure"], `${h}: the trace holds no request`);
    const j = file("e.jsonl", "");
    await expectInputError(["trace", "stats", j, "--format", "mooncake"], j);
  });
  it("a replay past 10^8 s: speedup 1e-9, or a timestamp off by 10^12 (the run never ended)", async () => {
    const t = file(
      "slow.jsonl",
      '{"timestamp": 0, "input_length": 10, "output_length": 5, "hash_ids": [0]}\n'.repeat(2) +
        '{"timestamp": 3000, "input_length": 10, "output_length": 5, "hash_ids": [0]}\n',
    );
    const f = scenario("slow.yaml", {
      workload: `  type: trace\n  format: mooncake\n  path: ${t}\n  speedup: 0.000000001`,
    });
    await expectInputError(
      ["run", f],
      `${t}:3: arrival: 3 s into the trace at speedup 1e-9 replays at 3000000000 s, past 10^8 s`,
    );
    const far = file(
      "far.jsonl",
      '{"timestamp": 0, "input_length": 10, "output_length": 5, "hash_ids": [0]}\n' +
        '{"timestamp": 1e15, "input_length": 10, "output_length": 5, "hash_ids": [0]}\n',
    );
    const g = scenario("far.yaml", { workload: `  type: trace\n  format: mooncake\n  path: ${far}` });
    await expectInputError(["run", g], `${far}:2: arrival:`, "past 10^8 s (about 3 years)");
  });
  it("impossible Azure dates", async () => {
    const t = file("az.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-02-30 10:00:00.0000000,5,5\n");
    await expectInputError(["trace", "stats", t, "--format", "azure"], `${t}:2: TIMESTAMP`);
  });
});

describe("sweep plans", () => {
  it("--random 1e9 is refused before any point is sampled", async () => {
    await expectInputError(
      [
        "sweep",
        scenario("rnd.yaml"),
        "--param",
        "gateway.scrape_interval_ms=10..200",
        "--random",
        "1000000000",
        "--out",
        join(dir, "rnd"),
      ],
      "--random 1000000000: at most 100,000 points",
    );
  });
});

describe("files that are not files", () => {
  it("/dev/zero as a scenario (3.5 GB)", async () => {
    await expectInputError(["run", "/dev/zero"], "/dev/zero: cannot read the scenario file: not a regular file");
  });
  it("a FIFO as a scenario or a trace (hung)", async () => {
    const fifo = join(dir, "pipe");
    execFileSync("mkfifo", [fifo]);
    await expectInputError(["run", fifo], `${fifo}: cannot read the scenario file: not a regular file`);
    await expectInputError(["trace", "stats", fifo, "--format", "mooncake"], `${fifo}: cannot read the trace`);
    await expectInputError(["run", scenario("fifo-epp.yaml"), "--epp-config", fifo], fifo);
  });
  it("an EndpointPickerConfig given as a scenario", async () => {
    await expectInputError(
      ["run", join(import.meta.dirname, "../scenarios/epp/gie-default.yaml")],
      "an EndpointPickerConfig, not a scenario",
    );
  });
  it("a request trace given as a scenario: said so, with how to replay it", async () => {
    const data = join(import.meta.dirname, "../../shared/data");
    const hint =
      "this looks like a request trace, not a scenario: replay it from a scenario with `workload: { type: trace";
    await expectInputError(["run", join(data, "mooncake/conversation_trace.jsonl")], "invalid YAML", hint);
    await expectInputError(["run", join(data, "blis-traces/trace-chat-r120.csv")], "expected a mapping", hint);
    // No extension to go by: the first line tells (a CSV header; a JSON object per line).
    const csv = join(dir, "trace-noext");
    writeFileSync(csv, "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n");
    await expectInputError(["run", csv], hint);
    const jsonl = join(dir, "trace2-noext");
    writeFileSync(jsonl, '{"timestamp": 0, "input_length": 10, "output_length": 5}\n');
    await expectInputError(["run", jsonl], hint);
  });
  it("a scenario with a YAML mistake gets no trace hint", async () => {
    const bad = join(dir, "bad-scenario.yaml");
    writeFileSync(bad, "name: x\npools: [\n");
    await expectInputError(["run", bad], "invalid YAML");
    expect(io.err).not.toContain("request trace");
  });
  it("a JSON file that is not a trace (a check baseline) is not called one", async () => {
    await expectInputError(
      ["run", join(import.meta.dirname, "../scenarios/gate.baseline.json")],
      "pools: missing field",
    );
    expect(io.err).not.toContain("request trace");
  });
  it("an inference-perf config given as a scenario, in each of the shapes `inference-perf check` reads", async () => {
    const configs = join(import.meta.dirname, "../../shared/data/inference-perf/configs");
    await expectInputError(
      ["run", join(configs, "inference-perf__demos__kubecon-na-2025__config.yaml")],
      "this is an inference-perf config (load, api, data, server), not a scenario",
      "gatelab inference-perf check FILE",
    );
    await expectInputError(
      ["run", join(configs, "llm-d__guides__precise-prefix-cache-aware__benchmark-templates__shared_prefix.yaml")],
      "this is an llm-d-benchmark template (endpoint, harness, workload), not a scenario",
    );
    const helm = join(dir, "values.yaml");
    writeFileSync(helm, "job:\n  image: x\nconfig:\n  load:\n    type: constant\n");
    await expectInputError(["run", helm], "this is inference-perf's Helm values (config, job), not a scenario");
  });
});
