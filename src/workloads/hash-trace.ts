import type { Segment } from "../sim/hash.ts";
import { LineReader } from "./lines.ts";
import { lineError, type TraceReader } from "./trace-common.ts";
import { contentId, type Draft, draft, NS } from "./types.ts";

/**
 * Traces whose prompts are given as chained block hashes (Mooncake FAST'25 JSONL, 512-token blocks; the exgentic
 * agent-call JSONL, 16-token blocks). Block k of a request (`hash_ids[k]`) becomes one segment whose content id is
 * derived from the hash id: `min(B, input_length − kB)` tokens. Because a Mooncake id already identifies the block
 * and everything before it, two requests share exactly their common leading ids, and every 16-token sub-block of a
 * shared 512-token block is shared too (the sub-blocks are distinct pieces (id, offset) of the segment). Tokens beyond
 * `len(hash_ids) × B` (never in these files) get a unique segment; extra ids are ignored.
 */
export interface HashTraceFormat {
  readonly blockSize: number;
  /** Field holding the arrival time, and its unit in seconds (ms: 0.001). */
  readonly timeField: string;
  readonly timeUnit: number;
  /** Extra fields to copy (session, round, tenant). */
  readonly extra?: (obj: Record<string, unknown>, d: Draft, file: string, line: number) => void;
}

export const MOONCAKE: HashTraceFormat = { blockSize: 512, timeField: "timestamp", timeUnit: 1e-3 };

export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

export function parseJsonLine(line: string, file: string, ln: number): Record<string, unknown> {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch (e) {
    throw lineError(file, ln, "line", `expected one JSON object per line (${(e as Error).message})`);
  }
  if (!isObject(obj)) throw lineError(file, ln, "line", "expected a JSON object");
  return obj;
}

/** A non-negative number field (integer when `int`). */
export function jsonNum(
  obj: Record<string, unknown>,
  field: string,
  file: string,
  ln: number,
  int: boolean,
  optional?: number,
): number {
  const v = obj[field];
  if (v === undefined && optional !== undefined) return optional;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || (int && !Number.isInteger(v))) {
    const got = v === undefined ? "nothing" : JSON.stringify(v);
    throw lineError(file, ln, field, `expected a non-negative ${int ? "integer" : "number"}, got ${got}`);
  }
  return v;
}

/**
 * The part every JSON-lines trace reader shares: the file's lines, its display name for errors, the salt of its
 * content ids and the number of requests read (`row`, for unique content ids).
 */
export abstract class JsonLinesReader implements TraceReader {
  protected readonly lines: LineReader;
  protected readonly file: string;
  protected readonly salt: number;
  protected row = 0;

  constructor(path: string, displayPath: string, salt: number) {
    this.lines = new LineReader(path);
    this.file = displayPath;
    this.salt = salt;
  }

  abstract next(): Draft | undefined;

  where(): string {
    return `${this.file}:${this.lines.lineNo}`;
  }

  /** The next non-blank line as a JSON object (its line number: `lines.lineNo`); undefined at the end of the file. */
  protected nextObject(): Record<string, unknown> | undefined {
    for (;;) {
      const line = this.lines.next();
      if (line === undefined) return undefined;
      if (line.trim() !== "") return parseJsonLine(line, this.file, this.lines.lineNo);
    }
  }

  close(): void {
    this.lines.close();
  }
}

export class HashTraceReader extends JsonLinesReader {
  private readonly fmt: HashTraceFormat;
  private readonly filter: ((obj: Record<string, unknown>) => boolean) | undefined;

  constructor(
    path: string,
    displayPath: string,
    salt: number,
    fmt: HashTraceFormat,
    filter?: (obj: Record<string, unknown>) => boolean,
  ) {
    super(path, displayPath, salt);
    this.fmt = fmt;
    this.filter = filter;
  }

  next(): Draft | undefined {
    for (;;) {
      const obj = this.nextObject();
      if (obj === undefined) return undefined;
      const ln = this.lines.lineNo;
      const F = this.file;
      if (this.filter && !this.filter(obj)) continue;
      const t = jsonNum(obj, this.fmt.timeField, F, ln, false) * this.fmt.timeUnit;
      const input = jsonNum(obj, "input_length", F, ln, true);
      const output = jsonNum(obj, "output_length", F, ln, true);
      const ids = obj.hash_ids;
      if (!Array.isArray(ids)) throw lineError(F, ln, "hash_ids", "expected an array of block ids");
      const B = this.fmt.blockSize;
      const prompt: Segment[] = [];
      let left = input;
      for (let k = 0; k < ids.length && left > 0; k++) {
        const h = ids[k];
        if (typeof h !== "number" || !Number.isInteger(h) || h < 0)
          throw lineError(F, ln, `hash_ids.${k}`, `expected a non-negative integer block id, got ${JSON.stringify(h)}`);
        const tok = left < B ? left : B;
        prompt.push({ id: contentId(NS.mooncake, this.salt, h), tokens: tok });
        left -= tok;
      }
      if (left > 0) prompt.push({ id: contentId(NS.unique, this.salt, this.row), tokens: left });
      this.row++;
      const d = draft(t, prompt, input, output);
      this.fmt.extra?.(obj, d, F, ln);
      return d;
    }
  }
}

/**
 * The exgentic agent-call JSONL (`../shared/data/exgentic-agent-traces/`): 16-token hash blocks, `timestamp_ms`
 * relative to the start of each benchmark run. Rows are sorted by benchmark, then time, so each benchmark is read by
 * its own cursor over the file and the benchmarks are merged in time order (all runs start at 0, as they ran
 * concurrently). session = `session_id` (the tau2 user simulator, a separate LLM context, gets `session_id/user`),
 * round = `call_index`, tenant = `benchmark`.
 */
export const EXGENTIC: HashTraceFormat = {
  blockSize: 16,
  timeField: "timestamp_ms",
  timeUnit: 1e-3,
  extra: (obj, d) => {
    const sid = typeof obj.session_id === "string" ? obj.session_id : undefined;
    if (sid !== undefined) d.session = obj.caller === "user_simulator" ? `${sid}/user` : sid;
    if (typeof obj.call_index === "number") d.round = obj.call_index;
    if (typeof obj.benchmark === "string") d.tenant = obj.benchmark;
  },
};

export class ExgenticReader implements TraceReader {
  private readonly parts: HashTraceReader[] = [];
  private readonly heads: (Draft | undefined)[] = [];
  private readonly headWhere: string[] = [];
  private lastWhere = "";

  constructor(path: string, displayPath: string, salt: number) {
    // First pass: the benchmarks present, in file order (one small JSON parse per line, nothing kept).
    const names: string[] = [];
    const scan = new LineReader(path);
    for (let l = scan.next(); l !== undefined; l = scan.next()) {
      if (l.trim() === "") continue;
      const obj = parseJsonLine(l, displayPath, scan.lineNo);
      const b = typeof obj.benchmark === "string" ? obj.benchmark : "";
      if (names.length === 0 || names[names.length - 1] !== b) {
        if (!names.includes(b)) names.push(b);
      }
    }
    for (const b of names) {
      const r = new HashTraceReader(path, displayPath, salt, EXGENTIC, (o) => (o.benchmark ?? "") === b);
      this.parts.push(r);
      this.heads.push(r.next());
      this.headWhere.push(r.where());
    }
  }

  where(): string {
    return this.lastWhere;
  }

  next(): Draft | undefined {
    let best = -1;
    for (let i = 0; i < this.heads.length; i++) {
      const h = this.heads[i];
      if (h !== undefined && (best < 0 || h.arrival < this.heads[best]!.arrival)) best = i;
    }
    if (best < 0) return undefined;
    const d = this.heads[best]!;
    this.lastWhere = this.headWhere[best]!;
    this.heads[best] = this.parts[best]!.next();
    this.headWhere[best] = this.parts[best]!.where();
    return d;
  }

  close(): void {
    for (const p of this.parts) p.close();
  }
}
