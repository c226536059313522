/**
 * What every cost model's registry entry is made of (cost-factory.ts `COST_MODELS` lists the entries): the entry's
 * shape, the scenario fields all models share (`overheads`), and calibrated coefficient files (`gatelab calibrate
 * --out`, `coefficients: FILE.json` or a shipped set's name in a scenario). Kind-specific checks of a file (how many
 * `beta` values) come from the entry, so this file names no cost model.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { InputError, readTextInput, schemaIssueText } from "../errors.ts";
import { BLIS_DATA_DIR, type GpuSpec, type ModelSpec } from "./catalog.ts";
import type { CostModel, RequestOverheads } from "./cost.ts";
import type { Family, FitTarget } from "./cost-calibration.ts";

export const finite = z.number().refine(Number.isFinite, "must be a finite number");
export const nonNegative = finite.refine((x) => x >= 0, "must be ≥ 0");
export const triple = z.tuple([finite, finite, finite]);

/** Per-request overheads in milliseconds; each given field replaces the model's own value. */
export const OverheadsSchema = z.strictObject({
  pre_queue_ms: nonNegative.optional(),
  pre_queue_per_input_token_ms: nonNegative.optional(),
  per_output_token_ms: nonNegative.optional(),
  post_decode_ms: nonNegative.optional(),
});

/** `base` with the scenario's `overheads` fields (ms) in place of the model's own. */
export function applyOverrides(
  base: RequestOverheads,
  o: z.output<typeof OverheadsSchema> | undefined,
): RequestOverheads {
  if (o === undefined) return base;
  return {
    preQueue: o.pre_queue_ms !== undefined ? o.pre_queue_ms / 1000 : base.preQueue,
    preQueuePerInputToken:
      o.pre_queue_per_input_token_ms !== undefined ? o.pre_queue_per_input_token_ms / 1000 : base.preQueuePerInputToken,
    perOutputToken: o.per_output_token_ms !== undefined ? o.per_output_token_ms / 1000 : base.perOutputToken,
    postDecode: o.post_decode_ms !== undefined ? o.post_decode_ms / 1000 : base.postDecode,
  };
}

// --- the registry entry -------------------------------------------------------------------------------------------

/** The (model, GPU, TP) a cost model is built for, resolved against the catalog. */
export interface CostModelBuildTarget {
  readonly model: ModelSpec;
  readonly gpu: GpuSpec;
  readonly tp: number;
  /** Folder that relative coefficient-file paths are resolved against (the scenario's); default the cwd. */
  readonly baseDir?: string;
  /** vLLM `--enforce-eager` (`ModelConfig.enforce_eager`, default false): no CUDA graphs. Only entries with
   * `pricesEngineStack` read it. */
  readonly enforceEager?: boolean;
  /**
   * vLLM `--disable-custom-all-reduce` (`ParallelConfig.disable_custom_all_reduce`, default false): every TP all-reduce
   * goes through the collective library (NCCL) instead of vLLM's one-shot custom kernel. Only entries with
   * `pricesEngineStack` read it.
   */
  readonly disableCustomAllReduce?: boolean;
}

/** How a kind's calibrated coefficient file holds its fit: `beta` values, or one `linear` row per (model, GPU, TP). */
export type CoefficientShape = { readonly beta: number } | { readonly rows: true };

/** A `cost_model` variant: a strict object whose `type` is its registry key. */
export type CostModelVariant = z.ZodObject<{ type: z.ZodLiteral<string> } & z.ZodRawShape>;

/** One cost model in the registry. Adding a cost model = its file (model and entry) + one line in `COST_MODELS`. */
export interface CostModelEntry<S extends CostModelVariant = CostModelVariant> {
  /** Its `cost_model` fields (zod); joins the scenario's `cost_model` union. */
  readonly schema: S;
  /** The model of one replica shape without the roofline floor (calibration and hand-computed tests use it). */
  build(cfg: z.output<S>, target: CostModelBuildTarget): CostModel;
  /** Whether `createCostModel` bounds it below by the roofline (absent: always). */
  floored?(cfg: z.output<S>): boolean;
  /** How its calibrated coefficient files hold the fit; absent: it reads none. */
  readonly coefficients?: CoefficientShape;
  /** Its calibration basis; absent: `gatelab calibrate` does not fit it. */
  readonly calibration?: {
    family(targets: readonly FitTarget[]): Family;
    /** What `gatelab validate` prices with when no `--coefficients` is given (absent: the model's own default). */
    readonly validateWith?: string;
  };
  /**
   * Whether its step price tells CUDA graphs from eager launches and vLLM's custom all-reduce from NCCL, i.e. whether
   * it honours `engine.enforce_eager` and `engine.disable_custom_all_reduce` (a scenario that sets either on another
   * model is refused: exit 2).
   */
  readonly pricesEngineStack?: boolean;
  /** One line for the docs table (docs/models.md): what it prices and from which source. */
  readonly docs: string;
}

/** Types `build`'s and `floored`'s configuration by the entry's own schema. */
export function defineCostModel<S extends CostModelVariant>(entry: CostModelEntry<S>): CostModelEntry<S> {
  return entry;
}

// --- calibrated coefficient files (gatelab calibrate) -------------------------------------------------------

/** Folder of the shipped calibrated coefficient sets. */
export const CALIBRATED_DIR: string = join(BLIS_DATA_DIR, "..", "calibrated");

/**
 * What `gatelab calibrate --out` writes and `coefficients: FILE.json` reads. All times in µs. `model` is a registry
 * kind (checked by cost-factory.ts `parseCoefficientFile`).
 */
export const CoefficientFileSchema = z.strictObject({
  format: z.literal("gatelab-coefficients/1"),
  name: z.string().min(1),
  model: z.string().min(1),
  source: z.string(),
  /** [α0 before enqueue, α1 after the last token, α2 per output token] (physics, kernel; linear rows may override). */
  alpha_us: z.tuple([nonNegative, nonNegative, nonNegative]),
  /**
   * Physics: 11 values in BLIS order; kernel: 6 values in `KERNEL_TERMS` order; roofline: 8 values in
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

/** Parses a coefficient file's JSON text (any kind); throws `InputError` naming the file and the field. */
export function parseCoefficientJson(text: string, path: string): CoefficientFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  const r = CoefficientFileSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new InputError(`${path}: ${i.path.join(".") || "(root)"}: ${schemaIssueText(i, raw)}`);
  }
  return r.data;
}

/** Checks that `f` holds its fit as `shape` says (its kind's entry); throws `InputError` naming `path`. */
export function checkCoefficientShape(f: CoefficientFile, shape: CoefficientShape, path: string): CoefficientFile {
  if ("beta" in shape && f.beta?.length !== shape.beta) {
    throw new InputError(`${path}: beta: a ${f.model} coefficient file needs ${shape.beta} beta values`);
  }
  if ("rows" in shape && (f.linear === undefined || f.linear.length === 0)) {
    throw new InputError(`${path}: linear: a ${f.model} coefficient file needs at least one fit`);
  }
  return f;
}

let shippedSets: Map<string, CoefficientFile> | undefined;

/** The shipped calibrated sets (`data/calibrated/*.json`), by name; each is checked against its kind where used. */
export function calibratedSets(): ReadonlyMap<string, CoefficientFile> {
  if (shippedSets === undefined) {
    shippedSets = new Map();
    if (existsSync(CALIBRATED_DIR)) {
      for (const f of readdirSync(CALIBRATED_DIR).sort()) {
        if (!f.endsWith(".json")) continue;
        const set = parseCoefficientJson(readFileSync(join(CALIBRATED_DIR, f), "utf8"), `data/calibrated/${f}`);
        shippedSets.set(set.name, set);
      }
    }
  }
  return shippedSets;
}

/**
 * A coefficient file by path (`.json`, relative to `baseDir`) or a shipped set by name; checks that it holds `kind`
 * coefficients of `shape`.
 */
export function resolveCoefficientFile(
  ref: string,
  kind: string,
  shape: CoefficientShape,
  baseDir?: string,
): CoefficientFile {
  let f: CoefficientFile | undefined;
  if (ref.endsWith(".json")) {
    const path = isAbsolute(ref) ? ref : resolve(baseDir ?? process.cwd(), ref);
    f = parseCoefficientJson(readTextInput(path, "coefficient file", undefined, ref), ref);
  } else {
    f = calibratedSets().get(ref);
    if (f === undefined) {
      const names = [...calibratedSets().values()].filter((s) => s.model === kind).map((s) => s.name);
      throw new InputError(`unknown ${kind} coefficient set "${ref}"; shipped: ${names.join(", ") || "none"}`);
    }
  }
  if (f.model !== kind) throw new InputError(`${ref} holds ${f.model} coefficients, not ${kind}`);
  return checkCoefficientShape(f, shape, ref);
}

/** A coefficient reference that is well formed: a `.json` path or the name of a shipped set of that kind. */
export function knownRef(kind: string) {
  return (v: string): boolean =>
    v.endsWith(".json") || [...calibratedSets().values()].some((s) => s.model === kind && s.name === v);
}
