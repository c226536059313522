import { z } from "zod";
import { InputError } from "../errors.ts";
import type { Segment } from "../sim/hash.ts";
import { rngStream } from "../sim/rng.ts";
import { type ArrivalProcess, ArrivalSchema, makeArrivals } from "./arrivals.ts";
import { LengthDistSchema, makeSampler, type Sampler } from "./distributions.ts";
import { makeTagger, TagFields, type TagSpec } from "./tags.ts";
import { contentId, contentSalt, type Draft, draft, type Gen, NS } from "./types.ts";

/** Shared by every generator: the component's name (default: its type, `#i` in a mix) and per-request tags. */
export const CommonFields = {
  name: z.string().min(1).optional(),
  /** Share of the mix (only inside `mix:`). */
  weight: z.number().positive().optional(),
  ...TagFields,
};

/** Open-loop arrivals: `rate` (Poisson) or a full `arrival` process. */
export const ArrivalFields = {
  rate: z.number().positive().optional(),
  arrival: ArrivalSchema.optional(),
};

/**
 * `poisson`: independent single-turn requests. Prompt = optional shared prefix (one of `prefix.groups` groups, drawn
 * uniformly per request, `prefix.tokens` tokens, identical content in every request of the group) + `input` unique
 * tokens (input counts the tokens after the prefix, as BLIS's `input_tokens`). `batch` is the same generator with
 * defaults for offline work: long inputs, SLO class `batch`, priority −1 (sheddable).
 */
export const PoissonSourceSchema = z.strictObject({
  type: z.literal("poisson"),
  ...CommonFields,
  ...ArrivalFields,
  input: LengthDistSchema,
  output: LengthDistSchema,
  prefix: z
    .strictObject({
      groups: z.number().int().positive(),
      tokens: LengthDistSchema,
    })
    .optional(),
});
export const BatchSourceSchema = z.strictObject({
  ...PoissonSourceSchema.shape,
  type: z.literal("batch"),
  input: LengthDistSchema.default({ dist: "lognormal", mean: 8000, std: 4000, min: 1000, max: 32000 }),
  output: LengthDistSchema.default({ dist: "lognormal", mean: 500, std: 300, min: 16, max: 4000 }),
  slo_class: TagFields.slo_class.default("batch"),
  priority: TagFields.priority.default(-1),
});
export type PoissonSource = z.infer<typeof PoissonSourceSchema>;
export type BatchSource = z.infer<typeof BatchSourceSchema>;

/** What every generator builder receives. */
export interface GenContext {
  readonly seed: number;
  readonly baseDir: string;
  /** Component name: stamps `source`, salts content ids, names the RNG streams. */
  readonly name: string;
  /** Where the component sits in the scenario, for error messages (`workload`, `workload.mix.1`). */
  readonly where: string;
  /** Scale factor on the component's request rate (mix weights). */
  readonly rateScale: number;
  /** Rate override from a mix (requests/s), if the mix gives a total rate. */
  readonly rate?: number | undefined;
  /** No completions will be reported (export, stats): closed-loop turns follow the previous arrival. */
  readonly openLoop: boolean;
  /** ServeGen adapter popularity, loaded on demand. */
  servegenWeights?(dir: string): number[];
}

export function streams(ctx: GenContext) {
  const s = (p: string) => rngStream(ctx.seed, `${ctx.name}/${p}`);
  return s;
}

/** Arrival process of a component from its `rate`/`arrival` and the mix's scaling. */
export function componentArrivals(
  cfg: { rate?: number | undefined; arrival?: z.infer<typeof ArrivalSchema> | undefined },
  ctx: GenContext,
  what = "requests",
): ArrivalProcess {
  const spec = cfg.arrival ?? ArrivalSchema.parse({});
  let rate = ctx.rate !== undefined ? ctx.rate : (spec.rate ?? cfg.rate);
  if (rate === undefined && spec.stages === undefined)
    throw new InputError(`${ctx.where}: rate: expected \`rate\` (${what} per second) or \`arrival\``);
  if (rate !== undefined) rate *= ctx.rateScale;
  const scaled =
    spec.stages && ctx.rateScale !== 1
      ? { ...spec, stages: spec.stages.map((s) => ({ ...s, rate: s.rate * ctx.rateScale })) }
      : spec;
  const s = streams(ctx);
  return makeArrivals(rate !== undefined ? { ...scaled, rate } : scaled, rate, s("arrivals"), s("bursts"));
}

class SingleShotGen implements Gen {
  readonly name: string;
  private readonly arrivals: ArrivalProcess;
  private readonly input: Sampler;
  private readonly output: Sampler;
  private readonly prefixTokens: Sampler | undefined;
  private readonly groups: number;
  private readonly contentRng;
  private readonly salt: number;
  private readonly tag: ((d: Draft) => void) | undefined;
  private n = 0;

  constructor(cfg: PoissonSource | BatchSource, ctx: GenContext) {
    this.name = ctx.name;
    const s = streams(ctx);
    this.arrivals = componentArrivals(cfg, ctx);
    const lengths = s("lengths");
    this.input = makeSampler(cfg.input, lengths);
    this.output = makeSampler(cfg.output, lengths);
    this.prefixTokens = cfg.prefix ? makeSampler(cfg.prefix.tokens, s("prefix")) : undefined;
    this.groups = cfg.prefix?.groups ?? 0;
    this.contentRng = s("content");
    this.salt = contentSalt(ctx.name);
    this.tag = componentTagger(cfg, ctx);
    // Each group's prefix length is fixed per group: drawn once, in group order, from the "prefix" stream.
    if (this.prefixTokens) {
      this.prefixLens = new Int32Array(this.groups);
      for (let g = 0; g < this.groups; g++) this.prefixLens[g] = this.prefixTokens();
    }
  }
  private prefixLens: Int32Array | undefined;

  next(): Draft | undefined {
    const t = this.arrivals.next();
    if (t === undefined) return undefined;
    const k = this.n++;
    const input = this.input();
    const output = this.output();
    let prompt: Segment[];
    let total = input;
    // The request's own message: no other request of this generator or another one (salted by its unique name)
    // repeats it, so its blocks are findable by this request only (`Segment.unique`).
    const unique = { id: contentId(NS.unique, this.salt, k), tokens: input, unique: true };
    if (this.prefixLens) {
      const g = this.contentRng.int(this.groups);
      const pl = this.prefixLens[g]!;
      total += pl;
      prompt = pl > 0 ? [{ id: contentId(NS.system, this.salt, g), tokens: pl }, unique] : [unique];
    } else {
      prompt = [unique];
    }
    const d = draft(t, prompt, total, output);
    d.source = this.name;
    this.tag?.(d);
    return d;
  }
}

function adapterDir(cfg: { adapter?: unknown }): string {
  const a = cfg.adapter as { servegen?: string } | string | undefined;
  return typeof a === "object" && a?.servegen ? a.servegen : "";
}

/** The per-request tagger of a component (its "tags" stream; ServeGen adapter popularity resolved via ctx). */
export function componentTagger(cfg: TagSpec, ctx: GenContext): ((d: Draft) => void) | undefined {
  return makeTagger(cfg, streams(ctx)("tags"), () => ctx.servegenWeights?.(adapterDir(cfg)) ?? []);
}

export function poissonGen(cfg: PoissonSource | BatchSource, ctx: GenContext): Gen {
  return new SingleShotGen(cfg, ctx);
}
