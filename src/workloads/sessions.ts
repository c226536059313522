import { z } from "zod";
import { InputError } from "../errors.ts";
import type { Segment } from "../sim/hash.ts";
import { EventHeap } from "../sim/heap.ts";
import type { Request } from "../sim/request.ts";
import { type Rng, rngStream } from "../sim/rng.ts";
import type { ArrivalProcess } from "./arrivals.ts";
import {
  cumulative,
  distMean,
  LengthDistSchema,
  makeSampler,
  makeTimeSampler,
  pickCumulative,
  TimeDistSchema,
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
import type { TagSpec } from "./tags.ts";
import { contentId, contentSalt, type Draft, draft, type Gen, NS } from "./types.ts";

/**
 * Multi-turn sessions (chat, agent). A session starts at an arrival of the component's arrival process (`rate` is in
 * sessions per second) and sends `turns` requests. Turn r's prompt is the session's fixed prefix (system prompt of its
 * app, or the agent's tool definitions + task), then every earlier turn's new message and answer, then this turn's new
 * message: the context grows append-only, so each turn's prompt starts with the previous turn's whole prompt and
 * answer (cache hits on the growing prefix; the answer reuses the previous request's `outputContentId`).
 *
 * Closed loop (default): turn r+1 arrives `gap` seconds (think time, tool latency) after turn r *finished* — it is
 * produced by `onFinish`. A failed turn (dropped/rejected) leaves the history unchanged and the session goes on
 * (`on_failure: continue`) or ends (`end`). Open loop (`closed_loop: false`, or a stream built with `openLoop`, as
 * `workload export` does): turn r+1 arrives `gap` seconds after turn r *arrived*.
 */
/** Sessions in a row that end before their first turn after which the context limit is refused (`next`). */
const EMPTY_SESSIONS = 10_000;

export const SessionFields = {
  ...CommonFields,
  ...ArrivalFields,
  closed_loop: z.boolean().default(true),
  on_failure: z.enum(["continue", "end"]).default("continue"),
  /** A turn whose prompt would exceed this many tokens drops the oldest turns (`truncate`) or ends the session. */
  max_context_tokens: z.number().int().positive().optional(),
  on_context_full: z.enum(["truncate", "end"]).default("end"),
};

/**
 * How one kind of session is made. Every draw of a session (its prefix, turns, messages, outputs, gaps) comes from
 * the session's own random stream (`rngStream(seed, "<name>/session/<n>")`), so that a session's content never
 * depends on the order in which completions arrive (the routing policy), only its timing does.
 */
export interface SessionShape {
  /** The draws of session number `no`. */
  open(no: number, rng: Rng): SessionDraws;
  /** Session id string for session number n. */
  sessionId(n: number): string;
}

export interface SessionDraws {
  /** Fixed prefix of the session. */
  readonly prefix: Segment[];
  /** Turns in this session (≥ 1). */
  readonly turns: number;
  /** New message of turn r (r = 0: the first message / task). */
  message(round: number): Segment;
  output(round: number): number;
  /** Seconds between a turn's answer (closed loop) or arrival (open loop) and the next turn. */
  gap(): number;
}

interface SessionState {
  no: number;
  draws: SessionDraws;
  prefix: Segment[];
  prefixTokens: number;
  history: Segment[];
  historyTokens: number;
  /** Token count of each history pair (message + answer), oldest first, for truncation. */
  pairTokens: number[];
  round: number;
  turns: number;
  /** Open loop: next turn's time. */
  nextTime: number;
}

export class SessionGen implements Gen {
  readonly name: string;
  private readonly shape: SessionShape;
  private readonly arrivals: ArrivalProcess;
  private readonly closed: boolean;
  private readonly endOnFailure: boolean;
  private readonly maxCtx: number;
  /** Where the component sits in the scenario (`workload`, `workload.mix.1`), for messages. */
  private readonly where: string;
  private readonly truncate: boolean;
  private readonly salt: number;
  private readonly tag: ((d: Draft) => void) | undefined;
  private readonly sessions = new Map<string, SessionState>();
  /** Open loop: sessions waiting for their next turn, keyed by time (arg = slot in `slots`). */
  private readonly heap = new EventHeap(256);
  private readonly slots: (SessionState | undefined)[] = [];
  private readonly free: number[] = [];
  private nextStart: number | undefined;
  private startsDone = false;
  private sessionNo = 0;
  private answers = 0;
  private readonly seed: number;

  constructor(
    cfg: {
      closed_loop: boolean;
      on_failure: "continue" | "end";
      max_context_tokens?: number | undefined;
      on_context_full: "truncate" | "end";
      rate?: number | undefined;
      arrival?: Parameters<typeof componentArrivals>[0]["arrival"];
    } & TagSpec,
    ctx: GenContext,
    shape: SessionShape,
  ) {
    this.name = ctx.name;
    this.seed = ctx.seed;
    this.shape = shape;
    this.arrivals = componentArrivals(cfg, ctx, "sessions");
    this.closed = cfg.closed_loop && !ctx.openLoop;
    this.endOnFailure = cfg.on_failure === "end";
    this.maxCtx = cfg.max_context_tokens ?? Number.POSITIVE_INFINITY;
    this.where = ctx.where;
    this.truncate = cfg.on_context_full === "truncate";
    this.salt = contentSalt(ctx.name);
    this.tag = componentTagger(cfg, ctx);
    this.pullStart();
  }

  private pullStart(): void {
    if (this.startsDone) return;
    this.nextStart = this.arrivals.next();
    if (this.nextStart === undefined) this.startsDone = true;
  }

  /** Active sessions (open loop: waiting in the heap; closed loop: waiting for an answer or a think time). */
  get active(): number {
    return this.sessions.size;
  }

  next(): Draft | undefined {
    // A session that ends before its turn (its context already full) yields nothing: go on to the next one, in a
    // loop (one call per ended session overflowed the stack where every session ended so: max_context_tokens: 1).
    // Sessions that all end before their first turn would never yield a request, and the run, which stops at the
    // first arrival past its duration, would never end: refused after EMPTY_SESSIONS in a row.
    let empty = 0;
    for (;;) {
      const d = this.step();
      if (d !== null) return d;
      if (++empty >= EMPTY_SESSIONS) {
        throw new InputError(
          `${this.where}.max_context_tokens: ${this.maxCtx} tokens is less than the first prompt (shared prefix and ` +
            `first message) of ${EMPTY_SESSIONS.toLocaleString("en-US")} sessions in a row: every session ends ` +
            "before its first turn; raise it or leave it out",
        );
      }
    }
  }

  /** The next turn of any session; null when the one it came to ended without a turn, undefined when all are done. */
  private step(): Draft | undefined | null {
    const tHeap = this.heap.peekTime();
    const tStart = this.nextStart ?? Number.POSITIVE_INFINITY;
    if (tHeap === Number.POSITIVE_INFINITY && tStart === Number.POSITIVE_INFINITY) return undefined;
    if (tStart <= tHeap) {
      // New session (ties: new sessions first, deterministic).
      this.pullStart();
      const no = this.sessionNo++;
      const draws = this.shape.open(no, rngStream(this.seed, `${this.name}/session/${no}`));
      const prefix = draws.prefix;
      let pt = 0;
      for (const s of prefix) pt += s.tokens;
      const st: SessionState = {
        no,
        draws,
        prefix,
        prefixTokens: pt,
        history: [],
        historyTokens: 0,
        pairTokens: [],
        round: 0,
        turns: Math.max(1, draws.turns),
        nextTime: tStart,
      };
      return this.turn(st, tStart) ?? null;
    }
    this.heap.pop();
    const slot = this.heap.lastArg;
    const st = this.slots[slot]!;
    this.slots[slot] = undefined;
    this.free.push(slot);
    return this.turn(st, tHeap) ?? null;
  }

  /** Builds turn `st.round` at time t; schedules the session's continuation. Undefined if the session ended. */
  private turn(st: SessionState, t: number): Draft | undefined {
    const msg = st.draws.message(st.round);
    let input = st.prefixTokens + st.historyTokens + msg.tokens;
    if (input > this.maxCtx) {
      if (!this.truncate) return this.endSession(st);
      while (input > this.maxCtx && st.pairTokens.length > 0) {
        const drop = st.pairTokens.shift()!;
        st.history.splice(0, 2);
        st.historyTokens -= drop;
        input -= drop;
      }
      if (input > this.maxCtx) return this.endSession(st);
    }
    const prompt: Segment[] = new Array(st.prefix.length + st.history.length + 1);
    let i = 0;
    for (const s of st.prefix) prompt[i++] = s;
    for (const s of st.history) prompt[i++] = s;
    prompt[i] = msg;
    const out = st.draws.output(st.round);
    const d = draft(t, prompt, input, out);
    d.source = this.name;
    const sid = this.shape.sessionId(st.no);
    d.session = sid;
    d.round = st.round;
    d.outputContentId = contentId(NS.answer, this.salt, this.answers++);
    this.tag?.(d);
    st.round++;
    const more = st.round < st.turns;
    if (this.closed) {
      this.sessions.set(sid, st);
    } else {
      this.grow(st, msg, d);
      if (more) {
        st.nextTime = t + st.draws.gap();
        let slot = this.free.pop();
        if (slot === undefined) {
          slot = this.slots.length;
          this.slots.push(st);
        } else this.slots[slot] = st;
        this.heap.push(st.nextTime, 0, slot);
      }
    }
    return d;
  }

  private endSession(st: SessionState): undefined {
    this.sessions.delete(this.shape.sessionId(st.no));
    return undefined;
  }

  private grow(st: SessionState, msg: Segment, d: Request): void {
    st.history.push(msg, { id: d.outputContentId!, tokens: d.outputTokens });
    st.historyTokens += msg.tokens + d.outputTokens;
    st.pairTokens.push(msg.tokens + d.outputTokens);
  }

  onFinish(req: Request, now: number, completed: boolean): Draft[] | undefined {
    if (!this.closed || req.session === undefined) return undefined;
    const st = this.sessions.get(req.session);
    if (st === undefined) return undefined;
    if (completed) this.grow(st, req.prompt[req.prompt.length - 1]!, req);
    if (st.round >= st.turns || (!completed && this.endOnFailure)) {
      this.sessions.delete(req.session);
      return undefined;
    }
    const d = this.turn(st, now + st.draws.gap());
    return d ? [d] : undefined;
  }
}

/** App / agent-kind popularity: uniform, or Zipf with exponent s. */
export const PopularitySchema = z.union([z.literal("uniform"), z.strictObject({ zipf: z.number().positive() })]);

/** Picks an index in [0, n) with the given popularity, from the rng passed at each call. */
export function popularityPicker(n: number, p: z.infer<typeof PopularitySchema>): (rng: Rng) => number {
  if (n <= 1) return () => 0;
  if (p === "uniform") return (rng) => rng.int(n);
  const cum = cumulative(zipfWeights(n, p.zipf));
  return (rng) => pickCumulative(cum, rng.next());
}

// ---------------------------------------------------------------------------------------------------------------
// chat

/**
 * `chat`: multi-turn conversations. `apps` applications each have a system prompt (`system_prompt` tokens, drawn once
 * per app) shared by all their sessions; a session picks its app by `app_popularity`; it has `turns` turns of a
 * `message` (user tokens) and an `output`; `think_time` seconds pass between an answer and the next message.
 */
export const ChatSourceSchema = z.strictObject({
  type: z.literal("chat"),
  ...SessionFields,
  apps: z.number().int().positive().default(1),
  app_popularity: PopularitySchema.default("uniform"),
  system_prompt: LengthDistSchema.default(0),
  turns: LengthDistSchema.default({ dist: "uniform", min: 1, max: 10 }),
  message: LengthDistSchema.default({ dist: "lognormal", mean: 200, std: 150, min: 4, max: 4000 }),
  output: LengthDistSchema.default({ dist: "lognormal", mean: 300, std: 200, min: 4, max: 2000 }),
  think_time: TimeDistSchema.default({ dist: "exponential", mean: 10 }),
});
export type ChatSource = z.infer<typeof ChatSourceSchema>;

export function chatGen(cfg: ChatSource, ctx: GenContext): Gen {
  const salt = contentSalt(ctx.name);
  const sysLen = makeSampler(cfg.system_prompt, streams(ctx)("apps"), 0);
  const appLens = Array.from({ length: cfg.apps }, () => sysLen());
  const pickApp = popularityPicker(cfg.apps, cfg.app_popularity);
  const shape: SessionShape = {
    open: (no, rng) => {
      const app = pickApp(rng);
      const len = appLens[app]!;
      const message = makeSampler(cfg.message, rng);
      const output = makeSampler(cfg.output, rng);
      return {
        prefix: len > 0 ? [{ id: contentId(NS.system, salt, app), tokens: len }] : [],
        turns: makeSampler(cfg.turns, rng)(),
        message: (round) => ({ id: contentId(NS.question, salt, no, round), tokens: message() }),
        output,
        gap: makeTimeSampler(cfg.think_time, rng),
      };
    },
    sessionId: (n) => `${ctx.name}/${n}`,
  };
  return new SessionGen(cfg, ctx, shape);
}

// ---------------------------------------------------------------------------------------------------------------
// agent

/**
 * `agent`: tool-using agent sessions. `agents` agent kinds each have a long tool-definition + system prefix (`tools`
 * tokens, drawn once per kind) shared by every session of the kind; a session starts with a `task` message, then runs
 * `rounds` model calls: each answer is a short tool call (`output`), the tool's result (`tool_output` tokens) is
 * appended and the next call is sent `tool_latency` seconds after the answer.
 */
export const AgentSourceSchema = z.strictObject({
  type: z.literal("agent"),
  ...SessionFields,
  agents: z.number().int().positive().default(1),
  agent_popularity: PopularitySchema.default("uniform"),
  tools: LengthDistSchema.default(8000),
  task: LengthDistSchema.default({ dist: "lognormal", mean: 300, std: 200, min: 16, max: 4000 }),
  rounds: LengthDistSchema.default({ dist: "uniform", min: 3, max: 30 }),
  output: LengthDistSchema.default({ dist: "lognormal", mean: 120, std: 80, min: 8, max: 1000 }),
  tool_output: LengthDistSchema.default({ dist: "lognormal", mean: 400, std: 400, min: 8, max: 8000 }),
  tool_latency: TimeDistSchema.default({ dist: "lognormal", mean: 1.5, std: 1.5, max: 30 }),
});
export type AgentSource = z.infer<typeof AgentSourceSchema>;

export function agentGen(cfg: AgentSource, ctx: GenContext): Gen {
  const salt = contentSalt(ctx.name);
  const toolLen = makeSampler(cfg.tools, streams(ctx)("agents"), 0);
  const kindLens = Array.from({ length: cfg.agents }, () => toolLen());
  const pickKind = popularityPicker(cfg.agents, cfg.agent_popularity);
  const shape: SessionShape = {
    open: (no, rng) => {
      const kind = pickKind(rng);
      const len = kindLens[kind]!;
      const task = makeSampler(cfg.task, rng);
      const toolOut = makeSampler(cfg.tool_output, rng);
      const output = makeSampler(cfg.output, rng);
      return {
        prefix: len > 0 ? [{ id: contentId(NS.tools, salt, kind), tokens: len }] : [],
        turns: makeSampler(cfg.rounds, rng)(),
        message: (round) =>
          round === 0
            ? { id: contentId(NS.question, salt, no, 0), tokens: task() }
            : { id: contentId(NS.toolResult, salt, no, round), tokens: toolOut() },
        output,
        gap: makeTimeSampler(cfg.tool_latency, rng),
      };
    },
    sessionId: (n) => `${ctx.name}/${n}`,
  };
  return new SessionGen(cfg, ctx, shape);
}

/** Mean requests per session (to convert a mix's request rate into sessions per second). */
export function meanTurns(cfg: ChatSource | AgentSource): number {
  return Math.max(1, distMean(cfg.type === "chat" ? cfg.turns : cfg.rounds));
}
