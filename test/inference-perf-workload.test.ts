import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { InputError } from "../src/errors.ts";
import { runScenario } from "../src/lab/run.ts";
import { parseScenario } from "../src/scenario.ts";
import { EventHeap } from "../src/sim/heap.ts";
import type { Request, RequestSource } from "../src/sim/request.ts";
import { rngStream } from "../src/sim/rng.ts";
import { WorkloadStream } from "../src/workloads/index.ts";
import { InferencePerfGen, stageOffsets, sweepRates } from "../src/workloads/inference-perf.ts";
import { loadInferencePerfConfig, parseInferencePerfConfig } from "../src/workloads/inference-perf-config.ts";

const CONFIGS = fileURLToPath(new URL("../../shared/data/inference-perf/configs/", import.meta.url));

/** Engine stand-in: arrivals in time order, each request finishes `service(r)` after it arrives. */
function drive(src: RequestSource, service: (r: Request) => number) {
  const heap = new EventHeap();
  const reqs: Request[] = [];
  const done = new Map<number, number>();
  const push = (r: Request) => {
    reqs[r.id] = r;
    heap.push(r.arrival, 0, r.id);
  };
  let pending = src.next();
  while (heap.size > 0 || pending) {
    if (pending && (heap.size === 0 || pending.arrival <= heap.peekTime())) {
      push(pending);
      pending = src.next();
      continue;
    }
    heap.pop();
    const r = reqs[heap.lastArg]!;
    const now = heap.lastTime;
    if (heap.lastKind === 0) heap.push(now + service(r), 1, r.id);
    else {
      done.set(r.id, now);
      for (const f of src.onFinish?.(r, now, true) ?? []) {
        expect(f.arrival).toBeGreaterThanOrEqual(now);
        push(f);
      }
    }
  }
  return { reqs, done };
}

function sourceFor(yaml: string, seed = 1): { src: WorkloadStream; gen: InferencePerfGen } {
  const plan = parseInferencePerfConfig(yaml, "t.yaml");
  const gen = new InferencePerfGen(plan, {
    seed,
    baseDir: ".",
    name: "inference-perf",
    where: "workload",
    rateScale: 1,
    openLoop: false,
  });
  // WorkloadStream assigns ids and routes completions, as in a real run.
  return { src: new WorkloadStream(gen), gen };
}

const SMALL = (extra = "", stages = "[{rate: 4, duration: 2}, {rate: 2, duration: 3}]") => `
load:
  type: constant
  interval: 2.5
  stages: ${stages}
  num_workers: 1
  worker_max_concurrency: 100
${extra}
data:
  type: shared_prefix
  shared_prefix: { num_groups: 2, num_prompts_per_group: 3, system_prompt_len: 32, question_len: 8, output_len: 4 }
server: { base_url: "http://x" }
`;

describe("inference-perf configs", () => {
  it("every shipped config loads or is refused naming the unsupported part", () => {
    const files = readdirSync(CONFIGS).sort();
    expect(files.length).toBe(67);
    let loaded = 0;
    const refused: Record<string, number> = {};
    for (const f of files) {
      try {
        const plan = loadInferencePerfConfig(CONFIGS + f, f);
        loaded++;
        // A short closed-loop run of its first 200 requests.
        const gen = new InferencePerfGen(plan, {
          seed: 1,
          baseDir: ".",
          name: "ip",
          where: "workload",
          rateScale: 1,
          openLoop: false,
        });
        const { reqs } = drive(new WorkloadStream(gen, 200), () => 0.05);
        expect(reqs.length, f).toBeLessThanOrEqual(200);
        expect(reqs.length, f).toBeGreaterThan(0);
        expect(reqs.every((r) => r.inputTokens > 0 && r.outputTokens > 0)).toBe(true);
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        const m = (e as Error).message;
        // The message names the file and the key that gatelab cannot replay.
        expect(m.startsWith(`${f}`)).toBe(true);
        const kind = /trace session replay/.test(m)
          ? "otel/weka trace session replay"
          : /conversation_replay/.test(m)
            ? "conversation replay"
            : /multimodal/.test(m)
              ? "multimodal"
              : /Hugging Face dataset/.test(m)
                ? "dataset (shareGPT)"
                : /data\.trace/.test(m)
                  ? "prompt trace"
                  : undefined;
        expect(kind, m).toBeDefined();
        refused[kind!] = (refused[kind!] ?? 0) + 1;
      }
    }
    // docs/inference-perf.md gives these counts.
    expect(loaded).toBe(23);
    expect(refused).toEqual({
      "otel/weka trace session replay": 16,
      "conversation replay": 6,
      multimodal: 13,
      "dataset (shareGPT)": 8,
      "prompt trace": 1,
    });
  });

  it("reads the KubeCon demo: aliases, sweep, client concurrency", () => {
    const p = loadInferencePerfConfig(`${CONFIGS}inference-perf__demos__kubecon-na-2025__config.yaml`, "kubecon");
    expect(p.data).toMatchObject({ type: "shared_prefix", groups: 10, perGroup: 10, systemLen: 128, questionLen: 64 });
    expect(p.sweep).toMatchObject({ type: "linear", numStages: 7, stageDuration: 60, timeout: 180, numRequests: 2000 });
    expect(p.cap).toBe(440);
    expect(p.streaming).toBe(true);
    expect(p.interval).toBe(1);
    expect(p.notes.some((n) => n.startsWith("metrics: recognised, not simulated"))).toBe(true);
  });

  it("refuses unknown keys with the line, like inference-perf's extra=forbid", () => {
    const bad = "load:\n  type: constant\n  stages: [{rate: 1, duration: 1}]\n  worker_concurrency: 4\n";
    expect(() => parseInferencePerfConfig(bad, "x.yaml")).toThrow(/x\.yaml:2: load: unknown key "worker_concurrency"/);
    expect(() =>
      parseInferencePerfConfig("load:\n  stages: [{rate: 1, duration: 1, num_requests: 5}]\n", "y.yaml"),
    ).toThrow(/y\.yaml:2: load\.stages\.0\.num_requests/);
    expect(() => parseInferencePerfConfig("load:\n  type: constant\n", "z.yaml")).toThrow(
      /load\.stages or load\.sweep/,
    );
  });

  it("names a missing or mistyped key in the config's terms, with its line (not zod's 'received undefined')", () => {
    const stage = (d: string) => `load:\n  type: constant\n  stages:\n    - rate: 5\n${d}`;
    // A stage cut short (a truncated file): the key is not there.
    expect(() => parseInferencePerfConfig(stage(""), "a.yaml")).toThrow(
      /^a\.yaml:4: load\.stages\.0\.duration: missing \(expected number\)$/,
    );
    expect(() => parseInferencePerfConfig(stage("      duration: ten\n"), "b.yaml")).toThrow(
      /^b\.yaml:5: load\.stages\.0\.duration: expected number, got "ten"$/,
    );
    expect(() => parseInferencePerfConfig(stage("      duration:\n"), "c.yaml")).toThrow(
      /^c\.yaml:5: load\.stages\.0\.duration: expected number, got nothing$/,
    );
    // At the top level too (the whole-config schema), and under an llm-d-benchmark template's prefix.
    expect(() => parseInferencePerfConfig("load:\n  type: constant\n  stages: 3\n", "d.yaml")).toThrow(
      /^d\.yaml:3: load\.stages: expected array, got 3$/,
    );
    const tpl = "endpoint: {}\nworkload:\n  w:\n    load:\n      type: constant\n      stages:\n        - rate: 1\n";
    expect(() => parseInferencePerfConfig(tpl, "e.yaml", "w")).toThrow(
      /^e\.yaml:7: workload\.w\.load\.stages\.0\.duration: missing \(expected number\)$/,
    );
  });

  it("refuses sizes that ran without end or crashed: stages, their length, the gap between them, prompts", () => {
    const sweep = (stages: string, duration: string) =>
      `load:\n  type: constant\n  interval: 1\n  sweep:\n    type: linear\n    num_stages: ${stages}\n    stage_duration: ${duration}\n`;
    // num_stages 10^6 and interval 10^12 ran without end; stage_duration 10^12 was an internal error.
    expect(() => parseInferencePerfConfig(sweep("1000000", "60"), "a.yaml")).toThrow(
      /^a\.yaml:6: load\.sweep\.num_stages: 1000000 is more than the most accepted, 1,000 stages$/,
    );
    expect(() => parseInferencePerfConfig(sweep("5", "1000000000000"), "b.yaml")).toThrow(
      /^b\.yaml:7: load\.sweep\.stage_duration: 1000000000000 s is more than the most accepted, 1,000,000 s/,
    );
    expect(() =>
      parseInferencePerfConfig(
        "load:\n  type: constant\n  interval: 1e12\n  stages:\n    - {rate: 1, duration: 5}\n",
        "c.yaml",
      ),
    ).toThrow(/^c\.yaml:3: load\.interval: 1000000000000 s is more than the most accepted, 86,400 s/);
    expect(() =>
      parseInferencePerfConfig("load:\n  type: constant\n  stages:\n    - {rate: 1000, duration: 100000}\n", "d.yaml"),
    ).toThrow(
      /^d\.yaml:4: load\.stages\.0\.rate: 100,000,000 requests up to this stage; at most 20,000,000 a run accepted$/,
    );
    // 10^9 system prompts × 10 users: an array of 10^10 lengths.
    const sp =
      "load:\n  type: constant\n  stages:\n    - {rate: 1, duration: 5}\ndata:\n  type: shared_prefix\n  shared_prefix:\n    num_unique_system_prompts: 1000000000\n    num_users_per_system_prompt: 10\n";
    expect(() => parseInferencePerfConfig(sp, "e.yaml")).toThrow(
      /^e\.yaml:8: data\.shared_prefix\.num_unique_system_prompts: 1,000,000,000 groups × 10 prompts each; at most 10,000,000 prompts accepted$/,
    );
    // The bounds are far beyond every config in the data set (checked above: each of them loads).
    expect(() => parseInferencePerfConfig(sweep("1000", "60"), "f.yaml")).not.toThrow();
  });

  it("unwraps llm-d-benchmark templates (the config under workload.<name>)", () => {
    const p = loadInferencePerfConfig(
      `${CONFIGS}llm-d__guides__benchmark__inference_scheduling_shared_prefix_template.yaml`,
      "t",
    );
    expect(p.stages.map((s) => s.rate)).toEqual([2, 5, 8, 10, 12, 15, 20]);
  });
});

describe("inference-perf load", () => {
  it("sends int(rate × duration) per stage; constant stages end exactly at duration", () => {
    const offs = stageOffsets("constant", { rate: 7.5, duration: 3 }, rngStream(1, "a"));
    expect(offs.length).toBe(22);
    expect(offs[offs.length - 1]).toBeCloseTo(3, 9);
    for (let i = 1; i < offs.length; i++) expect(offs[i]!).toBeGreaterThanOrEqual(offs[i - 1]!);
    const p = stageOffsets("poisson", { rate: 20, duration: 5 }, rngStream(1, "b"));
    expect(p.length).toBe(100);
    for (let i = 1; i < p.length; i++) expect(p[i]!).toBeGreaterThanOrEqual(p[i - 1]!);
  });

  it("sweep rates: linspace(1, sat) and 1 + sat − geomspace(sat, 1), 2 decimals", () => {
    expect(sweepRates("linear", 183.38, 7)).toEqual([1, 31.4, 61.79, 92.19, 122.59, 152.98, 183.38]);
    const g = sweepRates("geometric", 100, 3);
    expect(g).toEqual([1, 91, 100]);
  });

  it("a stage that outlives its duration: the next starts after the last completion (1-s poll) plus interval", () => {
    const { src, gen } = sourceFor(SMALL());
    // Every request takes 3.3 s, far longer than the gaps: stage 0 (8 requests) runs past its 2 s.
    const { reqs, done } = drive(src, () => 3.3);
    const s0 = gen.stages[0]!;
    const s1 = gen.stages[1]!;
    expect([s0.count, s1.count]).toEqual([8, 6]);
    const stage0 = gen.sent.filter((x) => x.stage === 0).map((x) => x.draft.id);
    const lastDone = Math.max(...stage0.map((id) => done.get(id)!));
    expect(lastDone).toBeGreaterThan(s0.schedStart + s0.duration);
    // The polling loop ticks every second from the stage's start.
    expect(s0.end).toBe(s0.begin + Math.ceil(lastDone - s0.begin));
    expect(s1.begin).toBeCloseTo(s0.end! + 2.5, 12);
    expect(s1.schedStart).toBeCloseTo(s1.begin + 1, 12);
    const firstOf1 = Math.min(...gen.sent.filter((x) => x.stage === 1).map((x) => reqs[x.draft.id]!.arrival));
    expect(firstOf1).toBeGreaterThan(lastDone + 2.5);
    // No request of stage 1 is in flight before stage 0 is done.
    expect(reqs.length).toBe(14);
  });

  it("every stage replays the same prompt order from position 0", () => {
    const { src, gen } = sourceFor(SMALL());
    drive(src, () => 0.1);
    const first = (stage: number) => gen.sent.filter((x) => x.stage === stage).map((x) => x.draft.prompt.at(-1)!.id);
    expect(first(1)).toEqual(first(0).slice(0, 6));
    // 6 distinct prompts cycle: position i and i + 6 send the same prompt.
    expect(first(0)[6]).toBe(first(0)[0]);
  });

  it("client concurrency caps requests in flight and turns overload into schedule delay", () => {
    const yaml = SMALL("", "[{rate: 10, duration: 2}]")
      .replace("num_workers: 1", "num_workers: 1")
      .replace("worker_max_concurrency: 100", "worker_max_concurrency: 3");
    const { src, gen } = sourceFor(yaml);
    const { reqs, done } = drive(src, () => 1);
    // Never more than 3 in flight.
    const ev: [number, number][] = [];
    for (const r of reqs) ev.push([r.arrival, 1], [done.get(r.id)!, -1]);
    ev.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let n = 0;
    let peak = 0;
    for (const [, d] of ev) {
      n += d;
      peak = Math.max(peak, n);
    }
    expect(peak).toBe(3);
    // FIFO: request k ≥ 3 is sent at max(its schedule, the completion that freed its slot).
    const ids = gen.sent.map((x) => x.draft.id);
    const delays = gen.sent.map((x) => reqs[x.draft.id]!.arrival - x.scheduled);
    expect(delays.every((d) => d >= -1e-12)).toBe(true);
    expect(Math.max(...delays)).toBeGreaterThan(1);
    const finishes = ids.map((id) => done.get(id)!).sort((a, b) => a - b);
    for (let k = 3; k < ids.length; k++)
      expect(reqs[ids[k]!]!.arrival).toBeCloseTo(Math.max(gen.sent[k]!.scheduled, finishes[k - 3]!), 12);
  });

  it("multi-turn: a session's rounds never overlap and each carries the previous prompt and answer", () => {
    const yaml = SMALL().replace("output_len: 4 }", "output_len: 4, enable_multi_turn_chat: true }");
    const { src } = sourceFor(yaml);
    const { reqs, done } = drive(src, () => 0.9);
    const bySession = new Map<string, Request[]>();
    for (const r of reqs) bySession.set(r.session!, [...(bySession.get(r.session!) ?? []), r]);
    for (const rs of bySession.values()) {
      rs.sort((a, b) => a.arrival - b.arrival);
      for (let i = 1; i < rs.length; i++) {
        expect(rs[i]!.arrival).toBeGreaterThanOrEqual(done.get(rs[i - 1]!.id)!);
        expect(rs[i]!.inputTokens).toBe(rs[i - 1]!.inputTokens + rs[i - 1]!.outputTokens + 40);
      }
    }
  });

  it("a sweep probes, then runs its generated stages", () => {
    const yaml = `
load:
  type: constant
  sweep: { type: linear, num_requests: 100, timeout: 30, num_stages: 3, stage_duration: 2 }
  num_workers: 1
  worker_max_concurrency: 1000
data:
  type: random
  input_distribution: { min: 10, max: 10, mean: 10, std_dev: 0 }
  output_distribution: { min: 5, max: 5, mean: 5, std_dev: 0 }
`;
    const { src, gen } = sourceFor(yaml);
    // A server that completes 10 requests/s in order: the probe's in-flight count burns down at ~10/s.
    let free = 0;
    drive(src, (r) => {
      free = Math.max(free, r.arrival) + 0.1;
      return free - r.arrival;
    });
    expect(gen.stages[0]!.id).toBe(-1);
    expect(gen.stages.slice(1).map((s) => s.id)).toEqual([0, 1, 2]);
    expect(gen.saturation).toBeGreaterThan(5);
    expect(gen.saturation).toBeLessThan(25);
    expect(gen.stages[1]!.rate).toBe(1);
    expect(gen.stages[3]!.rate).toBe(Math.round(gen.saturation! * 100) / 100);
  });
});

describe("through the engine", () => {
  const scenario = (workload: string, extra = "") =>
    parseScenario(
      `name: t
seed: 3
${extra}
pools:
  - { name: p, model: llama-3.1-8b-instruct, gpu: H100, replicas: 2 }
workload:
${workload}`,
      "t.yaml",
      fileURLToPath(new URL("../scenarios/", import.meta.url)),
    );

  it("regression: a poisson shared-prefix workload with stage_gap_s 0 no longer goes back in time", () => {
    const loaded = scenario(
      `  type: shared-prefix
  load_type: poisson
  stage_gap_s: 0
  shared_prefix: { num_groups: 4, num_prompts_per_group: 5, system_prompt_len: 200, question_len: 30, output_len: 20 }
  stages: [{ rate: 10, duration: 20 }, { rate: 20, duration: 20 }, { rate: 40, duration: 20 }]`,
      "duration_s: 400",
    );
    // Seed 1 crashed with "workload produced request 200 at 20.05s, before the current time 21.00s".
    for (const seed of [1, 2, 5]) {
      const out = runScenario(loaded, { seed });
      expect(out.result.records.size).toBe(200 + 400 + 800);
    }
  });

  it("regression: fast-forward with prefix caching off finishes and matches step-by-step", () => {
    const loaded = parseScenario(
      `name: t
seed: 3
requests: 60
pools:
  - { name: p, model: llama-3.1-8b-instruct, gpu: H100, replicas: 1, engine: { enable_prefix_caching: false } }
workload:
  type: shared-prefix
  shared_prefix: { num_groups: 2, num_prompts_per_group: 3, system_prompt_len: 100, question_len: 20, output_len: 30 }
  stages: [{ rate: 5, duration: 12 }]
`,
      "t.yaml",
      ".",
    );
    const ff = runScenario(loaded);
    const step = runScenario(loaded, { fastForward: false });
    expect(ff.result.records.size).toBe(60);
    expect(Array.from(ff.result.records.completion.slice(0, 60))).toEqual(
      Array.from(step.result.records.completion.slice(0, 60)),
    );
  });

  it("the KubeCon demo scenario runs its probe and 7 sweep stages", { timeout: 60_000 }, () => {
    const loaded = parseScenario(
      `name: k
seed: 42
pools:
  - name: vllm
    model: llama-3.1-8b-instruct
    gpu: H100
    replicas: 1
    engine: { max_num_seqs: 128, max_model_len: 512, enable_prefix_caching: false, enable_chunked_prefill: false }
workload:
  type: inference-perf
  config: ../../shared/data/inference-perf/configs/inference-perf__demos__kubecon-na-2025__config.yaml
`,
      "k.yaml",
      fileURLToPath(new URL("../scenarios/", import.meta.url)),
    );
    const out = runScenario(loaded);
    expect(out.result.records.size).toBeGreaterThan(2000);
  });
});
