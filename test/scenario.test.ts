import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../src/errors.ts";
import { buildPool } from "../src/lab/pools.ts";
import { loadScenario, parseScenario } from "../src/scenario.ts";
import { DEFAULT_SCENARIO_YAML } from "../src/scenarios-embedded.ts";

const base = `name: t
seed: 1
requests: 10
pools:
  - model: llama-3.1-8b-instruct
    replicas: 2
workload:
  type: poisson
  rate: 5
  input: 100
  output: 10
`;

function err(text: string): string {
  try {
    parseScenario(text, "s.yaml", ".");
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  throw new Error("expected an InputError");
}

describe("scenario files", () => {
  it("the embedded default is scenarios/default.yaml byte for byte (run `npm run embed` after editing it)", () => {
    expect(DEFAULT_SCENARIO_YAML).toBe(readFileSync(new URL("../scenarios/default.yaml", import.meta.url), "utf8"));
    const s = loadScenario().scenario;
    expect(s.pools[0]!.replicas).toBe(4);
  });

  it("fills vLLM's defaults for engine knobs", () => {
    const s = parseScenario(base, "s.yaml", ".").scenario;
    expect(s.pools[0]!.engine).toMatchObject({
      defaults: "vllm",
      block_size: 16,
      gpu_memory_utilization: 0.9,
      scheduling_policy: "fcfs",
      async_scheduling: true,
    });
    expect(s.gateway.scrape_interval_ms).toBe(50);
  });

  it("takes vllm serve's batch limits for the pool's GPU, or the legacy 2048 / 256, unless given", () => {
    const limits = (gpu: string, engine = "") => {
      const text = base.replace("    replicas: 2", `    replicas: 2\n    gpu: ${gpu}${engine}`);
      const e = buildPool(parseScenario(text, "s.yaml", ".").scenario.pools[0]!, 0).engine;
      return [e.maxNumBatchedTokens, e.maxNumSeqs];
    };
    expect(limits("H100")).toEqual([8192, 1024]);
    expect(limits("H200")).toEqual([8192, 1024]);
    expect(limits("A100-80GB")).toEqual([2048, 256]);
    expect(limits("L40S")).toEqual([2048, 256]);
    expect(limits("H100", "\n    engine: { defaults: vllm-legacy }")).toEqual([2048, 256]);
    expect(limits("H100", "\n    engine: { max_num_batched_tokens: 512 }")).toEqual([512, 512]);
    expect(limits("H100", "\n    engine: { max_num_seqs: 64 }")).toEqual([8192, 64]);
    expect(err(base.replace("    replicas: 2", "    replicas: 2\n    engine: { defaults: vllm-0.4 }"))).toMatch(
      /^s\.yaml:7: pools\.0\.engine\.defaults: expected one of vllm, vllm-legacy, got "vllm-0\.4"/,
    );
  });

  it("names the line and field of an unknown field", () => {
    expect(err(base.replace("    replicas: 2", "    replicas: 2\n    replicaz: 3"))).toBe(
      's.yaml:7: pools.0.replicaz: unknown field "replicaz"; did you mean "replicas"?',
    );
  });

  it("names the line and field of a wrong type", () => {
    expect(err(base.replace("replicas: 2", "replicas: four"))).toBe(
      's.yaml:6: pools.0.replicas: expected a number, got "four"',
    );
  });

  it("reports a missing required field at its parent", () => {
    expect(err(base.replace("  - model: llama-3.1-8b-instruct\n", "  - gpu: H100\n"))).toMatch(
      /^s\.yaml:5: pools\.0\.model: /,
    );
  });

  it("reports YAML syntax errors with line and column", () => {
    expect(err("pools: [\n")).toMatch(/^s\.yaml:\d+:\d+: invalid YAML: /);
  });

  it("requires a length for the run", () => {
    expect(err(base.replace("requests: 10\n", ""))).toMatch(/expected `requests` or `duration_s`/);
  });

  it("a missing file is a clear error", () => {
    expect(() => loadScenario("/nonexistent/x.yaml")).toThrow(
      "/nonexistent/x.yaml: cannot read the scenario file (no such file)",
    );
  });

  it("loads from disk with paths relative to the file", () => {
    const dir = mkdtempSync(join(tmpdir(), "gl-"));
    writeFileSync(join(dir, "s.yaml"), base);
    const l = loadScenario(join(dir, "s.yaml"));
    expect(l.baseDir).toBe(dir);
  });
});
