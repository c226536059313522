/**
 * `sweep`: grid or random search over scenario fields and plugin parameters, run on worker threads, resumable,
 * shardable across machines.
 *
 * Determinism: the point list depends only on (scenario, --param list, --random K, --seed); point `id` is its index.
 * Every point runs with the base seed (common random numbers: every point sees the same request stream), or with a
 * seed derived from (base seed, id) under `--vary-seed`; never from the thread that ran it. The aggregate files are
 * built from the point files on disk, sorted by id, so they are byte-identical whatever `--jobs`, `--shard` or the
 * number of interruptions.
 *
 * Output folder:
 * - `sweep.json`: the plan (scenario digest, parameters, mode, seed, point count) and the analysis options;
 * - `points/<id>.json`: one file per finished point, written atomically the moment it finishes (resume skips them);
 * - `results.csv`, `results.json`: every point with its values and metrics, the Pareto front and the best point;
 * - `charts/pareto.{svg,png}`, `charts/heatmap.{svg,png}` (two or more parameters) or `charts/sweep-line.{svg,png}`;
 * - `report.html`;
 * - `shard.json` in a shard's folder (`--shard i/N`), which holds points only: `gatelab merge` aggregates.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, relative, resolve } from "node:path";
import { stringify } from "csv-stringify/sync";
import { Document, parse as parseYaml } from "yaml";
import { InputError, readTextInput } from "../errors.ts";
import { type LabMetrics, labMetrics } from "../metrics/lab-metrics.ts";
import { checkRunSlos, requestTargets, type SloCheck } from "../metrics/slo.ts";
import { writeFileAtomic } from "../report/atomic.ts";
import { METRICS, metricInfo } from "../report/metric-catalog.ts";
import { fmtNum, renderTable } from "../report/table.ts";
import { checkScenarioBounds, formatZodError, type LoadedScenario, loadScenario, ScenarioSchema } from "../scenario.ts";
import { DEFAULT_SCENARIO_YAML } from "../scenarios-embedded.ts";
import { hashInts } from "../sim/hash.ts";
import { rngStream } from "../sim/rng.ts";
import {
  applyValues,
  gridPoints,
  type ParamSpec,
  type ParamValue,
  type PointValues,
  parseParam,
  randomPoints,
  scenarioFieldHint,
} from "./params.ts";
import { runPool } from "./pool.ts";
import { buildPools } from "./pools.ts";
import { buildRouter, runScenario } from "./run.ts";
import { checkPointFile, manifestProblem, type PointExpectation, pointProblem } from "./sweep-files.ts";

// ---------------------------------------------------------------------------------------------------------------
// Base scenario and points

/** The scenario a sweep varies: its raw YAML data (parameters apply to it), where it came from, and its validation. */
export interface SweepBase {
  readonly raw: unknown;
  readonly file: string;
  readonly baseDir: string;
}

/**
 * Loads a scenario for sweeping (validated once, so a bad file fails with its usual message). `eppConfig` (a path from
 * the working directory, as `run --epp-config` takes it) replaces the scenario's router: it is written into the
 * scenario as `gateway.epp_config`, relative to the scenario's folder, so the sweep's manifest does not depend on
 * where it runs.
 */
export function loadSweepBase(path?: string, eppConfig?: string): SweepBase {
  const loaded = loadScenario(path);
  const text = path === undefined ? DEFAULT_SCENARIO_YAML : readTextInput(path, "scenario file");
  let raw = parseYaml(text) as unknown;
  if (eppConfig !== undefined) {
    readTextInput(eppConfig, "EndpointPickerConfig file");
    const doc = (raw !== null && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
    const gw = (doc.gateway !== null && typeof doc.gateway === "object" ? doc.gateway : {}) as Record<string, unknown>;
    const { policy: _policy, ...rest } = gw;
    const rel = relative(loaded.baseDir, resolve(eppConfig)).replaceAll("\\", "/");
    raw = { ...doc, gateway: { ...rest, epp_config: rel } };
  }
  return { raw, file: loaded.file, baseDir: loaded.baseDir };
}

/** One point of the sweep: its id (index in the plan), parameter values, and the seed it runs with. */
export interface PointJob {
  readonly id: number;
  readonly values: PointValues;
  readonly seed: number;
}

export interface PointResult {
  readonly id: number;
  readonly values: PointValues;
  readonly seed: number;
  readonly metrics: LabMetrics;
  readonly slos: readonly SloCheck[];
  readonly slos_ok: boolean;
}

function describe(values: PointValues): string {
  return Object.entries(values)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
}

/** The validated scenario of a point. Throws InputError naming the point. */
export function pointScenario(base: SweepBase, params: readonly ParamSpec[], job: PointJob): LoadedScenario {
  const raw = applyValues(base.raw, params, job.values);
  const r = ScenarioSchema.safeParse(raw);
  if (!r.success) {
    // The point's scenario as a document, so that messages show what is written there ("expected a number > 0,
    // got 0", not zod's "Too small: expected number to be >0"); no lines: the point has no file of its own.
    const doc = new Document(raw) as unknown as Parameters<typeof formatZodError>[2];
    const msg = formatZodError(r.error, `${base.file} with ${describe(job.values)}`, doc, undefined);
    throw new InputError(`point ${job.id}: ${msg}`);
  }
  try {
    checkScenarioBounds(raw, `${base.file} with ${describe(job.values)}`);
  } catch (e) {
    throw new InputError(`point ${job.id}: ${(e as Error).message}`);
  }
  return { scenario: r.data, baseDir: base.baseDir, file: base.file };
}

/** Runs one point (on the main thread or in a worker: the same function). */
export function runPoint(base: SweepBase, params: readonly ParamSpec[], job: PointJob): PointResult {
  const loaded = pointScenario(base, params, job);
  const out = runScenario(loaded, { seed: job.seed });
  const slos = loaded.scenario.slos;
  const checks = checkRunSlos(out, slos);
  return {
    id: job.id,
    values: job.values,
    seed: job.seed,
    metrics: labMetrics(out, requestTargets(slos)),
    slos: checks,
    slos_ok: checks.every((c) => c.ok),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Plan

export interface Objective {
  readonly key: keyof LabMetrics;
  readonly dir: "min" | "max";
}

/** Parses `ttft_p95_ms:min` (direction optional: the metric's better side). */
export function parseObjective(text: string): Objective {
  const [key, dir] = text.split(":").map((s) => s.trim()) as [string, string | undefined];
  const info = metricInfo(key);
  if (!info) {
    throw new InputError(`"${text}": unknown metric "${key}"; metrics: ${METRICS.map((m) => m.key).join(", ")}`);
  }
  if (dir !== undefined && dir !== "min" && dir !== "max") throw new InputError(`"${text}": expected ":min" or ":max"`);
  const d = dir ?? (info.better === "higher" ? "max" : "min");
  return { key: info.key, dir: d };
}

const fmtObjective = (o: Objective) => `${o.key}:${o.dir}`;

export const DEFAULT_PARETO = ["ttft_p95_ms:min", "throughput_rps:max"];
export const DEFAULT_OBJECTIVE = "ttft_p95_ms:min";

export interface SweepManifest {
  readonly format: "gatelab-sweep/1";
  readonly scenario: string;
  /** SHA-256 of the raw scenario data (JSON): a different scenario is a different sweep. */
  readonly scenario_sha256: string;
  readonly params: readonly { readonly name: string; readonly spec: string }[];
  readonly mode: "grid" | "random";
  readonly random?: number;
  readonly seed: number;
  readonly vary_seed: boolean;
  readonly points: number;
  readonly analysis: { readonly pareto: readonly string[]; readonly objective: string };
}

export interface SweepPlanOptions {
  /** `NAME=VALUES` strings (see params.ts). */
  readonly params: readonly string[];
  /** Random search with this many points instead of the grid. */
  readonly random?: number;
  /** Base seed (default: the scenario's): samples random points, and seeds every run. */
  readonly seed?: number;
  /** Seed each point from (base seed, id) instead of the base seed. */
  readonly varySeed?: boolean;
  /** Pareto objectives, e.g. ["ttft_p95_ms:min", "throughput_rps:max"]. */
  readonly pareto?: readonly string[];
  /** What "best" maximizes or minimizes among the points that meet the SLOs. */
  readonly objective?: string;
}

export interface SweepPlan {
  readonly manifest: SweepManifest;
  readonly params: readonly ParamSpec[];
  readonly jobs: readonly PointJob[];
}

function sha256(x: unknown): string {
  return createHash("sha256").update(JSON.stringify(x)).digest("hex");
}

/** Derived per-point seed: a function of (base seed, point id) only. */
export function pointSeed(base: number, id: number): number {
  return hashInts(base, id) % 2147483647;
}

/** Most points a random search samples (as many as the largest grid). */
const MAX_RANDOM_POINTS = 100_000;

export function planSweep(base: SweepBase, o: SweepPlanOptions): SweepPlan {
  if (o.params.length === 0) throw new InputError("sweep needs at least one --param NAME=VALUES");
  const random = o.random !== undefined;
  if (random && !(Number.isInteger(o.random) && o.random! > 0))
    throw new InputError("--random: expected a positive integer");
  // The same ceiling as a grid's (gridPoints): beyond it a plan alone would take minutes and gigabytes.
  if (random && o.random! > MAX_RANDOM_POINTS)
    throw new InputError(`--random ${o.random}: at most ${MAX_RANDOM_POINTS.toLocaleString("en-US")} points`);
  const params = o.params.map((p) => parseParam(p, random));
  const names = new Set<string>();
  for (const p of params) {
    if (names.has(p.name)) throw new InputError(`--param ${p.name} is given twice`);
    names.add(p.name);
  }
  const rawSeed = (base.raw as { seed?: unknown } | null)?.seed;
  const baseSeed = o.seed ?? (typeof rawSeed === "number" ? rawSeed : 42);
  const values = random
    ? randomPoints(params, o.random!, rngStream(baseSeed, "sweep/random-points"))
    : gridPoints(params);
  const seedParam = params.find((p) => p.path.length === 1 && p.path[0] === "seed");
  const jobs: PointJob[] = values.map((v, id) => {
    const swept = seedParam ? v[seedParam.name] : undefined;
    const seed = typeof swept === "number" ? swept : o.varySeed ? pointSeed(baseSeed, id) : baseSeed;
    return { id, values: v, seed };
  });
  const pareto = (o.pareto ?? DEFAULT_PARETO).map(parseObjective);
  if (pareto.length < 2)
    throw new InputError("--pareto: give at least two metrics, e.g. ttft_p95_ms:min,throughput_rps:max");
  const objective = parseObjective(o.objective ?? DEFAULT_OBJECTIVE);
  const name = (base.raw as { name?: unknown } | null)?.name;
  const manifest: SweepManifest = {
    format: "gatelab-sweep/1",
    scenario: typeof name === "string" ? name : "scenario",
    scenario_sha256: sha256(base.raw),
    params: params.map((p) => ({ name: p.name, spec: p.spec })),
    mode: random ? "random" : "grid",
    ...(random ? { random: o.random! } : {}),
    seed: baseSeed,
    vary_seed: o.varySeed === true,
    points: jobs.length,
    analysis: { pareto: pareto.map(fmtObjective), objective: fmtObjective(objective) },
  };
  // Validate every point before running any (schema, pools, router and its parameters), so that a bad value fails
  // at once and names its point.
  for (const j of jobs) {
    const loaded = pointScenario(base, params, j);
    try {
      buildRouter(loaded, buildPools(loaded.scenario, loaded.baseDir), {});
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      // A parameter taken for a plugin's that is a misspelt scenario field: say so.
      const hints = params.map((p) => scenarioFieldHint(p.name)).filter((h) => h !== undefined);
      throw new InputError(
        `point ${j.id} (${describe(j.values)}): ${e.message}${hints.length > 0 ? ` (${hints.join("; ")})` : ""}`,
      );
    }
  }
  return { manifest, params, jobs };
}

/** The fields that make two manifests the same sweep (analysis options may change between runs). */
function planKey(m: SweepManifest): string {
  const { analysis: _a, ...plan } = m;
  return JSON.stringify(plan);
}

// ---------------------------------------------------------------------------------------------------------------
// Files

const MANIFEST = "sweep.json";
const SHARD = "shard.json";
const POINTS = "points";

export function pointFile(dir: string, id: number): string {
  return join(dir, POINTS, `${String(id).padStart(5, "0")}.json`);
}

function json(x: unknown): string {
  return `${JSON.stringify(x, null, 2)}\n`;
}

export function readManifest(dir: string): SweepManifest | undefined {
  const p = join(dir, MANIFEST);
  if (!existsSync(p)) return undefined;
  const text = readTextInput(p, "sweep manifest");
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${p}: not a gatelab sweep manifest (invalid JSON: ${(e as Error).message})`);
  }
  const problem = manifestProblem(m);
  if (problem !== undefined) throw new InputError(`${p}: not a gatelab sweep manifest: ${problem}`);
  return m as SweepManifest;
}

/** What point `id`'s file must agree with: the manifest's scenario hash and parameters, the plan's seed and values. */
function expectation(m: SweepManifest, id: number, job?: PointJob): PointExpectation {
  const params = m.params.map((p) => p.name);
  const seedSwept = params.includes("seed");
  const seed = job?.seed ?? (seedSwept ? undefined : m.vary_seed ? pointSeed(m.seed, id) : m.seed);
  return {
    id,
    scenarioSha256: m.scenario_sha256,
    params,
    ...(seed !== undefined ? { seed } : {}),
    ...(job !== undefined ? { values: job.values } : {}),
  };
}

/** A point file's result without the fields only the file carries. */
function pointOf(text: string): PointResult {
  const { scenario_sha256: _h, ...r } = JSON.parse(text) as PointResult & { scenario_sha256?: string };
  return r;
}

/**
 * The finished point `id` in `dir` if its file exists and is sound (id, scenario hash, seed, values, metric types);
 * undefined otherwise, so that a resumed sweep runs it again.
 */
function readPoint(dir: string, job: PointJob, m: SweepManifest): PointResult | undefined {
  const p = pointFile(dir, job.id);
  if (!existsSync(p)) return undefined;
  let text: string;
  try {
    text = readTextInput(p, "sweep point");
  } catch {
    return undefined;
  }
  if (pointProblem(text, expectation(m, job.id, job)) !== undefined) return undefined;
  return pointOf(text);
}

// ---------------------------------------------------------------------------------------------------------------
// Run

export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** Parses `i/N` (0 ≤ i < N). */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new InputError(`--shard "${text}": expected i/N, e.g. 0/4`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (!(count >= 1) || index >= count) throw new InputError(`--shard "${text}": need 0 ≤ i < N`);
  return { index, count };
}

/** The points of shard i/N: ids ≡ i (mod N), so every shard gets a share of every region of the grid. */
export function shardJobs(jobs: readonly PointJob[], shard: Shard | undefined): PointJob[] {
  return shard ? jobs.filter((j) => j.id % shard.count === shard.index) : [...jobs];
}

export interface SweepRunOptions extends SweepPlanOptions {
  readonly out: string;
  /** Worker threads (default: available parallelism). 1 runs on the main thread. */
  readonly jobs?: number;
  readonly shard?: Shard;
  /** Render charts and the HTML report (default true). */
  readonly charts?: boolean;
  /** Called after each point finishes (and once at the start with the points already done). */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface SweepRun {
  readonly dir: string;
  readonly manifest: SweepManifest;
  /** Points of this run (the shard's, or all). */
  readonly total: number;
  /** Already in the folder when the run started. */
  readonly skipped: number;
  /** Computed by this run. */
  readonly ran: number;
  /** The aggregate (undefined for a shard). */
  readonly results: SweepResults | undefined;
  readonly files: readonly string[];
}

function workerUrl(): URL {
  const self = import.meta.url;
  return new URL(self.endsWith(".ts") ? "./sweep-worker.ts" : "./sweep-worker.js", self);
}

/** Runs (or resumes) a sweep into `o.out`. */
export async function runSweep(base: SweepBase, o: SweepRunOptions): Promise<SweepRun> {
  const plan = planSweep(base, o);
  const dir = o.out;
  const old = readManifest(dir);
  if (old && planKey(old) !== planKey(plan.manifest)) {
    throw new InputError(
      `${join(dir, MANIFEST)}: this folder holds a different sweep (scenario, parameters, mode or seed differ); use another --out or delete it`,
    );
  }
  writeFileAtomic(join(dir, MANIFEST), json(plan.manifest));
  const mine = shardJobs(plan.jobs, o.shard);
  if (o.shard)
    writeFileAtomic(join(dir, SHARD), json({ index: o.shard.index, count: o.shard.count, points: mine.length }));
  else rmSync(join(dir, SHARD), { force: true });

  const todo = mine.filter((j) => readPoint(dir, j, plan.manifest) === undefined);
  const skipped = mine.length - todo.length;
  let done = skipped;
  o.onProgress?.(done, mine.length);
  const save = (r: PointResult) => {
    writeFileAtomic(pointFile(dir, r.id), json({ ...r, scenario_sha256: plan.manifest.scenario_sha256 }));
    done++;
    o.onProgress?.(done, mine.length);
  };
  const threads = Math.max(1, o.jobs ?? availableParallelism());
  if (threads === 1 || todo.length <= 1) {
    for (const j of todo) {
      save(runPoint(base, plan.params, j));
      // Let signal handlers run between points (Ctrl-C then stops after the point in progress is saved).
      await new Promise((resolve) => setImmediate(resolve));
    }
  } else {
    try {
      await runPool<PointJob, PointResult>({
        url: workerUrl(),
        workerData: { base, params: plan.params },
        jobs: todo,
        threads,
        onResult: (_j, r) => save(r),
      });
    } catch (e) {
      if ((e as Error).name === "JobInputError") throw new InputError((e as Error).message);
      throw e;
    }
  }
  if (o.shard) {
    return {
      dir,
      manifest: plan.manifest,
      total: mine.length,
      skipped,
      ran: todo.length,
      results: undefined,
      files: [],
    };
  }
  const agg = await aggregateSweep(dir, plan.manifest, o.charts !== false);
  return { dir, manifest: plan.manifest, total: mine.length, skipped, ran: todo.length, ...agg };
}

// ---------------------------------------------------------------------------------------------------------------
// Aggregate: Pareto front, best point, result files

export interface SweepResults {
  readonly scenario: string;
  readonly params: readonly string[];
  readonly points: readonly PointResult[];
  readonly pareto: { readonly objectives: readonly string[]; readonly front: readonly number[] };
  readonly best: {
    readonly objective: string;
    readonly id: number | null;
    readonly values: PointValues | null;
    readonly metrics: LabMetrics | null;
    readonly note: string;
  };
}

/** Ids of the points no other point dominates on `objectives` (ties stay on the front); in id order. */
export function paretoFront(points: readonly PointResult[], objectives: readonly Objective[]): number[] {
  const vec = (p: PointResult) => objectives.map((o) => (o.dir === "min" ? -1 : 1) * p.metrics[o.key]);
  const vs = points.map((p) => ({ id: p.id, v: vec(p) })).filter((x) => x.v.every((y) => !Number.isNaN(y)));
  const front: number[] = [];
  for (const a of vs) {
    let dominated = false;
    for (const b of vs) {
      if (a === b) continue;
      let ge = true;
      let gt = false;
      for (let k = 0; k < a.v.length; k++) {
        if (b.v[k]! < a.v[k]!) {
          ge = false;
          break;
        }
        if (b.v[k]! > a.v[k]!) gt = true;
      }
      if (ge && gt) {
        dominated = true;
        break;
      }
    }
    if (!dominated) front.push(a.id);
  }
  return front.sort((x, y) => x - y);
}

/** The point meeting every SLO with the best objective; ties go to the lower id. */
export function bestPoint(points: readonly PointResult[], objective: Objective): PointResult | undefined {
  let best: PointResult | undefined;
  for (const p of points) {
    if (!p.slos_ok) continue;
    const v = p.metrics[objective.key];
    if (Number.isNaN(v)) continue;
    if (best === undefined) {
      best = p;
      continue;
    }
    const b = best.metrics[objective.key];
    if (objective.dir === "min" ? v < b : v > b) best = p;
  }
  return best;
}

export function analyzeSweep(manifest: SweepManifest, points: readonly PointResult[]): SweepResults {
  const pareto = manifest.analysis.pareto.map(parseObjective);
  const objective = parseObjective(manifest.analysis.objective);
  const best = bestPoint(points, objective);
  const met = points.filter((p) => p.slos_ok).length;
  return {
    scenario: manifest.scenario,
    params: manifest.params.map((p) => p.name),
    points,
    pareto: { objectives: manifest.analysis.pareto, front: paretoFront(points, pareto) },
    best: {
      objective: manifest.analysis.objective,
      id: best?.id ?? null,
      values: best?.values ?? null,
      metrics: best?.metrics ?? null,
      note: best
        ? `${met} of ${points.length} points meet the scenario's SLOs`
        : `no point meets the scenario's SLOs (${points.length} points)`,
    },
  };
}

/** The CSV: one row per point; parameter columns, then every metric, then the SLO verdict and front membership. */
export function resultsCsv(r: SweepResults): string {
  const front = new Set(r.pareto.front);
  const keys = METRICS.map((m) => m.key);
  const rows = r.points.map((p) => [
    p.id,
    p.seed,
    ...r.params.map((n) => p.values[n] as ParamValue),
    ...keys.map((k) => p.metrics[k]),
    p.slos_ok,
    front.has(p.id),
    p.id === r.best.id,
  ]);
  return stringify(rows, {
    header: true,
    columns: ["id", "seed", ...r.params, ...keys, "slos_ok", "pareto", "best"],
    cast: { boolean: (b) => (b ? "true" : "false") },
  });
}

/** Reads every point of the plan from `dir`; throws InputError listing the missing ones. */
export function readAllPoints(dir: string, manifest: SweepManifest): PointResult[] {
  const out: PointResult[] = [];
  const missing: number[] = [];
  for (let id = 0; id < manifest.points; id++) {
    const p = pointFile(dir, id);
    if (!existsSync(p)) {
      missing.push(id);
      continue;
    }
    const text = readTextInput(p, "sweep point");
    checkPointFile(p, text, expectation(manifest, id));
    out.push(pointOf(text));
  }
  if (missing.length > 0) {
    throw new InputError(
      `${dir}: ${missing.length} of ${manifest.points} points missing (ids ${missing.slice(0, 10).join(", ")}${missing.length > 10 ? ", …" : ""})`,
    );
  }
  return out;
}

/** Writes results.csv, results.json, charts and report.html from the point files. */
export async function aggregateSweep(
  dir: string,
  manifest: SweepManifest,
  charts = true,
): Promise<{ results: SweepResults; files: string[] }> {
  const points = readAllPoints(dir, manifest);
  const results = analyzeSweep(manifest, points);
  const files = [join(dir, "results.csv"), join(dir, "results.json")];
  writeFileAtomic(files[0]!, resultsCsv(results));
  writeFileAtomic(files[1]!, json(results));
  if (charts) {
    const { sweepCharts } = await import("../report/sweep-report.ts");
    files.push(...(await sweepCharts(dir, manifest, results, formatSweep(results))));
  }
  return { results, files };
}

// ---------------------------------------------------------------------------------------------------------------
// Merge

/**
 * Combines the folders of a sharded sweep (or any partial runs of the same sweep) into `out`: the manifest, every
 * point file, and the aggregate — byte for byte what one machine would have written.
 */
export async function mergeSweeps(
  dirs: readonly string[],
  out: string,
  o: { charts?: boolean } = {},
): Promise<{ results: SweepResults; files: string[]; manifest: SweepManifest }> {
  if (dirs.length === 0) throw new InputError("merge: give the sweep folders to merge");
  let manifest: SweepManifest | undefined;
  for (const d of dirs) {
    const m = readManifest(d);
    if (!m) throw new InputError(`${d}: no ${MANIFEST} here (not a sweep output folder)`);
    if (!manifest) manifest = m;
    else if (planKey(m) !== planKey(manifest) || JSON.stringify(m.analysis) !== JSON.stringify(manifest.analysis)) {
      throw new InputError(`${d}: a different sweep than ${dirs[0]} (scenario, parameters, seed or analysis differ)`);
    }
  }
  const texts = new Map<number, { text: string; from: string }>();
  for (const d of dirs) {
    const pd = join(d, POINTS);
    if (!existsSync(pd)) continue;
    for (const f of readdirSync(pd).sort()) {
      const m = /^(\d+)\.json$/.exec(f);
      if (!m) continue;
      const id = Number(m[1]);
      if (id >= manifest!.points) continue;
      const text = readTextInput(join(pd, f), "sweep point");
      checkPointFile(join(pd, f), text, expectation(manifest!, id));
      const prev = texts.get(id);
      if (prev && prev.text !== text) throw new InputError(`point ${id} differs between ${prev.from} and ${d}`);
      texts.set(id, { text, from: d });
    }
  }
  writeFileAtomic(join(out, MANIFEST), json(manifest));
  for (const [id, t] of [...texts].sort((a, b) => a[0] - b[0])) writeFileAtomic(pointFile(out, id), t.text);
  rmSync(join(out, SHARD), { force: true });
  const agg = await aggregateSweep(out, manifest!, o.charts !== false);
  return { ...agg, manifest: manifest! };
}

// ---------------------------------------------------------------------------------------------------------------
// Text

/** The sweep as text: the points (best first by the objective when there are many), the front, the best point. */
export function formatSweep(r: SweepResults, maxRows = 30): string {
  const front = new Set(r.pareto.front);
  const obj = parseObjective(r.best.objective);
  let rows = [...r.points];
  const sorted = rows.length > maxRows;
  if (sorted) {
    rows.sort((a, b) => {
      const d = (a.metrics[obj.key] - b.metrics[obj.key]) * (obj.dir === "min" ? 1 : -1);
      return d !== 0 && !Number.isNaN(d) ? d : a.id - b.id;
    });
    rows = rows.slice(0, maxRows);
  }
  const shown: (keyof LabMetrics)[] = ["ttft_p95_ms", "e2e_p95_ms", "throughput_rps", "goodput_fraction", "hit_rate"];
  for (const o of [...r.pareto.objectives, r.best.objective]) {
    const k = o.split(":")[0] as keyof LabMetrics;
    if (!shown.includes(k)) shown.push(k);
  }
  // Parameters with one value are said once above the table.
  const fixed = r.params.filter((n) => new Set(r.points.map((p) => String(p.values[n]))).size <= 1);
  const vary = r.params.filter((n) => !fixed.includes(n));
  const header = ["id", ...vary, ...shown.map((k) => metricInfo(k)!.label), "SLOs", "front"];
  const body = rows.map((p) => [
    String(p.id),
    ...vary.map((n) => String(p.values[n])),
    ...shown.map((k) => metricInfo(k)!.fmt(p.metrics[k])),
    p.slos_ok ? "✓" : "✗",
    front.has(p.id) ? "*" : "",
  ]);
  const out = [
    `sweep of "${r.scenario}": ${fmtNum(r.points.length)} points${sorted ? ` (the ${maxRows} best by ${r.best.objective} shown)` : ""}`,
    ...(fixed.length > 0 && r.points.length > 0
      ? [`fixed: ${fixed.map((n) => `${n}=${r.points[0]!.values[n]}`).join(" ")}`]
      : []),
    "",
    renderTable(header, body),
    "",
    `Pareto front (${r.pareto.objectives.join(", ")}): ${r.pareto.front.length} point${r.pareto.front.length === 1 ? "" : "s"}: ${r.pareto.front.slice(0, 20).join(", ")}${r.pareto.front.length > 20 ? ", …" : ""}`,
  ];
  if (r.best.id !== null) {
    const b = r.points.find((p) => p.id === r.best.id)!;
    out.push(
      `best under the SLOs by ${r.best.objective}: point ${b.id} (${describe(b.values)}): ` +
        `TTFT p95 ${fmtNum(b.metrics.ttft_p95_ms)} ms, throughput ${fmtNum(b.metrics.throughput_rps)} req/s, goodput ${(b.metrics.goodput_fraction * 100).toFixed(1)}% · ${r.best.note}`,
    );
  } else out.push(`best under the SLOs: none · ${r.best.note}`);
  return out.join("\n");
}
