import { describe, expect, it } from "vitest";
import { blockHashes, type Segment } from "../src/sim/hash.ts";
import { EventHeap } from "../src/sim/heap.ts";
import type { Request, RequestSource } from "../src/sim/request.ts";
import { rngStream } from "../src/sim/rng.ts";
import { type ArrivalInput, ArrivalSchema, makeArrivals, weibullShapeForCv } from "../src/workloads/arrivals.ts";
import { buildWorkload } from "../src/workloads/index.ts";

function times(spec: ArrivalInput, n: number, seed = 1): number[] {
  const p = makeArrivals(ArrivalSchema.parse(spec), undefined, rngStream(seed, "a"), rngStream(seed, "b"));
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = p.next();
    if (t === undefined) break;
    out.push(t);
  }
  return out;
}

function rateAndCv(ts: number[]): { rate: number; cv: number } {
  let s = 0;
  let s2 = 0;
  const n = ts.length - 1;
  for (let i = 1; i < ts.length; i++) {
    const g = ts[i]! - ts[i - 1]!;
    s += g;
    s2 += g * g;
  }
  const mean = s / n;
  return { rate: 1 / mean, cv: Math.sqrt(s2 / n - mean * mean) / mean };
}

function drain(src: { next(): Request | undefined }): Request[] {
  const out: Request[] = [];
  for (let r = src.next(); r !== undefined; r = src.next()) out.push(r);
  return out;
}

/**
 * A minimal closed-loop driver standing in for the engine: pulls arrivals in time order, completes each request after
 * `service(req)` seconds, and feeds completions back through `onFinish`.
 */
function runClosedLoop(
  src: RequestSource,
  service: (r: Request) => number,
): { reqs: Request[]; done: Map<number, number> } {
  const heap = new EventHeap();
  const reqs: Request[] = [];
  const done = new Map<number, number>();
  const ARRIVE = 0;
  const FINISH = 1;
  const push = (r: Request) => {
    reqs[r.id] = r;
    heap.push(r.arrival, ARRIVE, r.id);
  };
  let pending = src.next();
  if (pending) push(pending);
  pending = src.next();
  while (heap.size > 0 || pending) {
    if (pending && pending.arrival <= heap.peekTime()) {
      push(pending);
      pending = src.next();
      continue;
    }
    heap.pop();
    const r = reqs[heap.lastArg]!;
    const now = heap.lastTime;
    if (heap.lastKind === ARRIVE) heap.push(now + service(r), FINISH, r.id);
    else {
      done.set(r.id, now);
      for (const f of src.onFinish?.(r, now, true) ?? []) push(f);
    }
  }
  return { reqs, done };
}

function startsWith(a: readonly Segment[], prefix: readonly Segment[]): boolean {
  return prefix.every((s, i) => a[i]?.id === s.id && a[i]?.tokens === s.tokens);
}

describe("arrival processes", () => {
  it("Gamma: empirical rate and CV within 2 % of the parameters", () => {
    for (const cv of [0.5, 2, 4]) {
      const r = rateAndCv(times({ process: "gamma", rate: 20, cv }, 400000));
      expect(Math.abs(r.rate - 20) / 20).toBeLessThan(0.02);
      expect(Math.abs(r.cv - cv) / cv).toBeLessThan(0.02);
    }
  });

  it("Weibull: empirical rate and CV within 2 %", () => {
    expect(weibullShapeForCv(1)).toBeCloseTo(1, 6);
    for (const cv of [0.5, 2]) {
      const r = rateAndCv(times({ process: "weibull", rate: 5, cv }, 400000, 3));
      expect(Math.abs(r.rate - 5) / 5).toBeLessThan(0.02);
      expect(Math.abs(r.cv - cv) / cv).toBeLessThan(0.02);
    }
  });

  it("Poisson has CV 1; uniform is evenly spaced", () => {
    expect(rateAndCv(times({ process: "poisson", rate: 3 }, 200000)).cv).toBeCloseTo(1, 1);
    const u = times({ process: "uniform", rate: 4 }, 5);
    expect(u.map((t) => Math.round(t * 1000) / 1000)).toEqual([0.25, 0.5, 0.75, 1, 1.25]);
  });

  it("a spike multiplies the rate by its factor inside its window only", () => {
    const ts = times(
      { process: "poisson", rate: 10, spikes: [{ at: 1000, duration: 200, factor: 5 }] },
      10 ** 6,
    ).filter((t) => t < 2000);
    const inWin = ts.filter((t) => t >= 1000 && t < 1200).length / 200;
    const before = ts.filter((t) => t < 1000).length / 1000;
    const after = ts.filter((t) => t >= 1200 && t < 2000).length / 800;
    expect(Math.abs(inWin / 50 - 1)).toBeLessThan(0.03);
    expect(Math.abs(before / 10 - 1)).toBeLessThan(0.03);
    expect(Math.abs(after / 10 - 1)).toBeLessThan(0.05);
  });

  it("a spike keeps a Gamma process's CV", () => {
    const ts = times({ process: "gamma", rate: 10, cv: 3, spikes: [{ at: 0, duration: 1e9, factor: 4 }] }, 300000);
    const r = rateAndCv(ts);
    expect(Math.abs(r.rate / 40 - 1)).toBeLessThan(0.02);
    expect(Math.abs(r.cv / 3 - 1)).toBeLessThan(0.03);
  });

  it("stages: piecewise rates, stream ends after the last stage", () => {
    const ts = times(
      {
        stages: [
          { rate: 5, duration: 1000 },
          { rate: 20, duration: 500 },
        ],
      },
      10 ** 6,
    );
    expect(ts.at(-1)!).toBeLessThan(1500);
    expect(Math.abs(ts.filter((t) => t < 1000).length / 5000 - 1)).toBeLessThan(0.05);
    expect(Math.abs(ts.filter((t) => t >= 1000).length / 10000 - 1)).toBeLessThan(0.05);
  });

  it("on/off bursts (MMPP) keep the long-run mean rate and are burstier than Poisson", () => {
    const ts = times({ rate: 10, bursts: { mean_on_s: 20, mean_off_s: 60, off_level: 0.1 } }, 400000);
    const r = rateAndCv(ts);
    expect(Math.abs(r.rate / 10 - 1)).toBeLessThan(0.05);
    expect(r.cv).toBeGreaterThan(1.5);
  });

  it("diurnal: mean over whole periods is the rate, peak/trough = (1 + a)/(1 − a)", () => {
    const ts = times({ rate: 10, diurnal: { period_s: 3600, amplitude: 0.5, peak_s: 900 } }, 10 ** 6).filter(
      (t) => t < 36000,
    );
    expect(Math.abs(ts.length / 360000 - 1)).toBeLessThan(0.01);
    const near = (c: number) => ts.filter((t) => Math.abs(((t - c + 1800 + 36000) % 3600) - 1800) < 150).length;
    expect(near(900) / near(2700)).toBeGreaterThan(2.7);
    expect(near(900) / near(2700)).toBeLessThan(3.3);
  });
});

describe("chat sessions", () => {
  const chat = {
    type: "chat",
    rate: 0.5,
    apps: 3,
    system_prompt: 300,
    turns: { dist: "uniform", min: 2, max: 6 },
    message: { dist: "uniform", min: 20, max: 200 },
    output: { dist: "uniform", min: 10, max: 300 },
    think_time: 5,
    tenant: "t1",
    slo_class: "interactive",
  };

  it("closed loop: the next turn arrives exactly think time after the previous answer and extends its prompt", () => {
    const svc = rngStream(9, "service");
    const { reqs, done } = runClosedLoop(
      buildWorkload(chat, { seed: 5, baseDir: ".", durationS: 2000 }),
      (r) => 0.05 + 0.02 * r.outputTokens * (0.5 + svc.next()),
    );
    expect(reqs.length).toBeGreaterThan(1500);
    const bySession = new Map<string, Request[]>();
    for (const r of reqs) bySession.set(r.session!, [...(bySession.get(r.session!) ?? []), r]);
    let checked = 0;
    for (const turns of bySession.values()) {
      turns.sort((a, b) => a.round! - b.round!);
      for (let k = 1; k < turns.length; k++) {
        const prev = turns[k - 1]!;
        const cur = turns[k]!;
        expect(cur.round).toBe(k);
        expect(cur.arrival).toBeCloseTo(done.get(prev.id)! + 5, 9);
        // The prompt is the previous prompt + the previous answer + a new message.
        expect(startsWith(cur.prompt, prev.prompt)).toBe(true);
        expect(cur.prompt[prev.prompt.length]).toEqual({ id: prev.outputContentId, tokens: prev.outputTokens });
        expect(cur.prompt.length).toBe(prev.prompt.length + 2);
        expect(cur.inputTokens).toBe(prev.inputTokens + prev.outputTokens + cur.prompt.at(-1)!.tokens);
        // Its cached prefix grows: every full block of (previous prompt + answer) is a leading block of this prompt.
        const hp = blockHashes([...prev.prompt, { id: prev.outputContentId!, tokens: prev.outputTokens }], 16);
        const hc = blockHashes(cur.prompt, 16);
        expect(hp.every((h, i) => hc[i] === h)).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
    expect(reqs.every((r) => r.tenant === "t1" && r.sloClass === "interactive")).toBe(true);
    // Three apps: three distinct system prompts of 300 tokens.
    expect(new Set(reqs.map((r) => r.prompt[0]!.id)).size).toBe(3);
    expect(reqs.every((r) => r.prompt[0]!.tokens === 300)).toBe(true);
  });

  it("a session's content does not depend on completion order (only its timing does)", () => {
    const fast = runClosedLoop(buildWorkload(chat, { seed: 5, baseDir: ".", durationS: 500 }), () => 0.1);
    const slow = runClosedLoop(
      buildWorkload(chat, { seed: 5, baseDir: ".", durationS: 500 }),
      (r) => 0.05 * r.outputTokens,
    );
    const key = (rs: Request[]) =>
      new Map(
        rs.filter((r) => r.arrival < 300).map((r) => [`${r.session}#${r.round}`, `${r.inputTokens}/${r.outputTokens}`]),
      );
    const a = key(fast.reqs);
    const b = key(slow.reqs);
    let same = 0;
    for (const [k, v] of b) {
      if (a.has(k)) {
        expect(a.get(k)).toBe(v);
        same++;
      }
    }
    expect(same).toBeGreaterThan(50);
  });

  it("open loop: the next turn follows the previous arrival by the think time", () => {
    const reqs = drain(buildWorkload({ ...chat, closed_loop: false }, { seed: 5, baseDir: ".", durationS: 1000 }));
    const bySession = new Map<string, Request[]>();
    for (const r of reqs) bySession.set(r.session!, [...(bySession.get(r.session!) ?? []), r]);
    for (const turns of bySession.values())
      for (let k = 1; k < turns.length; k++) expect(turns[k]!.arrival).toBeCloseTo(turns[k - 1]!.arrival + 5, 9);
    for (let i = 1; i < reqs.length; i++) expect(reqs[i]!.arrival).toBeGreaterThanOrEqual(reqs[i - 1]!.arrival);
    expect(reqs.map((r) => r.id)).toEqual(reqs.map((_, i) => i));
  });

  it("max_context_tokens truncates the oldest turns or ends the session", () => {
    const cfg = { ...chat, turns: 30, closed_loop: false, max_context_tokens: 1500, on_context_full: "truncate" };
    const reqs = drain(buildWorkload(cfg, { seed: 2, baseDir: ".", durationS: 300 }));
    expect(Math.max(...reqs.map((r) => r.inputTokens))).toBeLessThanOrEqual(1500);
    expect(Math.max(...reqs.map((r) => r.round!))).toBe(29);
    const ended = drain(buildWorkload({ ...cfg, on_context_full: "end" }, { seed: 2, baseDir: ".", durationS: 300 }));
    expect(Math.max(...ended.map((r) => r.round!))).toBeLessThan(29);
  });
});

describe("agent sessions", () => {
  it("share one long tool prefix across sessions and wait a tool latency between rounds", () => {
    const cfg = {
      type: "agent",
      rate: 0.2,
      tools: 12000,
      rounds: 8,
      tool_latency: 2,
      task: 300,
      tool_output: 100,
      output: 50,
    };
    const { reqs, done } = runClosedLoop(buildWorkload(cfg, { seed: 1, baseDir: ".", durationS: 600 }), () => 1);
    const sessions = new Set(reqs.map((r) => r.session));
    expect(sessions.size).toBeGreaterThan(80);
    expect(new Set(reqs.map((r) => r.prompt[0]!.id)).size).toBe(1);
    const h0 = blockHashes(reqs[0]!.prompt, 16);
    const other = reqs.find((r) => r.session !== reqs[0]!.session)!;
    const h1 = blockHashes(other.prompt, 16);
    expect(h0.subarray(0, 750)).toEqual(h1.subarray(0, 750)); // 12000 / 16 blocks shared
    const s0 = reqs.filter((r) => r.session === reqs[0]!.session);
    expect(s0.length).toBe(8);
    for (let k = 1; k < s0.length; k++) {
      expect(s0[k]!.arrival).toBeCloseTo(done.get(s0[k - 1]!.id)! + 2, 9);
      expect(s0[k]!.inputTokens).toBe(12000 + 300 + k * 150);
    }
  });
});

describe("RAG", () => {
  it("Zipf-popular chunks, k distinct per query, shared instructions", () => {
    const cfg = {
      type: "rag",
      rate: 50,
      documents: 1000,
      zipf_s: 1.1,
      k: 5,
      chunk_tokens: 256,
      instructions: 128,
      query: 30,
      output: 60,
    };
    const reqs = drain(buildWorkload(cfg, { seed: 3, baseDir: ".", maxRequests: 20000 }));
    expect(reqs.every((r) => r.prompt.length === 7 && r.inputTokens === 128 + 5 * 256 + 30)).toBe(true);
    expect(new Set(reqs.map((r) => r.prompt[0]!.id)).size).toBe(1);
    expect(reqs.every((r) => new Set(r.prompt.slice(1, 6).map((s) => s.id)).size === 5)).toBe(true);
    const freq = new Map<number, number>();
    for (const r of reqs) for (const s of r.prompt.slice(1, 6)) freq.set(s.id, (freq.get(s.id) ?? 0) + 1);
    const counts = [...freq.values()].sort((a, b) => b - a);
    expect(counts[0]! / counts[9]!).toBeGreaterThan(4); // rank 1 vs rank 10 under Zipf(1.1): ≈ 12 before dedup
    expect(freq.size).toBeGreaterThan(500);
  });
});

describe("per-request tags and mixes", () => {
  it("adapters with Zipf popularity, weighted tenants and priorities", () => {
    const cfg = {
      type: "poisson",
      rate: 100,
      input: 10,
      output: 10,
      tenant: { values: ["a", "b"], weights: [3, 1] },
      priority: -1,
      adapter: { count: 10, popularity: "zipf", zipf_s: 1 },
    };
    const reqs = drain(buildWorkload(cfg, { seed: 3, baseDir: ".", maxRequests: 50000 }));
    const share = reqs.filter((r) => r.tenant === "a").length / reqs.length;
    expect(share).toBeGreaterThan(0.73);
    expect(share).toBeLessThan(0.77);
    expect(reqs.every((r) => r.priority === -1)).toBe(true);
    const c0 = reqs.filter((r) => r.adapter === "lora-0").length;
    const c1 = reqs.filter((r) => r.adapter === "lora-1").length;
    expect(c0 / c1).toBeGreaterThan(1.85);
    expect(c0 / c1).toBeLessThan(2.15);
  });

  it("adapter popularity from ServeGen clients follows their request volumes", () => {
    const reqs = drain(
      buildWorkload(
        {
          type: "poisson",
          rate: 100,
          input: 10,
          output: 10,
          adapter: { count: 5, popularity: "servegen", servegen: "../shared/data/servegen/reason/deepseek-r1" },
        },
        { seed: 3, baseDir: ".", maxRequests: 20000 },
      ),
    );
    const c = [0, 1, 2, 3, 4].map((i) => reqs.filter((r) => r.adapter === `lora-${i}`).length);
    expect(c[0]!).toBeGreaterThan(c[4]!);
    expect(c.reduce((a, b) => a + b, 0)).toBe(20000);
  });

  it("mixed bursty chat + RAG + agent with a mix-level request rate", () => {
    const cfg = {
      rate: 20,
      mix: [
        { type: "chat", weight: 2, closed_loop: false, turns: 4, think_time: 3, arrival: { process: "gamma", cv: 3 } },
        { type: "rag", weight: 1 },
        { type: "agent", weight: 1, closed_loop: false, rounds: 10, tool_latency: 1 },
      ],
    };
    const reqs = drain(buildWorkload(cfg, { seed: 11, baseDir: ".", durationS: 3000 }));
    const by = (s: string) => reqs.filter((r) => r.source === s).length / reqs.length;
    expect(by("chat")).toBeGreaterThan(0.42);
    expect(by("chat")).toBeLessThan(0.58);
    expect(by("rag")).toBeGreaterThan(0.2);
    expect(by("agent")).toBeGreaterThan(0.18);
    expect(Math.abs(reqs.length / 3000 / 20 - 1)).toBeLessThan(0.1);
    for (let i = 1; i < reqs.length; i++) expect(reqs[i]!.arrival).toBeGreaterThanOrEqual(reqs[i - 1]!.arrival);
    const again = drain(buildWorkload(cfg, { seed: 11, baseDir: ".", durationS: 3000 }));
    expect(JSON.stringify(again)).toBe(JSON.stringify(reqs));
  });
});
