import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { z } from "zod";
import { InputError } from "../errors.ts";
import { EventHeap } from "../sim/heap.ts";
import { type Rng, rngStream } from "../sim/rng.ts";
import { gammaVariate } from "./arrivals.ts";
import { cumulative, LengthDistSchema, makeSampler, pickCumulative, type Sampler } from "./distributions.ts";
import { LineReader, splitCsv } from "./lines.ts";
import { lineError, num, type TraceReader } from "./trace-common.ts";
import { contentId, type Draft, draft, NS } from "./types.ts";

/**
 * ServeGen (alibaba/ServeGen, `../shared/data/servegen/README.md`) is a per-client characterisation, not a request
 * trace: `chunk-<client>-trace.csv` has one line per 600 s window, `timestamp_s, rate, cv, pattern, shape, scale`
 * (pattern Gamma or Weibull, scipy parameters). As ServeGen's generator does, each window gets round(rate × window)
 * requests whose inter-arrival times are drawn from the fitted distribution and rescaled to fill the window exactly.
 * Lengths come from `chunk-<client>-dataset.json` (per 6 h window, `{token: probability}` PDFs of `input_tokens`
 * and `output_tokens`) when present, else from `servegen.input` / `servegen.output`. Each client is a tenant
 * `client-<id>` (and its LoRA adapter with `client_adapters`); all clients are merged in time order. Each client draws
 * from its own random stream.
 */
export const ServeGenOptionsSchema = z.strictObject({
  /** Lengths for clients without a dataset JSON (or windows without data). */
  input: LengthDistSchema.default({ dist: "lognormal", mean: 2000, std: 2000, min: 1, max: 32000 }),
  output: LengthDistSchema.default({ dist: "lognormal", mean: 300, std: 300, min: 1, max: 8000 }),
  /** Only these client ids (default: all files in the folder). */
  clients: z.array(z.number().int().nonnegative()).optional(),
  /** Only the N clients with the most requests. */
  top_clients: z.number().int().positive().optional(),
  /** Also set adapter = `client-<id>` (client = LoRA adapter). */
  client_adapters: z.boolean().default(false),
  window_s: z.number().positive().default(600),
});
export type ServeGenOptions = z.infer<typeof ServeGenOptionsSchema>;

const CLIENT_FILE = /^chunk-(\d+)-trace\.csv$/;

/** Client files of a ServeGen folder (or the single file given), sorted by client id. */
export function serveGenClients(path: string): { id: number; file: string }[] {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    throw new InputError(`${path}: file not found`);
  }
  if (st.isDirectory()) {
    const out: { id: number; file: string }[] = [];
    for (const f of readdirSync(path)) {
      const m = CLIENT_FILE.exec(f);
      if (m) out.push({ id: Number(m[1]), file: join(path, f) });
    }
    if (out.length === 0)
      throw new InputError(`${path}: expected ServeGen chunk-<client>-trace.csv files in the folder`);
    return out.sort((a, b) => a.id - b.id);
  }
  const m = CLIENT_FILE.exec(basename(path));
  return [{ id: m ? Number(m[1]) : 0, file: path }];
}

/** Total requests of each client (Σ rate × window), in the order of `serveGenClients`. */
export function serveGenVolumes(path: string, windowS = 600): { id: number; requests: number }[] {
  return serveGenClients(path).map(({ id, file }) => {
    const r = new LineReader(file);
    let total = 0;
    for (let l = r.next(); l !== undefined; l = r.next()) {
      const f = l.split(",");
      const rate = Number(f[1]);
      if (Number.isFinite(rate)) total += Math.round(rate * windowS);
    }
    return { id, requests: total };
  });
}

/** Adapter popularity weights from ServeGen clients: request volumes, most popular first. */
export function serveGenWeights(path: string): number[] {
  return serveGenVolumes(path)
    .map((v) => v.requests)
    .sort((a, b) => b - a);
}

interface Pdf {
  values: Int32Array;
  cum: Float64Array;
}

const PAIR = /(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*:\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)/g;

/** Parses a ServeGen PDF string `"{143: 0.0001, 148: 0.0002}"`; undefined when empty. */
export function parsePdf(s: string): Pdf | undefined {
  const values: number[] = [];
  const weights: number[] = [];
  for (const m of s.matchAll(PAIR)) {
    const p = Number(m[2]);
    if (p > 0) {
      values.push(Math.round(Number(m[1])));
      weights.push(p);
    }
  }
  if (values.length === 0) return undefined;
  return { values: Int32Array.from(values), cum: cumulative(weights) };
}

class ClientStream {
  readonly id: number;
  private readonly lines: LineReader;
  private readonly file: string;
  private readonly rng: Rng;
  private readonly windowS: number;
  private times: Float64Array = new Float64Array(0);
  private i = 0;
  private readonly datasetFile: string;
  private dataset: { start: number; input: Pdf | undefined; output: Pdf | undefined }[] | undefined;

  constructor(id: number, file: string, shown: string, rng: Rng, windowS: number) {
    this.id = id;
    this.lines = new LineReader(file);
    this.file = shown;
    this.rng = rng;
    this.windowS = windowS;
    this.datasetFile = join(dirname(file), `chunk-${id}-dataset.json`);
  }

  where(): string {
    return `${this.file}:${this.lines.lineNo}`;
  }

  /** Next arrival time of this client, or undefined. */
  next(): number | undefined {
    while (this.i >= this.times.length) {
      const line = this.lines.next();
      if (line === undefined) return undefined;
      if (line.trim() === "") continue;
      this.window(line, this.lines.lineNo);
    }
    return this.times[this.i++]!;
  }

  private window(line: string, ln: number): void {
    const F = this.file;
    const f = splitCsv(line);
    if (typeof f === "string") throw lineError(F, ln, "line", f);
    if (f.length < 2) throw lineError(F, ln, "line", "expected timestamp_s,rate,cv,pattern,shape,scale");
    const start = num(f[0], F, ln, "timestamp_s", { min: 0 });
    const rate = num(f[1], F, ln, "rate", { min: 0 });
    const n = Math.round(rate * this.windowS);
    this.times = new Float64Array(n);
    this.i = 0;
    if (n === 0) return;
    const pattern = (f[3] ?? "").trim();
    const shape = num(f[4], F, ln, "shape", { min: 0 });
    const scale = num(f[5], F, ln, "scale", { min: 0 });
    if (pattern !== "Gamma" && pattern !== "Weibull")
      throw lineError(F, ln, "pattern", `expected Gamma or Weibull, got "${pattern}"`);
    if (!(shape > 0) || !(scale > 0)) throw lineError(F, ln, "shape", "expected positive shape and scale");
    let sum = 0;
    const g = this.times;
    for (let k = 0; k < n; k++) {
      let x: number;
      if (pattern === "Gamma") x = gammaVariate(this.rng, shape) * scale;
      else {
        let u = this.rng.next();
        if (u <= 0) u = Number.MIN_VALUE;
        x = scale * (-Math.log(u)) ** (1 / shape);
      }
      g[k] = x;
      sum += x;
    }
    const k2 = sum > 0 ? this.windowS / sum : 0;
    let t = start;
    for (let k = 0; k < n; k++) {
      t += g[k]! * k2;
      g[k] = t;
    }
  }

  /** Length PDFs for time t (undefined: use the fallback). */
  pdfs(t: number): { input: Pdf | undefined; output: Pdf | undefined } | undefined {
    if (this.dataset === undefined) this.dataset = loadDataset(this.datasetFile);
    let best: (typeof this.dataset)[number] | undefined;
    for (const w of this.dataset) if (w.start <= t) best = w;
    return best;
  }

  close(): void {
    this.lines.close();
  }
}

function loadDataset(file: string): { start: number; input: Pdf | undefined; output: Pdf | undefined }[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${file}: expected a ServeGen dataset JSON (${(e as Error).message})`);
  }
  if (typeof obj !== "object" || obj === null) throw new InputError(`${file}: expected a JSON object of windows`);
  const out: { start: number; input: Pdf | undefined; output: Pdf | undefined }[] = [];
  for (const [k, v] of Object.entries(obj as Record<string, Record<string, unknown>>)) {
    const get = (f: string) => (typeof v?.[f] === "string" ? parsePdf(v[f] as string) : undefined);
    out.push({ start: Number(k), input: get("input_tokens"), output: get("output_tokens") });
  }
  return out.sort((a, b) => a.start - b.start);
}

export class ServeGenReader implements TraceReader {
  private readonly clients: ClientStream[] = [];
  private readonly heap = new EventHeap(256);
  private readonly salt: number;
  private readonly lenRng: Rng;
  private readonly fallbackIn: Sampler;
  private readonly fallbackOut: Sampler;
  private readonly adapters: boolean;
  private lastWhere = "";
  private row = 0;

  constructor(path: string, shown: string, salt: number, seed: number, name: string, opts: ServeGenOptions) {
    this.salt = salt;
    let list = serveGenClients(path);
    if (opts.clients) {
      const want = new Set(opts.clients);
      list = list.filter((c) => want.has(c.id));
    }
    if (opts.top_clients !== undefined) {
      const vols = new Map(serveGenVolumes(path, opts.window_s).map((v) => [v.id, v.requests]));
      list = [...list]
        .sort((a, b) => (vols.get(b.id) ?? 0) - (vols.get(a.id) ?? 0) || a.id - b.id)
        .slice(0, opts.top_clients)
        .sort((a, b) => a.id - b.id);
    }
    const isDir = statSync(path).isDirectory();
    for (const c of list) {
      const cs = new ClientStream(
        c.id,
        c.file,
        isDir ? join(shown, basename(c.file)) : shown,
        rngStream(seed, `${name}/servegen/${c.id}`),
        opts.window_s,
      );
      this.clients.push(cs);
      const t = cs.next();
      if (t !== undefined) this.heap.push(t, 0, this.clients.length - 1);
    }
    this.lenRng = rngStream(seed, `${name}/lengths`);
    this.fallbackIn = makeSampler(opts.input, this.lenRng);
    this.fallbackOut = makeSampler(opts.output, this.lenRng);
    this.adapters = opts.client_adapters;
  }

  where(): string {
    return this.lastWhere;
  }

  next(): Draft | undefined {
    if (!this.heap.pop()) return undefined;
    const t = this.heap.lastTime;
    const ci = this.heap.lastArg;
    const c = this.clients[ci]!;
    this.lastWhere = c.where();
    const pdfs = c.pdfs(t);
    const input = pdfs?.input ? pick(pdfs.input, this.lenRng) : this.fallbackIn();
    const output = pdfs?.output ? pick(pdfs.output, this.lenRng) : this.fallbackOut();
    const prompt = input > 0 ? [{ id: contentId(NS.unique, this.salt, this.row), tokens: input }] : [];
    this.row++;
    const d = draft(t, prompt, input, output);
    d.tenant = `client-${c.id}`;
    if (this.adapters) d.adapter = `client-${c.id}`;
    const nt = c.next();
    if (nt !== undefined) this.heap.push(nt, 0, ci);
    return d;
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}

function pick(p: Pdf, rng: Rng): number {
  return p.values[pickCumulative(p.cum, rng.next())]!;
}
