import { readFileSync, statSync } from "node:fs";

/**
 * Bad input (scenario, trace, config, CLI argument). The CLI prints only the message and exits with code 2; no stack
 * trace. Messages name the file, line or field and what was expected, e.g.
 * `scenarios/x.yaml:12: pools.0.replicas: expected a positive integer, got "four"`.
 */
export class InputError extends Error {
  override readonly name = "InputError";
}

/** `FILE:LINE: FIELD: what was expected` (line and field optional). */
export function inputError(
  file: string | undefined,
  line: number | undefined,
  field: string | undefined,
  what: string,
): InputError {
  const where = [file, line !== undefined ? String(line) : undefined].filter((x) => x !== undefined).join(":");
  const parts = [where || undefined, field, what].filter((x) => x !== undefined && x !== "");
  return new InputError(parts.join(": "));
}

/** What a schema issue carries (zod's issues; structural, so the kernel needs no zod types). */
export interface SchemaIssue {
  readonly code: string;
  readonly message: string;
  readonly path: readonly PropertyKey[];
  readonly expected?: unknown;
  readonly minimum?: unknown;
  readonly maximum?: unknown;
  readonly inclusive?: boolean;
  readonly origin?: unknown;
  /** The accepted values (zod's `invalid_value`: a literal or an enum). */
  readonly values?: readonly unknown[];
}

/** The value at `path` in parsed JSON/YAML data, and whether a key or index is there at all. */
export function valueAtPath(root: unknown, path: readonly PropertyKey[]): { has: boolean; value: unknown } {
  let v: unknown = root;
  for (const k of path) {
    if (typeof v !== "object" || v === null || typeof k === "symbol" || !(k in (v as object)))
      return { has: false, value: undefined };
    v = (v as Record<string | number, unknown>)[k];
  }
  return { has: true, value: v };
}

function shown(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null || v === undefined) return "nothing";
  if (typeof v === "object") return Array.isArray(v) ? "a list" : "a mapping";
  return String(v);
}

/**
 * A schema issue in the input's terms, with the value written there: "missing (expected number)" for a key that is
 * not there, "expected number, got \"ten\"", "expected a number ≥ 0, got -2" — not zod's "Invalid input: expected
 * number, received undefined" or "Too small: expected number to be >=0". Other issues keep their message.
 */
export function schemaIssueText(issue: SchemaIssue, root: unknown): string {
  const at = valueAtPath(root, issue.path);
  const one = issue.values?.length === 1 ? JSON.stringify(issue.values[0]) : undefined;
  const expected = typeof issue.expected === "string" ? issue.expected : one;
  if (!at.has && (issue.code === "invalid_type" || issue.code === "invalid_union" || issue.code === "invalid_value"))
    return `missing${expected !== undefined ? ` (expected ${expected})` : ""}`;
  if (issue.code === "invalid_type" && typeof issue.expected === "string")
    return `expected ${issue.expected}, got ${shown(at.value)}`;
  // An enum: the choices plainly, and what is written ('Invalid option: expected one of "a"|"b"' in zod's words).
  if (issue.code === "invalid_value" && issue.values !== undefined && issue.values.length >= 2)
    return `expected one of ${issue.values.map((v) => String(v)).join(", ")}, got ${shown(at.value)}`;
  return numberBoundText(issue, at.value) ?? issue.message;
}

/**
 * A number outside a schema's bound as "expected a number > 0, got -3"; a list or text of the wrong length as
 * "expected at least 1 item, got an empty list" or "expected a non-empty string, got \"\"" (zod: "Too small: expected
 * array to have >=1 items"); undefined for any other issue.
 */
export function numberBoundText(issue: SchemaIssue, value: unknown): string | undefined {
  if (issue.code !== "too_small" && issue.code !== "too_big") return undefined;
  const n = Number(issue.code === "too_small" ? issue.minimum : issue.maximum);
  if (issue.origin === "array" && Array.isArray(value) && Number.isInteger(n)) {
    const items = (k: number) => `${k} item${k === 1 ? "" : "s"}`;
    const got = value.length === 0 ? "an empty list" : `${items(value.length)}`;
    return `expected ${issue.code === "too_small" ? "at least" : "at most"} ${items(n)}, got ${got}`;
  }
  if (issue.origin === "string" && typeof value === "string" && Number.isInteger(n)) {
    if (issue.code === "too_small" && n === 1) return `expected a non-empty string, got ""`;
    return `expected ${issue.code === "too_small" ? "at least" : "at most"} ${n} characters, got ${value.length}`;
  }
  if (issue.origin !== "number") return undefined;
  const small = issue.code === "too_small";
  const rel = small ? (issue.inclusive ? "≥" : ">") : issue.inclusive ? "≤" : "<";
  return `expected a number ${rel} ${String(small ? issue.minimum : issue.maximum)}, got ${shown(value)}`;
}

/**
 * An output that cannot be written (folder not creatable, not writable, full disk, a path through a file). The CLI
 * prints the message, which names the path, and exits with code 3.
 */
export class OutputError extends Error {
  override readonly name = "OutputError";
}

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only file system",
  ENOTDIR: "a part of the path is a file, not a folder",
  EISDIR: "is a folder",
  ENOENT: "no such folder",
  EEXIST: "already exists",
  EIO: "input/output error",
  EFBIG: "file too large",
  ENAMETOOLONG: "name too long",
  EINVAL: "invalid path for this file system",
  EBUSY: "busy",
  EMFILE: "too many open files",
};

/** What an fs error code means, for messages ("ENOSPC (no space left on device)"). */
export function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === undefined) return (e as Error | undefined)?.message ?? String(e);
  const t = ERRNO_TEXT[code];
  return t !== undefined ? `${code} (${t})` : code;
}

/** `PATH: cannot write …: CODE (meaning)` as an OutputError. */
export function outputError(path: string, e: unknown, what = "cannot write"): OutputError {
  return new OutputError(`${path}: ${what}: ${errnoText(e)}`);
}

/** Largest text input read whole (scenario, EPP config, baseline, calibration file): far beyond any real one. */
export const MAX_TEXT_INPUT_BYTES = 64 * 1024 * 1024;

/**
 * Reads a whole text input file, refusing what would hang or exhaust memory: FIFOs, devices and sockets (`/dev/zero`
 * as a scenario; a FIFO blocks forever), folders, and files over `maxBytes`. Errors name the file and say what it was
 * meant to be (`what`, e.g. "scenario file").
 */
export function readTextInput(path: string, what: string, maxBytes = MAX_TEXT_INPUT_BYTES, shown = path): string {
  let st: import("node:fs").Stats;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(
      `${shown}: cannot read the ${what} (${code === "ENOENT" ? "no such file" : code === "ENOTDIR" ? "a part of the path is not a folder" : errnoText(e)})`,
    );
  }
  if (st.isDirectory()) throw new InputError(`${shown}: cannot read the ${what}: is a folder, expected a file`);
  if (!st.isFile()) {
    throw new InputError(
      `${shown}: cannot read the ${what}: not a regular file (a FIFO, device or socket); give a file on disk`,
    );
  }
  if (st.size > maxBytes) {
    throw new InputError(
      `${shown}: the ${what} is ${(st.size / 1048576).toFixed(0)} MiB; at most ${(maxBytes / 1048576).toFixed(0)} MiB accepted`,
    );
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new InputError(`${shown}: cannot read the ${what} (${errnoText(e)})`);
  }
  return text;
}

/** Refuses a path that is not a regular file (FIFO, device, socket, folder) before it is opened for streaming. */
export function assertRegularFile(path: string, what: string): void {
  readTextInputStat(path, what);
}

function readTextInputStat(path: string, what: string): void {
  let st: import("node:fs").Stats;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`${path}: cannot read the ${what} (${code === "ENOENT" ? "no such file" : errnoText(e)})`);
  }
  if (st.isDirectory()) throw new InputError(`${path}: cannot read the ${what}: is a folder, expected a file`);
  if (!st.isFile())
    throw new InputError(`${path}: cannot read the ${what}: not a regular file (a FIFO, device or socket)`);
}
