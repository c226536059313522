import { LineReader, splitCsv } from "./lines.ts";
import { lineError, num, type TraceReader } from "./trace-common.ts";
import { contentId, type Draft, draft, NS } from "./types.ts";

/** Header-driven CSV reading shared by the CSV trace formats. */
abstract class CsvTrace implements TraceReader {
  protected readonly lines: LineReader;
  protected readonly file: string;
  protected readonly salt: number;
  protected readonly col = new Map<string, number>();
  protected row = 0;

  constructor(path: string, displayPath: string, salt: number, required: readonly string[], what: string) {
    this.lines = new LineReader(path);
    this.file = displayPath;
    this.salt = salt;
    let header = this.lines.next();
    if (header === undefined)
      throw lineError(displayPath, 1, "header", `expected a ${what} header line, got an empty file`);
    if (header.charCodeAt(0) === 0xfeff) header = header.slice(1);
    const names = splitCsv(header);
    if (typeof names === "string") throw lineError(displayPath, 1, "header", names);
    names.forEach((n, i) => {
      this.col.set(n.trim(), i);
    });
    for (const r of required)
      if (!this.col.has(r)) throw lineError(displayPath, 1, r, `expected a column named "${r}" in the ${what} header`);
  }

  where(): string {
    return `${this.file}:${this.lines.lineNo}`;
  }

  /** Next non-empty row split into fields, with its line number. */
  protected fields(): { f: string[]; ln: number } | undefined {
    for (;;) {
      const line = this.lines.next();
      if (line === undefined) return undefined;
      if (line.trim() === "") continue;
      const ln = this.lines.lineNo;
      const f = splitCsv(line);
      if (typeof f === "string") throw lineError(this.file, ln, "line", f);
      if (f.length < this.col.size)
        throw lineError(this.file, ln, "line", `expected ${this.col.size} comma-separated fields, got ${f.length}`);
      return { f, ln };
    }
  }

  abstract next(): Draft | undefined;

  close(): void {
    this.lines.close();
  }
}

const AZURE_TS = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)$/;

/** Seconds since 1970-01-01 of an Azure `TIMESTAMP` (`2023-11-16 18:17:03.9799600`, UTC assumed), or NaN. */
export function parseAzureTimestamp(s: string): number {
  const m = AZURE_TS.exec(s.trim());
  if (!m) return Number.NaN;
  const [y, mo, d, h, mi, sec] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  // Date.UTC would roll 2023-02-30 over into March: an impossible date or time of day is refused instead (NaN).
  // Pure calendar arithmetic (Gregorian month lengths); no Date object, no clock.
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1];
  if (monthDays === undefined || d < 1 || d > monthDays) return Number.NaN;
  if (h > 23 || mi > 59 || sec >= 61) return Number.NaN;
  return Date.UTC(y, mo - 1, d) / 1000 + h * 3600 + mi * 60 + sec;
}

/**
 * Azure LLM inference trace 2023 (`AzureLLMInferenceTrace_{code,conv}.csv`, Splitwise): `TIMESTAMP` (wall clock,
 * 7 fractional digits), `ContextTokens` (prompt), `GeneratedTokens` (output). No prefix information: every prompt is
 * unique content. Times are wall-clock: trace time counts from the first record.
 */
export class AzureTraceReader extends CsvTrace {
  private readonly cT: number;
  private readonly cIn: number;
  private readonly cOut: number;

  constructor(path: string, displayPath: string, salt: number) {
    super(path, displayPath, salt, ["TIMESTAMP", "ContextTokens", "GeneratedTokens"], "Azure LLM trace");
    this.cT = this.col.get("TIMESTAMP")!;
    this.cIn = this.col.get("ContextTokens")!;
    this.cOut = this.col.get("GeneratedTokens")!;
  }

  next(): Draft | undefined {
    const r = this.fields();
    if (r === undefined) return undefined;
    const { f, ln } = r;
    const raw = f[this.cT] ?? "";
    const t = parseAzureTimestamp(raw);
    if (Number.isNaN(t))
      throw lineError(this.file, ln, "TIMESTAMP", `expected a time like "2023-11-16 18:17:03.9799600", got "${raw}"`);
    const input = num(f[this.cIn], this.file, ln, "ContextTokens", { int: true, min: 0 });
    const output = num(f[this.cOut], this.file, ln, "GeneratedTokens", { int: true, min: 0 });
    const prompt = input > 0 ? [{ id: contentId(NS.unique, this.salt, this.row), tokens: input }] : [];
    this.row++;
    return draft(t, prompt, input, output);
  }
}

/**
 * BurstGPT CSV (HPMLL/BurstGPT): `Timestamp` (seconds), `Model`, `Request tokens`, `Response tokens`,
 * `Total tokens`, `Log Type`; with `Session ID` (and `Elapsed time`) in the releases that have them. Prompts are
 * unique content (no prefix information); `Session ID` becomes the session. `Model` (ChatGPT / GPT-4) is not mapped
 * to the request's model (it names the upstream service, not a served model). Trace time counts from the first record (BurstGPT_2 starts days into the collection).
 */
export class BurstGptTraceReader extends CsvTrace {
  private readonly cT: number;
  private readonly cIn: number;
  private readonly cOut: number;
  private readonly cSession: number;
  private readonly rounds = new Map<string, number>();

  constructor(path: string, displayPath: string, salt: number) {
    super(path, displayPath, salt, ["Timestamp", "Request tokens", "Response tokens"], "BurstGPT");
    this.cT = this.col.get("Timestamp")!;
    this.cIn = this.col.get("Request tokens")!;
    this.cOut = this.col.get("Response tokens")!;
    this.cSession = this.col.get("Session ID") ?? -1;
  }

  next(): Draft | undefined {
    const r = this.fields();
    if (r === undefined) return undefined;
    const { f, ln } = r;
    const t = num(f[this.cT], this.file, ln, "Timestamp", { min: 0 });
    const input = num(f[this.cIn], this.file, ln, "Request tokens", { int: true, min: 0 });
    const output = num(f[this.cOut], this.file, ln, "Response tokens", { int: true, min: 0 });
    const prompt = input > 0 ? [{ id: contentId(NS.unique, this.salt, this.row), tokens: input }] : [];
    this.row++;
    const d = draft(t, prompt, input, output);
    const sid = this.cSession >= 0 ? f[this.cSession] : undefined;
    if (sid) {
      const round = this.rounds.get(sid) ?? 0;
      this.rounds.set(sid, round + 1);
      d.session = sid;
      d.round = round;
    }
    return d;
  }
}
