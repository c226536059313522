import { describe, expect, it } from "vitest";
import { formatZodError, ScenarioSchema } from "../src/scenario.ts";
import { closest, didYouMean } from "../src/suggest.ts";

describe("did you mean", () => {
  it("suggests the closest name within two edits, case-insensitively", () => {
    expect(closest("replicaz", ["replicas", "model", "gpu"])).toBe("replicas");
    expect(closest("MAX_NUM_SEQ", ["max_num_seqs", "block_size"])).toBe("max_num_seqs");
    expect(closest("zzz", ["replicas", "model"])).toBeUndefined();
  });

  it("suggests the one field that is the name plus a unit suffix", () => {
    expect(closest("ttft_p95", ["ttft_p95_ms", "e2e_p95_ms"])).toBe("ttft_p95_ms");
    expect(didYouMean("duration", ["duration_s", "requests"])).toBe('; did you mean "duration_s"?');
    // Two candidates extend it: no guess.
    expect(closest("ttft", ["ttft_p95_ms", "ttft_p99_ms"])).toBeUndefined();
  });

  it("scenario errors name the unknown field with a suggestion and a missing field with its type", () => {
    const raw = {
      requests: 10,
      pools: [{ model: "llama-3.1-8b-instruct" }],
      slos: { ttft_p95: 100 },
      workload: { type: "poisson", rate: 1, input: 10, output: 10 },
    };
    const r = ScenarioSchema.safeParse(raw);
    expect(r.success).toBe(false);
    const text = formatZodError(r.error!, "s.yaml", undefined, undefined);
    expect(text).toContain('s.yaml: slos.ttft_p95: unknown field "ttft_p95"; did you mean "ttft_p95_ms"?');
    expect(text).toContain("s.yaml: pools.0.replicas: missing field (expected a number)");
    expect(text).not.toContain("received undefined");
  });
});
