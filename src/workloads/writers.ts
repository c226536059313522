import { closeSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { outputError } from "../errors.ts";
import { blockHashes } from "../sim/hash.ts";
import type { Request } from "../sim/request.ts";
import { blisHeader, blisRow } from "./blis-trace.ts";
import { jsonlHeaderLine, jsonlLine } from "./jsonl.ts";
import { otlpLines } from "./otlp.ts";

/** Formats gatelab writes. */
export const WRITE_FORMATS = ["jsonl", "blis", "mooncake", "otlp"] as const;
export type WriteFormat = (typeof WRITE_FORMATS)[number];

/**
 * A buffered text file written atomically: lines go to `FILE.tmp-PID` and the file is renamed over `FILE` on
 * `commit()` (`abort()` removes the temp file), so readers never see a half-written file.
 */
export class AtomicWriter {
  private readonly path: string;
  private readonly tmp: string;
  private fd: number | undefined;
  private buf: string[] = [];
  private size = 0;

  constructor(path: string) {
    this.path = path;
    // `.NAME.gatelab-tmp-PID`: the name the output helpers sweep away once this process is gone (after kill -9).
    this.tmp = join(dirname(path), `.${basename(path)}.gatelab-tmp-${process.pid}`);
    try {
      this.fd = openSync(this.tmp, "w");
    } catch (e) {
      throw outputError(path, e);
    }
  }

  line(s: string): void {
    this.buf.push(s);
    this.size += s.length + 1;
    if (this.size > 1 << 20) this.flush();
  }

  private flush(): void {
    if (this.fd === undefined || this.buf.length === 0) return;
    try {
      writeSync(this.fd, `${this.buf.join("\n")}\n`);
    } catch (e) {
      this.abort();
      throw outputError(this.path, e);
    }
    this.buf = [];
    this.size = 0;
  }

  commit(): void {
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    try {
      renameSync(this.tmp, this.path);
    } catch (e) {
      this.abort();
      throw outputError(this.path, e);
    }
  }

  abort(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    try {
      unlinkSync(this.tmp);
    } catch {
      // already gone
    }
  }
}

/** Writes a request stream in one of the formats; returns the number of requests written. */
export interface RequestWriter {
  write(r: Request): void;
  /** Finishes the file (atomic rename). */
  close(): void;
  abort(): void;
}

/**
 * - `jsonl`: gatelab's own format, lossless (content ids, sessions, tags).
 * - `blis`: BLIS TraceV2 CSV. BLIS expresses one shared prefix per request: the first segment of a multi-segment prompt
 *   is written as `prefix_group` (its content id in hex) + `prefix_length`, the rest as `input_tokens`; tenant →
 *   `client_id`/`tenant_id`.
 * - `mooncake`: Mooncake JSONL: `timestamp` in ms (rounded), `hash_ids` = the prompt's chained 512-token block hashes
 *   renumbered 0, 1, 2… in order of first appearance, plus a fresh id for a last partial block.
 * - `otlp`: OTLP JSON, one OpenTelemetry GenAI span per request (`src/workloads/otlp.ts`), lossless.
 */
export function openWriter(format: WriteFormat, path: string): RequestWriter {
  const w = new AtomicWriter(path);
  switch (format) {
    case "jsonl":
      w.line(jsonlHeaderLine());
      return { write: (r) => w.line(jsonlLine(r)), close: () => w.commit(), abort: () => w.abort() };
    case "blis":
      w.line(blisHeader());
      return {
        write: (r) => {
          const first = r.prompt[0];
          const prefix =
            r.prompt.length >= 2 && first !== undefined && (first.offset ?? 0) === 0
              ? { group: `p${first.id.toString(16)}`, tokens: first.tokens }
              : undefined;
          w.line(blisRow(r, prefix));
        },
        close: () => w.commit(),
        abort: () => w.abort(),
      };
    case "otlp": {
      const o = otlpLines((s) => w.line(s));
      return {
        write: (r) => o.write(r),
        close: () => {
          o.end();
          w.commit();
        },
        abort: () => w.abort(),
      };
    }
    case "mooncake": {
      const ids = new Map<number, number>();
      let nextId = 0;
      return {
        write: (r) => {
          const hs = blockHashes(r.prompt, 512);
          const out: number[] = [];
          for (const h of hs) {
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
    }
  }
}
