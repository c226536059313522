import { z } from "zod";
import type { Segment } from "../sim/hash.ts";
import type { Request } from "../sim/request.ts";
import { normal, type Rng, shuffle } from "../sim/rng.ts";
import { InferencePerfTimer } from "./arrivals.ts";
import { CommonFields, componentTagger, type GenContext, streams } from "./synthetic.ts";
import { contentId, contentSalt, type Draft, draft, type Gen, NS } from "./types.ts";

/**
 * kubernetes-sigs/inference-perf's shared-prefix data generator (`inference_perf/datagen/shared_prefix_datagen.py`
 * and `apis/user_session.py`, read at HEAD in 2026; re-implemented from its documented behaviour, no code copied):
 *
 * - `num_groups` (alias `num_unique_system_prompts`) system prompts of `system_prompt_len` random tokens, each shared
 *   by `num_prompts_per_group` (alias `num_users_per_system_prompt`) prompts/users: N = groups × users prompts, in
 *   group-major order. Question and output lengths are drawn per prompt (normal with `*_std`, clamped to
 *   [`*_min`, `*_max`], rounded; std 0 = the constant `question_len` / `output_len`).
 * - Which prompt/user sends request i: inference-perf's data generator is a cycle: request i of a stage uses prompt
 *   position p = i mod N (the cycle restarts at 0 in every stage because the load generator creates a new data
 *   iterator per stage).
 *   - single turn: prompts (with their output lengths) are shuffled once; request i sends system prompt + question of
 *     the prompt at position p.
 *   - multi turn (`enable_multi_turn_chat`): the N user sessions are shuffled once (the prompts are not); request i
 *     goes to session σ(p) and sends that session's context + the question at position p. A session's context starts
 *     as its group's system prompt and becomes prompt + answer after each completed round (a failed round leaves it
 *     unchanged), so the context grows by (question + answer) every round. A session sends one round at a time:
 *     a round whose time comes while the previous one is in flight waits for it (`wait_for_previous_turn`, closed loop,
 *     released by `onFinish`; ignored when the stream is used open loop).
 * - Arrivals: inference-perf's default `load.type` is `constant` (not Poisson): exactly int(rate × duration) requests
 *   per stage with exponential gaps normalised to sum to the stage duration (`InferencePerfTimer`); `poisson` is its
 *   per-second Poisson count variant.
 *
 * The input mirrors inference-perf's config (`data.shared_prefix` → `shared_prefix`, `load.stages` → `stages`,
 * `load.type` → `load_type`), so `workload.inference_perf` of the calibration set can be used as is with `type` added.
 */
export const SharedPrefixSchema = z
  .strictObject({
    type: z.literal("shared-prefix"),
    ...CommonFields,
    shared_prefix: z.strictObject({
      num_groups: z.number().int().positive().optional(),
      num_unique_system_prompts: z.number().int().positive().optional(),
      num_prompts_per_group: z.number().int().positive().optional(),
      num_users_per_system_prompt: z.number().int().positive().optional(),
      system_prompt_len: z.number().int().nonnegative(),
      question_len: z.number().positive(),
      question_len_std: z.number().nonnegative().default(0),
      question_len_min: z.number().int().positive().default(1),
      question_len_max: z.number().int().positive().optional(),
      output_len: z.number().positive(),
      output_len_std: z.number().nonnegative().default(0),
      output_len_min: z.number().int().positive().default(1),
      output_len_max: z.number().int().positive().optional(),
      enable_multi_turn_chat: z.boolean().default(false),
    }),
    stages: z.array(z.strictObject({ rate: z.number().positive(), duration: z.number().positive() })).min(1),
    load_type: z.enum(["constant", "poisson"]).default("constant"),
    /** Seconds between stages (inference-perf drains each stage and sleeps `load.interval`). */
    stage_gap_s: z.number().nonnegative().default(0),
    wait_for_previous_turn: z.boolean().default(true),
    /** Open loop only: a round whose prompt would exceed this is treated as failed (the context does not grow). */
    max_context_tokens: z.number().int().positive().optional(),
  })
  .refine((c) => (c.shared_prefix.num_groups ?? c.shared_prefix.num_unique_system_prompts) !== undefined, {
    message: "give num_groups (or num_unique_system_prompts)",
    path: ["shared_prefix", "num_groups"],
  })
  .refine((c) => (c.shared_prefix.num_prompts_per_group ?? c.shared_prefix.num_users_per_system_prompt) !== undefined, {
    message: "give num_prompts_per_group (or num_users_per_system_prompt)",
    path: ["shared_prefix", "num_prompts_per_group"],
  });
export type SharedPrefixSource = z.infer<typeof SharedPrefixSchema>;

function lengths(rng: Rng, n: number, mean: number, std: number, min: number, max: number | undefined): Int32Array {
  const out = new Int32Array(n);
  const hi = max ?? Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const x = Math.round(std > 0 ? mean + std * normal(rng) : mean);
    out[i] = x < min ? min : x > hi ? hi : x;
  }
  return out;
}

interface Held {
  time: number;
  pos: number;
}

class SharedPrefixGen implements Gen {
  readonly name: string;
  private readonly timer: InferencePerfTimer;
  private readonly groups: number;
  private readonly users: number;
  private readonly n: number;
  private readonly sysLen: number;
  private readonly qlen: Int32Array;
  private readonly olen: Int32Array;
  /** Single turn: position → prompt index. Multi turn: position → user session. */
  private readonly perm: Int32Array;
  private readonly multi: boolean;
  private readonly wait: boolean;
  private readonly maxCtx: number;
  private readonly salt: number;
  private readonly tag: ((d: Draft) => void) | undefined;
  // Multi-turn session state.
  private readonly history: Segment[][] = [];
  private readonly historyTokens: Float64Array;
  private readonly rounds: Int32Array;
  private readonly inFlight: Uint8Array;
  private readonly held: Held[][] = [];
  private stage = -1;
  private pos = 0;
  private count = 0;

  constructor(cfg: SharedPrefixSource, ctx: GenContext) {
    this.name = ctx.name;
    const sp = cfg.shared_prefix;
    this.groups = (sp.num_groups ?? sp.num_unique_system_prompts)!;
    this.users = (sp.num_prompts_per_group ?? sp.num_users_per_system_prompt)!;
    this.n = this.groups * this.users;
    this.sysLen = sp.system_prompt_len;
    const s = streams(ctx);
    const lrng = s("lengths");
    // Per group: question lengths, then output lengths (inference-perf draws them group by group).
    this.qlen = new Int32Array(this.n);
    this.olen = new Int32Array(this.n);
    for (let g = 0; g < this.groups; g++) {
      this.qlen.set(
        lengths(lrng, this.users, sp.question_len, sp.question_len_std, sp.question_len_min, sp.question_len_max),
        g * this.users,
      );
      this.olen.set(
        lengths(lrng, this.users, sp.output_len, sp.output_len_std, sp.output_len_min, sp.output_len_max),
        g * this.users,
      );
    }
    const order = Array.from({ length: this.n }, (_, i) => i);
    shuffle(s("content"), order);
    this.perm = Int32Array.from(order);
    this.multi = sp.enable_multi_turn_chat;
    this.wait = this.multi && cfg.wait_for_previous_turn && !ctx.openLoop;
    this.maxCtx = cfg.max_context_tokens ?? Number.POSITIVE_INFINITY;
    this.historyTokens = new Float64Array(this.multi ? this.n : 0);
    this.rounds = new Int32Array(this.multi ? this.n : 0);
    this.inFlight = new Uint8Array(this.multi ? this.n : 0);
    if (this.multi) {
      for (let u = 0; u < this.n; u++) {
        this.history.push([]);
        this.held.push([]);
      }
    }
    this.salt = contentSalt(ctx.name);
    this.tag = componentTagger(cfg, ctx);
    const stages = ctx.rateScale !== 1 ? cfg.stages.map((x) => ({ ...x, rate: x.rate * ctx.rateScale })) : cfg.stages;
    this.timer = new InferencePerfTimer(stages, cfg.load_type, s("arrivals"), 0, cfg.stage_gap_s);
  }

  private systemSegment(group: number): Segment | undefined {
    return this.sysLen > 0 ? { id: contentId(NS.system, this.salt, group), tokens: this.sysLen } : undefined;
  }

  private questionSegment(promptIndex: number): Segment {
    return { id: contentId(NS.question, this.salt, promptIndex), tokens: this.qlen[promptIndex]! };
  }

  next(): Draft | undefined {
    for (;;) {
      const t = this.timer.next();
      if (t === undefined) return undefined;
      if (this.timer.stageIndex !== this.stage) {
        this.stage = this.timer.stageIndex;
        this.pos = 0;
      }
      const p = this.pos;
      this.pos = (this.pos + 1) % this.n;
      if (!this.multi) return this.single(t, p);
      const u = this.perm[p]!;
      if (this.wait && this.inFlight[u]) {
        this.held[u]!.push({ time: t, pos: p });
        continue;
      }
      return this.turn(t, p, u);
    }
  }

  private single(t: number, p: number): Draft {
    const k = this.perm[p]!;
    const q = this.questionSegment(k);
    const sys = this.systemSegment(Math.floor(k / this.users));
    const prompt = sys ? [sys, q] : [q];
    const d = draft(t, prompt, this.sysLen + q.tokens, this.olen[k]!);
    d.source = this.name;
    this.tag?.(d);
    return d;
  }

  private turn(t: number, p: number, u: number): Draft {
    const q = this.questionSegment(p);
    const sys = this.systemSegment(Math.floor(u / this.users));
    const hist = this.history[u]!;
    const prompt: Segment[] = [];
    if (sys) prompt.push(sys);
    for (const h of hist) prompt.push(h);
    prompt.push(q);
    const input = this.sysLen + this.historyTokens[u]! + q.tokens;
    const d = draft(t, prompt, input, this.olen[p]!);
    d.source = this.name;
    d.session = `${this.name}/user_session_${u}`;
    d.round = this.rounds[u]!;
    d.outputContentId = contentId(NS.answer, this.salt, this.count++);
    this.tag?.(d);
    this.rounds[u]!++;
    if (this.wait) this.inFlight[u] = 1;
    else if (input <= this.maxCtx) this.grow(u, q, d);
    return d;
  }

  private grow(u: number, q: Segment, d: Request): void {
    const hist = this.history[u]!;
    hist.push(q, { id: d.outputContentId!, tokens: d.outputTokens });
    this.historyTokens[u] = this.historyTokens[u]! + q.tokens + d.outputTokens;
  }

  onFinish(req: Request, now: number, completed: boolean): Draft[] | undefined {
    if (!this.wait || req.session === undefined) return undefined;
    const u = Number(req.session.slice(req.session.lastIndexOf("_") + 1));
    if (!(u >= 0 && u < this.n)) return undefined;
    const last = req.prompt[req.prompt.length - 1];
    if (completed && last) this.grow(u, last, req);
    const h = this.held[u]!.shift();
    if (h === undefined) {
      this.inFlight[u] = 0;
      return undefined;
    }
    return [this.turn(Math.max(h.time, now), h.pos, u)];
  }
}

export function sharedPrefixGen(cfg: SharedPrefixSource, ctx: GenContext): Gen {
  return new SharedPrefixGen(cfg, ctx);
}
