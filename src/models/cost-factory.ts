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
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { InputError, readTextInput } from "../errors.ts";
import {
  BLIS_DATA_DIR,
  findGpu,
  findModel,
  type GpuSpec,
  type ModelSpec,
  resolveGpu,
  resolveModel,
} from "./catalog.ts";
import type { CostModel } from "./cost.ts";
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
import { applyOverrides, finite, nonNegative, OverheadsSchema } from "./cost-schema.ts";

const triple = z.tuple([finite, finite, finite]);

// --- calibrated coefficient files (gatelab calibrate) -------------------------------------------------------

/** Folder of the shipped calibrated coefficient sets. */
export const CALIBRATED_DIR: string = join(BLIS_DATA_DIR, "..", "calibrated");

/** What `gatelab calibrate --out` writes and `coefficients: FILE.json` reads. All times in µs. */
export const CoefficientFileSchema = z.strictObject({
  format: z.literal("gatelab-coefficients/1"),
  name: z.string().min(1),
  /** A cost model kind with coefficient files (`COST_MODELS[kind].coefficientFile`). */
  model: z.string().min(1),
  source: z.string(),
  /** [α0 before enqueue, α1 after the last token, α2 per output token] (physics, kernel; linear rows may override). */
  alpha_us: z.tuple([nonNegative, nonNegative, nonNegative]),
  /** Physics: 11 values in BLIS order; kernel: 6 values in `KERNEL_TERMS` order. */
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
  const kind = COST_MODELS[f.model as CostModelKind]?.coefficientFile;
  if (kind === undefined) {
    const kinds = COST_MODEL_KINDS.filter((k) => COST_MODELS[k].coefficientFile !== undefined);
    throw new InputError(`${path}: model: expected one of ${kinds.join(", ")}, got "${f.model}"`);
  }
  if (kind === "linear") {
    if (f.linear === undefined || f.linear.length === 0) {
      throw new InputError(`${path}: linear: a linear coefficient file needs at least one fit`);
    }
  } else if (f.beta?.length !== kind.beta) {
    throw new InputError(`${path}: beta: a ${f.model} coefficient file needs ${kind.beta} beta values`);
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

export interface CostModelTarget {
  readonly model: string | ModelSpec;
  readonly gpu: string | GpuSpec;
  readonly tp: number;
  /** Folder that relative coefficient-file paths are resolved against (the scenario's); default the cwd. */
  readonly baseDir?: string;
}

/** The resolved replica shape a cost model is built for. */
export interface CostModelShape {
  readonly model: ModelSpec;
  readonly gpu: GpuSpec;
  readonly tp: number;
  readonly baseDir?: string | undefined;
}

function buildKernel(parsed: z.output<typeof KernelCostModelSchema>, { model, gpu, tp, baseDir }: CostModelShape) {
  let coefficients: KernelCoefficients;
  const c = parsed.coefficients;
  if (c === undefined) {
    // The shipped calibration; the raw tables if it is absent (a checkout before the first calibration).
    const set = calibratedSets().get(DEFAULT_KERNEL_SET);
    coefficients = set !== undefined ? kernelCoefficientsOf(set) : KERNEL_RAW_TABLES;
  } else if (typeof c === "string") {
    coefficients = kernelCoefficientsOf(resolveCoefficientFile(c, "kernel", baseDir));
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
}

function buildPhysics(parsed: z.output<typeof PhysicsCostModelSchema>, { model, gpu, tp, baseDir }: CostModelShape) {
  let coefficients: PhysicsCoefficients = BLIS_TRAINED_PHYSICS_ITER29;
  if (typeof parsed.coefficients === "string" && parsed.coefficients !== BLIS_TRAINED_PHYSICS_ITER29.name) {
    coefficients = physicsCoefficientsOf(resolveCoefficientFile(parsed.coefficients, "physics", baseDir));
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
}

function buildLinear(parsed: z.output<typeof LinearCostModelSchema>, { model, gpu, tp, baseDir }: CostModelShape) {
  let beta: Triple;
  let alpha: Triple;
  let source: string;
  if (parsed.coefficients !== undefined) {
    const f = resolveCoefficientFile(parsed.coefficients, "linear", baseDir);
    const gpuName = gpu.name;
    const row = f.linear!.find((r) => findModel(r.model) === model && findGpu(r.gpu)?.name === gpuName && r.tp === tp);
    if (row === undefined) {
      const have = f.linear!.map((r) => `${r.model} ${r.gpu} TP${r.tp}`).join("; ");
      throw new InputError(`${parsed.coefficients} has no linear fit for ${model.name} on ${gpuName} TP${tp}: ${have}`);
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
    ...(parsed.overheads !== undefined ? { overheads: applyOverrides(linearOverheads(alpha), parsed.overheads) } : {}),
  });
}

// --- the registry ----------------------------------------------------------------------------------------------

/** What a cost model kind brings: its `cost_model` schema, its builder, its coefficient files, its docs line. */
export interface CostModelEntry<S extends z.ZodType<{ type: string }> = z.ZodType<{ type: string }>> {
  /** The `cost_model` schema (a strict object whose `type` is the kind's name). */
  readonly schema: S;
  /** Builds the model of one replica shape from the validated `cost_model`. */
  readonly build: (cfg: z.output<S>, shape: CostModelShape) => CostModel;
  /** Coefficient files of this kind (`gatelab calibrate --out`): `beta` values they hold, or per-(model, GPU, TP) `linear` rows. */
  readonly coefficientFile?: { readonly beta: number } | "linear";
  /** One line for the docs table (what it models and from which source). */
  readonly doc: string;
}

/** Types an entry: its builder against its own schema, and whether it has coefficient files (calibration kinds). */
function entry<S extends z.ZodType<{ type: string }>, C extends CostModelEntry["coefficientFile"] = undefined>(
  e: CostModelEntry<S> & { readonly coefficientFile?: C },
): CostModelEntry<S> & { readonly coefficientFile: C } {
  return e as CostModelEntry<S> & { readonly coefficientFile: C };
}

/**
 * Every cost model, by its `cost_model.type`. A new one is a file (its `CostModel`, its schema, its builder) plus one
 * line here; the scenario schema, coefficient files, calibration kinds and docs table follow from this table.
 */
export const COST_MODELS = {
  physics: entry({
    schema: PhysicsCostModelSchema,
    build: buildPhysics,
    coefficientFile: { beta: 11 },
    doc: "BLIS trained-physics: roofline per operator with learned corrections (iter29 coefficients; `cost-physics.ts`)",
  }),
  linear: entry({
    schema: LinearCostModelSchema,
    build: buildLinear,
    coefficientFile: "linear",
    doc: "BLIS blackbox: β0 + β1·prefill tokens + β2·decode tokens per (model, GPU, TP) fit (`cost-linear.ts`)",
  }),
  kernel: entry({
    schema: KernelCostModelSchema,
    build: buildKernel,
    coefficientFile: { beta: KERNEL_TERM_COUNT },
    doc: "kernel tables: per-layer GEMM, attention and all-reduce times measured by BLIS, interpolated (`cost-kernel.ts`)",
  }),
} satisfies Record<string, CostModelEntry>;

export type CostModelKind = keyof typeof COST_MODELS;
export const COST_MODEL_KINDS = Object.keys(COST_MODELS) as CostModelKind[];

type SchemaOf<K extends CostModelKind> = (typeof COST_MODELS)[K]["schema"];

/** The scenario's `cost_model`: one of the registry's schemas, told apart by `type`. */
export const CostModelSchema = z.discriminatedUnion(
  "type",
  COST_MODEL_KINDS.map((k) => COST_MODELS[k].schema) as unknown as [
    SchemaOf<"physics">,
    SchemaOf<"linear">,
    SchemaOf<"kernel">,
  ],
);

/** The `cost_model` field as written in a scenario. */
export type CostModelInput = { [K in CostModelKind]: z.input<SchemaOf<K>> }[CostModelKind];
/** The `cost_model` field after validation. */
export type CostModelConfig = { [K in CostModelKind]: z.output<SchemaOf<K>> }[CostModelKind];

/**
 * Builds the cost model of one replica (model, GPU, TP) from a scenario's `cost_model` (validated here; absent =
 * physics with BLIS iter29). Throws on invalid configuration, unknown model or GPU, or a missing CSV fit.
 */
export function createCostModel(cfg: CostModelInput | undefined, target: CostModelTarget): CostModel {
  const parsed = CostModelSchema.parse(cfg ?? { type: "physics" }) as CostModelConfig;
  const shape: CostModelShape = {
    model: resolveModel(target.model),
    gpu: resolveGpu(target.gpu),
    tp: target.tp,
    baseDir: target.baseDir,
  };
  const e = COST_MODELS[parsed.type] as CostModelEntry;
  return e.build(parsed, shape);
}
