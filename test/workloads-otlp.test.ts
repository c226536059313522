import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { main } from "../src/cli/main.ts";
import { writeStream } from "../src/cli/trace.ts";
import { InputError } from "../src/errors.ts";
import type { Request } from "../src/sim/request.ts";
import { buildWorkload } from "../src/workloads/index.ts";
import { OtlpScanner, REORDER_S } from "../src/workloads/otlp.ts";
import { traceStats } from "../src/workloads/stats.ts";
import { traceContent } from "./helpers/sim.ts";

/** Runs the CLI in-process: exit code and what it printed. */
async function capture(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const o = vi.spyOn(process.stdout, "write").mockImplementation((x: string | Uint8Array) => {
    stdout += String(x);
    return true;
  });
  const e = vi.spyOn(process.stderr, "write").mockImplementation((x: string | Uint8Array) => {
    stderr += String(x);
    return true;
  });
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    o.mockRestore();
    e.mockRestore();
    process.exitCode = undefined;
  }
}

const tmp = mkdtempSync(join(tmpdir(), "gatelab-otlp-"));
function file(name: string, text: string): string {
  const f = join(tmp, name);
  writeFileSync(f, text);
  return f;
}

function trace(path: string, extra: Record<string, unknown> = {}) {
  return buildWorkload({ type: "trace", path, ...extra }, { seed: 1, baseDir: ".", openLoop: true });
}

function drain(src: { next(): Request | undefined }): Request[] {
  const out: Request[] = [];
  for (let r = src.next(); r !== undefined; r = src.next()) out.push(r);
  return out;
}

function errorOf(f: () => { next(): unknown }): string {
  try {
    const src = f();
    while (src.next() !== undefined) {}
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  throw new Error("expected an InputError");
}

type Attr = { key: string; value: Record<string, unknown> };
const s = (key: string, v: string): Attr => ({ key, value: { stringValue: v } });
const i = (key: string, v: number | string): Attr => ({ key, value: { intValue: String(v) } });

function span(id: string, startNs: string, attrs: Attr[], extra: Record<string, unknown> = {}) {
  return {
    traceId: "0".repeat(31) + "1",
    spanId: id,
    name: "chat m",
    kind: 3,
    startTimeUnixNano: startNs,
    attributes: attrs,
    ...extra,
  };
}

function doc(spans: unknown[], resourceAttrs: Attr[] = []) {
  return {
    resourceSpans: [{ resource: { attributes: resourceAttrs }, scopeSpans: [{ scope: { name: "x" }, spans }] }],
  };
}

const T0 = 1_700_000_000_000_000_000n;
const at = (s: number) => (T0 + BigInt(Math.round(s * 1e9))).toString();

describe("OTLP JSON (OpenTelemetry GenAI spans)", () => {
  it("a generated workload written as OTLP and read back is identical (content ids, sessions, tags)", () => {
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
        { type: "rag", rate: 5, documents: 100, priority: -1, adapter: "lora-x", model: "m2" },
        { type: "poisson", rate: 3, input: 50, output: 7, prefix: { groups: 2, tokens: 32 } },
      ],
    };
    const build = () => buildWorkload(cfg, { seed: 4, baseDir: ".", maxRequests: 600 });
    const orig = drain(build());
    const out = join(tmp, "w.otlp.json");
    expect(writeStream(build(), out, "otlp")).toBe(600);
    // One JSON document that any OTLP JSON consumer parses, one span per line.
    const parsed = JSON.parse(readFileSync(out, "utf8")) as { resourceSpans: { scopeSpans: { spans: unknown[] }[] }[] };
    expect(parsed.resourceSpans[0]!.scopeSpans[0]!.spans.length).toBe(600);
    const back = drain(trace(out));
    expect(back.length).toBe(600);
    // A generator's `unique` marks are not written (`traceContent`).
    expect(orig.some((r) => r.prompt.some((s) => s.unique === true))).toBe(true);
    expect(back.some((r) => r.prompt.some((s) => s.unique !== undefined))).toBe(false);
    expect(back.map(traceContent)).toEqual(orig.map(traceContent));
    expect(orig.some((r) => r.session !== undefined && r.round === 2)).toBe(true);
    expect(orig.some((r) => r.priority === -1 && r.model === "m2")).toBe(true);
    expect(traceStats(trace(out)).prefix_cache.ideal_hit_rate).toBeCloseTo(
      traceStats(build()).prefix_cache.ideal_hit_rate,
      12,
    );
  });

  it("reads third-party spans: semconv attributes, deprecated vLLM names, out-of-order export, skipped non-inference spans", () => {
    const spans = [
      // Exported when they end: the second call (ends first) comes first.
      span("b2", at(1.5), [
        s("gen_ai.operation.name", "chat"),
        s("gen_ai.request.model", "llama"),
        i("gen_ai.usage.input_tokens", 300),
        i("gen_ai.usage.output_tokens", 20),
        s("gen_ai.conversation.id", "c1"),
      ]),
      span("a1", at(0), [
        s("gen_ai.operation.name", "chat"),
        s("gen_ai.request.model", "llama"),
        i("gen_ai.usage.input_tokens", 100),
        i("gen_ai.usage.output_tokens", 10),
        s("gen_ai.conversation.id", "c1"),
      ]),
      // A tool call and a plain HTTP span: not requests.
      span("c3", at(2), [s("gen_ai.operation.name", "execute_tool"), i("gen_ai.usage.input_tokens", 5)]),
      span("d4", at(2.5), [s("http.request.method", "POST")]),
      // vLLM's own llm_request span (deprecated usage names, int as JSON number), response model only.
      span("e5", at(3.25), [
        s("gen_ai.response.model", "llama"),
        i("gen_ai.usage.prompt_tokens", 64),
        { key: "gen_ai.usage.completion_tokens", value: { intValue: 8 } },
      ]),
    ];
    // Pretty-printed, as a person saves it.
    const f = file("third.json", JSON.stringify(doc(spans), null, 2));
    const r = drain(trace(f));
    expect(r.map((x) => [x.arrival, x.inputTokens, x.outputTokens, x.model, x.session ?? null])).toEqual([
      [0, 100, 10, "llama", "c1"],
      [1.5, 300, 20, "llama", "c1"],
      [3.25, 64, 8, "llama", null],
    ]);
    // Unique prompts: no two requests share content.
    expect(new Set(r.map((x) => x.prompt[0]!.id)).size).toBe(3);
    // Collector file-exporter style (one ExportTraceServiceRequest per line) gives the same requests.
    const g = file(
      "lines.jsonl",
      `${JSON.stringify(doc(spans.slice(0, 2)))}\n${JSON.stringify(doc(spans.slice(2)))}\n`,
    );
    expect(drain(trace(g)).map((x) => x.arrival)).toEqual([0, 1.5, 3.25]);
  });

  it("a shared prompt prefix hash makes equal leading content", () => {
    const p = (id: string, t: number, h: string) =>
      span(id, at(t), [
        i("gen_ai.usage.input_tokens", 200),
        i("gen_ai.usage.output_tokens", 1),
        s("gatelab.prompt.prefix_hash", h),
        i("gatelab.prompt.prefix_tokens", 128),
      ]);
    const f = file("prefix.json", JSON.stringify(doc([p("01", 0, "sys-a"), p("02", 1, "sys-a"), p("03", 2, "sys-b")])));
    const r = drain(trace(f));
    expect(r.map((x) => x.prompt.map((g) => g.tokens))).toEqual([
      [128, 72],
      [128, 72],
      [128, 72],
    ]);
    expect(r[0]!.prompt[0]!.id).toBe(r[1]!.prompt[0]!.id);
    expect(r[0]!.prompt[0]!.id).not.toBe(r[2]!.prompt[0]!.id);
    expect(r[0]!.prompt[1]!.id).not.toBe(r[1]!.prompt[1]!.id);
    // 2 of 3 prefixes are hits: ideal hit rate = 128 / 600 tokens at 16-token blocks.
    expect(traceStats(trace(f)).prefix_cache.ideal_hit_rate).toBeCloseTo(128 / 600, 12);
  });

  it("malformed spans name the span (index, spanId) and the attribute", () => {
    const ok = [i("gen_ai.usage.input_tokens", 10), i("gen_ai.usage.output_tokens", 1)];
    const f = file(
      "bad1.json",
      JSON.stringify(
        doc([
          span("aa", at(0), ok),
          span("bb", at(1), [i("gen_ai.usage.input_tokens", "x1"), i("gen_ai.usage.output_tokens", 1)]),
        ]),
      ),
    );
    // intValue "x1" is not an integer: the attribute decodes to nothing.
    expect(errorOf(() => trace(f))).toBe(
      `${f}:1: span 1 (spanId bb): gen_ai.usage.input_tokens: expected a non-negative integer, got nothing`,
    );
    const g = file(
      "bad2.json",
      JSON.stringify(
        doc([
          span("aa", at(0), ok),
          span("cc", at(1), [s("gen_ai.operation.name", "chat"), i("gen_ai.usage.input_tokens", 3)]),
        ]),
        null,
        1,
      ),
    );
    expect(errorOf(() => trace(g))).toMatch(
      new RegExp(
        `^${g}:\\d+: span 1 \\(spanId cc\\): gen_ai.usage.output_tokens: expected a non-negative integer, got nothing$`,
      ),
    );
    const h = file("bad3.json", JSON.stringify(doc([span("dd", "yesterday", ok)])));
    expect(errorOf(() => trace(h))).toBe(
      `${h}:1: span 0 (spanId dd): startTimeUnixNano: expected unsigned nanoseconds since the Unix epoch, got "yesterday"`,
    );
    const k = file(
      "bad4.json",
      JSON.stringify(
        doc([
          span("ee", at(0), [
            ...ok,
            s("gen_ai.request.model", "m"),
            {
              key: "gatelab.prompt.segments",
              value: { arrayValue: { values: [{ intValue: "5" }, { intValue: "4" }, { intValue: "0" }] } },
            },
          ]),
        ]),
      ),
    );
    expect(errorOf(() => trace(k))).toBe(
      `${k}:1: span 0 (spanId ee): gatelab.prompt.segments: expected segments summing to the input tokens (10), got 4`,
    );
    const late = file(
      "bad5.json",
      JSON.stringify(doc([span("ff", at(10), ok), span("hh", at(REORDER_S + 20), ok), span("gg", at(5), ok)])),
    );
    expect(errorOf(() => trace(late))).toMatch(
      /:1: span 2 \(spanId gg\): startTimeUnixNano: starts 5 s before a span already replayed; spans may come at most 3600 s out of start-time order/,
    );
    const trunc = file("bad6.json", JSON.stringify(doc([span("aa", at(0), ok)])).slice(0, 60));
    expect(errorOf(() => trace(trunc, { format: "otlp" }))).toBe(
      `${trunc}:1: expected OTLP JSON (resourceSpans → scopeSpans → spans), the file ends inside a value`,
    );
    const notObj = file("bad7.json", '{"resourceSpans":[{"scopeSpans":[{"spans":[42]}]}]}');
    expect(errorOf(() => trace(notObj, { format: "otlp" }))).toBe(
      `${notObj}:1: expected OTLP JSON (resourceSpans → scopeSpans → spans), got "4" where a span object belongs`,
    );
  });

  it("CLI: a malformed span exits 2 naming it; trace stats and convert work on OTLP", async () => {
    const f = file(
      "cli-bad.json",
      JSON.stringify(
        doc([span("0badc0de", at(0), [i("gen_ai.usage.input_tokens", 5), i("gen_ai.usage.output_tokens", -2)])]),
      ),
    );
    const bad = await capture(["trace", "stats", f]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      `span 0 (spanId 0badc0de): gen_ai.usage.output_tokens: expected a non-negative integer, got -2`,
    );
    const src = join(tmp, "cli.jsonl");
    const conv = await capture(["trace", "convert", f.replace("cli-bad", "never"), src]);
    expect(conv.code).toBe(2);
    const w = join(tmp, "cli.otlp.json");
    const ex = await capture([
      "workload",
      "export",
      join(import.meta.dirname, "fixtures", "lab-small.yaml"),
      "-o",
      w,
      "--requests",
      "50",
    ]);
    expect(ex.code).toBe(0);
    const st = await capture(["trace", "stats", w, "--json"]);
    expect(st.code).toBe(0);
    expect((JSON.parse(st.stdout) as { requests: number }).requests).toBe(50);
    const back = await capture(["trace", "convert", w, src]);
    expect(back.stdout).toBe(`wrote 50 requests to ${src}\n`);
  });

  it("the scanner finds every span whatever the chunk boundaries (escapes, multi-byte UTF-8, odd keys)", () => {
    const spans = [
      span('a\\"}{', at(0), [s("x", 'q"uo\\te}{]['), s("ü€😀", "😀€ü")]),
      span("b", at(1), [s("k", "\\")], { events: [{ name: "}" }], links: [] }),
      span("c", at(2), []),
    ];
    const d = {
      resourceSpans: [
        { 're"source': 1, resource: { attributes: [s("a", "b")] }, scopeSpans: [{ spans }] },
        { scopeSpans: [] },
      ],
    };
    const f = file("chunks.json", `${JSON.stringify(d, null, 2)}\n${JSON.stringify(d)}`);
    for (const chunk of [1, 2, 3, 5, 7, 64, 1 << 20]) {
      const sc = new OtlpScanner(f, f, chunk);
      const got: unknown[] = [];
      for (let x = sc.next(); x !== undefined; x = sc.next()) got.push([x.kind, JSON.parse(x.text)]);
      const want = [["resource", d.resourceSpans[0]!.resource], ...spans.map((p) => ["span", p])];
      expect(got).toEqual([...want, ...want]);
    }
  });
});
