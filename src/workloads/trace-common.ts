import { InputError } from "../errors.ts";
import type { Segment } from "../sim/hash.ts";
import type { Rng } from "../sim/rng.ts";
import type { Draft, Gen } from "./types.ts";

/**
 * A streamed trace reader: yields drafts in file order with arrival times in seconds as recorded (relative to the
 * trace's own origin), and says where it is for error messages.
 */
export interface TraceReader {
  next(): Draft | undefined;
  /** `FILE:LINE` of the record last returned. */
  where(): string;
  close(): void;
}

/** `FILE:LINE: FIELD: what was expected`. */
export function lineError(file: string, line: number, field: string, what: string): InputError {
  return new InputError(`${file}:${line}: ${field}: ${what}`);
}

/** Parses a field as a finite number (integers when `int`), or throws the standard message. */
export function num(
  raw: string | undefined,
  file: string,
  line: number,
  field: string,
  opts: { int?: boolean; min?: number; optional?: number } = {},
): number {
  if (raw === undefined || raw === "") {
    if (opts.optional !== undefined) return opts.optional;
    throw lineError(file, line, field, `expected ${opts.int ? "an integer" : "a number"}, got nothing`);
  }
  const v = Number(raw);
  const shown = raw.length > 40 ? `${raw.slice(0, 40)}…` : raw;
  if (!Number.isFinite(v) || raw.trim() === "")
    throw lineError(file, line, field, `expected ${opts.int ? "an integer" : "a number"}, got "${shown}"`);
  if (opts.int && !Number.isInteger(v)) throw lineError(file, line, field, `expected an integer, got "${shown}"`);
  if (opts.min !== undefined && v < opts.min)
    throw lineError(
      file,
      line,
      field,
      `expected ${opts.min === 0 ? "a non-negative" : `a ≥ ${opts.min}`} ${opts.int ? "integer" : "number"}, got ${shown}`,
    );
  return v;
}

/** Options common to every trace: time scaling, a time window, sampling. */
export interface TraceOptions {
  /** Divide every time by this (2 = twice as fast). */
  speedup: number;
  /**
   * Keep requests with start_s ≤ τ < end_s, τ = trace time (seconds from the trace's origin; for formats with wall
   * clocks, from the first record). Kept times are shifted so that start_s → 0.
   */
  window?: { start_s?: number | undefined; end_s?: number | undefined } | undefined;
  /** Keep each request with this probability (Bernoulli, from the component's "sample" stream). */
  sample: number;
  /** Shift times so that the first kept request arrives at 0. */
  rebase: boolean;
  /** The format's clock is absolute (wall-clock timestamps): trace time counts from the first record. */
  absolute: boolean;
  /** The trace's path as shown in messages (default: from the reader's position). */
  file?: string;
}

/** Most tokens a request may carry (the longest context of a released model, Llama 4 Scout's 10M; Meta's card). */
const MAX_TOKENS = 10_000_000;

/** A record's token counts: at least 1 prompt and 1 output token, at most MAX_TOKENS (named by its file and line). */
function checkLengths(d: Draft, reader: TraceReader): void {
  for (const [n, what] of [
    [d.inputTokens, "input tokens"],
    [d.outputTokens, "output tokens"],
  ] as const) {
    if (!(n >= 1))
      throw new InputError(`${reader.where()}: ${what}: ${n}; a request needs at least 1 ${what.split(" ")[0]} token`);
    if (n > MAX_TOKENS)
      throw new InputError(
        `${reader.where()}: ${what}: ${n.toExponential()}; at most ${MAX_TOKENS.toLocaleString("en-US")} accepted (the longest context of any released model)`,
      );
  }
}

/** Latest replayed arrival, seconds (about 3 years; ten times the longest public LLM trace, BurstGPT's 121 days). */
const MAX_REPLAY_S = 1e8;

/** Seconds, printed without float noise. */
function secs(t: number): string {
  return String(Number(t.toFixed(6)));
}

/**
 * Wraps a reader into a component: applies window, sampling, speedup, stamps `source` and tags, and checks that
 * arrivals never go back in time (a request source must be time-ordered).
 */
export class TraceGen implements Gen {
  readonly name: string;
  private readonly reader: TraceReader;
  private readonly opts: TraceOptions;
  private readonly rng: Rng;
  private readonly tag: ((d: Draft) => void) | undefined;
  private base: number | undefined;
  private shift: number | undefined;
  private last = Number.NEGATIVE_INFINITY;
  private done = false;
  /** Records read: a trace without any is an error, not an empty run. */
  private records = 0;

  constructor(name: string, reader: TraceReader, opts: TraceOptions, rng: Rng, tag: ((d: Draft) => void) | undefined) {
    this.name = name;
    this.reader = reader;
    this.opts = opts;
    this.rng = rng;
    this.tag = tag;
    if (!opts.absolute) this.base = 0;
    if (!opts.rebase) this.shift = opts.window?.start_s ?? 0;
  }

  next(): Draft | undefined {
    if (this.done) return undefined;
    const start = this.opts.window?.start_s ?? Number.NEGATIVE_INFINITY;
    const end = this.opts.window?.end_s ?? Number.POSITIVE_INFINITY;
    for (;;) {
      const d = this.reader.next();
      if (d === undefined) {
        this.done = true;
        this.checkNotEmpty();
        return undefined;
      }
      this.records++;
      checkLengths(d, this.reader);
      const raw = d.arrival;
      if (raw < this.last) {
        const where = this.reader.where();
        throw new InputError(
          `${where}: arrival: expected non-decreasing arrival times, got ${secs(raw)} s after ${secs(this.last)} s`,
        );
      }
      this.last = raw;
      if (this.base === undefined) this.base = raw;
      const t = raw - this.base;
      if (t < start) continue;
      if (t >= end) {
        this.done = true;
        this.reader.close();
        this.checkNotEmpty();
        return undefined;
      }
      if (this.opts.sample < 1 && this.rng.next() >= this.opts.sample) continue;
      if (this.shift === undefined) this.shift = t;
      d.arrival = (t - this.shift) / this.opts.speedup;
      if (d.arrival > MAX_REPLAY_S) {
        // Far past any recorded trace (BurstGPT_1.csv, the longest public one we know, spans 10.5·10^6 s): replicas
        // would be scraped every interval through the gap, and the run would not end (a speedup of 10^-9 on an hour
        // of trace replays it over 10^11 s).
        const sp = this.opts.speedup;
        throw new InputError(
          `${this.reader.where()}: arrival: ${secs(t - this.shift)} s into the trace${sp !== 1 ? ` at speedup ${sp}` : ""} replays at ${secs(d.arrival)} s, past 10^8 s (about 3 years); raise the speedup, or replay a window of the trace`,
        );
      }
      d.source = this.name;
      if (this.tag) {
        // Scenario tags fill what the trace leaves empty; the trace's own values win.
        const { tenant, sloClass, priority, model, adapter } = d;
        this.tag(d);
        if (tenant !== undefined) d.tenant = tenant;
        if (sloClass !== undefined) d.sloClass = sloClass;
        if (priority !== undefined) d.priority = priority;
        if (model !== undefined) d.model = model;
        if (adapter !== undefined) d.adapter = adapter;
      }
      return d;
    }
  }

  private checkNotEmpty(): void {
    if (this.records > 0) return;
    const file = this.opts.file ?? this.reader.where().replace(/:\d+$/, "");
    throw new InputError(`${file}: the trace holds no request (empty, or a header only)`);
  }

  close(): void {
    this.reader.close();
  }
}

/** Sum of segment tokens. */
export function tokensOf(prompt: readonly Segment[]): number {
  let n = 0;
  for (const s of prompt) n += s.tokens;
  return n;
}
