/**
 * The scenario's `cost_model` field and the factory that turns it into a `CostModel` for one replica shape.
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
 * Coefficient files (`gatelab calibrate --out`, schema `CoefficientFileSchema`) are referenced by a path ending in
 * `.json` (relative to `CostModelTarget.baseDir`, default the working directory) or, for the shipped ones in
 * `data/calibrated/`, by their `name`. Physics accepts them too (`coefficients: ./coeffs.json`).
 *
 * Every model is bounded below by the roofline of its (model, GPU, TP) (`BoundedCostModel`): no step is priced faster
 * than its FLOPs at peak or its minimum bytes at full HBM bandwidth (DESIGN.md §5).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { InputError, readTextInput } from "../errors.ts";
import { BLIS_DATA_DIR, type GpuSpec, getGpu, getModel, type ModelSpec, resolveGpu, resolveModel } from "./catalog.ts";
import type { CostModel, RequestOverheads } from "./cost.ts";
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
  RooflineCostModel,
  type RooflineScales,
  rooflineCoefficientsFor,
  rooflineEfficiencySet,
  rooflineOverheads,
} from "./cost-roofline.ts";

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

// --- calibrated coefficient files (gatelab calibrate) -------------------------------------------------------

/** Folder of the shipped calibrated coefficient sets. */
export const CALIBRATED_DIR: string = join(BLIS_DATA_DIR, "..", "calibrated");

/** What `gatelab calibrate --out` writes and `coefficients: FILE.json` reads. All times in µs. */
export const CoefficientFileSchema = z.strictObject({
  format: z.literal("gatelab-coefficients/1"),
  name: z.string().min(1),
  model: z.enum(["linear", "physics", "kernel", "roofline"]),
  source: z.string(),
  /** [α0 before enqueue, α1 after the last token, α2 per output token] (physics, kernel; linear rows may override). */
  alpha_us: z.tuple([nonNegative, nonNegative, nonNegative]),
  /**
   * Physics: 11 values in BLIS order; kernel: 6 values in `KERNEL_TERMS` order; roofline: 6 values in
   * `ROOFLINE_TERMS` order (compute, memory and communication scales, µs per layer, per request, per step).
   */
  beta: z.array(nonNegative).optional(),
  /** Linear: one fit per (model, GPU, TP). */
  linear: z
    .array(
      z.strictObject({
        model: z.string().min(1),
        gpu: z.string().min(1),
        tp: z.number().int().positive(),
        beta_us: z.tuple([nonNegative, nonNegative, nonNegative]),
        alpha_us: z.tuple([nonNegative, nonNegative, nonNegative]).optional(),
      }),
    )
    .optional(),
  /** Provenance of the fit (data, experiments, errors); free-form. */
  fit: z.record(z.string(), z.unknown()).optional(),
});
export type CoefficientFile = z.infer<typeof CoefficientFileSchema>;

/** Parses a coefficient file's JSON text; throws `Error` naming the file and the field. */
export function parseCoefficientFile(text: string, path: string): CoefficientFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  const r = CoefficientFileSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new InputError(`${path}: ${i.path.join(".") || "(root)"}: ${i.message}`);
  }
  const f = r.data;
  const want =
    f.model === "physics"
      ? 11
      : f.model === "kernel"
        ? KERNEL_TERM_COUNT
        : f.model === "roofline"
          ? ROOFLINE_TERM_COUNT
          : 0;
  if (want > 0 && f.beta?.length !== want) {
    throw new InputError(`${path}: beta: a ${f.model} coefficient file needs ${want} beta values`);
  }
  if (f.model === "linear" && (f.linear === undefined || f.linear.length === 0)) {
    throw new InputError(`${path}: linear: a linear coefficient file needs at least one fit`);
  }
  return f;
}

let shippedSets: Map<string, CoefficientFile> | undefined;

/** The shipped calibrated sets (`data/calibrated/*.json`), by name. */
export function calibratedSets(): ReadonlyMap<string, CoefficientFile> {
  if (shippedSets === undefined) {
    shippedSets = new Map();
    if (existsSync(CALIBRATED_DIR)) {
      for (const f of readdirSync(CALIBRATED_DIR).sort()) {
        if (!f.endsWith(".json")) continue;
        const path = join(CALIBRATED_DIR, f);
        const set = parseCoefficientFile(readFileSync(path, "utf8"), `data/calibrated/${f}`);
        shippedSets.set(set.name, set);
      }
    }
  }
  return shippedSets;
}

/** A coefficient file by path (`.json`, relative to `baseDir`) or a shipped set by name; checks its model kind. */
export function resolveCoefficientFile(ref: string, kind: CoefficientFile["model"], baseDir?: string): CoefficientFile {
  let f: CoefficientFile | undefined;
  if (ref.endsWith(".json")) {
    const path = isAbsolute(ref) ? ref : resolve(baseDir ?? process.cwd(), ref);
    const text = readTextInput(path, "coefficient file", undefined, ref);
    f = parseCoefficientFile(text, ref);
  } else {
    f = calibratedSets().get(ref);
    if (f === undefined) {
      const names = [...calibratedSets().values()].filter((s) => s.model === kind).map((s) => s.name);
      throw new InputError(`unknown ${kind} coefficient set "${ref}"; shipped: ${names.join(", ") || "none"}`);
    }
  }
  if (f.model !== kind) throw new InputError(`${ref} holds ${f.model} coefficients, not ${kind}`);
  return f;
}

/** A coefficient reference that is well formed: a `.json` path or the name of a shipped set of that kind. */
function knownRef(kind: CoefficientFile["model"]) {
  return (v: string): boolean =>
    v.endsWith(".json") || [...calibratedSets().values()].some((s) => s.model === kind && s.name === v);
}

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

/**
 * θ of a calibrated roofline set: [compute scale, memory scale, all-reduce traffic scale, all-reduce latency scale,
 * µs/layer, µs/request, µs/step, µs/MoE layer].
 */
export const ROOFLINE_TERMS = [
  "compute_scale",
  "memory_scale",
  "comm_scale",
  "comm_latency_scale",
  "us_per_layer",
  "us_per_request",
  "us_per_step",
  "us_per_moe_layer",
] as const;
export const ROOFLINE_TERM_COUNT = ROOFLINE_TERMS.length;

export const RooflineCostModelSchema = z.strictObject({
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
});

export const PhysicsCostModelSchema = z.strictObject({
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
        beta: z.array(nonNegative).length(11, "beta must have 11 values: β1a β2a β3 β4 β5 β6 β7 β8 β1b β2b βEP"),
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
});

export const LinearCostModelSchema = z
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
  });

export const KernelCostModelSchema = z.strictObject({
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
});

export const CostModelSchema = z.discriminatedUnion("type", [
  RooflineCostModelSchema,
  PhysicsCostModelSchema,
  LinearCostModelSchema,
  KernelCostModelSchema,
]);

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
 * roofline with the shipped per-GPU coefficients), bounded below by the roofline. Throws on invalid configuration,
 * unknown model or GPU, or a missing CSV fit.
 */
export function createCostModel(cfg: CostModelInput | undefined, target: CostModelTarget): CostModel {
  const parsed: CostModelConfig = CostModelSchema.parse(cfg ?? { type: "roofline" });
  const model = resolveModel(target.model);
  const gpu = resolveGpu(target.gpu);
  const raw = createUnboundedCostModel(parsed, target);
  // The roofline model applies the bound itself; physics may opt out to reproduce BLIS.
  if (raw instanceof RooflineCostModel) return raw;
  if (parsed.type === "physics" && parsed.roofline_floor === false) return raw;
  return new BoundedCostModel(raw, new RooflineBound(model, gpu, target.tp));
}

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

/** The cost model of `parsed` without the roofline floor (the calibration and tests of hand-computed values use it). */
export function createUnboundedCostModel(parsed: CostModelConfig, target: CostModelTarget): CostModel {
  const model = resolveModel(target.model);
  const gpu = resolveGpu(target.gpu);

  if (parsed.type === "roofline") {
    if (parsed.coefficients === undefined) {
      const base = rooflineCoefficientsFor(gpu, rooflineEfficiencySet(parsed.efficiency_set));
      return new RooflineCostModel({
        model,
        gpu,
        tp: target.tp,
        coefficients: base,
        ...(parsed.overheads !== undefined
          ? { overheads: applyOverrides(rooflineOverheads(base), parsed.overheads) }
          : {}),
      });
    }
    // Calibration files (θ) scale the set they were fitted on: the default set (ROOFLINE_CALIBRATION_BASE) unless
    // efficiency_set says otherwise.
    const base = rooflineCoefficientsFor(
      gpu,
      rooflineEfficiencySet(parsed.efficiency_set ?? ROOFLINE_CALIBRATION_BASE),
    );
    const f = resolveCoefficientFile(parsed.coefficients, "roofline", target.baseDir);
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
      tp: target.tp,
      coefficients: c,
      scales: th.scales,
      setName: f.name,
      ...(parsed.overheads !== undefined ? { overheads: applyOverrides(rooflineOverheads(c), parsed.overheads) } : {}),
    });
  }

  if (parsed.type === "kernel") {
    let coefficients: KernelCoefficients;
    const c = parsed.coefficients;
    if (c === undefined) {
      // The shipped calibration; the raw tables if it is absent (a checkout before the first calibration).
      const set = calibratedSets().get(DEFAULT_KERNEL_SET);
      coefficients = set !== undefined ? kernelCoefficientsOf(set) : KERNEL_RAW_TABLES;
    } else if (typeof c === "string") {
      coefficients = kernelCoefficientsOf(resolveCoefficientFile(c, "kernel", target.baseDir));
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
      tp: target.tp,
      coefficients,
      ...(parsed.profile !== undefined ? { profile: parsed.profile } : {}),
      ...(parsed.decode_attention !== undefined ? { decodeAttention: parsed.decode_attention } : {}),
      ...(parsed.overheads !== undefined
        ? { overheads: applyOverrides(kernelOverheads(coefficients), parsed.overheads) }
        : {}),
    });
  }

  if (parsed.type === "physics") {
    let coefficients: PhysicsCoefficients = BLIS_TRAINED_PHYSICS_ITER29;
    if (typeof parsed.coefficients === "string" && parsed.coefficients !== BLIS_TRAINED_PHYSICS_ITER29.name) {
      coefficients = physicsCoefficientsOf(resolveCoefficientFile(parsed.coefficients, "physics", target.baseDir));
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
  if (parsed.coefficients !== undefined) {
    const f = resolveCoefficientFile(parsed.coefficients, "linear", target.baseDir);
    const gpuName = gpu.name;
    const row = f.linear!.find((r) => {
      try {
        return getModel(r.model) === model && getGpu(r.gpu).name === gpuName && r.tp === target.tp;
      } catch {
        return false;
      }
    });
    if (row === undefined) {
      const have = f.linear!.map((r) => `${r.model} ${r.gpu} TP${r.tp}`).join("; ");
      throw new InputError(
        `${parsed.coefficients} has no linear fit for ${model.name} on ${gpuName} TP${target.tp}: ${have}`,
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
