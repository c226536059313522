/**
 * Checks of a sweep folder's files before `merge` or a resumed `sweep` trusts them: the manifest's fields, and each
 * point file's id (against its file name), scenario hash (against the manifest), seed, parameter values and metric
 * types. `merge` refuses a bad point naming the file and field; a resumed sweep runs it again.
 */
import { InputError } from "../errors.ts";
import { metricInfo } from "../report/metric-catalog.ts";

/** What a point file must agree with. */
export interface PointExpectation {
  readonly id: number;
  readonly scenarioSha256: string;
  /** Parameter names of the sweep, in order. */
  readonly params: readonly string[];
  /** The point's seed when it is known from the plan. */
  readonly seed?: number;
  /** The point's values when known from the plan. */
  readonly values?: Readonly<Record<string, unknown>>;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** A number, or null (JSON's stand-in for ∞ and NaN). */
function numOrNull(x: unknown): boolean {
  return x === null || (typeof x === "number" && Number.isFinite(x));
}

/** Why point text `text` does not hold point `e` (undefined when it does). */
export function pointProblem(text: string, e: PointExpectation): string | undefined {
  let r: unknown;
  try {
    r = JSON.parse(text);
  } catch (err) {
    return `invalid JSON (${(err as Error).message})`;
  }
  if (!isRecord(r)) return "expected a JSON object";
  if (r.id !== e.id) return `id: ${JSON.stringify(r.id)} does not match the file name (point ${e.id})`;
  if (r.scenario_sha256 !== e.scenarioSha256)
    return `scenario_sha256: ${r.scenario_sha256 === undefined ? "missing" : "differs from the manifest's"} (a point of another scenario)`;
  if (!Number.isSafeInteger(r.seed) || (r.seed as number) < 0) return "seed: expected a non-negative integer";
  if (e.seed !== undefined && r.seed !== e.seed) return `seed: ${r.seed} where the plan says ${e.seed}`;
  if (!isRecord(r.values)) return "values: expected an object of parameter values";
  const keys = Object.keys(r.values);
  if (keys.length !== e.params.length || e.params.some((p) => !(p in (r.values as object))))
    return `values: expected the parameters ${e.params.join(", ")}, got ${keys.join(", ") || "none"}`;
  if (e.values !== undefined && JSON.stringify(r.values) !== JSON.stringify(e.values))
    return "values: differ from the plan's values for this point";
  if (!isRecord(r.metrics)) return "metrics: expected an object";
  for (const [k, v] of Object.entries(r.metrics)) {
    if (!metricInfo(k)) return `metrics.${k}: unknown metric`;
    if (!numOrNull(v)) return `metrics.${k}: expected a number, got ${JSON.stringify(v)}`;
  }
  if (!Array.isArray(r.slos)) return "slos: expected a list";
  for (const [i, c] of r.slos.entries()) {
    if (!isRecord(c) || typeof c.name !== "string" || typeof c.ok !== "boolean")
      return `slos.${i}: expected { name, target, actual, ok }`;
    if (!numOrNull(c.target) || !(c.actual === null || typeof c.actual === "number"))
      return `slos.${i}: target and actual must be numbers`;
  }
  if (typeof r.slos_ok !== "boolean") return "slos_ok: expected true or false";
  if (r.slos_ok !== r.slos.every((c) => (c as { ok: boolean }).ok)) return "slos_ok: disagrees with its slos";
  return undefined;
}

/** Throws InputError `FILE: field: problem` when the point file does not hold point `e`. */
export function checkPointFile(file: string, text: string, e: PointExpectation): void {
  const p = pointProblem(text, e);
  if (p !== undefined) throw new InputError(`${file}: ${p}`);
}

/** Largest sweep gatelab plans (points). */
export const MAX_SWEEP_POINTS = 1_000_000;

/** Why a parsed manifest is malformed (undefined when it is sound). */
export function manifestProblem(m: unknown): string | undefined {
  if (!isRecord(m)) return "expected a JSON object";
  if (m.format !== "gatelab-sweep/1") return 'format: expected "gatelab-sweep/1"';
  if (typeof m.scenario !== "string") return "scenario: expected a name";
  if (typeof m.scenario_sha256 !== "string" || !/^[0-9a-f]{64}$/.test(m.scenario_sha256))
    return "scenario_sha256: expected a SHA-256 hex digest";
  if (!Array.isArray(m.params) || m.params.some((p) => !isRecord(p) || typeof p.name !== "string"))
    return "params: expected a list of { name, spec }";
  if (m.mode !== "grid" && m.mode !== "random") return 'mode: expected "grid" or "random"';
  if (!Number.isSafeInteger(m.seed) || (m.seed as number) < 0) return "seed: expected a non-negative integer";
  if (typeof m.vary_seed !== "boolean") return "vary_seed: expected true or false";
  if (!Number.isSafeInteger(m.points) || (m.points as number) < 1 || (m.points as number) > MAX_SWEEP_POINTS)
    return `points: expected an integer from 1 to ${MAX_SWEEP_POINTS.toLocaleString("en-US")}`;
  const a = m.analysis;
  if (!isRecord(a) || !Array.isArray(a.pareto) || typeof a.objective !== "string")
    return "analysis: expected { pareto, objective }";
  return undefined;
}
