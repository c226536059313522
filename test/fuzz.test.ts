/**
 * Fuzzing the edges: malformed scenarios, EndpointPickerConfigs and trace lines, generated from valid bases by
 * fast-check with a fixed seed, go through the CLI's `main` in-process. Every case must end with the contract's
 * exit code — 2 and a message naming the file (and the field or line) for bad input, 0 where the mutation happens to
 * be valid — and never an internal error. The per-test timeout is the time bound: a hang fails the suite.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { main } from "../src/cli/main.ts";
import { captureOutput } from "./helpers/capture.ts";

const io = captureOutput();
const dir = mkdtempSync(join(tmpdir(), "gatelab-fuzz-"));
let n = 0;
function file(ext: string, text: string): string {
  const f = join(dir, `case-${n++}.${ext}`);
  writeFileSync(f, text);
  return f;
}

const SEED = 20261202;
const RUNS = 40;

/** Values that no numeric field accepts, or only at the edge of its range. */
const weird = fc.constantFrom<unknown>(
  -1,
  -0.5,
  0,
  1e12,
  1e300,
  -1e300,
  "four",
  "",
  null,
  true,
  [],
  [1, 2],
  {},
  { dist: "uniform", min: 9, max: 2 },
  { dist: "nope" },
  0.000001,
  "1e3",
  Number.MAX_SAFE_INTEGER,
);

function base(): Record<string, unknown> {
  return {
    name: "fuzz",
    seed: 1,
    requests: 12,
    sample_interval_s: 1,
    pools: [
      {
        model: "llama-3.1-8b-instruct",
        gpu: "H100",
        tp: 1,
        replicas: 2,
        gpu_hour_usd: 2,
        engine: { max_num_seqs: 64, max_num_batched_tokens: 2048, block_size: 16, total_kv_blocks: 4000 },
      },
    ],
    gateway: { policy: "round-robin" },
    workload: {
      type: "poisson",
      rate: 20,
      input: { dist: "uniform", min: 50, max: 400 },
      output: { dist: "constant", value: 16 },
      prefix: { groups: 3, tokens: 128 },
    },
    slos: { ttft_p95_ms: 5000, e2e_p95_ms: 30000 },
  };
}

/** Paths of the base scenario's leaves that mutations target (the last key is what the message must name). */
const PATHS: readonly (readonly (string | number)[])[] = [
  ["seed"],
  ["requests"],
  ["sample_interval_s"],
  ["pools", 0, "model"],
  ["pools", 0, "gpu"],
  ["pools", 0, "tp"],
  ["pools", 0, "replicas"],
  ["pools", 0, "gpu_hour_usd"],
  ["pools", 0, "engine", "max_num_seqs"],
  ["pools", 0, "engine", "max_num_batched_tokens"],
  ["pools", 0, "engine", "block_size"],
  ["pools", 0, "engine", "total_kv_blocks"],
  ["gateway", "policy"],
  ["workload", "rate"],
  ["workload", "input"],
  ["workload", "output"],
  ["workload", "input", "min"],
  ["workload", "input", "max"],
  ["workload", "output", "value"],
  ["workload", "prefix", "groups"],
  ["workload", "prefix", "tokens"],
  ["slos", "ttft_p95_ms"],
  ["slos", "e2e_p95_ms"],
];

function setIn(obj: Record<string, unknown>, path: readonly (string | number)[], v: unknown): void {
  let cur = obj as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (v === undefined) delete cur[last];
  else cur[last] = v;
}

/** The contract for one CLI call on bad or odd input: exit 0 or 2, a one-line `gatelab: FILE…` message, no bug. */
function expectContract(code: number, f: string): void {
  expect(io.err).not.toContain("internal error");
  expect([0, 2]).toContain(code);
  if (code === 2) expect(io.err).toContain(f);
}

describe("fuzz: malformed scenarios", () => {
  it("a weird value in any field: exit 2 naming the file and field, or a valid run", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PATHS), weird, async (path, v) => {
        io.err = "";
        io.out = "";
        const s = base();
        setIn(s, path, v);
        const f = file("yaml", stringify(s));
        const code = await main(["run", f, "--json"]);
        expectContract(code, f);
        if (code === 2) expect(io.err).toContain(String(path[path.length - 1]));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("a missing required field or an unknown one: exit 2 with its name (and a suggestion for a typo)", async () => {
    const required: readonly (readonly (string | number)[])[] = [
      ["pools"],
      ["workload"],
      ["pools", 0, "model"],
      ["pools", 0, "replicas"],
      ["workload", "type"],
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constantFrom(...required).map((p) => ({ path: p, value: undefined as unknown, typo: false })),
          fc.constantFrom(...PATHS).map((p) => ({
            path: [...p.slice(0, -1), `${String(p[p.length - 1])}x`],
            value: 1 as unknown,
            typo: true,
          })),
        ),
        async ({ path, value, typo }) => {
          io.err = "";
          const s = base();
          setIn(s, path, value);
          const f = file("yaml", stringify(s));
          const code = await main(["run", f, "--json"]);
          expectContract(code, f);
          expect(code).toBe(2);
          if (!typo) expect(io.err).toMatch(/missing field|expected/);
          else expect(io.err).toMatch(/unknown field|expected/);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("random bytes and YAML that is not a mapping: exit 2, never a crash", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.constantFrom(
            "- a\n- b\n",
            "42\n",
            "~\n",
            "{{{",
            "pools: [\n",
            "a: &x [*x]\n",
            "\u0000\u0001",
            "key: [1, 2",
          ),
        ),
        async (text) => {
          io.err = "";
          const f = file("yaml", text);
          const code = await main(["run", f, "--json"]);
          expectContract(code, f);
          expect(code).toBe(2);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

const TINY = file(
  "yaml",
  stringify({ ...base(), requests: 6, workload: { type: "poisson", rate: 10, input: 100, output: 4 } }),
);

describe("fuzz: malformed EndpointPickerConfigs", () => {
  const epp = () => ({
    apiVersion: "inference.networking.x-k8s.io/v1alpha1",
    kind: "EndpointPickerConfig",
    plugins: [{ type: "queue-scorer" }, { type: "prefix-cache-scorer" }, { type: "max-score-picker" }],
    schedulingProfiles: [
      {
        name: "default",
        plugins: [
          { pluginRef: "queue-scorer", weight: 2 },
          { pluginRef: "prefix-cache-scorer", weight: 3 },
          { pluginRef: "max-score-picker" },
        ],
      },
    ],
  });
  const mutations: readonly ((c: ReturnType<typeof epp>, v: unknown) => void)[] = [
    (c, v) => {
      (c.plugins[0] as Record<string, unknown>).type = typeof v === "string" && v !== "" ? `${v}-scorer` : v;
    },
    (c, v) => {
      (c.schedulingProfiles[0]!.plugins[1] as Record<string, unknown>).weight = v === 0 ? -1 : v;
    },
    (c, v) => {
      (c.schedulingProfiles[0]!.plugins[0] as Record<string, unknown>).pluginRef = `missing-${String(v)}`;
    },
    (c, v) => {
      (c as Record<string, unknown>).plugins = v;
    },
    (c, v) => {
      (c as Record<string, unknown>).kind = `${String(v)}Config`;
    },
    (c, v) => {
      (c.plugins[1] as Record<string, unknown>).parameters = { [`bogus${String(v)}`]: v };
    },
  ];
  it("every mutation: exit 2 naming the config file, or a valid run", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: mutations.length - 1 }), weird, async (m, v) => {
        io.err = "";
        const c = epp();
        mutations[m]!(c, v);
        const f = file("yaml", stringify(c));
        const code = await main(["run", TINY, "--epp-config", f, "--json"]);
        expectContract(code, f);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

/** One valid line per format, the header (when it has one) and the fields a mutation may break. */
const FORMATS: readonly {
  format: string;
  ext: string;
  header?: string;
  line: (fields: Record<string, unknown>) => string;
  fields: Record<string, unknown>;
}[] = [
  {
    format: "mooncake",
    ext: "jsonl",
    line: (f) => JSON.stringify(f),
    fields: { timestamp: 0, input_length: 600, output_length: 5, hash_ids: [1, 2] },
  },
  {
    format: "exgentic",
    ext: "jsonl",
    line: (f) => JSON.stringify(f),
    fields: { benchmark: "b", session_id: "s", timestamp_ms: 0, input_length: 16, output_length: 1, hash_ids: [1] },
  },
  {
    format: "azure",
    ext: "csv",
    header: "TIMESTAMP,ContextTokens,GeneratedTokens",
    line: (f) => `${f.TIMESTAMP},${f.ContextTokens},${f.GeneratedTokens}`,
    fields: { TIMESTAMP: "2023-11-16 18:17:03.9799600", ContextTokens: 100, GeneratedTokens: 10 },
  },
  {
    format: "burstgpt",
    ext: "csv",
    header: "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type",
    line: (f) => `${f.Timestamp},ChatGPT,${f.req},${f.resp},${f.total},Conversation log`,
    fields: { Timestamp: 5, req: 472, resp: 18, total: 490 },
  },
  {
    format: "jsonl",
    ext: "jsonl",
    header: '{"format":"gatelab-trace/1"}',
    line: (f) => JSON.stringify(f),
    fields: { arrival: 0, input_tokens: 4, output_tokens: 1 },
  },
];

describe("fuzz: malformed trace lines", () => {
  it("a weird value in any field of the second line: exit 2 naming file:line, or a valid read", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: FORMATS.length - 1 }),
        fc.nat(),
        fc.oneof(weird, fc.constantFrom<unknown>(-4, "x", 1e15, "2023-02-30 10:00:00", 3.5)),
        async (fi, ki, v) => {
          io.err = "";
          const t = FORMATS[fi]!;
          const keys = Object.keys(t.fields);
          const k = keys[ki % keys.length]!;
          const bad = { ...t.fields, [k]: v };
          const text = [...(t.header ? [t.header] : []), t.line(t.fields), t.line(bad)].join("\n");
          const f = file(t.ext, `${text}\n`);
          const code = await main(["trace", "stats", f, "--format", t.format, "--json"]);
          expectContract(code, f);
          if (code === 2) expect(io.err).toMatch(new RegExp(`${f.replaceAll(".", "\\.")}(:\\d+)?: `));
        },
      ),
      { seed: SEED, numRuns: RUNS * 2 },
    );
  });

  it("truncated, binary and empty traces: exit 2", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: FORMATS.length - 1 }),
        fc.oneof(fc.constant(""), fc.string({ maxLength: 60 }), fc.constantFrom("\u0000\u0000\u0000", "{", "a,b\n")),
        async (fi, junk) => {
          io.err = "";
          const t = FORMATS[fi]!;
          const f = file(t.ext, `${t.header ? `${t.header}\n` : ""}${junk}`);
          const code = await main(["trace", "stats", f, "--format", t.format, "--json"]);
          expectContract(code, f);
          expect(code).toBe(2);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

describe("fuzz: command-line options", () => {
  const opts: readonly string[][] = [
    ["run", TINY, "--seed"],
    ["run", TINY, "--policy"],
    ["compare", TINY, "--no-report", "--policies"],
    ["drill", TINY, "--spike"],
    ["drill", TINY, "--at"],
    ["drill", TINY, "--for"],
    ["drill", TINY, "--ttft-p95"],
    ["check", TINY, "--tolerance"],
    ["trace", "stats", TINY, "--window"],
    ["trace", "stats", TINY, "--cache-tokens"],
    ["sweep", TINY, "--param"],
  ];
  it("a weird option value: exit 2 (or a valid run), never a bug", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...opts),
        fc.constantFrom("-1", "0", "x", "", "1e12", "NaN", "Infinity", "5:2", "=", "4x", "1e-9", "--json"),
        async (argv, v) => {
          io.err = "";
          const code = await main([...argv, v, ...(argv[0] === "sweep" ? ["--out", join(dir, `sw${n++}`)] : [])]);
          expect(io.err).not.toContain("internal error");
          expect([0, 1, 2]).toContain(code);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
