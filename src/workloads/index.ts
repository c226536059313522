import { isAbsolute, relative, resolve } from "node:path";
import { InputError } from "../errors.ts";
import type { Request, RequestSource } from "../sim/request.ts";
import { inferencePerfGen } from "./inference-perf.ts";
import { LineReader } from "./lines.ts";
import { ragGen } from "./rag.ts";
import { parseWorkload, type SourceConfig, type TraceSource, type WorkloadConfig } from "./schema.ts";
import { ServeGenOptionsSchema, serveGenWeights } from "./servegen.ts";
import { agentGen, chatGen, meanTurns } from "./sessions.ts";
import { sharedPrefixGen } from "./shared-prefix.ts";
import { componentTagger, type GenContext, poissonGen, streams } from "./synthetic.ts";
import { TraceGen } from "./trace-common.ts";
import { detectFormat, TRACE_FORMAT_REGISTRY } from "./trace-formats.ts";
import { contentSalt, type Draft, type Gen } from "./types.ts";

export type { SourceConfig, WorkloadConfig, WorkloadInput } from "./schema.ts";
export { parseWorkload, WorkloadSchema } from "./schema.ts";

export interface BuildOptions {
  seed: number;
  /** Folder of the scenario file: trace paths are resolved against it. */
  baseDir: string;
  /** Stop after this many requests (all components, closed-loop follow-ups included). */
  maxRequests?: number | undefined;
  /** Stop at the first arrival ≥ durationS (follow-ups arriving later are dropped). */
  durationS?: number | undefined;
  /**
   * No completions will be reported (`workload export`, `trace stats`): closed-loop sessions schedule their next turn
   * from the previous turn's arrival instead of waiting for `onFinish`. Default false.
   */
  openLoop?: boolean | undefined;
}

/** The request source the engine pulls, with `close()` to release trace files early. */
export interface WorkloadSource extends RequestSource {
  close(): void;
}

/**
 * Assigns dense ids (0, 1, 2, … in creation order across `next()` and `onFinish`), enforces the request and time
 * limits, and routes completions back to the component that made the request.
 */
/** Most tokens one request may carry (prompt or output): the longest context of a released open model, Llama 4 Scout's
 * 10M (Meta's model card). Beyond it no request can be real, and tables sized by it would exhaust memory. */
export const MAX_REQUEST_TOKENS = 10_000_000;

/**
 * The last check before a request enters the simulation, whatever produced it (a generator, any of the trace
 * readers): at least one prompt and one output token, both at most MAX_REQUEST_TOKENS, a finite arrival ≥ 0. A
 * request with no tokens would never make progress; one with 10¹² would allocate tables no machine holds.
 */
function checkDraft(d: Draft, index: number): void {
  const where = () => `workload${d.source ? ` component "${d.source}"` : ""}: request ${index}`;
  const tokens = (n: number, what: string) => {
    if (!Number.isFinite(n) || !Number.isInteger(n) || n < 1)
      throw new InputError(`${where()}: ${what} ${n}; a request needs at least 1 ${what.split(" ")[0]} token`);
    if (n > MAX_REQUEST_TOKENS)
      throw new InputError(
        `${where()}: ${what} ${n.toExponential()}; at most ${MAX_REQUEST_TOKENS.toLocaleString("en-US")} accepted (the longest context of any released model)`,
      );
  };
  tokens(d.inputTokens, "prompt tokens");
  tokens(d.outputTokens, "output tokens");
  if (!Number.isFinite(d.arrival) || d.arrival < 0)
    throw new InputError(`${where()}: arrival time ${d.arrival}; expected a finite time ≥ 0 s`);
}

export class WorkloadStream implements WorkloadSource {
  private readonly gen: Gen;
  private readonly max: number;
  private readonly until: number;
  private nextId = 0;
  private ended = false;

  constructor(gen: Gen, maxRequests = Number.POSITIVE_INFINITY, durationS = Number.POSITIVE_INFINITY) {
    this.gen = gen;
    this.max = maxRequests;
    this.until = durationS;
  }

  /** The component (or mix) that makes the requests (reports read the inference-perf client's stage log). */
  get component(): Gen {
    return this.gen;
  }

  /** Requests created so far. */
  get created(): number {
    return this.nextId;
  }

  next(): Request | undefined {
    if (this.ended) return undefined;
    if (this.nextId >= this.max) return this.end();
    const d = this.gen.next();
    if (d === undefined || d.arrival >= this.until) return this.end();
    checkDraft(d, this.nextId);
    d.id = this.nextId++;
    return d;
  }

  private end(): undefined {
    if (!this.ended) {
      this.ended = true;
      this.gen.close?.();
    }
    return undefined;
  }

  onFinish(req: Request, now: number, completed: boolean): readonly Request[] | undefined {
    if (this.gen.onFinish === undefined) return undefined;
    const more = this.gen.onFinish(req, now, completed);
    if (more === undefined || more.length === 0) return undefined;
    const out: Request[] = [];
    for (const d of more) {
      if (this.nextId >= this.max || d.arrival >= this.until) continue;
      if (d.arrival < now) d.arrival = now;
      checkDraft(d, this.nextId);
      d.id = this.nextId++;
      out.push(d);
    }
    return out.length > 0 ? out : undefined;
  }

  close(): void {
    this.ended = true;
    this.gen.close?.();
  }
}

/** Merges components in arrival order; ties go to the earlier component. Completions go back by `source`. */
export class MixGen implements Gen {
  readonly name = "mix";
  private readonly gens: Gen[];
  private readonly heads: (Draft | undefined)[];
  private readonly byName = new Map<string, Gen>();

  constructor(gens: Gen[]) {
    this.gens = gens;
    this.heads = gens.map((g) => g.next());
    for (const g of gens) this.byName.set(g.name, g);
  }

  next(): Draft | undefined {
    let best = -1;
    let bt = Number.POSITIVE_INFINITY;
    const h = this.heads;
    for (let i = 0; i < h.length; i++) {
      const d = h[i];
      if (d !== undefined && (best < 0 || d.arrival < bt)) {
        best = i;
        bt = d.arrival;
      }
    }
    if (best < 0) return undefined;
    const d = h[best]!;
    h[best] = this.gens[best]!.next();
    return d;
  }

  onFinish(req: Request, now: number, completed: boolean): Draft[] | undefined {
    const g = req.source !== undefined ? this.byName.get(req.source) : undefined;
    return g?.onFinish?.(req, now, completed);
  }

  close(): void {
    for (const g of this.gens) g.close?.();
  }
}

function displayPath(abs: string): string {
  const rel = relative(process.cwd(), abs);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : abs;
}

function traceGen(cfg: TraceSource, ctx: GenContext): Gen {
  const abs = resolve(ctx.baseDir, cfg.path);
  const shown = displayPath(abs);
  const format = cfg.format ?? detectFormat(abs, () => firstLineOf(abs));
  const entry = TRACE_FORMAT_REGISTRY[format];
  const reader = entry.read({
    abs,
    shown,
    salt: contentSalt(ctx.name),
    ctx,
    servegen: cfg.servegen ?? ServeGenOptionsSchema.parse({}),
  });
  const s = streams(ctx);
  return new TraceGen(
    ctx.name,
    reader,
    {
      speedup: cfg.speedup,
      window: cfg.window,
      sample: cfg.sample,
      rebase: cfg.rebase ?? false,
      absolute: entry.absoluteClock === true,
      file: shown,
    },
    s("sample"),
    componentTagger(cfg, ctx),
  );
}

function firstLineOf(path: string): string | undefined {
  try {
    const r = new LineReader(path);
    const l = r.next();
    r.close();
    return l;
  } catch {
    return undefined;
  }
}

/** Builds one component. */
export type GenFactory = (cfg: SourceConfig, ctx: GenContext) => Gen;
const factories = new Map<string, GenFactory>([
  ["poisson", (c, ctx) => poissonGen(c as Extract<SourceConfig, { type: "poisson" }>, ctx)],
  ["batch", (c, ctx) => poissonGen(c as Extract<SourceConfig, { type: "batch" }>, ctx)],
  ["shared-prefix", (c, ctx) => sharedPrefixGen(c as Extract<SourceConfig, { type: "shared-prefix" }>, ctx)],
  ["trace", (c, ctx) => traceGen(c as TraceSource, ctx)],
  ["chat", (c, ctx) => chatGen(c as Extract<SourceConfig, { type: "chat" }>, ctx)],
  ["agent", (c, ctx) => agentGen(c as Extract<SourceConfig, { type: "agent" }>, ctx)],
  ["rag", (c, ctx) => ragGen(c as Extract<SourceConfig, { type: "rag" }>, ctx)],
  ["inference-perf", (c, ctx) => inferencePerfGen(c as Extract<SourceConfig, { type: "inference-perf" }>, ctx)],
]);

/** Registers a generator for a source type. */
export function registerGen(type: string, f: GenFactory): void {
  factories.set(type, f);
}

/** Requests per session start of a component (session generators override), to turn request rates into sessions/s. */
const requestsPerArrival = new Map<string, (cfg: SourceConfig) => number>([
  ["chat", (c) => meanTurns(c as Extract<SourceConfig, { type: "chat" }>)],
  ["agent", (c) => meanTurns(c as Extract<SourceConfig, { type: "agent" }>)],
]);
export function registerRequestsPerArrival(type: string, f: (cfg: SourceConfig) => number): void {
  requestsPerArrival.set(type, f);
}

function componentNames(items: readonly SourceConfig[]): string[] {
  const count = new Map<string, number>();
  for (const c of items) count.set(c.type, (count.get(c.type) ?? 0) + 1);
  const names = items.map((c, i) => c.name ?? ((count.get(c.type) ?? 0) > 1 ? `${c.type}#${i}` : c.type));
  const seen = new Set<string>();
  names.forEach((n, i) => {
    if (seen.has(n))
      throw new InputError(`workload.mix.${i}.name: expected a unique component name, "${n}" is used twice`);
    seen.add(n);
  });
  return names;
}

/**
 * Builds the request stream of a scenario's `workload:` section (`cfg`: raw, or already parsed by `WorkloadSchema`).
 * Lazy: nothing is generated or read before the engine pulls. Throws `InputError` for bad configs or files.
 */
export function buildWorkload(cfg: WorkloadConfig | unknown, opts: BuildOptions): WorkloadSource {
  const parsed = parseWorkload(cfg);
  const base = {
    seed: opts.seed,
    baseDir: opts.baseDir,
    openLoop: opts.openLoop ?? false,
    servegenWeights: (dir: string) => {
      if (!dir)
        throw new InputError("workload: adapter.servegen: expected the ServeGen folder for popularity: servegen");
      return serveGenWeights(resolve(opts.baseDir, dir));
    },
  };
  let gen: Gen;
  if ("mix" in parsed) {
    const names = componentNames(parsed.mix);
    const totalW = parsed.mix.reduce((s, c) => s + (c.weight ?? 1), 0);
    const gens = parsed.mix.map((c, i) => {
      const w = c.weight ?? 1;
      const perReq = requestsPerArrival.get(c.type)?.(c) ?? 1;
      const ctx: GenContext = {
        ...base,
        name: names[i]!,
        where: `workload.mix.${i}`,
        rateScale: parsed.rate !== undefined ? 1 : w,
        rate: parsed.rate !== undefined ? (parsed.rate * w) / totalW / perReq : undefined,
      };
      return makeGen(c, ctx);
    });
    gen = new MixGen(gens);
  } else {
    const ctx: GenContext = {
      ...base,
      name: parsed.name ?? parsed.type,
      where: "workload",
      rateScale: parsed.weight ?? 1,
    };
    gen = makeGen(parsed, ctx);
  }
  return new WorkloadStream(gen, opts.maxRequests, opts.durationS);
}

function makeGen(c: SourceConfig, ctx: GenContext): Gen {
  const f = factories.get(c.type);
  if (f === undefined) throw new InputError(`${ctx.where}.type: workload type "${c.type}" is not supported yet`);
  return f(c, ctx);
}
