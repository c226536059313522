/**
 * The trace-format registry: one entry per `format:` of a trace component (and `gatelab trace --from/--to`), with
 * its reader, its writer if gatelab writes it, how a file of it is recognised from its name and first line, and its
 * docs line (docs/workloads.md's table is generated from it). A new format = its reader file + one line in
 * `TRACE_FORMAT_ENTRIES`.
 */
import { blockHashes } from "../sim/hash.ts";
import { BlisTraceReader, blisHeader, blisRow } from "./blis-trace.ts";
import { AzureTraceReader, BurstGptTraceReader } from "./csv-traces.ts";
import { ExgenticReader, HashTraceReader, MOONCAKE } from "./hash-trace.ts";
import { GatelabJsonlReader, jsonlHeaderLine, jsonlLine } from "./jsonl.ts";
import { looksLikeOtlp, OtlpTraceReader, otlpLines } from "./otlp.ts";
import { type ServeGenOptions, ServeGenReader } from "./servegen.ts";
import type { GenContext } from "./synthetic.ts";
import type { TraceReader } from "./trace-common.ts";
import { AtomicWriter, type RequestWriter } from "./writers.ts";

/** What a reader gets: the file, its name as shown in messages, the component's content salt and context. */
export interface TraceOpen {
  readonly abs: string;
  readonly shown: string;
  readonly salt: number;
  readonly ctx: GenContext;
  /** The component's `servegen:` options (ServeGen only). */
  readonly servegen: ServeGenOptions;
}

/** How a file of a format is recognised when no `format:` is given. */
export interface TraceSniff {
  /** File-name endings (lower case) this format may have. */
  readonly ext: readonly string[];
  /**
   * Whether a file with one of those endings is this format (`name`: the path in lower case; `firstLine`: the file's
   * first line, read once on demand; `path`: the path as given). Absent: the format of those endings when no other
   * format's test says yes.
   */
  readonly test?: (name: string, firstLine: () => string, path: string) => boolean;
  /** Also any path that no format's endings match (a folder). One format says so. */
  readonly otherwise?: boolean;
}

export interface TraceFormatEntry {
  read(o: TraceOpen): TraceReader;
  /** Its clocks are absolute wall-clock times (trace time then counts from the first record). */
  readonly absoluteClock?: boolean;
  /** How it is recognised from the name and first line. */
  readonly sniff: TraceSniff;
  /** Writes a request stream as this format (`gatelab trace convert --to`, `workload export`). */
  readonly write?: {
    open(w: AtomicWriter): RequestWriter;
    /** An output name ending so (lower case) is written in this format; absent: the default of other names. */
    readonly suffix?: string;
  };
  /** One line for the docs table (docs/workloads.md). */
  readonly docs: string;
}

const JSON_EXT = [".jsonl", ".json"];
const hashIds = (l: string) => /"hash_ids"/.test(l);
const exgenticLine = (l: string) => /"timestamp_ms"\s*:/.test(l) && hashIds(l);

/** Writer whose lines need no per-stream state. */
function lineWriter(w: AtomicWriter, header: string, row: (r: Parameters<RequestWriter["write"]>[0]) => string) {
  w.line(header);
  return {
    write: (r: Parameters<RequestWriter["write"]>[0]) => w.line(row(r)),
    close: () => w.commit(),
    abort: () => w.abort(),
  };
}

const TRACE_FORMAT_ENTRIES = {
  blis: {
    read: (o) => new BlisTraceReader(o.abs, o.shown, o.salt),
    sniff: { ext: [".csv"] },
    // BLIS expresses one shared prefix per request: the first segment of a multi-segment prompt is written as
    // `prefix_group` (its content id in hex) + `prefix_length`, the rest as `input_tokens`; tenant →
    // `client_id`/`tenant_id`.
    write: {
      open: (w) =>
        lineWriter(w, blisHeader(), (r) => {
          const first = r.prompt[0];
          const prefix =
            r.prompt.length >= 2 && first !== undefined && (first.offset ?? 0) === 0
              ? { group: `p${first.id.toString(16)}`, tokens: first.tokens }
              : undefined;
          return blisRow(r, prefix);
        }),
      suffix: ".csv",
    },
    docs: "BLIS TraceV2 CSV (`.csv`): arrival, lengths, prefix group, tenant",
  },
  mooncake: {
    read: (o) => new HashTraceReader(o.abs, o.shown, o.salt, MOONCAKE),
    sniff: { ext: JSON_EXT, test: (_n, first) => hashIds(first()) && !exgenticLine(first()) },
    // `timestamp` in ms (rounded), `hash_ids` = the prompt's chained 512-token block hashes renumbered 0, 1, 2… in
    // order of first appearance, plus a fresh id for a last partial block.
    write: {
      open: (w) => {
        const ids = new Map<number, number>();
        let nextId = 0;
        return {
          write: (r) => {
            const out: number[] = [];
            for (const h of blockHashes(r.prompt, 512)) {
              let id = ids.get(h);
              if (id === undefined) {
                id = nextId++;
                ids.set(h, id);
              }
              out.push(id);
            }
            if (r.inputTokens % 512 !== 0) out.push(nextId++);
            w.line(
              JSON.stringify({
                timestamp: Math.round(r.arrival * 1000),
                input_length: r.inputTokens,
                output_length: r.outputTokens,
                hash_ids: out,
              }),
            );
          },
          close: () => w.commit(),
          abort: () => w.abort(),
        };
      },
    },
    docs: "Mooncake JSONL: `timestamp` (ms), lengths, `hash_ids` of 512-token blocks (a first line with `hash_ids`)",
  },
  azure: {
    read: (o) => new AzureTraceReader(o.abs, o.shown, o.salt),
    absoluteClock: true,
    sniff: { ext: [".csv"], test: (n) => /azure/.test(n) },
    docs: "Azure LLM inference trace CSV (a `.csv` named `*azure*`): wall-clock timestamps, lengths",
  },
  burstgpt: {
    read: (o) => new BurstGptTraceReader(o.abs, o.shown, o.salt),
    absoluteClock: true,
    sniff: { ext: [".csv"], test: (n) => /burst/.test(n) && !/azure/.test(n) },
    docs: "BurstGPT CSV (a `.csv` named `*burst*`): timestamps, lengths, model",
  },
  servegen: {
    read: (o) => new ServeGenReader(o.abs, o.shown, o.salt, o.ctx.seed, o.ctx.name, o.servegen),
    // A folder, or a `.csv` named `chunk-N-trace`.
    sniff: { ext: [".csv"], test: (n) => /chunk-\d+-trace/.test(n) && !/azure|burst/.test(n), otherwise: true },
    docs: "ServeGen client folder (or one `chunk-N-trace.csv`): per-client rates and length distributions",
  },
  exgentic: {
    read: (o) => new ExgenticReader(o.abs, o.shown, o.salt),
    sniff: { ext: JSON_EXT, test: (_n, first) => exgenticLine(first()) },
    docs: "Exgentic agent-trace JSONL: `timestamp_ms`, lengths, `hash_ids`",
  },
  jsonl: {
    read: (o) => new GatelabJsonlReader(o.abs, o.shown, o.salt),
    sniff: { ext: JSON_EXT },
    write: { open: (w) => lineWriter(w, jsonlHeaderLine(), jsonlLine) },
    docs: "gatelab's own JSONL, lossless (content ids, sessions, tags); any other `.jsonl`",
  },
  otlp: {
    read: (o) => new OtlpTraceReader(o.abs, o.shown, o.salt),
    sniff: {
      ext: JSON_EXT,
      test: (_n, first, path) => !hashIds(first()) && (/"resourceSpans"/.test(first()) || looksLikeOtlp(path)),
    },
    // One OpenTelemetry GenAI span per request (src/workloads/otlp.ts), lossless.
    write: {
      open: (w) => {
        const o = otlpLines((s) => w.line(s));
        return {
          write: (r) => o.write(r),
          close: () => {
            o.end();
            w.commit();
          },
          abort: () => w.abort(),
        };
      },
      suffix: ".otlp.json",
    },
    docs: "OpenTelemetry OTLP JSON of GenAI spans (`resourceSpans`), lossless",
  },
} satisfies Record<string, TraceFormatEntry>;

/** A trace format gatelab reads. */
export type TraceFormat = keyof typeof TRACE_FORMAT_ENTRIES;

/** Every trace format, by name (see the file comment). */
export const TRACE_FORMAT_REGISTRY: Readonly<Record<TraceFormat, TraceFormatEntry>> = TRACE_FORMAT_ENTRIES;

/** Trace formats gatelab reads (docs/workloads.md), in registry order. */
export const TRACE_FORMATS = Object.keys(TRACE_FORMAT_ENTRIES) as [TraceFormat, ...TraceFormat[]];

type Writable = {
  [K in TraceFormat]: (typeof TRACE_FORMAT_ENTRIES)[K] extends { write: object } ? K : never;
}[TraceFormat];
/** A format gatelab writes. */
export type WriteFormat = Writable;
/** Formats gatelab writes, in registry order. */
export const WRITE_FORMATS = TRACE_FORMATS.filter((f) => TRACE_FORMAT_REGISTRY[f].write !== undefined) as WriteFormat[];

/** The trace format called `name`; undefined when none is. */
export function traceFormatEntry(name: string): TraceFormatEntry | undefined {
  return Object.hasOwn(TRACE_FORMAT_ENTRIES, name) ? TRACE_FORMAT_REGISTRY[name as TraceFormat] : undefined;
}

/**
 * Format of a trace file from its name and (for `.jsonl`/`.json`) its first line: the format whose `sniff.test`
 * says yes, else the one of that ending without a test, else the one that takes any other path (a ServeGen folder).
 */
export function detectFormat(path: string, firstLine?: () => string | undefined): TraceFormat {
  const name = path.toLowerCase();
  let line: string | undefined;
  const first = () => (line ??= firstLine?.() ?? "");
  let fallback: TraceFormat | undefined;
  let otherwise: TraceFormat | undefined;
  let matched = false;
  for (const f of TRACE_FORMATS) {
    const s: TraceSniff = TRACE_FORMAT_REGISTRY[f].sniff;
    if (s.otherwise) otherwise ??= f;
    if (!s.ext.some((e) => name.endsWith(e))) continue;
    matched = true;
    if (s.test === undefined) fallback ??= f;
    else if (s.test(name, first, path)) return f;
  }
  const f = matched ? fallback : otherwise;
  if (f === undefined) throw new Error(`trace formats: no format takes ${path} (the registry needs a fallback)`);
  return f;
}

/** Output format from `--to` or the file name (the format whose `write.suffix` ends it, else jsonl). */
export function outputFormat(out: string, to?: WriteFormat): WriteFormat {
  if (to) return to;
  const name = out.toLowerCase();
  return WRITE_FORMATS.find((f) => name.endsWith(TRACE_FORMAT_REGISTRY[f].write?.suffix ?? "\0")) ?? "jsonl";
}

/** Opens an atomic writer of `format` at `path` (lines go to a temp file renamed over `path` on `close()`). */
export function openWriter(format: WriteFormat, path: string): RequestWriter {
  return TRACE_FORMAT_REGISTRY[format].write!.open(new AtomicWriter(path));
}
