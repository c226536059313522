import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../src/errors.ts";
import { blockHashes } from "../src/sim/hash.ts";
import type { Request } from "../src/sim/request.ts";
import { rngStream } from "../src/sim/rng.ts";
import { InferencePerfTimer } from "../src/workloads/arrivals.ts";
import { makeSampler } from "../src/workloads/distributions.ts";
import { buildWorkload } from "../src/workloads/index.ts";
import { LineReader } from "../src/workloads/lines.ts";

const SHARED = join(import.meta.dirname, "..", "..", "shared", "data");
const BLIS_R40 = join(SHARED, "blis-traces", "trace-chat-r40.csv");

function drain(src: { next(): Request | undefined }, max = Number.POSITIVE_INFINITY): Request[] {
  const out: Request[] = [];
  for (let r = src.next(); r !== undefined && out.length < max; r = src.next()) out.push(r);
  return out;
}

function sameBlocks(a: Float64Array, b: Float64Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

describe("distributions", () => {
  it("normal is rounded and clamped; empirical follows its weights", () => {
    const rng = rngStream(1, "t");
    const s = makeSampler({ dist: "normal", mean: 100, std: 50, min: 80, max: 120 }, rng);
    for (let i = 0; i < 1000; i++) {
      const v = s();
      expect(Number.isInteger(v)).toBe(true);
      expect(v).toBeGreaterThanOrEqual(80);
      expect(v).toBeLessThanOrEqual(120);
    }
    const e = makeSampler({ dist: "empirical", values: [1, 2], weights: [3, 1] }, rng);
    let ones = 0;
    for (let i = 0; i < 40000; i++) if (e() === 1) ones++;
    expect(ones / 40000).toBeCloseTo(0.75, 1);
  });

  it("lognormal has the requested mean and std", () => {
    const s = makeSampler({ dist: "lognormal", mean: 1000, std: 500 }, rngStream(3, "t"));
    let sum = 0;
    let sq = 0;
    const n = 200000;
    for (let i = 0; i < n; i++) {
      const v = s();
      sum += v;
      sq += v * v;
    }
    const mean = sum / n;
    expect(Math.abs(mean - 1000) / 1000).toBeLessThan(0.01);
    expect(Math.abs(Math.sqrt(sq / n - mean * mean) - 500) / 500).toBeLessThan(0.03);
  });
});

describe("poisson source", () => {
  it("empirical rate within 1 % on a long stream, ids dense, times ordered", () => {
    const src = buildWorkload(
      { type: "poisson", rate: 50, input: 100, output: { dist: "uniform", min: 10, max: 20 } },
      { seed: 7, baseDir: ".", maxRequests: 200000 },
    );
    const reqs = drain(src);
    expect(reqs.length).toBe(200000);
    let ok = reqs[0]!.id === 0;
    for (let i = 1; i < reqs.length; i++) if (reqs[i]!.arrival < reqs[i - 1]!.arrival || reqs[i]!.id !== i) ok = false;
    expect(ok).toBe(true);
    const rate = reqs.length / reqs.at(-1)!.arrival;
    expect(Math.abs(rate - 50) / 50).toBeLessThan(0.01);
    expect(reqs[0]!.inputTokens).toBe(100);
    expect(reqs.every((r) => r.outputTokens >= 10 && r.outputTokens <= 20)).toBe(true);
  });

  it("stops at durationS; the same seed gives the same stream", () => {
    const cfg = { type: "poisson", rate: 10, input: 100, output: 10, prefix: { groups: 4, tokens: 64 } };
    const a = drain(buildWorkload(cfg, { seed: 1, baseDir: ".", durationS: 100 }));
    const b = drain(buildWorkload(cfg, { seed: 1, baseDir: ".", durationS: 100 }));
    expect(a.length).toBeGreaterThan(900);
    expect(a.length).toBeLessThan(1100);
    expect(a.at(-1)!.arrival).toBeLessThan(100);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a[0]!.inputTokens).toBe(164);
    // Prefix groups: 4 distinct prefix ids.
    expect(new Set(a.map((r) => r.prompt[0]!.id)).size).toBe(4);
  });
});

describe("shared-prefix (inference-perf)", () => {
  const base = {
    type: "shared-prefix",
    shared_prefix: {
      num_unique_system_prompts: 3,
      num_users_per_system_prompt: 4,
      system_prompt_len: 100,
      question_len: 50,
      output_len: 20,
      enable_multi_turn_chat: false,
    },
    stages: [
      { rate: 2.5, duration: 60 },
      { rate: 6, duration: 10 },
    ],
  };

  it("constant stages send exactly int(rate × duration) requests; the stage's last one at its end", () => {
    const t = new InferencePerfTimer(base.stages, "constant", rngStream(1, "a"));
    const times: number[] = [];
    for (let x = t.next(); x !== undefined; x = t.next()) times.push(x);
    expect(times.length).toBe(150 + 60);
    expect(times[149]).toBeCloseTo(60, 9);
    expect(times.at(-1)).toBeCloseTo(70, 9);
  });

  it("requests of the same group share the system-prompt blocks, other groups do not", () => {
    const reqs = drain(buildWorkload(base, { seed: 42, baseDir: "." }));
    expect(reqs.length).toBe(210);
    expect(reqs.every((r) => r.inputTokens === 150 && r.outputTokens === 20)).toBe(true);
    const groups = new Map<number, Request[]>();
    for (const r of reqs) {
      const g = r.prompt[0]!.id;
      groups.set(g, [...(groups.get(g) ?? []), r]);
    }
    expect(groups.size).toBe(3);
    const [g1, g2] = [...groups.values()];
    const h = (r: Request) => blockHashes(r.prompt, 16);
    // 100-token system prompt = 6 full 16-token blocks shared; the 7th mixes in the question.
    expect(sameBlocks(h(g1![0]!), h(g1![1]!), 6)).toBe(true);
    expect(h(g1![0]!)[6]).not.toBe(h(g1![1]!)[6]);
    expect(h(g1![0]!)[0]).not.toBe(h(g2![0]!)[0]);
    // 12 prompts cycled: request i and i + 12 send the same prompt.
    expect(h(reqs[0]!)).toEqual(h(reqs[12]!));
  });

  it("multi-turn: a user's prompt grows by the previous question and answer", () => {
    const cfg = { ...base, shared_prefix: { ...base.shared_prefix, enable_multi_turn_chat: true } };
    const reqs = drain(buildWorkload(cfg, { seed: 42, baseDir: ".", openLoop: true }));
    const bySession = new Map<string, Request[]>();
    for (const r of reqs) bySession.set(r.session!, [...(bySession.get(r.session!) ?? []), r]);
    expect(bySession.size).toBe(12);
    for (const turns of bySession.values()) {
      turns.forEach((t, k) => {
        expect(t.round).toBe(k);
        expect(t.inputTokens).toBe(100 + 50 + k * 70);
      });
      const [a, b] = [turns[0]!, turns[1]!];
      // b's prompt = a's prompt + a's answer + the new question.
      expect(b.prompt.slice(0, a.prompt.length)).toEqual(a.prompt);
      expect(b.prompt[a.prompt.length]).toEqual({ id: a.outputContentId, tokens: a.outputTokens });
      const ha = blockHashes(a.prompt, 16);
      expect(sameBlocks(ha, blockHashes(b.prompt, 16), ha.length)).toBe(true);
    }
  });

  it("multi-turn closed loop: a round waits for the previous one of its session", () => {
    const cfg = {
      ...base,
      shared_prefix: { ...base.shared_prefix, enable_multi_turn_chat: true, num_users_per_system_prompt: 1 },
      stages: [{ rate: 10, duration: 2 }],
    };
    const src = buildWorkload(cfg, { seed: 1, baseDir: "." });
    const first = drain(src);
    // 3 sessions, 20 requests: only the first round of each session is released without feedback.
    expect(first.length).toBe(3);
    const more = src.onFinish!(first[0]!, 50, true)!;
    expect(more.length).toBe(1);
    expect(more[0]!.arrival).toBe(50);
    expect(more[0]!.id).toBe(3);
    expect(more[0]!.session).toBe(first[0]!.session);
    expect(more[0]!.inputTokens).toBe(100 + 50 + 70);
  });
});

describe("BLIS TraceV2 reader", () => {
  it("reads trace-chat-r40.csv: 10,000 requests, first at 0.012652 s with 860 in / 311 out", () => {
    const src = buildWorkload({ type: "trace", path: BLIS_R40 }, { seed: 1, baseDir: "." });
    const reqs = drain(src);
    expect(reqs.length).toBe(10000);
    expect(reqs[0]!.arrival).toBeCloseTo(0.012652, 9);
    expect(reqs[0]!.inputTokens).toBe(860);
    expect(reqs[0]!.outputTokens).toBe(311);
    expect(reqs[0]!.tenant).toBe("chat");
  });

  it("prefix groups become one shared segment", () => {
    const reqs = drain(
      buildWorkload(
        { type: "trace", path: "trace-rag-r80.csv" },
        { seed: 1, baseDir: join(SHARED, "blis-traces"), maxRequests: 400 },
      ),
    );
    const docA = reqs.filter((r) => r.tenant === "rag-doc-a");
    expect(docA.length).toBeGreaterThan(50);
    expect(docA.every((r) => r.prompt[0]!.id === docA[0]!.prompt[0]!.id && r.prompt[0]!.tokens === 2048)).toBe(true);
    expect(docA[0]!.inputTokens).toBe(2048 + docA[0]!.prompt[1]!.tokens);
    const unique = reqs.filter((r) => r.tenant === "unique");
    expect(unique.every((r) => r.prompt.length === 1)).toBe(true);
  });

  it("a malformed line gives FILE:LINE: FIELD: what was expected", () => {
    const dir = mkdtempSync(join(tmpdir(), "gatelab-blis-"));
    const f = join(dir, "bad.csv");
    writeFileSync(f, "request_id,arrival_time_us,input_tokens,output_tokens\n0,10,100,20\n1,20,abc,20\n");
    const src = buildWorkload({ type: "trace", path: f, format: "blis" }, { seed: 1, baseDir: "." });
    expect(src.next()!.inputTokens).toBe(100);
    expect(() => src.next()).toThrow(InputError);
    const src2 = buildWorkload({ type: "trace", path: f, format: "blis" }, { seed: 1, baseDir: "." });
    src2.next();
    expect(() => src2.next()).toThrow(`${f}:3: input_tokens: expected an integer, got "abc"`);
  });

  it("a missing file is an InputError", () => {
    expect(() => buildWorkload({ type: "trace", path: "/nonexistent/x.csv" }, { seed: 1, baseDir: "." })).toThrow(
      "/nonexistent/x.csv: cannot read the trace (no such file)",
    );
  });
});

describe("line reader", () => {
  it("splits across chunk boundaries, handles CRLF and a last line without newline", () => {
    const dir = mkdtempSync(join(tmpdir(), "gatelab-lines-"));
    const f = join(dir, "l.txt");
    const long = "é".repeat(700000); // 1.4 MB of 2-byte characters: crosses the 1 MiB chunk
    writeFileSync(f, `a\r\n${long}\nlast`);
    const r = new LineReader(f);
    expect(r.next()).toBe("a");
    expect(r.next()).toBe(long);
    expect(r.next()).toBe("last");
    expect(r.lineNo).toBe(3);
    expect(r.next()).toBeUndefined();
  });
});

describe("workload schema", () => {
  it("rejects unknown fields with the path", () => {
    expect(() =>
      buildWorkload({ type: "poisson", rate: 1, input: 1, output: 1, bogus: 1 }, { seed: 1, baseDir: "." }),
    ).toThrow(/workload/);
  });

  it("a mix merges in arrival order with dense ids", () => {
    const reqs = drain(
      buildWorkload(
        {
          rate: 20,
          mix: [
            { type: "poisson", weight: 3, input: 10, output: 5 },
            { type: "poisson", weight: 1, input: 20, output: 5 },
          ],
        },
        { seed: 3, baseDir: ".", maxRequests: 40000 },
      ),
    );
    expect(reqs.map((r) => r.id)).toEqual(reqs.map((_, i) => i));
    for (let i = 1; i < reqs.length; i++) expect(reqs[i]!.arrival).toBeGreaterThanOrEqual(reqs[i - 1]!.arrival);
    const share = reqs.filter((r) => r.inputTokens === 10).length / reqs.length;
    expect(share).toBeCloseTo(0.75, 1);
    expect(reqs.length / reqs.at(-1)!.arrival).toBeCloseTo(20, 0);
    expect(new Set(reqs.map((r) => r.source))).toEqual(new Set(["poisson#0", "poisson#1"]));
  });
});

describe("calibration workloads (sim-to-real-validation)", () => {
  it("every experiment's inference_perf section runs as a shared-prefix source with num_requests requests", async () => {
    const { readFileSync } = await import("node:fs");
    const cal = JSON.parse(
      readFileSync(join(SHARED, "sim-to-real-validation", "calibration_set_h100_vllm_7exp.json"), "utf8"),
    ) as { experiments: { workload: { inference_perf: object; num_requests: number } }[] };
    for (const e of cal.experiments) {
      const reqs = drain(
        buildWorkload(
          { type: "shared-prefix", ...e.workload.inference_perf },
          { seed: 42, baseDir: ".", openLoop: true },
        ),
      );
      expect(reqs.length).toBe(e.workload.num_requests);
    }
  });
});
