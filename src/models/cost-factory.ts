/**
 * The scenario's `cost_model` field and the factory that turns it into a `CostModel` for one replica shape.
 *
 *   cost_model:                       # absent → { type: physics } with the iter29 coefficients
 *     type: physics
 *     coefficients: blis-trained-physics-iter29      # or { alpha: [a0, a1, a2], beta: [11 numbers] } (µs)
 *     prefill_attention: blis | causal               # optional, see cost-physics.ts
 *     geometry: blis | config                        # optional, see cost-physics.ts
 *     overheads: { pre_queue_ms: 5 }                 # optional, each field overrides one request overhead
 *
 *   cost_model:
 *     type: linear
 *     vllm_version: "0.11.0"          # optional: pick that fit from data/blis/blackbox_coefficients.csv
 *     beta: [6472.01, 19.797, 304.40] # optional explicit fit (µs); alpha then defaults to [0, 0, 0]
 *     alpha: [10326.27, 0, 0]         # optional; without beta it overrides the CSV row's α
 */
import { z } from "zod";
import { type GpuSpec, type ModelSpec, resolveGpu, resolveModel } from "./catalog.ts";
import type { CostModel, RequestOverheads } from "./cost.ts";
import { LinearCostModel, linearCoefficients, linearOverheads, type Triple } from "./cost-linear.ts";
import {
  BLIS_TRAINED_PHYSICS_ITER29,
  type PhysicsCoefficients,
  PhysicsCostModel,
  physicsOverheads,
} from "./cost-physics.ts";

const finite = z.number().refine(Number.isFinite, "must be a finite number");
const nonNegative = finite.refine((x) => x >= 0, "must be ≥ 0");
const triple = z.tuple([finite, finite, finite]);

/** Per-request overheads in milliseconds; each given field replaces the model's own value. */
export const OverheadsSchema = z.strictObject({
  pre_queue_ms: nonNegative.optional(),
  pre_queue_per_input_token_ms: nonNegative.optional(),
  per_output_token_ms: nonNegative.optional(),
  post_decode_ms: nonNegative.optional(),
});

export const PhysicsCostModelSchema = z.strictObject({
  type: z.literal("physics"),
  coefficients: z
    .union([
      z.literal(BLIS_TRAINED_PHYSICS_ITER29.name),
      z.strictObject({
        alpha: z.tuple([nonNegative, nonNegative, nonNegative]),
        beta: z.array(nonNegative).length(11, "beta must have 11 values: β1a β2a β3 β4 β5 β6 β7 β8 β1b β2b βEP"),
      }),
    ])
    .optional(),
  prefill_attention: z.enum(["blis", "causal"]).optional(),
  geometry: z.enum(["blis", "config"]).optional(),
  overheads: OverheadsSchema.optional(),
});

export const LinearCostModelSchema = z
  .strictObject({
    type: z.literal("linear"),
    vllm_version: z.string().min(1).optional(),
    beta: triple.optional(),
    alpha: triple.optional(),
    overheads: OverheadsSchema.optional(),
  })
  .refine((c) => !(c.beta !== undefined && c.vllm_version !== undefined), {
    message: "give either beta (an explicit fit) or vllm_version (a fit from the CSV), not both",
    path: ["vllm_version"],
  });

export const CostModelSchema = z.discriminatedUnion("type", [PhysicsCostModelSchema, LinearCostModelSchema]);

/** The `cost_model` field as written in a scenario. */
export type CostModelInput = z.input<typeof CostModelSchema>;
/** The `cost_model` field after validation. */
export type CostModelConfig = z.output<typeof CostModelSchema>;

export interface CostModelTarget {
  readonly model: string | ModelSpec;
  readonly gpu: string | GpuSpec;
  readonly tp: number;
}

function applyOverrides(base: RequestOverheads, o: z.output<typeof OverheadsSchema> | undefined): RequestOverheads {
  if (o === undefined) return base;
  return {
    preQueue: o.pre_queue_ms !== undefined ? o.pre_queue_ms / 1000 : base.preQueue,
    preQueuePerInputToken:
      o.pre_queue_per_input_token_ms !== undefined ? o.pre_queue_per_input_token_ms / 1000 : base.preQueuePerInputToken,
    perOutputToken: o.per_output_token_ms !== undefined ? o.per_output_token_ms / 1000 : base.perOutputToken,
    postDecode: o.post_decode_ms !== undefined ? o.post_decode_ms / 1000 : base.postDecode,
  };
}

/**
 * Builds the cost model of one replica (model, GPU, TP) from a scenario's `cost_model` (validated here; absent =
 * physics with BLIS iter29). Throws on invalid configuration, unknown model or GPU, or a missing CSV fit.
 */
export function createCostModel(cfg: CostModelInput | undefined, target: CostModelTarget): CostModel {
  const parsed: CostModelConfig = CostModelSchema.parse(cfg ?? { type: "physics" });
  const model = resolveModel(target.model);
  const gpu = resolveGpu(target.gpu);

  if (parsed.type === "physics") {
    let coefficients: PhysicsCoefficients = BLIS_TRAINED_PHYSICS_ITER29;
    if (parsed.coefficients !== undefined && typeof parsed.coefficients !== "string") {
      const b = parsed.coefficients.beta;
      coefficients = {
        name: "custom",
        alpha: parsed.coefficients.alpha,
        beta: [b[0]!, b[1]!, b[2]!, b[3]!, b[4]!, b[5]!, b[6]!, b[7]!, b[8]!, b[9]!, b[10]!],
        source: "scenario cost_model.coefficients",
      };
    }
    return new PhysicsCostModel({
      model,
      gpu,
      tp: target.tp,
      coefficients,
      ...(parsed.prefill_attention !== undefined ? { prefillAttention: parsed.prefill_attention } : {}),
      ...(parsed.geometry !== undefined ? { geometry: parsed.geometry } : {}),
      ...(parsed.overheads !== undefined
        ? { overheads: applyOverrides(physicsOverheads(coefficients), parsed.overheads) }
        : {}),
    });
  }

  let beta: Triple;
  let alpha: Triple;
  let source: string;
  if (parsed.beta !== undefined) {
    beta = parsed.beta;
    alpha = parsed.alpha ?? [0, 0, 0];
    source = "scenario cost_model.beta/alpha";
  } else {
    const row = linearCoefficients(model, gpu.name, target.tp, parsed.vllm_version);
    beta = row.beta;
    alpha = parsed.alpha ?? row.alpha;
    source = row.source + (parsed.alpha !== undefined ? ", alpha from the scenario" : "");
  }
  return new LinearCostModel({
    beta,
    alpha,
    source,
    ...(parsed.overheads !== undefined ? { overheads: applyOverrides(linearOverheads(alpha), parsed.overheads) } : {}),
  });
}
