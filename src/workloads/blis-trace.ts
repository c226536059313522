import { hashString, type Segment } from "../sim/hash.ts";
import type { Request } from "../sim/request.ts";
import { LineReader, splitCsv } from "./lines.ts";
import { lineError, num, type TraceReader } from "./trace-common.ts";
import { contentId, type Draft, draft, NS } from "./types.ts";

/**
 * BLIS TraceV2 CSV (inference-sim/inference-sim, trace_version 3; `../shared/data/blis-traces/README.md`): a header
 * line naming the columns, one row per request, times in microseconds from the start of the run. Columns used:
 * - `arrival_time_us` (required), `input_tokens` (tokens after the shared prefix, required), `output_tokens` (required);
 * - `prefix_group` + `prefix_length`: a shared prefix segment whose content is identical for every row of the group;
 * - `client_id`, `tenant_id` (→ tenant; `client_id` when `tenant_id` is empty), `slo_class`, `session_id`,
 *   `round_index`, `model`, `adapter` (or `lora_adapter`) when present and non-empty.
 * Other columns (BLIS's simulated `first_chunk_time_us`, …) are ignored on reading. Rows of a session are replayed as
 * recorded (their `input_tokens` are taken as given; no history is linked between rounds).
 */
export const BLIS_COLUMNS = [
  "request_id",
  "client_id",
  "tenant_id",
  "slo_class",
  "session_id",
  "round_index",
  "prefix_group",
  "prefix_length",
  "streaming",
  "input_tokens",
  "output_tokens",
  "text_tokens",
  "image_tokens",
  "audio_tokens",
  "video_tokens",
  "reason_ratio",
  "model",
  "deadline_us",
  "server_input_tokens",
  "arrival_time_us",
  "send_time_us",
  "first_chunk_time_us",
  "last_chunk_time_us",
  "num_chunks",
  "status",
  "error_message",
  "finish_reason",
] as const;

export class BlisTraceReader implements TraceReader {
  private readonly lines: LineReader;
  private readonly file: string;
  private readonly salt: number;
  private readonly col: Map<string, number> = new Map();
  private readonly c: {
    arrival: number;
    input: number;
    output: number;
    group: number;
    plen: number;
    client: number;
    tenant: number;
    slo: number;
    session: number;
    round: number;
    model: number;
    adapter: number;
  };
  private readonly groupIds = new Map<string, number>();
  private row = 0;

  constructor(path: string, displayPath: string, salt: number) {
    this.file = displayPath;
    this.salt = salt;
    this.lines = new LineReader(path);
    let header = this.lines.next();
    if (header === undefined)
      throw lineError(displayPath, 1, "header", "expected a BLIS TraceV2 header line, got an empty file");
    if (header.charCodeAt(0) === 0xfeff) header = header.slice(1);
    const names = splitCsv(header);
    if (typeof names === "string") throw lineError(displayPath, 1, "header", names);
    names.forEach((n, i) => {
      this.col.set(n.trim(), i);
    });
    const get = (n: string) => this.col.get(n) ?? -1;
    for (const req of ["arrival_time_us", "input_tokens", "output_tokens"]) {
      if (!this.col.has(req)) throw lineError(displayPath, 1, req, `expected a column named ${req} in the header`);
    }
    this.c = {
      arrival: get("arrival_time_us"),
      input: get("input_tokens"),
      output: get("output_tokens"),
      group: get("prefix_group"),
      plen: get("prefix_length"),
      client: get("client_id"),
      tenant: get("tenant_id"),
      slo: get("slo_class"),
      session: get("session_id"),
      round: get("round_index"),
      model: get("model"),
      adapter: this.col.get("adapter") ?? get("lora_adapter"),
    };
  }

  where(): string {
    return `${this.file}:${this.lines.lineNo}`;
  }

  next(): Draft | undefined {
    let line = this.lines.next();
    while (line !== undefined && line.trim() === "") line = this.lines.next();
    if (line === undefined) return undefined;
    const ln = this.lines.lineNo;
    const f = splitCsv(line);
    if (typeof f === "string") throw lineError(this.file, ln, "line", f);
    if (f.length < this.col.size)
      throw lineError(this.file, ln, "line", `expected ${this.col.size} comma-separated fields, got ${f.length}`);
    const c = this.c;
    const F = this.file;
    const arrivalUs = num(f[c.arrival], F, ln, "arrival_time_us", { min: 0 });
    const input = num(f[c.input], F, ln, "input_tokens", { int: true, min: 0 });
    const output = num(f[c.output], F, ln, "output_tokens", { int: true, min: 0 });
    const group = c.group >= 0 ? (f[c.group] ?? "") : "";
    const plen = c.plen >= 0 ? num(f[c.plen], F, ln, "prefix_length", { int: true, min: 0, optional: 0 }) : 0;
    const k = this.row++;
    const prompt: Segment[] = [];
    if (group !== "" && plen > 0) {
      let gid = this.groupIds.get(group);
      if (gid === undefined) {
        gid = contentId(NS.prefixGroup, this.salt, hashString(group));
        this.groupIds.set(group, gid);
      }
      prompt.push({ id: gid, tokens: plen });
    }
    if (input > 0) prompt.push({ id: contentId(NS.unique, this.salt, k), tokens: input });
    const d = draft(arrivalUs / 1e6, prompt, (group !== "" ? plen : 0) + input, output);
    const s = (i: number) => (i >= 0 ? f[i] : undefined) || undefined;
    const tenant = s(c.tenant) ?? s(c.client);
    if (tenant !== undefined) d.tenant = tenant;
    const slo = s(c.slo);
    if (slo !== undefined) d.sloClass = slo;
    const session = s(c.session);
    if (session !== undefined) {
      d.session = session;
      d.round = num(f[c.round], F, ln, "round_index", { int: true, min: 0, optional: 0 });
    }
    const model = s(c.model);
    if (model !== undefined) d.model = model;
    const adapter = s(c.adapter);
    if (adapter !== undefined) d.adapter = adapter;
    return d;
  }

  close(): void {
    this.lines.close();
  }
}

function csvField(v: string | number | undefined): string {
  if (v === undefined) return "";
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * Writes requests as BLIS TraceV2 rows (header line first via `blisHeader()`). The first prompt segment is written as
 * the prefix group when it is shared content (`sharedPrefix(req)` says so), the rest as `input_tokens`. Simulation
 * results columns are left empty/zero.
 */
export function blisHeader(): string {
  return BLIS_COLUMNS.join(",");
}

export function blisRow(req: Request, prefix: { group: string; tokens: number } | undefined): string {
  const plen = prefix?.tokens ?? 0;
  const arrivalUs = Math.round(req.arrival * 1e6);
  const row: Record<(typeof BLIS_COLUMNS)[number], string | number | undefined> = {
    request_id: req.id,
    client_id: req.tenant ?? req.source,
    tenant_id: req.tenant,
    slo_class: req.sloClass,
    session_id: req.session,
    round_index: req.round ?? 0,
    prefix_group: prefix?.group,
    prefix_length: plen,
    streaming: "false",
    input_tokens: req.inputTokens - plen,
    output_tokens: req.outputTokens,
    text_tokens: 0,
    image_tokens: 0,
    audio_tokens: 0,
    video_tokens: 0,
    reason_ratio: 0,
    model: req.model,
    deadline_us: 0,
    server_input_tokens: 0,
    arrival_time_us: arrivalUs,
    send_time_us: arrivalUs,
    first_chunk_time_us: 0,
    last_chunk_time_us: 0,
    num_chunks: 0,
    status: "",
    error_message: "",
    finish_reason: "",
  };
  return BLIS_COLUMNS.map((k) => csvField(row[k])).join(",");
}

/** Header YAML written beside a BLIS trace (`trace-<name>.yaml`). */
export function blisHeaderYaml(): string {
  return "trace_version: 3\ntime_unit: microseconds\nmode: replayed\nwarm_up_requests: 0\n";
}
