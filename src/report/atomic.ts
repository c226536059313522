/**
 * Writing outputs so that they appear whole or not at all, and failing early, with exit code 3 and the path, when
 * they cannot be written.
 *
 * - `writeFileAtomic`: one file via a temporary sibling (`.NAME.gatelab-tmp-PID`) renamed over the target;
 *   `writeChunksAtomic` the same from a stream of chunks.
 * - `writeOutputSet`: a run's folder of outputs written into a temporary sibling folder, then swapped in with
 *   renames; a folder that already holds files gatelab did not write is refused before anything is run.
 * - Temporary siblings left by a killed process (its PID no longer alive) are removed by the next write beside them.
 * - `checkWritableFile` / `checkWritableDir`: probes run before a simulation, so an unwritable `--out`, `--junit` or
 *   baseline path is reported in milliseconds, not after the run.
 */
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { OutputError, outputError } from "../errors.ts";

const TMP_TAG = ".gatelab-tmp-";
const OLD_TAG = ".gatelab-old-";
/** Marks a folder as a gatelab output set (so a later run may replace it). */
export const OUTPUT_MARKER = ".gatelab-output";

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes `.NAME.gatelab-tmp-PID*` / `.NAME.gatelab-old-PID*` siblings of `path` whose process is gone. */
export function cleanStaleTemps(path: string): void {
  const dir = dirname(resolve(path));
  const prefix = `.${basename(path)}`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const rest = n.slice(prefix.length);
    const m = /^(?:\.gatelab-tmp-|\.gatelab-old-)(\d+)/.exec(rest);
    if (!m || alive(Number(m[1]))) continue;
    rmSync(join(dir, n), { recursive: true, force: true });
  }
}

/** `.NAME.gatelab-tmp-PID` beside `path` (removed by `cleanStaleTemps` once this process is gone). */
export function tmpSibling(path: string, tag = TMP_TAG): string {
  return join(dirname(path), `.${basename(path)}${tag}${process.pid}`);
}

/**
 * `mkdir -p`: creates `dir` and its missing parents, one component at a time from the nearest existing ancestor.
 * Not `mkdirSync(dir, { recursive: true })`: Node's recursive mkdir (20.x and later) spins forever where a parent
 * exists but cannot hold children and answers ENOENT, as every folder under /proc does (`/proc/x` looped at 100 %
 * CPU: mkdir /proc/x → ENOENT, mkdir /proc → EEXIST, again; the same bug was found and fixed in Bun,
 * oven-sh/bun#40600). Here each component is made once and its error is final.
 */
export function makeDirs(dir: string): void {
  const abs = resolve(dir);
  const missing: string[] = [];
  for (let p = abs; !existsSync(p); ) {
    missing.push(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  for (let k = missing.length - 1; k >= 0; k--) {
    try {
      mkdirSync(missing[k]!);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
  }
}

/** Creates `dir` (and parents) or throws OutputError naming it. */
function ensureDir(dir: string): void {
  try {
    makeDirs(dir);
  } catch (e) {
    throw outputError(dir, e, "cannot create the folder");
  }
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(dir);
  } catch (e) {
    throw outputError(dir, e, "cannot create the folder");
  }
  if (!st.isDirectory()) throw new OutputError(`${dir}: cannot create the folder: a file of that name exists`);
}

/** Nearest existing ancestor of `path` (itself if it exists). */
function existingAncestor(path: string): string {
  let p = resolve(path);
  while (!existsSync(p)) {
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  return p;
}

/** Writes and removes a probe file in folder `dir` (which exists); throws OutputError naming `path`. */
function probe(dir: string, path: string): void {
  const f = join(dir, `.gatelab-probe${TMP_TAG}${process.pid}`);
  try {
    const fd = openSync(f, "wx");
    try {
      writeSync(fd, "x");
    } finally {
      closeSync(fd);
    }
    rmSync(f, { force: true });
  } catch (e) {
    rmSync(f, { force: true });
    throw outputError(path, e, `cannot write: no file can be created in ${dir}`);
  }
}

/** Whether `p` is a special file (FIFO, device, socket): never an output. */
function special(st: import("node:fs").Stats): boolean {
  return st.isFIFO() || st.isCharacterDevice() || st.isBlockDevice() || st.isSocket();
}

/**
 * Fails now (OutputError) when file `path` could not be written later: a folder of that name, a special file, a path
 * through a file, a folder where nothing can be created. Creates no folder.
 */
export function checkWritableFile(path: string, what = "output file"): void {
  const abs = resolve(path);
  if (existsSync(abs)) {
    const st = lstatSync(abs);
    if (st.isDirectory()) throw new OutputError(`${path}: cannot write the ${what}: is a folder`);
    if (special(st)) throw new OutputError(`${path}: cannot write the ${what}: not a regular file`);
  }
  const anc = existingAncestor(dirname(abs));
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(anc);
  } catch (e) {
    throw outputError(path, e);
  }
  if (!st.isDirectory()) throw new OutputError(`${path}: cannot write the ${what}: ${anc} is a file, not a folder`);
  probe(anc, path);
}

/** Fails now (OutputError) when output folder `dir` could not be created or written. Creates nothing. */
export function checkWritableDir(dir: string): void {
  const abs = resolve(dir);
  if (existsSync(abs)) {
    const st = statSync(abs);
    if (!st.isDirectory()) throw new OutputError(`${dir}: cannot write outputs there: a file of that name exists`);
    probe(abs, dir);
    return;
  }
  const anc = existingAncestor(abs);
  const st = statSync(anc);
  if (!st.isDirectory()) throw new OutputError(`${dir}: cannot create the folder: ${anc} is a file, not a folder`);
  probe(anc, dir);
}

/** Writes a file atomically: to a temporary file beside it, then renamed over the target. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  ensureDir(dirname(path));
  cleanStaleTemps(path);
  const tmp = tmpSibling(path);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    if (e instanceof OutputError) throw e;
    throw outputError(path, e);
  }
}

/**
 * Writes a file atomically from chunks (written one at a time, so the whole text never sits in memory): to a
 * temporary file beside it, renamed over the target once every chunk is written; on failure the temporary file is
 * removed and the target left as it was.
 */
export function writeChunksAtomic(path: string, chunks: Iterable<string>): void {
  ensureDir(dirname(path));
  cleanStaleTemps(path);
  const tmp = tmpSibling(path);
  try {
    const fd = openSync(tmp, "w");
    try {
      for (const c of chunks) writeSync(fd, c);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    if (e instanceof OutputError) throw e;
    throw outputError(path, e);
  }
}

/** Names gatelab writes into an output folder (a folder holding only these, or the marker, may be replaced). */
const OWN_NAMES = new Set([
  OUTPUT_MARKER,
  "summary.json",
  "requests.csv",
  "charts",
  "report.html",
  "drill.json",
  "decisions.jsonl",
]);

/** Entries of existing folder `dir` that gatelab did not write (empty when none, or when `dir` is absent). */
export function foreignEntries(dir: string): string[] {
  if (!existsSync(dir)) return [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  if (names.includes(OUTPUT_MARKER)) return [];
  return names.filter((n) => !OWN_NAMES.has(n));
}

/**
 * Fails now (OutputError) unless `dir` can take an output set: creatable and writable, and either absent, empty, or
 * an earlier output set of gatelab's (which the new one replaces whole).
 */
export function checkOutputSetDir(dir: string): void {
  checkWritableDir(dir);
  const foreign = foreignEntries(dir);
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 3).join(", ") + (foreign.length > 3 ? ", …" : "");
    throw new OutputError(
      `${dir}: holds files gatelab did not write (${shown}); outputs replace the whole folder, so choose a new or empty one`,
    );
  }
}

/**
 * Writes a set of outputs into folder `dir` so that they appear together or not at all: `write(stage)` fills a
 * temporary sibling folder, which then replaces `dir` (renames; an earlier set is moved aside and removed). A
 * process killed meanwhile leaves either the old set or the new one in place, plus temporary siblings that the next
 * write removes. Errors (full disk, permissions) surface as OutputError naming the path.
 */
export async function writeOutputSet<T>(dir: string, write: (stage: string) => Promise<T> | T): Promise<T> {
  const abs = resolve(dir);
  checkOutputSetDir(dir);
  ensureDir(dirname(abs));
  cleanStaleTemps(abs);
  const stage = tmpSibling(abs);
  rmSync(stage, { recursive: true, force: true });
  let result: T;
  try {
    ensureDir(stage);
    writeFileSync(join(stage, OUTPUT_MARKER), "gatelab output set: files here are replaced together by the next run\n");
    result = await write(stage);
  } catch (e) {
    rmSync(stage, { recursive: true, force: true });
    if (e instanceof OutputError) {
      // Name the real destination, not the temporary folder.
      throw new OutputError(e.message.replaceAll(stage, abs));
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && typeof (e as NodeJS.ErrnoException).syscall === "string") throw outputError(dir, e);
    throw e;
  }
  const old = tmpSibling(abs, OLD_TAG);
  try {
    if (existsSync(abs)) renameSync(abs, old);
    renameSync(stage, abs);
  } catch (e) {
    if (!existsSync(abs) && existsSync(old)) renameSync(old, abs);
    rmSync(stage, { recursive: true, force: true });
    throw outputError(dir, e);
  }
  rmSync(old, { recursive: true, force: true });
  return result;
}
