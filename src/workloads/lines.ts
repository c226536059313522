import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";
import { assertRegularFile, InputError } from "../errors.ts";

const CHUNK = 1 << 20;

/**
 * Synchronous streaming line reader: reads a file in 1 MiB chunks with `fs.readSync` and splits lines itself, so the
 * engine can pull requests synchronously without ever loading the whole file. Handles `\n` and `\r\n`, multi-byte
 * UTF-8 split across chunks (StringDecoder) and a last line without a newline. `lineNo` is the 1-based number of the
 * line last returned (for error messages).
 */
/** Longest line accepted (a trace line is a few hundred bytes; a hash-list line a few hundred KB). */
const MAX_LINE_CHARS = 64 * 1024 * 1024;

export class LineReader {
  readonly path: string;
  /** 1-based number of the line last returned by `next()` (0 before the first). */
  lineNo = 0;
  private fd: number | undefined;
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  private readonly decoder = new StringDecoder("utf8");
  private pending = "";
  private pos = 0;
  private eof = false;

  constructor(path: string) {
    this.path = path;
    // A FIFO would block the open forever and a device never ends: refuse anything but a regular file first.
    assertRegularFile(path, "trace");
    try {
      this.fd = openSync(path, "r");
      if (fstatSync(this.fd).isDirectory()) {
        closeSync(this.fd);
        this.fd = undefined;
        throw new InputError(`${path}: expected a file, got a directory`);
      }
    } catch (e) {
      if (e instanceof InputError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      throw new InputError(`${path}: ${code === "ENOENT" ? "file not found" : `cannot open (${code ?? String(e)})`}`);
    }
  }

  /** The next line without its terminator, or undefined at the end of the file (the file is then closed). */
  next(): string | undefined {
    for (;;) {
      const nl = this.pending.indexOf("\n", this.pos);
      if (nl >= 0) {
        let end = nl;
        if (end > this.pos && this.pending.charCodeAt(end - 1) === 13) end--;
        const line = this.pending.slice(this.pos, end);
        this.pos = nl + 1;
        this.lineNo++;
        return line;
      }
      if (this.eof) {
        if (this.pos < this.pending.length) {
          let line = this.pending.slice(this.pos);
          if (line.endsWith("\r")) line = line.slice(0, -1);
          this.pending = "";
          this.pos = 0;
          this.lineNo++;
          return line;
        }
        return undefined;
      }
      this.fill();
    }
  }

  private fill(): void {
    if (this.fd === undefined) {
      this.eof = true;
      return;
    }
    const n = readSync(this.fd, this.buf, 0, CHUNK, null);
    const rest = this.pending.slice(this.pos);
    this.pos = 0;
    if (rest.length > MAX_LINE_CHARS) {
      this.close();
      throw new InputError(
        `${this.path}:${this.lineNo + 1}: line longer than ${MAX_LINE_CHARS / 1048576} MiB characters; not a trace of requests (one per line)`,
      );
    }
    if (n === 0) {
      this.pending = rest + this.decoder.end();
      this.close();
      this.eof = true;
    } else {
      this.pending = rest + this.decoder.write(this.buf.subarray(0, n));
    }
  }

  /** Releases the file descriptor (idempotent). */
  close(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
    this.eof = true;
  }
}

/**
 * Splits one CSV line (RFC 4180: double-quoted fields with `""` escapes; no embedded newlines). Returns the fields
 * or a string describing what is wrong (unterminated quote).
 */
export function splitCsv(line: string): string[] | string {
  if (line.indexOf('"') < 0) return line.split(",");
  const out: string[] = [];
  let i = 0;
  const n = line.length;
  for (;;) {
    if (i < n && line.charCodeAt(i) === 34) {
      let s = "";
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return "unterminated quoted field";
        s += line.slice(i, q);
        if (line.charCodeAt(q + 1) === 34) {
          s += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(s);
      if (i >= n) return out;
      if (line.charCodeAt(i) !== 44) return "expected a comma after a quoted field";
      i++;
    } else {
      const c = line.indexOf(",", i);
      if (c < 0) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, c));
      i = c + 1;
    }
  }
}
