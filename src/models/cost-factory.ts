/**
 * The cost-model registry (`COST_MODELS`: one entry per `cost_model.type`, with its schema, builder, coefficient-file
 * shape, calibration family and docs line; src/models/cost-coefficients.ts `CostModelEntry`) and the factory that
 * turns a scenario's `cost_model` into a `CostModel` for one replica shape.
 *
 *   cost_model:                       # absent → { type: roofline } with the shipped per-GPU coefficients
 *     type: roofline                  # src/models/cost-roofline.ts
 *     coefficients: ./coeffs.json     # optional: a `gatelab calibrate --model roofline` file or a shipped set name
 *     efficiency_set: splitwise-2023  # optional: data/roofline/NAME.json (default: coefficients.json)
 *     overheads: { pre_queue_ms: 5 }
 *
 *   cost_model:
 *     type: physics                   # BLIS trained-physics; bounded below by the roofline
 *     coefficients: blis-trained-physics-iter29
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
 *     coefficients: ./coeffs.json     # optional: a `gatelab calibrate --model linear` file (or a named set)
 *
 *   cost_model:                       # kernel tables (src/models/cost-kernel.ts)
 *     type: kernel
 *     profile: h100-llama-2-7b-hf-tp1 # optional: a data/blis/kernel_profiles stem or a .yaml path
 *     coefficients: ./coeffs.json     # optional: a calibration file, a named set, or { alpha: [3], beta: [6] }
 *     decode_attention: fit | table   # optional, see cost-kernel.ts
 *
 * Coefficient files (`gatelab calibrate --out`, schema `CoefficientFileSchema` in cost-coefficients.ts) are referenced by a path ending in
 * `.json` (relative to `CostModelTarget.baseDir`, default the working directory) or, for the shipped ones in
 * `data/calibrated/`, by their `name`. Physics accepts them too (`coefficients: ./coeffs.json`).
 *
 * Every model is bounded below by the roofline of its (model, GPU, TP) (`BoundedCostModel`): no step is priced faster
 * than its FLOPs at peak or its minimum bytes at full HBM bandwidth (DESIGN.md §5).
 */
import { z } from "zod";
import { InputError } from "../errors.ts";
import { findGpu, findModel, type GpuSpec, type ModelSpec, resolveGpu, resolveModel } from "./catalog.ts";
import type { CostModel } from "./cost.ts";
import { kernelFamily, linearFamily, physicsFamily, ROOFLINE_TERMS, rooflineFamily } from "./cost-calibration.ts";
import {
  applyOverrides,
  type CoefficientFile,
  type CoefficientShape,
  type CostModelEntry,
  calibratedSets,
  checkCoefficientShape,
  defineCostModel,
  knownRef,
  nonNegative,
  OverheadsSchema,
  parseCoefficientJson,
  resolveCoefficientFile,
  triple,
} from "./cost-coefficients.ts";
import {
  KERNEL_RAW_TABLES,
  KERNEL_TERM_COUNT,
  type KernelCoefficients,
  KernelCostModel,
  kernelOverheads,
} from "./cost-kernel.ts";
import { LinearCostModel, linearCoefficients, linearOverheads, type Triple } from "./cost-linear.ts";
import {
  BLIS_TRAINED_PHYSICS_ITER29,
  type PhysicsCoefficients,
  PhysicsCostModel,
  physicsOverheads,
} from "./cost-physics.ts";
import {
  BoundedCostModel,
  ROOFLINE_CALIBRATION_BASE,
  ROOFLINE_EFFICIENCY_SETS,
  RooflineBound,
  type RooflineCoefficients,
  RooflineCostModel,
  type RooflineScales,
  rooflineCoefficientsFor,
  rooflineEfficiencySet,
  rooflineOverheads,
  withEngineStack,
} from "./cost-roofline.ts";

export { ROOFLINE_TERMS } from "./cost-calibration.ts";
export {
  CALIBRATED_DIR,
  type CoefficientFile,
  CoefficientFileSchema,
  calibratedSets,
  OverheadsSchema,
} from "./cost-coefficients.ts";

/** The shipped default for the kernel model (fitted on the 7 H100 vLLM runs; docs/fidelity.md). */
export const DEFAULT_KERNEL_SET = "gatelab-h100-vllm-0.15.1-kernel";

function kernelCoefficientsOf(f: CoefficientFile): KernelCoefficients {
  const b = f.beta!;
  return { name: f.name, alpha: f.alpha_us, beta: [...b], source: f.source };
}

function physicsCoefficientsOf(f: CoefficientFile): PhysicsCoefficients {
  const b = f.beta!;
  return {
    name: f.name,
    alpha: f.alpha_us,
    beta: [b[0]!, b[1]!, b[2]!, b[3]!, b[4]!, b[5]!, b[6]!, b[7]!, b[8]!, b[9]!, b[10]!],
    source: f.source,
  };
}

export const ROOFLINE_TERM_COUNT = ROOFLINE_TERMS.length;

/** The scales and overhead θ of a calibrated roofline file. */
export function rooflineThetaOf(f: CoefficientFile): {
  scales: RooflineScales;
  perLayer: number;
  perRequest: number;
  perStep: number;
  perMoeLayer: number;
} {
  const b = f.beta!;
  return {
    scales: { compute: b[0]!, memory: b[1]!, comm: b[2]!, commLatency: b[3]! },
    perLayer: b[4]!,
    perRequest: b[5]!,
    perStep: b[6]!,
    perMoeLayer: b[7]!,
  };
}

// --- the entries ------------------------------------------------------------------------------------------------

const ROOFLINE_SHAPE: CoefficientShape = { beta: ROOFLINE_TERM_COUNT };

const roofline = defineCostModel({
  schema: z.strictObject({
    type: z.literal("roofline"),
    coefficients: z
      .string()
      .refine(knownRef("roofline"), "expected a shipped roofline set or a coefficient file (.json)")
      .optional(),
    /**
     * Which per-GPU efficiency file prices the step (data/roofline/); calibrated files scale `default`
     * (ROOFLINE_CALIBRATION_BASE).
     */
    efficiency_set: z.enum(ROOFLINE_EFFICIENCY_SETS).optional(),
    overheads: OverheadsSchema.optional(),
  }),
  build(parsed, { model, gpu, tp, baseDir, enforceEager, disableCustomAllReduce }) {
    // vLLM --enforce-eager / --disable-custom-all-reduce: how the step's all-reduces are launched (withEngineStack).
    const stack = (c: RooflineCoefficients) => withEngineStack(c, { enforceEager, disableCustomAllReduce });
    if (parsed.coefficients === undefined) {
      const base = stack(rooflineCoefficientsFor(gpu, rooflineEfficiencySet(parsed.efficiency_set)));
      return new RooflineCostModel({
        model,
        gpu,
        tp,
        coefficients: base,
        ...(parsed.overheads !== undefined
          ? { overheads: applyOverrides(rooflineOverheads(base), parsed.overheads) }
          : {}),
      });
    }
    // Calibration files (θ) scale the set they were fitted on: the default set (ROOFLINE_CALIBRATION_BASE) unless
    // efficiency_set says otherwise.
    const base = stack(
      rooflineCoefficientsFor(gpu, rooflineEfficiencySet(parsed.efficiency_set ?? ROOFLINE_CALIBRATION_BASE)),
    );
    const f = resolveCoefficientFile(parsed.coefficients, "roofline", ROOFLINE_SHAPE, baseDir);
    const th = rooflineThetaOf(f);
    const c = {
      ...base,
      per_layer_us: th.perLayer,
      per_request_us: th.perRequest,
      per_step_us: th.perStep,
      per_moe_layer_us: th.perMoeLayer,
      alpha_us: f.alpha_us,
    };
    return new RooflineCostModel({
      model,
      gpu,
      tp,
      coefficients: c,
      scales: th.scales,
      setName: f.name,
      ...(parsed.overheads !== undefined ? { overheads: applyOverrides(rooflineOverheads(c), parsed.overheads) } : {}),
    });
  },
  // The roofline model applies the bound itself.
  floored: () => false,
  pricesEngineStack: true,
  coefficients: ROOFLINE_SHAPE,
  calibration: { family: () => rooflineFamily() },
  docs:
    "Per-operator roofline of the model's FLOPs and bytes on the GPU with per-GPU efficiencies " +
    "(data/roofline/coefficients.json); the default",
});

const PHYSICS_BETA = 11;

const physics = defineCostModel({
  schema: z.strictObject({
    type: z.literal("physics"),
    coefficients: z
      .union([
        z
          .string()
          .refine(
            (v) => v === BLIS_TRAINED_PHYSICS_ITER29.name || knownRef("physics")(v),
            `expected ${BLIS_TRAINED_PHYSICS_ITER29.name}, a shipped physics set or a coefficient file (.json)`,
          ),
        z.strictObject({
          alpha: z.tuple([nonNegative, nonNegative, nonNegative]),
          beta: z
            .array(nonNegative)
            .length(PHYSICS_BETA, "beta must have 11 values: β1a β2a β3 β4 β5 β6 β7 β8 β1b β2b βEP"),
        }),
      ])
      .optional(),
    prefill_attention: z.enum(["blis", "causal"]).optional(),
    geometry: z.enum(["blis", "config"]).optional(),
    /**
     * false: BLIS's formula as is, without the roofline floor — only to reproduce BLIS's own numbers (its prefill is
     * 0.15 × compute, below what the hardware can do). Default true.
     */
    roofline_floor: z.boolean().optional(),
    overheads: OverheadsSchema.optional(),
  }),
  build(parsed, { model, gpu, tp, baseDir }) {
    let coefficients: PhysicsCoefficients = BLIS_TRAINED_PHYSICS_ITER29;
    if (typeof parsed.coefficients === "string" && parsed.coefficients !== BLIS_TRAINED_PHYSICS_ITER29.name) {
      coefficients = physicsCoefficientsOf(
        resolveCoefficientFile(parsed.coefficients, "physics", { beta: PHYSICS_BETA }, baseDir),
      );
    } else if (parsed.coefficients !== undefined && typeof parsed.coefficients !== "string") {
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
      tp,
      coefficients,
      ...(parsed.prefill_attention !== undefined ? { prefillAttention: parsed.prefill_attention } : {}),
      ...(parsed.geometry !== undefined ? { geometry: parsed.geometry } : {}),
      ...(parsed.overheads !== undefined
        ? { overheads: applyOverrides(physicsOverheads(coefficients), parsed.overheads) }
        : {}),
    });
  },
  // Physics may opt out of the floor to reproduce BLIS.
  floored: (parsed) => parsed.roofline_floor !== false,
  coefficients: { beta: PHYSICS_BETA },
  calibration: { family: () => physicsFamily() },
  docs: "BLIS trained-physics step formula (iter29 coefficients), bounded below by the roofline",
});

const linear = defineCostModel({
  schema: z
    .strictObject({
      type: z.literal("linear"),
      vllm_version: z.string().min(1).optional(),
      beta: triple.optional(),
      alpha: triple.optional(),
      coefficients: z
        .string()
        .refine(knownRef("linear"), "expected a shipped linear set or a coefficient file (.json)")
        .optional(),
      overheads: OverheadsSchema.optional(),
    })
    .refine((c) => !(c.beta !== undefined && c.vllm_version !== undefined), {
      message: "give either beta (an explicit fit) or vllm_version (a fit from the CSV), not both",
      path: ["vllm_version"],
    })
    .refine((c) => !(c.coefficients !== undefined && (c.beta !== undefined || c.vllm_version !== undefined)), {
      message: "give either coefficients (a calibration file) or beta / vllm_version, not both",
      path: ["coefficients"],
    }),
  build(parsed, { model, gpu, tp, baseDir }) {
    let beta: Triple;
    let alpha: Triple;
    let source: string;
    if (parsed.coefficients !== undefined) {
      const f = resolveCoefficientFile(parsed.coefficients, "linear", { rows: true }, baseDir);
      const gpuName = gpu.name;
      // Rows naming a model or GPU the catalog does not know fit nothing here.
      const row = f.linear!.find(
        (r) => findModel(r.model) === model && findGpu(r.gpu)?.name === gpuName && r.tp === tp,
      );
      if (row === undefined) {
        const have = f.linear!.map((r) => `${r.model} ${r.gpu} TP${r.tp}`).join("; ");
        throw new InputError(
          `${parsed.coefficients} has no linear fit for ${model.name} on ${gpuName} TP${tp}: ${have}`,
        );
      }
      beta = row.beta_us;
      alpha = parsed.alpha ?? row.alpha_us ?? f.alpha_us;
      source = `${f.name} (${f.source})`;
    } else if (parsed.beta !== undefined) {
      beta = parsed.beta;
      alpha = parsed.alpha ?? [0, 0, 0];
      source = "scenario cost_model.beta/alpha";
    } else {
      const row = linearCoefficients(model, gpu.name, tp, parsed.vllm_version);
      beta = row.beta;
      alpha = parsed.alpha ?? row.alpha;
      source = row.source + (parsed.alpha !== undefined ? ", alpha from the scenario" : "");
    }
    return new LinearCostModel({
      beta,
      alpha,
      source,
      ...(parsed.overheads !== undefined
        ? { overheads: applyOverrides(linearOverheads(alpha), parsed.overheads) }
        : {}),
    });
  },
  coefficients: { rows: true },
  // BLIS's CSV has no row for several models of the calibration set: validate with the shipped per-model fits.
  calibration: { family: (targets) => linearFamily(targets), validateWith: "gatelab-h100-vllm-0.15.1-linear" },
  docs:
    "BLIS blackbox fit per (model, GPU, TP): β0 + β1·prefill tokens + β2·decode requests " +
    "(data/blis/blackbox_coefficients.csv)",
});

const kernel = defineCostModel({
  schema: z.strictObject({
    type: z.literal("kernel"),
    /** A data/blis/kernel_profiles stem or a .yaml path; default: the shipped profile of (model, GPU, TP). */
    profile: z.string().min(1).optional(),
    /** Decode attention from the fitted table (default) or the raw table (see cost-kernel.ts). */
    decode_attention: z.enum(["fit", "table"]).optional(),
    coefficients: z
      .union([
        z.string().refine(knownRef("kernel"), "expected a shipped kernel set or a coefficient file (.json)"),
        z.strictObject({
          alpha: z.tuple([nonNegative, nonNegative, nonNegative]),
          beta: z
            .array(nonNegative)
            .length(
              KERNEL_TERM_COUNT,
              "beta must have 6 values: tables correction, µs/layer, µs/request, µs/step, µs/MoE layer, " +
                "µs/MoE layer at full expert activation",
            ),
        }),
      ])
      .optional(),
    overheads: OverheadsSchema.optional(),
  }),
  build(parsed, { model, gpu, tp, baseDir }) {
    let coefficients: KernelCoefficients;
    const c = parsed.coefficients;
    if (c === undefined) {
      // The shipped calibration; the raw tables if it is absent (a checkout before the first calibration).
      const set = calibratedSets().get(DEFAULT_KERNEL_SET);
      coefficients =
        set !== undefined
          ? kernelCoefficientsOf(checkCoefficientShape(set, { beta: KERNEL_TERM_COUNT }, DEFAULT_KERNEL_SET))
          : KERNEL_RAW_TABLES;
    } else if (typeof c === "string") {
      coefficients = kernelCoefficientsOf(resolveCoefficientFile(c, "kernel", { beta: KERNEL_TERM_COUNT }, baseDir));
    } else {
      const b = c.beta;
      coefficients = {
        name: "custom",
        alpha: c.alpha,
        beta: [...b],
        source: "scenario cost_model.coefficients",
      };
    }
    return new KernelCostModel({
      model,
      gpu,
      tp,
      coefficients,
      ...(parsed.profile !== undefined ? { profile: parsed.profile } : {}),
      ...(parsed.decode_attention !== undefined ? { decodeAttention: parsed.decode_attention } : {}),
      ...(parsed.overheads !== undefined
        ? { overheads: applyOverrides(kernelOverheads(coefficients), parsed.overheads) }
        : {}),
    });
  },
  coefficients: { beta: KERNEL_TERM_COUNT },
  calibration: { family: () => kernelFamily() },
  docs:
    "BLIS kernel profiles (measured GEMM and attention tables per model, GPU and TP) with a calibrated correction " +
    "and overheads (data/blis/kernel_profiles, data/calibrated)",
});

// --- the registry -----------------------------------------------------------------------------------------------

const entries = { roofline, physics, linear, kernel };

/** A `cost_model.type`. */
export type CostModelKind = keyof typeof entries;

/**
 * Every cost model, by `cost_model.type` (docs tables, the scenario schema, coefficient files, calibration and the
 * CLI read it). Its key is the entry's `type` literal (test/cost-registry.test.ts checks).
 */
export const COST_MODELS = entries satisfies Record<CostModelKind, CostModelEntry>;

export const COST_MODEL_KINDS = Object.keys(COST_MODELS) as CostModelKind[];

/** The cost model of `kind`; undefined when `kind` is none. */
export function costModelEntry(kind: string): CostModelEntry | undefined {
  return Object.hasOwn(COST_MODELS, kind) ? COST_MODELS[kind as CostModelKind] : undefined;
}

type Variant = (typeof COST_MODELS)[CostModelKind]["schema"];

export const CostModelSchema = z.discriminatedUnion(
  "type",
  COST_MODEL_KINDS.map((k) => COST_MODELS[k].schema) as [Variant, ...Variant[]],
);

/** The `cost_model` field as written in a scenario. */
export type CostModelInput = z.input<typeof CostModelSchema>;
/** The `cost_model` field after validation. */
export type CostModelConfig = z.output<typeof CostModelSchema>;

export interface CostModelTarget {
  readonly model: string | ModelSpec;
  readonly gpu: string | GpuSpec;
  readonly tp: number;
  /** Folder that relative coefficient-file paths are resolved against (the scenario's); default the cwd. */
  readonly baseDir?: string;
  /** vLLM `--enforce-eager` (default false); only cost models with `pricesEngineStack` accept it. */
  readonly enforceEager?: boolean;
  /** vLLM `--disable-custom-all-reduce` (default false); only cost models with `pricesEngineStack` accept it. */
  readonly disableCustomAllReduce?: boolean;
}

/** Parses a coefficient file's JSON text and checks it against its kind's entry; throws `InputError` naming the file and the field. */
export function parseCoefficientFile(text: string, path: string): CoefficientFile {
  const f = parseCoefficientJson(text, path);
  const entry = costModelEntry(f.model);
  if (entry?.coefficients === undefined) {
    const kinds = COST_MODEL_KINDS.filter((k) => COST_MODELS[k].coefficients !== undefined);
    throw new InputError(`${path}: model: expected one of ${kinds.join(", ")}, got ${JSON.stringify(f.model)}`);
  }
  return checkCoefficientShape(f, entry.coefficients, path);
}

/**
 * Builds the cost model of one replica (model, GPU, TP) from a scenario's `cost_model` (validated here; absent =
 * roofline with the shipped per-GPU coefficients), bounded below by the roofline unless its entry says otherwise.
 * Throws on invalid configuration, unknown model or GPU, or a missing CSV fit.
 */
export function createCostModel(cfg: CostModelInput | undefined, target: CostModelTarget): CostModel {
  const parsed: CostModelConfig = CostModelSchema.parse(cfg ?? { type: "roofline" });
  const model = resolveModel(target.model);
  const gpu = resolveGpu(target.gpu);
  const raw = createUnboundedCostModel(parsed, target);
  const entry: CostModelEntry = COST_MODELS[parsed.type];
  if (entry.floored !== undefined && !entry.floored(parsed)) return raw;
  return new BoundedCostModel(raw, new RooflineBound(model, gpu, target.tp));
}

/** The cost model of `parsed` without the roofline floor (the calibration and tests of hand-computed values use it). */
export function createUnboundedCostModel(parsed: CostModelConfig, target: CostModelTarget): CostModel {
  const entry: CostModelEntry = COST_MODELS[parsed.type];
  const knob =
    target.enforceEager === true
      ? "enforce_eager"
      : target.disableCustomAllReduce === true
        ? "disable_custom_all_reduce"
        : undefined;
  if (knob !== undefined && entry.pricesEngineStack !== true) {
    throw new InputError(
      `type ${parsed.type} cannot honour engine.${knob} (its all-reduce and launch costs are fitted on one stack ` +
        `and do not tell CUDA graphs or vLLM's custom all-reduce apart); use type roofline, or drop the knob`,
    );
  }
  return entry.build(parsed, {
    model: resolveModel(target.model),
    gpu: resolveGpu(target.gpu),
    tp: target.tp,
    ...(target.baseDir !== undefined ? { baseDir: target.baseDir } : {}),
    ...(target.enforceEager === true ? { enforceEager: true } : {}),
    ...(target.disableCustomAllReduce === true ? { disableCustomAllReduce: true } : {}),
  });
}
