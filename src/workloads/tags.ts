import { z } from "zod";
import { InputError } from "../errors.ts";
import type { Rng } from "../sim/rng.ts";
import { cumulative, pickCumulative, zipfWeights } from "./distributions.ts";
import type { Draft } from "./types.ts";

/** A fixed string, or a weighted choice among strings (equal weights if `weights` is absent). */
export const ChoiceSchema = z.union([
  z.string().min(1),
  z
    .strictObject({
      values: z.array(z.string().min(1)).min(1),
      weights: z.array(z.number().nonnegative()).optional(),
    })
    .refine((c) => c.weights === undefined || c.weights.length === c.values.length, {
      message: "weights must have as many entries as values",
      path: ["weights"],
    }),
]);
export type Choice = z.infer<typeof ChoiceSchema>;

/**
 * LoRA adapter per request: a fixed name, or one of `names` (or `count` generated names `prefix0`, `prefix1`, …)
 * drawn with a popularity law: `uniform`; `zipf` (weight of rank r ∝ 1/(r+1)^zipf_s, names in rank order); or
 * `servegen`, weights given by the request volume of ServeGen's clients (client = adapter; see `servegen.ts`), whose
 * weights the builder fills in as `weights`. `fraction` of the requests carry an adapter (default all).
 */
export const AdapterSchema = z.union([
  z.string().min(1),
  z.strictObject({
    names: z.array(z.string().min(1)).min(1).optional(),
    count: z.number().int().positive().optional(),
    prefix: z.string().default("lora-"),
    popularity: z.enum(["uniform", "zipf", "servegen"]).default("uniform"),
    zipf_s: z.number().positive().default(1),
    /** ServeGen folder of `chunk-<client>-trace.csv` files (popularity: servegen), relative to the scenario. */
    servegen: z.string().optional(),
    /** Explicit weights (one per name). */
    weights: z.array(z.number().nonnegative()).optional(),
    fraction: z.number().min(0).max(1).default(1),
  }),
]);
export type AdapterSpec = z.infer<typeof AdapterSchema>;

/** Per-request attributes every generator accepts. */
export const TagFields = {
  tenant: ChoiceSchema.optional(),
  /** SLO class (e.g. `interactive`, `batch`); must match a class of the scenario's `slos`. */
  slo_class: ChoiceSchema.optional(),
  /** EPP priority: > 0 critical, 0 standard, < 0 sheddable. */
  priority: z.number().int().optional(),
  /** Model name requested. */
  model: z.string().min(1).optional(),
  adapter: AdapterSchema.optional(),
};

export interface TagSpec {
  tenant?: Choice | undefined;
  slo_class?: Choice | undefined;
  priority?: number | undefined;
  model?: string | undefined;
  adapter?: AdapterSpec | undefined;
}

function chooser(c: Choice, rng: Rng): () => string {
  if (typeof c === "string") return () => c;
  const values = c.values;
  if (values.length === 1) {
    const v = values[0]!;
    return () => v;
  }
  if (c.weights === undefined) return () => values[rng.int(values.length)]!;
  const cum = cumulative(c.weights);
  return () => values[pickCumulative(cum, rng.next())]!;
}

/** Adapter names and their weights for a spec (`servegenWeights` supplies the ServeGen popularity). */
export function adapterTable(
  a: Exclude<AdapterSpec, string>,
  servegenWeights?: () => number[],
): { names: string[]; weights: number[] | undefined } {
  let weights: number[] | undefined = a.weights;
  if (a.popularity === "servegen" && weights === undefined) {
    if (!servegenWeights || !a.servegen)
      throw new InputError("adapter.servegen: expected the ServeGen client folder for popularity: servegen");
    weights = servegenWeights();
  }
  const n = a.names?.length ?? a.count ?? weights?.length ?? 1;
  const names = a.names ?? Array.from({ length: n }, (_, i) => `${a.prefix}${i}`);
  if (weights === undefined && a.popularity === "zipf") weights = zipfWeights(names.length, a.zipf_s);
  if (weights !== undefined && weights.length !== names.length) {
    // ServeGen supplies one weight per client: keep the heaviest `names.length` (or pad with zeros).
    const sorted = [...weights].sort((x, y) => y - x);
    weights = names.map((_, i) => sorted[i] ?? 0);
  }
  return { names, weights };
}

/**
 * A function that stamps tenant, SLO class, priority, model and adapter on a draft. Draws only from `rng` (the
 * component's "tags" stream) and only for attributes that are random.
 */
export function makeTagger(
  spec: TagSpec,
  rng: Rng,
  servegenWeights?: () => number[],
): ((d: Draft) => void) | undefined {
  const steps: ((d: Draft) => void)[] = [];
  if (spec.tenant !== undefined) {
    const f = chooser(spec.tenant, rng);
    steps.push((d) => {
      d.tenant = f();
    });
  }
  if (spec.slo_class !== undefined) {
    const f = chooser(spec.slo_class, rng);
    steps.push((d) => {
      d.sloClass = f();
    });
  }
  if (spec.priority !== undefined) {
    const p = spec.priority;
    steps.push((d) => {
      d.priority = p;
    });
  }
  if (spec.model !== undefined) {
    const m = spec.model;
    steps.push((d) => {
      d.model = m;
    });
  }
  if (spec.adapter !== undefined) {
    const a = spec.adapter;
    if (typeof a === "string") {
      steps.push((d) => {
        d.adapter = a;
      });
    } else {
      const t = adapterTable(a, servegenWeights);
      const pick = chooser(t.weights ? { values: t.names, weights: t.weights } : { values: t.names }, rng);
      const fraction = a.fraction;
      steps.push((d) => {
        if (fraction >= 1 || rng.next() < fraction) d.adapter = pick();
      });
    }
  }
  if (steps.length === 0) return undefined;
  if (steps.length === 1) return steps[0];
  return (d) => {
    for (const s of steps) s(d);
  };
}
