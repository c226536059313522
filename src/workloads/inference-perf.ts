/**
 * `workload: { type: inference-perf, config: FILE }`: replays the load an inference-perf config describes, with
 * inference-perf's client behaviour (kubernetes-sigs/inference-perf @7de5ef2; ../shared/data/inference-perf/SCHEMA.md
 * gives the file:line references):
 *
 * - Each stage sends int(rate × duration) requests (load_generator.py:771), scheduled from the stage's start + 1 s
 *   (load_generator.py:763-766): `constant` = exponential gaps rescaled to sum to `duration`, `poisson` = a Poisson
 *   count per 1-s window spread the same way (load_timer.py:36-97); concurrent stages send `num_requests` within 1 s
 *   with `concurrency_level` as the cap (main.py:142-151).
 * - Client concurrency: every request holds one of num_workers × worker_max_concurrency slots from the moment a worker
 *   takes it off the queue, through the sleep until its scheduled time, to its completion (load_generator.py:161-225).
 *   Slots are taken in queue (FIFO) order, so under overload a request is sent late: at max(scheduled, the completion
 *   that freed its slot); the lateness is the report's schedule_delay. The per-worker split is modelled as one pool.
 * - Drain: the stage ends when all its requests have finished, seen by a 1-s polling loop (load_generator.py:802-821);
 *   then the client sleeps `load.interval` and starts the next stage (load_generator.py:1090-1091). Stages never
 *   overlap.
 * - Sweeps: a probe stage (id −1) sends `num_requests` at num_requests/5 QPS for 5 s; the in-flight count is sampled
 *   every 0.5 s until `timeout`, the drops per second of that count are collected and their `saturation_percentile`
 *   percentile is the saturation rate; the stages are linspace(1, sat) or 1 + sat − geomspace(sat, 1), rounded to
 *   2 decimals, each `stage_duration` long (load_generator.py:853-938). The probe's stragglers are not cancelled at
 *   `timeout` here: the probe drains like any stage.
 * - Data: every stage restarts its data index at 0 (load_generator.py:776-777), so every stage replays the same
 *   prompt list from the start (shared_prefix: prompt at position i mod N of the seeded shuffle).
 *
 * Needs completion feedback (closed loop). Open loop (`workload export`, `trace stats`) drops the cap and the drain:
 * stage k+1 starts `interval` after stage k's last scheduled request.
 */
import { resolve } from "node:path";
import { z } from "zod";
import { InputError } from "../errors.ts";
import type { Segment } from "../sim/hash.ts";
import type { Request } from "../sim/request.ts";
import { exponential, normal, type Rng, shuffle } from "../sim/rng.ts";
import { poissonCount } from "./arrivals.ts";
import {
  type IpDistribution,
  type IpLen,
  type IpPlan,
  type IpStage,
  loadInferencePerfConfig,
} from "./inference-perf-config.ts";
import { type GenContext, streams } from "./synthetic.ts";
import { contentId, contentSalt, type Draft, draft, type Gen, MAX_RUN_REQUESTS, NS } from "./types.ts";

export const InferencePerfSourceSchema = z.strictObject({
  type: z.literal("inference-perf"),
  name: z.string().min(1).optional(),
  /** The inference-perf config file, relative to the scenario file's folder. */
  config: z.string().min(1),
  /** llm-d-benchmark templates: which entry of `workload:` to read (default the first). */
  workload_name: z.string().min(1).optional(),
  /** Multiplies every stage's rate (and a mix's weight). Default 1. */
  weight: z.number().positive().optional(),
  /**
   * Replace the stage rates: with a sweep, these rates (each `stage_duration` long) replace the probe, e.g. the rates
   * a measured run's sweep chose, to compare stage by stage; with stages, one rate per stage.
   */
  stage_rates: z.array(z.number().positive()).min(1).optional(),
});
export type InferencePerfSource = z.infer<typeof InferencePerfSourceSchema>;

/** One stage as it ran. Times are simulated seconds. */
export interface IpStageRun {
  /** Stage id as in the report file names (−1: the sweep's probe). */
  readonly id: number;
  readonly rate: number;
  readonly duration: number;
  readonly concurrency: number | undefined;
  /** When the client entered the stage (the report's stage start). */
  readonly begin: number;
  /** First scheduled time (begin + 1 s). */
  readonly schedStart: number;
  /** When the client saw the last completion (its 1-s poll); undefined while running. */
  end: number | undefined;
  readonly count: number;
}

/** Per request the client sent: its stage and the time it was scheduled for (for schedule_delay). */
export interface IpSent {
  readonly draft: Draft;
  readonly stage: number;
  readonly scheduled: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Lengths (inference_perf/utils/numeric/distribution/utils.py)

function stdOf(d: IpDistribution): number {
  if (d.variance !== undefined) return Math.sqrt(d.variance);
  return d.std_dev ?? 200;
}

/** One draw of `sample_from_distribution` (shared_prefix) or `generate_distribution` (random/synthetic: `legacy`). */
function drawLen(d: IpDistribution, rng: Rng, legacy: boolean): number {
  if (d.type === "fixed") return Math.trunc(d.mean);
  const std = stdOf(d);
  let x: number;
  switch (d.type) {
    case "skew_normal": {
      // Azzalini's two-normal construction.
      const delta = d.skew / Math.sqrt(1 + d.skew * d.skew);
      const u0 = normal(rng);
      const v = normal(rng);
      const u1 = delta * u0 + Math.sqrt(1 - delta * delta) * v;
      x = d.mean + std * (u0 >= 0 ? u1 : -u1);
      break;
    }
    case "lognormal": {
      // legacy: shifted so that min maps to 0; current: plain moment match.
      const m = legacy ? (d.mean - d.min > 0 ? d.mean - d.min : 1) : d.mean;
      if (std <= 0) x = m;
      else {
        const s2 = Math.log(1 + (std / m) ** 2);
        x = Math.exp(Math.log(m) - s2 / 2 + Math.sqrt(s2) * normal(rng));
      }
      if (legacy) x += d.min;
      break;
    }
    case "uniform":
      x = d.min + rng.next() * (d.max + (legacy ? 0 : 1) - d.min);
      break;
    case "poisson":
      x = poissonCount(rng, d.mean > 0 ? d.mean : 1);
      break;
    default:
      x = d.mean + std * normal(rng);
  }
  const c = Math.min(Math.max(x, d.min), d.max);
  return Math.min(Math.max(Math.round(c), d.min), d.max);
}

function lenOf(l: IpLen, rng: Rng, legacy = false): number {
  return typeof l === "number" ? l : Math.max(0, drawLen(l, rng, legacy));
}

// ---------------------------------------------------------------------------------------------------------------
// Data generators: what request i of a stage sends.

interface IpData {
  /** Session that request i of a stage belongs to (−1: none). */
  session(i: number): number;
  /** The request (arrival filled in by the caller). Called when it is sent, in send order. */
  make(i: number): Draft;
  /** A request finished: multi-turn sessions grow their context. */
  done?(req: Request, completed: boolean): void;
}

class SharedPrefixData implements IpData {
  private readonly n: number;
  private readonly perGroup: number;
  private readonly sysLen: Int32Array;
  private readonly qlen: Int32Array;
  private readonly olen: Int32Array;
  /** Position → original prompt (group-major index). */
  private readonly perm: Int32Array;
  private readonly multi: boolean;
  private readonly ctx: Segment[][] = [];
  private readonly ctxTokens: Float64Array;
  private count = 0;

  private readonly salt: number;

  constructor(d: Extract<IpPlan["data"], { type: "shared_prefix" }>, rng: Rng, salt: number) {
    this.salt = salt;
    this.perGroup = d.perGroup;
    this.n = d.groups * d.perGroup;
    this.sysLen = new Int32Array(d.groups);
    this.qlen = new Int32Array(this.n);
    this.olen = new Int32Array(this.n);
    // shared_prefix_datagen.py: per group a system prompt length, then per prompt question and output lengths.
    for (let g = 0; g < d.groups; g++) this.sysLen[g] = lenOf(d.systemLen, rng);
    for (let g = 0; g < d.groups; g++)
      for (let p = 0; p < d.perGroup; p++) this.qlen[g * d.perGroup + p] = Math.max(1, lenOf(d.questionLen, rng));
    for (let g = 0; g < d.groups; g++)
      for (let p = 0; p < d.perGroup; p++) this.olen[g * d.perGroup + p] = Math.max(1, lenOf(d.outputLen, rng));
    const order = Array.from({ length: this.n }, (_, i) => i);
    shuffle(rng, order);
    this.perm = Int32Array.from(order);
    this.multi = d.multiTurn;
    this.ctxTokens = new Float64Array(this.multi ? this.n : 0);
    if (this.multi)
      for (let k = 0; k < this.n; k++) {
        const s = this.sys(Math.floor(k / this.perGroup));
        this.ctx.push(s ? [s] : []);
        this.ctxTokens[k] = s ? s.tokens : 0;
      }
  }

  private sys(g: number): Segment | undefined {
    const t = this.sysLen[g]!;
    return t > 0 ? { id: contentId(NS.system, this.salt, g), tokens: t } : undefined;
  }

  session(i: number): number {
    return this.multi ? this.perm[i % this.n]! : -1;
  }

  make(i: number): Draft {
    const k = this.perm[i % this.n]!;
    const g = Math.floor(k / this.perGroup);
    const sys = this.sys(g);
    const q: Segment = { id: contentId(NS.question, this.salt, k), tokens: this.qlen[k]! };
    const own = sys ? [sys, q] : [q];
    const ownTokens = (sys?.tokens ?? 0) + q.tokens;
    if (!this.multi) return draft(0, own, ownTokens, this.olen[k]!);
    // user_session.py: the prompt is the session's context followed by the full prompt (prefix + question).
    const prompt = [...this.ctx[k]!, ...own];
    const d = draft(0, prompt, this.ctxTokens[k]! + ownTokens, this.olen[k]!);
    d.session = `user_session_${k}`;
    d.outputContentId = contentId(NS.answer, this.salt, this.count++);
    return d;
  }

  done(req: Request, completed: boolean): void {
    if (!this.multi || !completed || req.session === undefined) return;
    const k = Number(req.session.slice(req.session.lastIndexOf("_") + 1));
    // The next context is the prompt just sent plus its answer; a failed round keeps the old context.
    this.ctx[k] = [...req.prompt, { id: req.outputContentId!, tokens: req.outputTokens }];
    this.ctxTokens[k] = req.inputTokens + req.outputTokens;
  }
}

class RandomData implements IpData {
  private readonly inLen: number[] = [];
  private readonly outLen: number[] = [];
  private sent = 0;
  private readonly d: Extract<IpPlan["data"], { type: "random" | "synthetic" }>;
  private readonly rng: Rng;
  private readonly salt: number;
  constructor(d: Extract<IpPlan["data"], { type: "random" | "synthetic" }>, rng: Rng, salt: number) {
    this.d = d;
    this.rng = rng;
    this.salt = salt;
  }
  session(): number {
    return -1;
  }
  make(i: number): Draft {
    // random_datagen.py: lengths drawn up front (total_count ≥ the largest stage), request i uses entry i; the text is
    // fresh random tokens for every request, so no two prompts share a prefix.
    while (this.inLen.length <= i) {
      this.inLen.push(Math.max(1, drawLen(this.d.input, this.rng, true)));
      this.outLen.push(Math.max(1, drawLen(this.d.output, this.rng, true)));
    }
    const id = contentId(NS.unique, this.salt, this.sent++);
    return draft(0, [{ id, tokens: this.inLen[i]! }], this.inLen[i]!, this.outLen[i]!);
  }
}

/** mock_datagen.py sends "1 2 3 i" with no max_tokens; the lengths are assumptions (docs/inference-perf.md). */
export const MOCK_INPUT_TOKENS = 8;
export const MOCK_OUTPUT_TOKENS = 16;
class MockData implements IpData {
  private sent = 0;
  private readonly salt: number;
  constructor(salt: number) {
    this.salt = salt;
  }
  session(): number {
    return -1;
  }
  make(): Draft {
    const id = contentId(NS.unique, this.salt, this.sent++);
    return draft(0, [{ id, tokens: MOCK_INPUT_TOKENS }], MOCK_INPUT_TOKENS, MOCK_OUTPUT_TOKENS);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Arrival times of one stage (load_timer.py)

/** Scheduled offsets from the stage's schedule start for `count` requests. */
export function stageOffsets(type: "constant" | "poisson" | "concurrent", s: IpStage, rng: Rng): Float64Array {
  const n = Math.trunc(s.rate * s.duration);
  const out = new Float64Array(n);
  if (n === 0) return out;
  const spread = (into: Float64Array, from: number, k: number, rate: number, span: number, t0: number) => {
    let sum = 0;
    for (let j = 0; j < k; j++) sum += into[from + j] = exponential(rng, rate);
    const f = span / sum;
    let t = t0;
    for (let j = 0; j < k; j++) {
      t += into[from + j]! * f;
      into[from + j] = t;
    }
    return t;
  };
  if (type !== "poisson") {
    spread(out, 0, n, s.rate, s.duration, 0);
    return out;
  }
  let filled = 0;
  let t = 0;
  while (filled < n) {
    const k = poissonCount(rng, s.rate);
    if (k === 0) {
      t += 1;
      continue;
    }
    const tmp = new Float64Array(k);
    const end = spread(tmp, 0, k, k, 1, t);
    for (let j = 0; j < k && filled < n; j++) out[filled++] = tmp[j]!;
    t = end;
  }
  return out;
}

/** numpy.percentile with linear interpolation. */
export function percentileLinear(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const h = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (h - lo);
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** Stage rates of a sweep from its saturation rate (load_generator.py:930-936). */
export function sweepRates(type: "linear" | "geometric", sat: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const f = n === 1 ? 1 : i / (n - 1);
    if (type === "linear") out.push(round2(1 + (sat - 1) * f));
    else {
      // geomspace(sat, 1, n)[i] = sat^(1 − f)
      out.push(round2(1 + sat - sat ** (1 - f)));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------

export class InferencePerfGen implements Gen {
  readonly name: string;
  readonly plan: IpPlan;
  readonly stages: IpStageRun[] = [];
  readonly sent: IpSent[] = [];
  /** Saturation rate the sweep probe measured (requests/s), when there was a sweep. */
  saturation: number | undefined;
  private readonly data: IpData;
  private readonly ctx: GenContext;
  private readonly loraRng: Rng;
  private readonly openLoop: boolean;
  private pending: IpStage[];
  // Current stage.
  private cur: IpStageRun | undefined;
  private sched: Float64Array = new Float64Array(0);
  /** Requests of the stages begun so far (bounded: `beginStage`). */
  private planned = 0;
  private cap = 0;
  private released = 0;
  private finished = 0;
  private readonly queue: Draft[] = [];
  private qHead = 0;
  // Multi-turn sessions: busy flag and requests waiting for their previous round.
  private readonly busy = new Set<number>();
  private readonly waiting = new Map<number, { i: number; ready: number }[]>();
  // Probe: (send, finish) times of its requests.
  private probeSend: number[] = [];
  private probeEnd: number[] = [];
  private readonly probeIdx = new Map<Draft, number>();

  constructor(plan: IpPlan, ctx: GenContext) {
    this.name = ctx.name;
    this.plan = plan;
    this.ctx = ctx;
    this.openLoop = ctx.openLoop;
    const s = streams(ctx);
    const salt = contentSalt(ctx.name);
    const d = plan.data;
    this.data =
      d.type === "shared_prefix"
        ? new SharedPrefixData(d, s(`data${d.seed !== undefined ? `/${d.seed}` : ""}`), salt)
        : d.type === "mock"
          ? new MockData(salt)
          : new RandomData(d, s("data"), salt);
    this.loraRng = s("lora");
    const k = ctx.rateScale;
    this.pending = plan.stages.map((st) => (k !== 1 ? { ...st, rate: st.rate * k } : st));
    if (plan.sweep) this.beginStage(-1, { rate: plan.sweep.numRequests / 5, duration: 5 }, 0);
    else this.beginNext(0);
  }

  private beginNext(t: number): void {
    for (;;) {
      const st = this.pending.shift();
      if (st === undefined) {
        this.cur = undefined;
        return;
      }
      const id = this.stages.filter((x) => x.id >= 0).length;
      if (this.beginStage(id, st, t)) return;
      t += this.plan.interval;
    }
  }

  /** Starts a stage at client time `t`; false if it has no requests (it ends at once). */
  private beginStage(id: number, st: IpStage, t: number): boolean {
    // A sweep's stage rates come from the probe: only now is a stage's size known. The run's requests are bounded
    // as a scenario's are (`MAX_RUN_REQUESTS`): seven stages of 900,000 s at the probe's rates ran out of memory.
    const n = Math.trunc(st.rate * st.duration);
    this.planned += n;
    if (this.planned > MAX_RUN_REQUESTS)
      throw new InputError(
        `${this.plan.file}: load.sweep.stage_duration: stage ${id} at ${st.rate} requests/s for ${st.duration} s ` +
          `would bring the run to ${this.planned.toLocaleString("en-US")} requests; at most ` +
          `${MAX_RUN_REQUESTS.toLocaleString("en-US")} accepted: shorten stage_duration`,
      );
    const rng = streams(this.ctx)(`arrivals/stage${id}`);
    const offs = stageOffsets(this.plan.loadType, st, rng);
    const run: IpStageRun = {
      id,
      rate: st.rate,
      duration: st.duration,
      concurrency: st.concurrency,
      begin: t,
      schedStart: t + 1,
      end: undefined,
      count: offs.length,
    };
    this.stages.push(run);
    if (offs.length === 0) {
      run.end = t;
      return false;
    }
    for (let i = 0; i < offs.length; i++) offs[i] = offs[i]! + run.schedStart;
    this.sched = offs;
    this.cur = run;
    this.released = 0;
    this.finished = 0;
    const c = st.concurrency ?? this.plan.cap;
    this.cap = this.openLoop || c <= 0 ? offs.length : c;
    const first = Math.min(this.cap, offs.length);
    for (let k = 0; k < first; k++) this.release(t, this.queue);
    return true;
  }

  /** Gives the next request of the stage a client slot at time `now`. */
  private release(now: number, out: Draft[]): void {
    const i = this.released++;
    const ready = Math.max(this.sched[i]!, now);
    const u = this.data.session(i);
    if (u >= 0 && !this.openLoop && this.busy.has(u)) {
      let w = this.waiting.get(u);
      if (w === undefined) this.waiting.set(u, (w = []));
      w.push({ i, ready });
      return;
    }
    out.push(this.send(i, ready, u));
  }

  private send(i: number, t: number, u: number): Draft {
    const d = this.data.make(i);
    d.arrival = t;
    d.source = this.name;
    if (this.plan.lora) {
      let x = this.loraRng.next();
      for (const a of this.plan.lora) {
        x -= a.split;
        if (x < 0) {
          d.adapter = a.name;
          break;
        }
      }
      d.adapter ??= this.plan.lora[this.plan.lora.length - 1]!.name;
    }
    if (u >= 0 && !this.openLoop) this.busy.add(u);
    this.sent.push({ draft: d, stage: this.cur!.id, scheduled: this.sched[i]! });
    if (this.cur!.id < 0) {
      this.probeIdx.set(d, this.probeSend.length);
      this.probeSend.push(t);
      this.probeEnd.push(Number.POSITIVE_INFINITY);
    }
    return d;
  }

  next(): Draft | undefined {
    // A loop, not a recursive call per stage: stages that schedule nothing are passed over one after another.
    for (;;) {
      if (this.qHead < this.queue.length) {
        const d = this.queue[this.qHead]!;
        this.queue[this.qHead++] = undefined as unknown as Draft;
        if (this.qHead === this.queue.length) {
          this.queue.length = 0;
          this.qHead = 0;
        }
        return d;
      }
      if (!this.openLoop || this.cur === undefined) return undefined;
      // Open loop: no completions come back, so the stage ends with its last scheduled request.
      const last = this.sched[this.sched.length - 1]!;
      this.cur.end = last;
      if (this.cur.id < 0) this.finishProbe(last);
      this.beginNext(last + this.plan.interval);
    }
  }

  onFinish(req: Request, now: number, completed: boolean): Draft[] | undefined {
    if (this.openLoop) return undefined;
    this.data.done?.(req, completed);
    const cur = this.cur;
    if (cur === undefined) return undefined;
    const out: Draft[] = [];
    if (cur.id < 0) {
      const j = this.probeIdx.get(req as Draft);
      if (j !== undefined) this.probeEnd[j] = now;
    }
    if (req.session !== undefined) {
      const u = Number(req.session.slice(req.session.lastIndexOf("_") + 1));
      const w = this.waiting.get(u);
      const h = w?.shift();
      if (h !== undefined) out.push(this.send(h.i, Math.max(h.ready, now), u));
      else this.busy.delete(u);
    }
    this.finished++;
    if (this.released < this.sched.length) this.release(now, out);
    if (this.finished === this.sched.length) {
      // The 1-s polling loop sees the last completion at its next tick after the stage began.
      const end = cur.begin + Math.ceil(now - cur.begin - 1e-9);
      cur.end = Math.max(end, now);
      if (cur.id < 0) this.finishProbe(cur.end);
      this.beginNext(cur.end + (cur.id < 0 ? 0 : this.plan.interval));
      for (let q = this.qHead; q < this.queue.length; q++) out.push(this.queue[q]!);
      this.queue.length = 0;
      this.qHead = 0;
    }
    return out.length > 0 ? out : undefined;
  }

  /** Saturation from the probe's in-flight samples (load_generator.py:877-927), then the sweep's stages. */
  private finishProbe(end: number): void {
    const sw = this.plan.sweep!;
    const probe = this.stages.find((s) => s.id === -1)!;
    const t0 = probe.begin;
    const samples: [number, number][] = [];
    for (let t = t0; t <= end && t < t0 + sw.timeout; t += 0.5) {
      let a = 0;
      for (let j = 0; j < this.probeSend.length; j++) if (this.probeSend[j]! <= t && this.probeEnd[j]! > t) a++;
      samples.push([t, a]);
    }
    const rates: number[] = [];
    for (let k = 1; k < samples.length; k++) {
      const d = samples[k]![1] - samples[k - 1]![1];
      if (d < 0) rates.push(Math.abs(d / (samples[k]![0] - samples[k - 1]![0])));
    }
    if (rates.length <= 1)
      throw new InputError(
        `${this.plan.file}: load.sweep: the probe stage gathered too few samples to find the saturation point ` +
          "(inference-perf fails the same way); raise load.sweep.num_requests or timeout",
      );
    rates.sort((a, b) => a - b);
    const sat = percentileLinear(rates, sw.saturationPercentile);
    this.saturation = sat;
    this.pending = sweepRates(sw.type, sat, sw.numStages).map((rate) => ({
      rate: rate * this.ctx.rateScale,
      duration: sw.stageDuration,
    }));
    this.probeSend = [];
    this.probeEnd = [];
    this.probeIdx.clear();
  }

  /** The stage runs and sent requests with the engine's request ids (after the run). */
  log(): { stages: readonly IpStageRun[]; sent: readonly IpSent[] } {
    return { stages: this.stages, sent: this.sent };
  }
}

/** Builds the generator (the config is read now; errors name the config file). */
export function inferencePerfGen(cfg: InferencePerfSource, ctx: GenContext): InferencePerfGen {
  const abs = resolve(ctx.baseDir, cfg.config);
  let plan = loadInferencePerfConfig(abs, cfg.config, cfg.workload_name);
  const rates = cfg.stage_rates;
  if (rates !== undefined) {
    if (plan.sweep) {
      const d = plan.sweep.stageDuration;
      plan = { ...plan, sweep: undefined, stages: rates.map((rate) => ({ rate, duration: d })) };
    } else if (rates.length !== plan.stages.length)
      throw new InputError(
        `${ctx.where}.stage_rates: expected ${plan.stages.length} rates (one per stage of ${cfg.config}), got ${rates.length}`,
      );
    else plan = { ...plan, stages: plan.stages.map((s, i) => ({ ...s, rate: rates[i]! })) };
  }
  return new InferencePerfGen(plan, ctx);
}
