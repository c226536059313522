import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";
import { InputError } from "../errors.ts";
import { hashString, type Segment } from "../sim/hash.ts";
import type { Request } from "../sim/request.ts";
import type { TraceReader } from "./trace-common.ts";
import { contentId, type Draft, draft, NS } from "./types.ts";

/**
 * OpenTelemetry traces in OTLP JSON (the `ExportTraceServiceRequest` of opentelemetry-proto,
 * `opentelemetry/proto/collector/trace/v1/trace_service.proto`, in its proto3 JSON mapping as the OTLP/HTTP JSON
 * exporter and the collector's `file` exporter write it): `resourceSpans[] → scopeSpans[] → spans[]`. Each GenAI
 * inference span is one request. Attribute names follow the OpenTelemetry GenAI semantic conventions
 * (open-telemetry/semantic-conventions, docs/gen-ai/gen-ai-spans.md, v1.37.0):
 *
 * - arrival ← `startTimeUnixNano`, seconds from the trace's origin: the resource attribute `gatelab.origin_unix_nano`
 *   when present (what gatelab writes), else the earliest span;
 * - input tokens ← `gen_ai.usage.input_tokens` (or the deprecated `gen_ai.usage.prompt_tokens`, which vLLM's own
 *   `llm_request` spans still use: vllm-project/vllm, vllm/tracing.py, class SpanAttributes);
 * - output tokens ← `gen_ai.usage.output_tokens` (or the deprecated `gen_ai.usage.completion_tokens`);
 * - model ← `gen_ai.request.model` (else `gen_ai.response.model`); session ← `gen_ai.conversation.id` (else the
 *   general `session.id`);
 * - the prompt: `gatelab.prompt.segments` (flat int array of (content id, tokens, offset) triples, lossless, written
 *   by gatelab), else a shared prefix `gatelab.prompt.prefix_hash` + `gatelab.prompt.prefix_tokens` (the first
 *   prefix_tokens tokens are equal content in every span with the same hash) followed by unique tokens, else unique;
 * - `gatelab.tenant`, `gatelab.slo_class`, `gatelab.priority`, `gatelab.adapter`, `gatelab.round`,
 *   `gatelab.output_id`, `gatelab.arrival_s` (the exact double behind the nanosecond start) fill the rest.
 *
 * Spans whose `gen_ai.operation.name` is not an inference (`chat`, `text_completion`, `generate_content`; e.g.
 * `embeddings`, `execute_tool`, `invoke_agent`) and spans without any `gen_ai.*` usage attribute are skipped.
 *
 * The file may be one JSON document (pretty-printed or not) or several concatenated (the collector's JSON-lines
 * output); it is scanned in 1 MiB chunks and only one span object at a time is parsed, so files of any size stream.
 * Exporters write spans when they end, so start times come slightly out of order: spans are reordered in a window of
 * `REORDER_S` seconds of start time; a span that starts earlier than that before the latest one is an error.
 */

/** How far out of start-time order spans may come (exports are in end-time order; an LLM call rarely lasts an hour). */
export const REORDER_S = 3600;
const REORDER_NS = BigInt(REORDER_S) * 1_000_000_000n;

/** Inference operations (`gen_ai.operation.name` well-known values that generate tokens). */
const INFERENCE_OPS = new Set(["chat", "text_completion", "generate_content"]);

/** Nanoseconds of the origin gatelab writes: 2025-01-01T00:00:00Z, so that spans show at a plausible date. */
export const DEFAULT_ORIGIN_UNIX_NANO = 1_735_689_600_000_000_000n;

const CHUNK = 1 << 20;

type Json = Record<string, unknown>;
type Fail = (field: string, what: string) => never;

function isObj(x: unknown): x is Json {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** A JSON value found in the file: a span object, or a `resource` object (attributes for the spans that follow). */
interface Found {
  kind: "span" | "resource";
  text: string;
  line: number;
}

// Scanner states.
const VALUE = 0;
const VALUE_OR_CLOSE = 1;
const KEY_OR_CLOSE = 2;
const KEY = 3;
const COLON = 4;
const AFTER = 5;
const STRING = 6;
const LITERAL = 7;
const CAPTURE = 8;

function isWs(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

/**
 * Structural scanner over OTLP JSON: walks the document without building it and hands out the text of each span
 * object (`resourceSpans[i].scopeSpans[j].spans[k]`, also the pre-1.0 `instrumentationLibrarySpans`) and of each
 * `resourceSpans[i].resource`. Top-level values may repeat (JSON lines / concatenated documents).
 */
export class OtlpScanner {
  private readonly file: string;
  private fd: number | undefined;
  private readonly buf: Buffer;
  private readonly decoder = new StringDecoder("utf8");
  private text = "";
  private pos = 0;
  private eof = false;
  /** 1-based line of the scan position. */
  private line = 1;
  private state = VALUE;
  private readonly kinds: number[] = [];
  private readonly keys: (string | undefined)[] = [];
  private strIsKey = false;
  private strAcc = "";
  private strEsc = false;
  private capture: { kind: Found["kind"]; parts: string[]; start: number; line: number } | undefined;
  private capDepth = 0;
  private capInStr = false;
  private capEsc = false;
  private sawValue = false;

  /** `chunk`: bytes read at a time (small values only in tests, to cut values across reads). */
  constructor(path: string, file: string, chunk = CHUNK) {
    this.file = file;
    this.buf = Buffer.allocUnsafe(chunk);
    try {
      this.fd = openSync(path, "r");
      if (fstatSync(this.fd).isDirectory()) {
        closeSync(this.fd);
        this.fd = undefined;
        throw new InputError(`${file}: expected a file, got a directory`);
      }
    } catch (e) {
      if (e instanceof InputError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      throw new InputError(`${file}: ${code === "ENOENT" ? "file not found" : `cannot open (${code ?? String(e)})`}`);
    }
  }

  private fail(what: string): never {
    throw new InputError(`${this.file}:${this.line}: expected OTLP JSON (resourceSpans → scopeSpans → spans), ${what}`);
  }

  private fill(): boolean {
    if (this.fd === undefined) return false;
    const n = readSync(this.fd, this.buf, 0, this.buf.length, null);
    if (this.capture !== undefined) {
      this.capture.parts.push(this.text.slice(this.capture.start));
      this.capture.start = 0;
    }
    if (n === 0) {
      this.text = this.decoder.end();
      this.pos = 0;
      this.close();
      return this.text.length > 0;
    }
    this.text = this.decoder.write(this.buf.subarray(0, n));
    this.pos = 0;
    return true;
  }

  /** Where the current container sits: true when a `{` here opens a span object. */
  private atSpan(): boolean {
    const k = this.kinds;
    if (k.length !== 6) return false;
    const y = this.keys;
    return (
      k[0] === 0 &&
      k[1] === 1 &&
      k[2] === 0 &&
      k[3] === 1 &&
      k[4] === 0 &&
      k[5] === 1 &&
      y[0] === "resourceSpans" &&
      (y[2] === "scopeSpans" || y[2] === "instrumentationLibrarySpans") &&
      y[4] === "spans"
    );
  }

  private atResource(): boolean {
    const k = this.kinds;
    return (
      k.length === 3 &&
      k[0] === 0 &&
      k[1] === 1 &&
      k[2] === 0 &&
      this.keys[0] === "resourceSpans" &&
      this.keys[2] === "resource"
    );
  }

  private closeValue(): void {
    this.state = this.kinds.length === 0 ? VALUE : AFTER;
  }

  /** The next span or resource object, or undefined at the end of the file. */
  next(): Found | undefined {
    for (;;) {
      if (this.pos >= this.text.length) {
        if (this.eof || !this.fill()) {
          this.eof = true;
          if (this.capture !== undefined || this.kinds.length > 0 || this.state === STRING || this.state === COLON)
            this.fail("the file ends inside a value");
          if (!this.sawValue) this.fail("got an empty file");
          return undefined;
        }
      }
      const t = this.text;
      const n = t.length;
      let i = this.pos;
      switch (this.state) {
        case CAPTURE: {
          let depth = this.capDepth;
          let inStr = this.capInStr;
          let esc = this.capEsc;
          for (; i < n; i++) {
            const c = t.charCodeAt(i);
            if (inStr) {
              if (esc) esc = false;
              else if (c === 92) esc = true;
              else if (c === 34) inStr = false;
            } else if (c === 34) inStr = true;
            else if (c === 123) depth++;
            else if (c === 125) {
              if (--depth === 0) break;
            } else if (c === 10) this.line++;
          }
          if (i < n) {
            const cap = this.capture!;
            cap.parts.push(t.slice(cap.start, i + 1));
            this.capture = undefined;
            this.pos = i + 1;
            this.closeValue();
            return { kind: cap.kind, text: cap.parts.join(""), line: cap.line };
          }
          this.capDepth = depth;
          this.capInStr = inStr;
          this.capEsc = esc;
          this.pos = n;
          continue;
        }
        case STRING: {
          let esc = this.strEsc;
          let j = i;
          for (; j < n; j++) {
            const c = t.charCodeAt(j);
            if (esc) esc = false;
            else if (c === 92) esc = true;
            else if (c === 34) break;
          }
          if (this.strIsKey) this.strAcc += t.slice(i, j);
          if (j >= n) {
            this.strEsc = esc;
            this.pos = n;
            continue;
          }
          this.strEsc = false;
          this.pos = j + 1;
          if (this.strIsKey) {
            let key = this.strAcc;
            if (key.includes("\\")) {
              try {
                key = JSON.parse(`"${key}"`) as string;
              } catch {
                this.fail(`got a malformed key ${JSON.stringify(key)}`);
              }
            }
            this.keys[this.keys.length - 1] = key;
            this.state = COLON;
          } else this.closeValue();
          continue;
        }
        case LITERAL: {
          while (i < n) {
            const c = t.charCodeAt(i);
            if (c === 44 || c === 93 || c === 125 || isWs(c)) break;
            i++;
          }
          this.pos = i;
          if (i < n) this.closeValue();
          continue;
        }
        default:
          break;
      }
      // Structural characters, one at a time.
      const c = t.charCodeAt(i);
      this.pos = i + 1;
      if (isWs(c)) {
        if (c === 10) this.line++;
        continue;
      }
      switch (this.state) {
        case VALUE:
        case VALUE_OR_CLOSE:
          if (c === 93 && this.state === VALUE_OR_CLOSE) {
            this.pop(1);
          } else if (c !== 123 && this.atSpan()) {
            this.fail(`got "${String.fromCharCode(c)}" where a span object belongs`);
          } else if (c === 123) {
            if (this.kinds.length === 0) this.sawValue = true;
            const kind = this.atSpan() ? "span" : this.atResource() ? "resource" : undefined;
            if (kind !== undefined) {
              this.capture = { kind, parts: [], start: i, line: this.line };
              this.capDepth = 1;
              this.capInStr = false;
              this.capEsc = false;
              this.state = CAPTURE;
            } else {
              if (this.kinds.length === 0 && this.sawValue === false) this.sawValue = true;
              this.kinds.push(0);
              this.keys.push(undefined);
              this.state = KEY_OR_CLOSE;
            }
          } else if (c === 91) {
            if (this.kinds.length === 0) this.fail("got an array at the top level");
            this.kinds.push(1);
            this.keys.push(undefined);
            this.state = VALUE_OR_CLOSE;
          } else if (c === 34) {
            if (this.kinds.length === 0) this.fail("got a string at the top level");
            this.strIsKey = false;
            this.strEsc = false;
            this.state = STRING;
          } else {
            if (this.kinds.length === 0) this.fail(`got "${String.fromCharCode(c)}" at the top level`);
            this.pos = i;
            this.state = LITERAL;
          }
          break;
        case KEY_OR_CLOSE:
        case KEY:
          if (c === 125 && this.state === KEY_OR_CLOSE) this.pop(0);
          else if (c === 34) {
            this.strIsKey = true;
            this.strAcc = "";
            this.strEsc = false;
            this.state = STRING;
          } else this.fail(`got "${String.fromCharCode(c)}" where an object key belongs`);
          break;
        case COLON:
          if (c !== 58) this.fail(`got "${String.fromCharCode(c)}" where ":" belongs`);
          this.state = VALUE;
          break;
        case AFTER: {
          const top = this.kinds[this.kinds.length - 1];
          if (c === 44) this.state = top === 0 ? KEY : VALUE;
          else if (c === 125 && top === 0) this.pop(0);
          else if (c === 93 && top === 1) this.pop(1);
          else this.fail(`got "${String.fromCharCode(c)}" after a value`);
          break;
        }
      }
    }
  }

  private pop(kind: number): void {
    if (this.kinds[this.kinds.length - 1] !== kind) this.fail("got a mismatched bracket");
    this.kinds.pop();
    this.keys.pop();
    this.closeValue();
  }

  close(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

/** One decoded OTLP `AnyValue`: string, number (ints keep their text when beyond 2^53), boolean or array. */
type AttrValue = string | number | bigint | boolean | AttrValue[] | undefined;

function anyValue(v: unknown): AttrValue {
  if (!isObj(v)) return undefined;
  if ("stringValue" in v) return typeof v.stringValue === "string" ? v.stringValue : undefined;
  if ("intValue" in v) {
    const x = v.intValue;
    if (typeof x === "number") return x;
    if (typeof x === "string" && /^-?\d+$/.test(x)) {
      const n = Number(x);
      return Number.isSafeInteger(n) ? n : BigInt(x);
    }
    return undefined;
  }
  if ("doubleValue" in v) {
    const x = v.doubleValue;
    if (typeof x === "number") return x;
    if (typeof x === "string" && x.trim() !== "" && Number.isFinite(Number(x))) return Number(x);
    return undefined;
  }
  if ("boolValue" in v) return typeof v.boolValue === "boolean" ? v.boolValue : undefined;
  if ("arrayValue" in v) {
    const a = isObj(v.arrayValue) ? v.arrayValue.values : undefined;
    return Array.isArray(a) ? a.map(anyValue) : [];
  }
  return undefined;
}

/** `attributes: [{key, value: AnyValue}]` → Map. */
function attrMap(list: unknown, fail: (field: string, what: string) => never): Map<string, AttrValue> {
  const m = new Map<string, AttrValue>();
  if (list === undefined) return m;
  if (!Array.isArray(list)) fail("attributes", "expected an array of {key, value}");
  for (let k = 0; k < list.length; k++) {
    const a = list[k] as unknown;
    if (!isObj(a) || typeof a.key !== "string") fail(`attributes.${k}`, "expected {key, value}");
    m.set(a.key, anyValue(a.value));
  }
  return m;
}

/** Unsigned nanoseconds (proto fixed64: a decimal string in JSON; numbers are accepted too). */
function nanos(v: unknown): bigint | undefined {
  if (typeof v === "string" && /^\d+$/.test(v)) return BigInt(v);
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  return undefined;
}

function shown(v: AttrValue): string {
  if (v === undefined) return "nothing";
  if (typeof v === "bigint") return v.toString();
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

interface Pending {
  start: bigint;
  seq: number;
  draft: Draft;
  where: string;
  /** `gatelab.arrival_s`, if any: the exact arrival, used when it agrees with the start to the nanosecond. */
  exact: number | undefined;
  origin: bigint | undefined;
}

/** Min-heap on (start, seq). */
class PendingHeap {
  private readonly a: Pending[] = [];
  get size(): number {
    return this.a.length;
  }
  peek(): Pending | undefined {
    return this.a[0];
  }
  private static less(x: Pending, y: Pending): boolean {
    return x.start < y.start || (x.start === y.start && x.seq < y.seq);
  }
  push(p: Pending): void {
    const a = this.a;
    a.push(p);
    let i = a.length - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (!PendingHeap.less(a[i]!, a[up]!)) break;
      [a[i], a[up]] = [a[up]!, a[i]!];
      i = up;
    }
  }
  pop(): Pending | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && PendingHeap.less(a[l]!, a[m]!)) m = l;
        if (r < a.length && PendingHeap.less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** Reads GenAI spans from an OTLP JSON file as requests, in start-time order. */
export class OtlpTraceReader implements TraceReader {
  private readonly scanner: OtlpScanner;
  private readonly file: string;
  private readonly salt: number;
  private readonly heap = new PendingHeap();
  private resourceOrigin: bigint | undefined;
  private spanIndex = 0;
  private seq = 0;
  private row = 0;
  private maxStart: bigint | undefined;
  private lastOut: bigint | undefined;
  private origin: bigint | undefined;
  private lastWhere: string;
  private scanned = false;

  constructor(path: string, file: string, salt: number) {
    this.scanner = new OtlpScanner(path, file);
    this.file = file;
    this.salt = salt;
    this.lastWhere = file;
  }

  where(): string {
    return this.lastWhere;
  }

  next(): Draft | undefined {
    for (;;) {
      const top = this.heap.peek();
      if (
        top !== undefined &&
        (this.scanned || (this.maxStart !== undefined && top.start + REORDER_NS <= this.maxStart))
      )
        return this.emit(this.heap.pop()!);
      if (this.scanned) return undefined;
      const f = this.scanner.next();
      if (f === undefined) {
        this.scanned = true;
        continue;
      }
      if (f.kind === "resource") this.readResource(f);
      else this.readSpan(f);
    }
  }

  private emit(p: Pending): Draft {
    if (this.origin === undefined) this.origin = p.origin ?? p.start;
    this.lastOut = p.start;
    this.lastWhere = p.where;
    const ns = p.start - this.origin;
    const d = p.draft;
    d.arrival = p.exact !== undefined && BigInt(Math.round(p.exact * 1e9)) === ns ? p.exact : Number(ns) / 1e9;
    return d;
  }

  private readResource(f: Found): void {
    const where = `${this.file}:${f.line}: resource`;
    const fail: Fail = (field: string, what: string): never => {
      throw new InputError(`${where}: ${field}: ${what}`);
    };
    const o = parse(f.text, where);
    const attrs = attrMap(o.attributes, fail);
    const origin = attrs.get("gatelab.origin_unix_nano");
    if (origin === undefined) this.resourceOrigin = undefined;
    else if (
      (typeof origin === "number" && Number.isSafeInteger(origin) && origin >= 0) ||
      (typeof origin === "bigint" && origin >= 0n)
    )
      this.resourceOrigin = BigInt(origin);
    else fail("gatelab.origin_unix_nano", `expected a non-negative integer, got ${shown(origin)}`);
  }

  private readSpan(f: Found): void {
    const index = this.spanIndex++;
    const pre = `${this.file}:${f.line}: span ${index}`;
    const o = parse(f.text, pre);
    const id = typeof o.spanId === "string" && o.spanId !== "" ? o.spanId : undefined;
    const where = id !== undefined ? `${pre} (spanId ${id})` : pre;
    const fail: Fail = (field: string, what: string): never => {
      throw new InputError(`${where}: ${field}: ${what}`);
    };
    const attrs = attrMap(o.attributes, fail);
    const op = attrs.get("gen_ai.operation.name");
    const pick = (now: string, old: string) => (attrs.has(now) || !attrs.has(old) ? now : old);
    const inKey = pick("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens");
    const outKey = pick("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens");
    if (op !== undefined) {
      if (typeof op !== "string") fail("gen_ai.operation.name", `expected a string, got ${shown(op)}`);
      if (!INFERENCE_OPS.has(op)) return;
    } else if (!attrs.has(inKey) && !attrs.has(outKey)) return;
    const start = nanos(o.startTimeUnixNano);
    if (start === undefined)
      fail(
        "startTimeUnixNano",
        `expected unsigned nanoseconds since the Unix epoch, got ${shown(o.startTimeUnixNano as AttrValue)}`,
      );
    const int = (key: string, required: boolean): number | undefined => {
      const v = attrs.get(key);
      if (v === undefined && !required) return undefined;
      if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
        fail(key, `expected a non-negative integer, got ${shown(v)}`);
      return v;
    };
    const str = (key: string): string | undefined => {
      const v = attrs.get(key);
      if (v === undefined) return undefined;
      if (typeof v !== "string") fail(key, `expected a string, got ${shown(v)}`);
      return v;
    };
    const input = int(inKey, true)!;
    const output = int(outKey, true)!;
    const prompt = this.prompt(attrs, input, fail);
    this.row++;
    const d = draft(0, prompt, input, output);
    const model = str("gen_ai.request.model") ?? str("gen_ai.response.model");
    if (model !== undefined) d.model = model;
    const session = str("gen_ai.conversation.id") ?? str("session.id");
    if (session !== undefined) d.session = session;
    const tenant = str("gatelab.tenant");
    if (tenant !== undefined) d.tenant = tenant;
    const slo = str("gatelab.slo_class");
    if (slo !== undefined) d.sloClass = slo;
    const adapter = str("gatelab.adapter");
    if (adapter !== undefined) d.adapter = adapter;
    const round = int("gatelab.round", false);
    if (round !== undefined) d.round = round;
    const outId = int("gatelab.output_id", false);
    if (outId !== undefined) d.outputContentId = outId;
    const pr = attrs.get("gatelab.priority");
    if (pr !== undefined) {
      if (typeof pr !== "number" || !Number.isSafeInteger(pr))
        fail("gatelab.priority", `expected an integer, got ${shown(pr)}`);
      d.priority = pr;
    }
    const ex = attrs.get("gatelab.arrival_s");
    if (ex !== undefined && (typeof ex !== "number" || !(ex >= 0)))
      fail("gatelab.arrival_s", `expected a non-negative number, got ${shown(ex)}`);
    if (this.lastOut !== undefined && start < this.lastOut)
      fail(
        "startTimeUnixNano",
        `starts ${Number(this.lastOut - start) / 1e9} s before a span already replayed; spans may come at most ${REORDER_S} s out of start-time order (sort the export by start time)`,
      );
    if (this.maxStart === undefined || start > this.maxStart) this.maxStart = start;
    this.heap.push({
      start,
      seq: this.seq++,
      draft: d,
      where,
      exact: typeof ex === "number" ? ex : undefined,
      origin: this.resourceOrigin,
    });
  }

  private prompt(
    attrs: Map<string, AttrValue>,
    input: number,
    fail: (field: string, what: string) => never,
  ): Segment[] {
    const seg = attrs.get("gatelab.prompt.segments");
    if (seg !== undefined) {
      const key = "gatelab.prompt.segments";
      if (!Array.isArray(seg) || seg.length % 3 !== 0)
        fail(key, `expected an int array of (content id, tokens, offset) triples, got ${shown(seg)}`);
      const out: Segment[] = [];
      let sum = 0;
      for (let k = 0; k < seg.length; k += 3) {
        const [id, tokens, offset] = [seg[k], seg[k + 1], seg[k + 2]];
        const ok = [id, tokens, offset].every((x) => typeof x === "number" && Number.isSafeInteger(x) && x >= 0);
        if (!ok)
          fail(
            `${key}.${k / 3}`,
            `expected non-negative integers (content id, tokens, offset), got ${shown([id, tokens, offset])}`,
          );
        out.push(
          offset
            ? { id: id as number, tokens: tokens as number, offset: offset as number }
            : { id: id as number, tokens: tokens as number },
        );
        sum += tokens as number;
      }
      if (sum !== input) fail(key, `expected segments summing to the input tokens (${input}), got ${sum}`);
      return out;
    }
    const unique = (n: number): Segment[] =>
      n > 0 ? [{ id: contentId(NS.unique, this.salt, this.row), tokens: n }] : [];
    const ph = attrs.get("gatelab.prompt.prefix_hash");
    if (ph !== undefined) {
      if (typeof ph !== "string" && typeof ph !== "number" && typeof ph !== "bigint")
        fail("gatelab.prompt.prefix_hash", `expected a string or integer, got ${shown(ph)}`);
      const pt = attrs.get("gatelab.prompt.prefix_tokens");
      if (typeof pt !== "number" || !Number.isSafeInteger(pt) || pt < 0 || pt > input)
        fail("gatelab.prompt.prefix_tokens", `expected an integer in [0, input tokens = ${input}], got ${shown(pt)}`);
      const head: Segment[] =
        pt > 0 ? [{ id: contentId(NS.prefixGroup, this.salt, hashString(String(ph))), tokens: pt }] : [];
      return [...head, ...unique(input - pt)];
    }
    return unique(input);
  }

  close(): void {
    this.scanner.close();
    this.scanned = true;
  }
}

function parse(text: string, where: string): Json {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${where}: expected a JSON object (${(e as Error).message})`);
  }
  if (!isObj(o)) throw new InputError(`${where}: expected a JSON object`);
  return o;
}

/** True when the first 64 KiB of a file look like OTLP JSON traces. */
export function looksLikeOtlp(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const b = Buffer.alloc(1 << 16);
    const n = readSync(fd, b, 0, b.length, 0);
    return /"resourceSpans"\s*:/.test(b.subarray(0, n).toString("utf8"));
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Writer

const str = (key: string, v: string) => ({ key, value: { stringValue: v } });
const int = (key: string, v: number | bigint) => ({ key, value: { intValue: String(v) } });

function hex(n: bigint, width: number): string {
  return n.toString(16).padStart(width, "0");
}

/** The line that opens the document (everything before the first span). */
export function otlpHead(origin = DEFAULT_ORIGIN_UNIX_NANO): string {
  const resource = {
    attributes: [str("service.name", "gatelab"), int("gatelab.origin_unix_nano", origin)],
  };
  const head = JSON.stringify({
    resourceSpans: [{ resource, scopeSpans: [{ scope: { name: "gatelab" }, spans: [] }] }],
  });
  // Cut before the closing "]}]}]}" of `spans: []` so that spans can be appended one per line.
  return head.slice(0, head.length - "]}]}]}".length);
}

/** The closing line. */
export function otlpTail(): string {
  return "]}]}]}";
}

/**
 * One request as an OTLP span (no newline), a client inference span per the GenAI conventions (name
 * `chat {model}`, kind CLIENT = 3) with gatelab's lossless attributes. Byte-stable: fixed key order.
 */
export function otlpSpan(r: Request, origin = DEFAULT_ORIGIN_UNIX_NANO): string {
  const ns = BigInt(Math.round(r.arrival * 1e9));
  const start = (origin + ns).toString();
  const attrs: unknown[] = [str("gen_ai.operation.name", "chat")];
  if (r.model !== undefined) attrs.push(str("gen_ai.request.model", r.model));
  attrs.push(int("gen_ai.usage.input_tokens", r.inputTokens), int("gen_ai.usage.output_tokens", r.outputTokens));
  if (r.session !== undefined) attrs.push(str("gen_ai.conversation.id", r.session));
  attrs.push({ key: "gatelab.arrival_s", value: { doubleValue: r.arrival } });
  const seg: { intValue: string }[] = [];
  for (const s of r.prompt)
    seg.push({ intValue: String(s.id) }, { intValue: String(s.tokens) }, { intValue: String(s.offset ?? 0) });
  attrs.push({ key: "gatelab.prompt.segments", value: { arrayValue: { values: seg } } });
  if (r.outputContentId !== undefined) attrs.push(int("gatelab.output_id", r.outputContentId));
  if (r.round !== undefined) attrs.push(int("gatelab.round", r.round));
  if (r.tenant !== undefined) attrs.push(str("gatelab.tenant", r.tenant));
  if (r.sloClass !== undefined) attrs.push(str("gatelab.slo_class", r.sloClass));
  if (r.priority !== undefined) attrs.push(int("gatelab.priority", r.priority));
  if (r.adapter !== undefined) attrs.push(str("gatelab.adapter", r.adapter));
  if (r.source !== undefined) attrs.push(str("gatelab.source", r.source));
  const id = BigInt(r.id) + 1n;
  return JSON.stringify({
    traceId: hex(id, 32),
    spanId: hex(id, 16),
    name: r.model !== undefined ? `chat ${r.model}` : "chat",
    kind: 3,
    startTimeUnixNano: start,
    endTimeUnixNano: start,
    attributes: attrs,
  });
}

/** Streams spans as one OTLP JSON document, one span per line; `line` appends a line to the output. */
export function otlpLines(line: (s: string) => void): { write(r: Request): void; end(): void } {
  line(otlpHead());
  let first = true;
  return {
    write(r) {
      line(first ? otlpSpan(r) : `,${otlpSpan(r)}`);
      first = false;
    },
    end() {
      line(otlpTail());
    },
  };
}
