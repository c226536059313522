import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain ES module script without type declarations
import { checkLayers, importsOf, LAYERS, layerOf } from "../scripts/check-layers.mjs";

type Check = (o?: { extra?: Record<string, string> }) => string[];
const check = checkLayers as Check;

describe("layering (scripts/check-layers.mjs)", () => {
  it("holds on the tree: every file in a layer, imports point down, no cycle", () => {
    expect(check()).toEqual([]);
  });

  it("the kernel is the lowest layer and the CLI the highest", () => {
    const names = (LAYERS as { name: string }[]).map((l) => l.name);
    expect(names[0]).toBe("kernel");
    expect(names.at(-1)).toBe("cli");
    expect(layerOf("src/sim/heap.ts")).toBe(0);
    expect(layerOf("src/cluster/engine.ts")).toBeGreaterThan(layerOf("src/policies/admission.ts"));
    expect(layerOf("src/policies/admission.ts")).toBeGreaterThan(layerOf("src/models/replica.ts"));
  });

  it("catches a deliberate back-edge: the kernel importing the gateway", () => {
    const problems = check({
      extra: {
        "src/sim/back-edge.ts": 'import type { Router } from "../policies/types.ts";\nexport type R = Router;\n',
      },
    });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("src/sim/back-edge.ts (kernel) imports src/policies/types.ts (gateway)");
  });

  it("catches models importing policies, and report importing lab", () => {
    const problems = check({
      extra: {
        "src/models/back-edge.ts":
          'import { createRouter } from "../policies/schema.ts";\nexport const f = createRouter;\n',
        "src/report/back-edge.ts": 'export const m = await import("../lab/run.ts");\n',
      },
    });
    expect(problems.some((p) => p.includes("src/models/back-edge.ts (models) imports src/policies/schema.ts"))).toBe(
      true,
    );
    expect(problems.some((p) => p.includes("src/report/back-edge.ts (report) imports src/lab/run.ts"))).toBe(true);
  });

  it("has no exceptions: a type-only import of a layer above is caught like any other", () => {
    const problems = check({
      extra: {
        "src/report/shape.ts": 'import type { DrillResult } from "../lab/drill.ts";\nexport type D = DrillResult;\n',
      },
    });
    expect(problems).toEqual([
      "src/report/shape.ts (report) imports src/lab/drill.ts (lab) (types), a layer above it: layers point down " +
        "(kernel < models < gateway < cluster < workloads < scenario < metrics < report < lab < cli)",
    ]);
  });

  it("catches an import cycle within one layer, type-only imports included", () => {
    const problems = check({
      extra: {
        "src/sim/cycle-a.ts": 'import type { B } from "./cycle-b.ts";\nexport type A = B | 1;\n',
        "src/sim/cycle-b.ts": 'import { a } from "./cycle-a.ts";\nexport type B = typeof a;\n',
      },
    });
    expect(problems).toEqual(["import cycle: src/sim/cycle-a.ts → src/sim/cycle-b.ts → src/sim/cycle-a.ts"]);
  });

  it("catches a file outside every layer", () => {
    expect(check({ extra: { "src/util/x.ts": "export const x = 1;\n" } })).toEqual([
      "src/util/x.ts belongs to no layer (add its folder to LAYERS in scripts/check-layers.mjs)",
    ]);
  });

  it("reads static, re-export, dynamic and side-effect imports, not commented-out ones", () => {
    const text = [
      'import { a } from "./a.ts";',
      'import {\n  b,\n  c,\n} from "../b.ts";',
      'export { d } from "./d.ts";',
      'const e = await import("./e.ts");',
      'import "./f.ts";',
      '// import { g } from "./g.ts";',
      '/** `import("./h.ts")` */',
      'import { z } from "zod";',
    ].join("\n");
    expect((importsOf(text) as string[]).sort()).toEqual(["../b.ts", "./a.ts", "./d.ts", "./e.ts", "./f.ts"]);
  });
});
