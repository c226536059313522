import { closeSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { outputError } from "../errors.ts";
import type { Request } from "../sim/request.ts";

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
