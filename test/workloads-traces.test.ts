import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { describe, expect, it, vi } from "vitest";
import { registerTraceCommands, writeStream } from "../src/cli/trace.ts";
import { InputError } from "../src/errors.ts";
import type { Request } from "../src/sim/request.ts";
import { buildWorkload } from "../src/workloads/index.ts";
import { BlockLru, traceStats } from "../src/workloads/stats.ts";
import { traceContent } from "./helpers/sim.ts";

const SHARED = join(import.meta.dirname, "..", "..", "shared", "data");
const MOONCAKE = join(SHARED, "mooncake", "conversation_trace.jsonl");
const AZURE_CODE = join(SHARED, "azure-llm-2023", "AzureLLMInferenceTrace_code.csv");
const AZURE_CONV = join(SHARED, "azure-llm-2023", "AzureLLMInferenceTrace_conv.csv");
const EXGENTIC = join(SHARED, "exgentic-agent-traces", "agent_llm_calls.jsonl");
const SERVEGEN = join(SHARED, "servegen", "reason", "deepseek-r1");

const tmp = mkdtempSync(join(tmpdir(), "gatelab-traces-"));
function file(name: string, text: string): string {
  const f = join(tmp, name);
  writeFileSync(f, text);
  return f;
}

function trace(path: string, extra: Record<string, unknown> = {}, max?: number) {
  return buildWorkload({ type: "trace", path, ...extra }, { seed: 1, baseDir: ".", maxRequests: max, openLoop: true });
}

function drain(src: { next(): Request | undefined }): Request[] {
  const out: Request[] = [];
  for (let r = src.next(); r !== undefined; r = src.next()) out.push(r);
  return out;
}

/** The message of the InputError thrown while reading the whole stream. */
function errorOf(f: () => unknown): string {
  try {
    const src = f() as { next(): unknown };
    while (src.next() !== undefined) {}
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  throw new Error("expected an InputError");
}

describe("Mooncake JSONL", () => {
  it("conversation trace: 12,031 requests, mean input 12,035, mean output 343 (FAST'25 Table 2)", () => {
    const s = traceStats(trace(MOONCAKE), { cacheTokens: 3_000_000 });
    expect(s.requests).toBe(12031);
    expect(Math.round(s.input_tokens.mean)).toBe(12035);
    expect(Math.round(s.output_tokens.mean)).toBe(343);
    expect(s.input_tokens.p50).toBe(6909);
    expect(s.input_tokens.max).toBe(126195);
    expect(s.duration_s).toBeCloseTo(3537, 0);
    // Ideal hit rate reproduced: 37.4 % token-level (the data README's recomputation; the paper's cache ratio is 40 %).
    expect(s.prefix_cache.ideal_hit_rate).toBeGreaterThan(0.372);
    expect(s.prefix_cache.ideal_hit_rate).toBeLessThan(0.375);
    // One LRU of 3M tokens: README 13.6 % at 512-token blocks; 16-token blocks keep partial blocks: 14.1 %.
    expect(s.prefix_cache.lru!.hit_rate).toBeGreaterThan(0.13);
    expect(s.prefix_cache.lru!.hit_rate).toBeLessThan(0.145);
  });

  it("each 512-token block id becomes a segment, so its 16-token sub-blocks are shared exactly as the ids", () => {
    const reqs = drain(trace(MOONCAKE, {}, 3));
    expect(reqs[0]!.prompt.length).toBe(14);
    expect(reqs[0]!.prompt[0]).toEqual(reqs[1]!.prompt[0]); // both start with hash id 0
    expect(reqs[0]!.prompt[1]!.id).not.toBe(reqs[1]!.prompt[1]!.id);
    expect(reqs[0]!.prompt.at(-1)!.tokens).toBe(6758 - 13 * 512);
  });

  it("malformed lines", () => {
    const f = file(
      "moon.jsonl",
      '{"timestamp": 0, "input_length": 10, "output_length": 1, "hash_ids": [1]}\n{"timestamp": 5, "input_length": "x", "output_length": 1, "hash_ids": [1]}\n',
    );
    expect(errorOf(() => trace(f))).toBe(`${f}:2: input_length: expected a non-negative integer, got "x"`);
    const g = file(
      "moon2.jsonl",
      '{"timestamp": 0, "input_length": 10, "output_length": 1, "hash_ids": [1]}\n{"timestamp": 5,\n',
    );
    expect(errorOf(() => trace(g))).toMatch(new RegExp(`^${g}:2: line: expected one JSON object per line`));
    const h = file("moon3.jsonl", '{"timestamp": 0, "input_length": 10, "output_length": 1, "hash_ids": [-1]}\n');
    expect(errorOf(() => trace(h))).toBe(`${h}:1: hash_ids.0: expected a non-negative integer block id, got -1`);
    const o = file(
      "moon4.jsonl",
      '{"timestamp": 9, "input_length": 10, "output_length": 1, "hash_ids": [1]}\n{"timestamp": 5, "input_length": 10, "output_length": 1, "hash_ids": [1]}\n',
    );
    expect(errorOf(() => trace(o))).toBe(
      `${o}:2: arrival: expected non-decreasing arrival times, got 0.005 s after 0.009 s`,
    );
  });
});

describe("Azure LLM 2023 CSV", () => {
  it("code: 8,819 requests; conv: 19,366 requests", () => {
    const code = traceStats(trace(AZURE_CODE));
    expect(code.requests).toBe(8819);
    expect(Math.round(code.input_tokens.mean)).toBe(2048);
    expect(code.rate.peak_per_min).toBe(632);
    expect(code.duration_s).toBeCloseTo(3435.948, 3);
    const conv = traceStats(trace(AZURE_CONV));
    expect(conv.requests).toBe(19366);
    expect(Math.round(conv.output_tokens.mean)).toBe(211);
    expect(conv.rate.peak_per_min).toBe(507);
  });

  it("times are rebased to the first request; speedup, window and sampling", () => {
    const all = drain(trace(AZURE_CODE, {}, 5));
    expect(all[0]!.arrival).toBe(0);
    expect(all[1]!.arrival).toBeCloseTo(0.052, 6);
    const fast = drain(trace(AZURE_CODE, { speedup: 4 }, 5));
    expect(fast[1]!.arrival).toBeCloseTo(0.013, 6);
    const win = drain(trace(AZURE_CODE, { window: { start_s: 600, end_s: 1200 } }));
    expect(win.length).toBeGreaterThan(100);
    expect(win.every((r) => r.arrival >= 0 && r.arrival < 600)).toBe(true);
    const reb = drain(trace(AZURE_CODE, { window: { start_s: 600, end_s: 1200 }, rebase: true }));
    expect(reb[0]!.arrival).toBe(0);
    expect(reb.length).toBe(win.length);
    const sampled = traceStats(trace(AZURE_CONV, { sample: 0.25 }));
    expect(Math.abs(sampled.requests / 19366 - 0.25)).toBeLessThan(0.02);
  });

  it("malformed lines", () => {
    const f = file(
      "az.csv",
      "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808,10\n2023-11-16 18:17:04.0319600,abc,8\n",
    );
    expect(errorOf(() => trace(f, { format: "azure" }))).toBe(`${f}:3: ContextTokens: expected an integer, got "abc"`);
    const g = file("az2.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,1,1\n");
    expect(errorOf(() => trace(g, { format: "azure" }))).toBe(
      `${g}:2: TIMESTAMP: expected a time like "2023-11-16 18:17:03.9799600", got "yesterday"`,
    );
    const h = file("az3.csv", "TIME,ContextTokens,GeneratedTokens\n");
    expect(errorOf(() => trace(h, { format: "azure" }))).toBe(
      `${h}:1: TIMESTAMP: expected a column named "TIMESTAMP" in the Azure LLM trace header`,
    );
    const k = file("az4.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808\n");
    expect(errorOf(() => trace(k, { format: "azure" }))).toBe(`${k}:2: line: expected 3 comma-separated fields, got 2`);
  });
});

describe("BurstGPT CSV", () => {
  it("reads rows, sessions when present, rebased times", () => {
    const f = file(
      "burst.csv",
      "Timestamp,Session ID,Elapsed time,Model,Request tokens,Response tokens,Total tokens,Log Type\n" +
        "5,s1,1,ChatGPT,472,18,490,Conversation log\n45,s2,1,ChatGPT,1087,230,1317,Conversation log\n118,s1,1,GPT-4,417,276,693,Conversation log\n",
    );
    const reqs = drain(trace(f, { format: "burstgpt" }));
    expect(reqs.map((r) => [r.arrival, r.inputTokens, r.outputTokens, r.session, r.round])).toEqual([
      [0, 472, 18, "s1", 0],
      [40, 1087, 230, "s2", 0],
      [113, 417, 276, "s1", 1],
    ]);
  });

  it("malformed lines", () => {
    const f = file(
      "burst2.csv",
      "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n5,ChatGPT,472,18,490,Conversation log\nsoon,ChatGPT,1,2,3,x\n",
    );
    expect(errorOf(() => trace(f, { format: "burstgpt" }))).toBe(`${f}:3: Timestamp: expected a number, got "soon"`);
    const g = file(
      "burst3.csv",
      "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n5,ChatGPT,-4,18,490,x\n",
    );
    expect(errorOf(() => trace(g, { format: "burstgpt" }))).toBe(
      `${g}:2: Request tokens: expected a non-negative integer, got -4`,
    );
  });
});

describe("ServeGen per-client windows", () => {
  it("each window holds round(rate × 600) requests of its client; clients merged in time order", () => {
    const one = join(SERVEGEN, "chunk-12-trace.csv");
    const lines = readFileSync(one, "utf8").trim().split("\n");
    const first = lines[0]!.split(",");
    const expected = Math.round(Number(first[1]) * 600);
    const reqs = drain(trace(one, { format: "servegen", window: { end_s: 600 } }));
    expect(reqs.length).toBe(expected);
    expect(reqs.every((r) => r.tenant === "client-12")).toBe(true);
    // The dataset JSON gives this client's length PDFs.
    expect(existsSync(join(SERVEGEN, "chunk-12-dataset.json"))).toBe(true);
    const s = traceStats(trace(SERVEGEN, { format: "servegen", window: { end_s: 1800 } }));
    expect(s.requests).toBeGreaterThan(1000);
  });

  it("top clients and client adapters", () => {
    const reqs = drain(
      trace(SERVEGEN, {
        format: "servegen",
        window: { end_s: 600 },
        servegen: { top_clients: 3, client_adapters: true },
      }),
    );
    expect(new Set(reqs.map((r) => r.tenant)).size).toBeLessThanOrEqual(3);
    expect(reqs.every((r) => r.adapter === r.tenant)).toBe(true);
  });

  it("malformed lines", () => {
    const dir = join(tmp, "sg");
    mkdirSync(dir, { recursive: true });
    const f = join(dir, "chunk-7-trace.csv");
    writeFileSync(f, "0,0.01,1,Gamma,1,100\n600,abc,1,Gamma,1,1\n");
    expect(errorOf(() => trace(f, { format: "servegen" }))).toBe(`${f}:2: rate: expected a number, got "abc"`);
    writeFileSync(f, "0,0.5,1,Lognormal,1,1\n");
    expect(errorOf(() => trace(f, { format: "servegen" }))).toBe(
      `${f}:1: pattern: expected Gamma or Weibull, got "Lognormal"`,
    );
    expect(readdirSync(dir)).toEqual(["chunk-7-trace.csv"]);
  });
});

describe("exgentic agent-call JSONL", () => {
  it("226 calls, 16-token hashed prompts, benchmarks merged in time order, sessions", () => {
    const reqs = drain(trace(EXGENTIC));
    expect(reqs.length).toBe(226);
    expect(new Set(reqs.map((r) => r.tenant)).size).toBe(2);
    for (let i = 1; i < reqs.length; i++) expect(reqs[i]!.arrival).toBeGreaterThanOrEqual(reqs[i - 1]!.arrival);
    const app = reqs.filter((r) => r.tenant!.startsWith("appworld"));
    expect(app.length).toBe(75);
    const mean = app.reduce((s, r) => s + r.inputTokens, 0) / app.length;
    expect(Math.round(mean)).toBe(94903);
    const s = traceStats(trace(EXGENTIC));
    expect(s.prefix_cache.ideal_hit_rate).toBeGreaterThan(0.95);
  });

  it("malformed lines", () => {
    const f = file(
      "agent_llm_calls.jsonl",
      '{"benchmark":"b","session_id":"s","timestamp_ms":0,"input_length":16,"output_length":1,"hash_ids":[1]}\n{"benchmark":"b","session_id":"s","timestamp_ms":5,"output_length":1,"hash_ids":[1]}\n',
    );
    expect(errorOf(() => trace(f))).toBe(`${f}:2: input_length: expected a non-negative integer, got nothing`);
  });
});

describe("gatelab JSONL", () => {
  it("a generated workload written and read back is identical (content ids, sessions, tags)", () => {
    const cfg = {
      mix: [
        {
          type: "chat",
          rate: 1,
          closed_loop: false,
          turns: 3,
          system_prompt: 100,
          tenant: "a",
          slo_class: "interactive",
        },
        { type: "rag", rate: 5, documents: 100, priority: 1, adapter: "lora-x" },
      ],
    };
    const orig = drain(buildWorkload(cfg, { seed: 4, baseDir: ".", maxRequests: 500 }));
    const out = join(tmp, "w.jsonl");
    expect(writeStream(buildWorkload(cfg, { seed: 4, baseDir: ".", maxRequests: 500 }), out, "jsonl")).toBe(500);
    const back = drain(trace(out));
    expect(back.length).toBe(500);
    // A generator's `unique` marks are not written (`traceContent`).
    expect(orig.some((r) => r.prompt.some((s) => s.unique === true))).toBe(true);
    expect(back.some((r) => r.prompt.some((s) => s.unique !== undefined))).toBe(false);
    expect(back.map(traceContent)).toEqual(orig.map(traceContent));
    expect(traceStats(trace(out)).prefix_cache.ideal_hit_rate).toBeCloseTo(
      traceStats(buildWorkload(cfg, { seed: 4, baseDir: ".", maxRequests: 500 })).prefix_cache.ideal_hit_rate,
      12,
    );
  });

  it("malformed lines", () => {
    const f = file(
      "g.jsonl",
      '{"gatelab":"requests","version":1}\n{"arrival":0,"input_tokens":10,"output_tokens":1,"prompt":[[5,4]]}\n',
    );
    expect(errorOf(() => trace(f, { format: "jsonl" }))).toBe(
      `${f}:2: prompt: expected segments summing to input_tokens (10), got 4`,
    );
    const g = file("g2.jsonl", '{"arrival":0,"input_tokens":4,"output_tokens":1,"prompt":[[5,"4"]]}\n');
    expect(errorOf(() => trace(g, { format: "jsonl" }))).toBe(
      `${g}:1: prompt.0: expected [content_id, tokens] or [content_id, tokens, offset] of non-negative integers, got [5,"4"]`,
    );
    const h = file("g3.jsonl", '{"arrival":0,"input_tokens":4,"output_tokens":1,"tenant":3}\n');
    expect(errorOf(() => trace(h, { format: "jsonl" }))).toBe(`${h}:1: tenant: expected a string, got 3`);
  });
});

describe("writers", () => {
  it("BLIS TraceV2 round trip keeps arrivals, lengths and prefix groups", () => {
    const cfg = { type: "poisson", rate: 10, input: 100, output: 20, prefix: { groups: 3, tokens: 64 }, tenant: "t" };
    const orig = drain(buildWorkload(cfg, { seed: 1, baseDir: ".", maxRequests: 300 }));
    const out = join(tmp, "b.csv");
    writeStream(buildWorkload(cfg, { seed: 1, baseDir: ".", maxRequests: 300 }), out, "blis");
    const back = drain(trace(out));
    expect(back.map((r) => [Math.round(r.arrival * 1e6), r.inputTokens, r.outputTokens, r.tenant])).toEqual(
      orig.map((r) => [Math.round(r.arrival * 1e6), r.inputTokens, r.outputTokens, "t"]),
    );
    expect(traceStats(trace(out)).prefix_cache.ideal_hit_rate).toBeCloseTo(
      traceStats(buildWorkload(cfg, { seed: 1, baseDir: ".", maxRequests: 300 })).prefix_cache.ideal_hit_rate,
      12,
    );
  });

  it("Mooncake round trip keeps the 512-block sharing", () => {
    const out = join(tmp, "m.jsonl");
    writeStream(trace(MOONCAKE, {}, 2000), out, "mooncake");
    const a = traceStats(trace(MOONCAKE, {}, 2000));
    const b = traceStats(trace(out, { format: "mooncake" }));
    expect(b.requests).toBe(2000);
    expect(b.input_tokens.mean).toBe(a.input_tokens.mean);
    expect(Math.abs(b.prefix_cache.ideal_hit_rate - a.prefix_cache.ideal_hit_rate)).toBeLessThan(0.005);
  });
});

describe("stats helpers", () => {
  it("LRU evicts the least recently used block", () => {
    const l = new BlockLru(3);
    for (const h of [1, 2, 3]) l.touch(h);
    l.touch(1);
    l.touch(4); // evicts 2
    expect([1, 2, 3, 4].map((h) => l.has(h))).toEqual([true, false, true, true]);
    for (let i = 100; i < 10000; i++) l.touch(i);
    expect([9997, 9998, 9999, 1].map((h) => l.has(h))).toEqual([true, true, true, false]);
  });

  it("prefix hits obey vLLM's prompt − 1 rule", () => {
    const reqs: Request[] = [0, 1].map((id) => ({
      id,
      arrival: id,
      prompt: [{ id: 7, tokens: 32 }],
      inputTokens: 32,
      outputTokens: 1,
    }));
    let i = 0;
    const s = traceStats({ next: () => reqs[i++] });
    expect(s.prefix_cache.ideal_hit_rate).toBeCloseTo(31 / 64, 12);
  });
});

describe("trace CLI", () => {
  async function run(args: string[]): Promise<string> {
    const program = new Command("gatelab").exitOverride();
    registerTraceCommands(program);
    let out = "";
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => {
      out += String(s);
      return true;
    });
    try {
      await program.parseAsync(args, { from: "user" });
    } finally {
      spy.mockRestore();
    }
    return out;
  }

  it("trace stats --json on the Mooncake conversation trace", async () => {
    const j = JSON.parse(await run(["trace", "stats", MOONCAKE, "--json", "--cache-tokens", "1000000"]));
    expect(j.requests).toBe(12031);
    expect(Math.round(j.input_tokens.mean)).toBe(12035);
    expect(Math.round(j.output_tokens.mean)).toBe(343);
    expect(j.prefix_cache.lru.capacity_tokens).toBe(1000000);
  });

  it("trace stats prints a readable report; convert writes atomically", async () => {
    const txt = await run(["trace", "stats", AZURE_CODE]);
    expect(txt).toContain("requests       8,819");
    const out = join(tmp, "azure.jsonl");
    expect(await run(["trace", "convert", AZURE_CODE, out, "--limit", "100"])).toBe(`wrote 100 requests to ${out}\n`);
    expect(readFileSync(out, "utf8").trim().split("\n").length).toBe(101);
    expect(readdirSync(tmp).some((f) => f.includes(".tmp-"))).toBe(false);
  });

  it("workload export saves a scenario's stream for replay", async () => {
    const out = join(tmp, "rag.jsonl");
    const scen = join(import.meta.dirname, "..", "scenarios", "rag.yaml");
    expect(await run(["workload", "export", scen, "--out", out, "--requests", "300"])).toBe(
      `wrote 300 requests to ${out}\n`,
    );
    const back = drain(trace(out));
    expect(back.length).toBe(300);
    expect(back.every((r) => r.prompt.length === 7 && r.sloClass === "interactive")).toBe(true);
  });

  it("bad input is an InputError naming the file", async () => {
    await expect(run(["trace", "stats", join(tmp, "nope.csv")])).rejects.toThrow(
      `${join(tmp, "nope.csv")}: cannot read the trace (no such file)`,
    );
  });
});
