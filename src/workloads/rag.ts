import { z } from "zod";
import type { Segment } from "../sim/hash.ts";
import type { Rng } from "../sim/rng.ts";
import type { ArrivalProcess } from "./arrivals.ts";
import {
  cumulative,
  LengthDistSchema,
  makeSampler,
  pickCumulative,
  type Sampler,
  zipfWeights,
} from "./distributions.ts";
import {
  ArrivalFields,
  CommonFields,
  componentArrivals,
  componentTagger,
  type GenContext,
  streams,
} from "./synthetic.ts";
import { contentId, contentSalt, type Draft, draft, type Gen, NS } from "./types.ts";

/**
 * `rag`: retrieval-augmented single-turn queries. A corpus of `documents` chunks (each `chunk_tokens` long, drawn once
 * per chunk in corpus order) has Zipf popularity (chunk of rank r retrieved ∝ 1/(r+1)^zipf_s; 0 = uniform). Each query
 * retrieves `k` distinct chunks by popularity; its prompt is the shared `instructions` prefix, the chunks (in retrieval
 * order, or by chunk id with `sort_chunks`, which makes equal chunk sets share their prefix), then the `query`; answers
 * are short (`output`).
 */
export const RagSourceSchema = z.strictObject({
  type: z.literal("rag"),
  ...CommonFields,
  ...ArrivalFields,
  documents: z.number().int().positive().default(10000),
  chunk_tokens: LengthDistSchema.default(512),
  zipf_s: z.number().nonnegative().default(1),
  k: LengthDistSchema.default(4),
  sort_chunks: z.boolean().default(false),
  instructions: LengthDistSchema.default(200),
  query: LengthDistSchema.default({ dist: "lognormal", mean: 40, std: 20, min: 4, max: 400 }),
  output: LengthDistSchema.default({ dist: "lognormal", mean: 120, std: 80, min: 8, max: 1000 }),
});
export type RagSource = z.infer<typeof RagSourceSchema>;

class RagGen implements Gen {
  readonly name: string;
  private readonly arrivals: ArrivalProcess;
  private readonly chunkLens: Int32Array;
  private readonly cum: Float64Array | undefined;
  private readonly k: Sampler;
  private readonly query: Sampler;
  private readonly output: Sampler;
  private readonly instructions: Segment | undefined;
  private readonly rng: Rng;
  private readonly sort: boolean;
  private readonly salt: number;
  private readonly tag: ((d: Draft) => void) | undefined;
  private readonly picked = new Set<number>();
  private n = 0;

  constructor(cfg: RagSource, ctx: GenContext) {
    this.name = ctx.name;
    const s = streams(ctx);
    this.salt = contentSalt(ctx.name);
    this.arrivals = componentArrivals(cfg, ctx);
    const corpus = s("corpus");
    const cl = makeSampler(cfg.chunk_tokens, corpus);
    this.chunkLens = new Int32Array(cfg.documents);
    for (let i = 0; i < cfg.documents; i++) this.chunkLens[i] = cl();
    const instr = makeSampler(cfg.instructions, corpus, 0)();
    this.instructions = instr > 0 ? { id: contentId(NS.instructions, this.salt), tokens: instr } : undefined;
    this.cum = cfg.zipf_s > 0 ? cumulative(zipfWeights(cfg.documents, cfg.zipf_s)) : undefined;
    this.rng = s("retrieval");
    const lengths = s("lengths");
    this.k = makeSampler(cfg.k, this.rng);
    this.query = makeSampler(cfg.query, lengths);
    this.output = makeSampler(cfg.output, lengths);
    this.sort = cfg.sort_chunks;
    this.tag = componentTagger(cfg, ctx);
  }

  private pick(): number {
    return this.cum ? pickCumulative(this.cum, this.rng.next()) : this.rng.int(this.chunkLens.length);
  }

  next(): Draft | undefined {
    const t = this.arrivals.next();
    if (t === undefined) return undefined;
    const k = Math.min(this.k(), this.chunkLens.length);
    const picked = this.picked;
    picked.clear();
    const docs: number[] = [];
    while (docs.length < k) {
      const d = this.pick();
      if (!picked.has(d)) {
        picked.add(d);
        docs.push(d);
      }
    }
    if (this.sort) docs.sort((a, b) => a - b);
    const prompt: Segment[] = [];
    let input = 0;
    if (this.instructions) {
      prompt.push(this.instructions);
      input += this.instructions.tokens;
    }
    for (const d of docs) {
      const len = this.chunkLens[d]!;
      prompt.push({ id: contentId(NS.document, this.salt, d), tokens: len });
      input += len;
    }
    const q = this.query();
    // The query: no other request repeats it (`Segment.unique`).
    prompt.push({ id: contentId(NS.unique, this.salt, this.n++), tokens: q, unique: true });
    input += q;
    const dr = draft(t, prompt, input, this.output());
    dr.source = this.name;
    this.tag?.(dr);
    return dr;
  }
}

export function ragGen(cfg: RagSource, ctx: GenContext): Gen {
  return new RagGen(cfg, ctx);
}
