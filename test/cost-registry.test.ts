import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { familyFor, MODEL_KINDS } from "../src/lab/fit-families.ts";
import {
  CALIBRATED_DIR,
  COST_MODEL_KINDS,
  COST_MODELS,
  CostModelSchema,
  costModelEntry,
  createCostModel,
  parseCoefficientFile,
} from "../src/models/cost-factory.ts";

describe("cost-model registry", () => {
  it("each entry's key is its schema's `type` literal, and the scenario union accepts every kind", () => {
    for (const k of COST_MODEL_KINDS) {
      expect(COST_MODELS[k].schema.shape.type.value).toBe(k);
      expect(CostModelSchema.safeParse({ type: k }).success).toBe(true);
    }
    expect(CostModelSchema.safeParse({ type: "nonesuch" }).success).toBe(false);
  });

  it("a lookup of an unknown kind returns undefined (no throw)", () => {
    expect(costModelEntry("nonesuch")).toBeUndefined();
    expect(costModelEntry("toString")).toBeUndefined();
    expect(costModelEntry("kernel")).toBe(COST_MODELS.kernel);
  });

  it("the calibratable kinds are the entries with a family, and each family has as many priors as terms", () => {
    expect(MODEL_KINDS).toEqual(COST_MODEL_KINDS.filter((k) => COST_MODELS[k].calibration !== undefined));
    const e = { id: "x", model: "llama-2-7b-hf", hardware: "H100", tp: 1 };
    for (const k of MODEL_KINDS) {
      const f = familyFor(k, [e]);
      expect(f.kind).toBe(k);
      expect(f.prior.length).toBe(f.terms.length);
      expect(f.priorStd.length).toBe(f.terms.length);
    }
  });

  it("every shipped calibrated set passes its kind's coefficient-file check", () => {
    const files = readdirSync(CALIBRATED_DIR).filter((f) => f.endsWith(".json"));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const set = parseCoefficientFile(readFileSync(join(CALIBRATED_DIR, f), "utf8"), f);
      expect(COST_MODEL_KINDS as readonly string[]).toContain(set.model);
    }
  });

  it("a coefficient file of an unknown kind or with the wrong β length names the field", () => {
    const base = { format: "gatelab-coefficients/1", name: "t", source: "s", alpha_us: [0, 0, 0] };
    expect(() => parseCoefficientFile(JSON.stringify({ ...base, model: "nonesuch" }), "f.json")).toThrow(
      /^f\.json: model: expected one of [a-z, ]*kernel[a-z, ]*, got "nonesuch"$/,
    );
    expect(() => parseCoefficientFile(JSON.stringify({ ...base, model: "physics", beta: [1] }), "f.json")).toThrow(
      "f.json: beta: a physics coefficient file needs 11 beta values",
    );
    expect(() => parseCoefficientFile(JSON.stringify({ ...base, model: "linear" }), "f.json")).toThrow(
      "f.json: linear: a linear coefficient file needs at least one fit",
    );
  });

  it("a linear file's rows naming a model the catalog does not know are skipped, not an error", () => {
    const dir = mkdtempSync(join(tmpdir(), "gatelab-linear-"));
    const row = (model: string, beta: number[]) => ({ model, gpu: "H100", tp: 1, beta_us: beta });
    const file = {
      format: "gatelab-coefficients/1",
      name: "t",
      model: "linear",
      source: "s",
      alpha_us: [0, 0, 0],
      linear: [row("no-such-model", [1, 1, 1]), row("llama-2-7b-hf", [5000, 20, 100])],
    };
    writeFileSync(join(dir, "c.json"), JSON.stringify(file));
    const target = { model: "llama-2-7b-hf", gpu: "H100", tp: 1, baseDir: dir };
    const m = createCostModel({ type: "linear", coefficients: "c.json" }, target);
    expect(m.source).toContain("t (s)");
    expect(() => createCostModel({ type: "linear", coefficients: "c.json" }, { ...target, tp: 2 })).toThrow(
      "c.json has no linear fit for llama-2-7b-hf on H100 TP2: no-such-model H100 TP1; llama-2-7b-hf H100 TP1",
    );
  });
});
