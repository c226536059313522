/**
 * Sweep parameters: `--param NAME=VALUES`.
 *
 * NAME is a dotted path into the scenario (`pools.0.replicas`, `gateway.scrape_interval_ms`,
 * `workload.mix.1.arrival.rate`), or a plugin/router parameter applied through `gateway.params`
 * (`prefix-cache-scorer.weight`, `dynamo-kv.temperature`; `gateway.params.<key>` says the same explicitly). A name
 * whose first segment is not a scenario field is a plugin parameter.
 *
 * VALUES:
 * - `a,b,c`: a list (numbers, `true`/`false`, or words such as policy names);
 * - `lo..hi:step`: lo, lo + step, …, up to hi inclusive (`0..5:1`, `0..1:0.25`);
 * - `lo..hi:*k`: geometric, lo, lo·k, lo·k², … ≤ hi (`1..64:*2`);
 * - `lo..hi`: integers lo..hi in a grid; in random search, uniform in [lo, hi].
 */
import { InputError } from "../errors.ts";
import { ScenarioSchema } from "../scenario.ts";
import type { Rng } from "../sim/rng.ts";
import { closest } from "../suggest.ts";

export type ParamValue = number | string | boolean;

export interface ParamSpec {
  /** The parameter as written (`prefix-cache-scorer.weight`): the name in CSV columns and reports. */
  readonly name: string;
  /** Where it goes in the scenario object. */
  readonly path: readonly string[];
  /** The text after `=`. */
  readonly spec: string;
  /** Grid values (for a continuous range in random search: undefined). */
  readonly values: readonly ParamValue[] | undefined;
  /** Continuous range, for random search. */
  readonly range?: { readonly lo: number; readonly hi: number };
}

/**
 * Top-level fields of a scenario (the schema's own keys, so that a new section is sweepable as soon as it exists: a
 * hand-kept list missed `clients` and `kv_transfer`, whose paths were taken for plugin parameters): a parameter name
 * starting with one of them is a scenario path.
 */
const SCENARIO_FIELDS = new Set(Object.keys(ScenarioSchema.shape));

/**
 * For a name taken as a plugin parameter whose first segment looks like a misspelt scenario field (`pool.0.replicas`,
 * `client.default.max_retries`), a hint naming the field; else undefined.
 */
export function scenarioFieldHint(name: string): string | undefined {
  const head = name.split(".")[0]!;
  if (SCENARIO_FIELDS.has(head) || name.startsWith("gateway.params.")) return undefined;
  const near = closest(head, SCENARIO_FIELDS);
  return near === undefined ? undefined : `--param ${name}: did you mean the scenario field "${near}"?`;
}

/** Rounds away binary noise (0.1 + 0.2) so that values print and compare cleanly. */
function clean(x: number): number {
  return Number(x.toPrecision(12));
}

function parseScalar(s: string): ParamValue {
  const t = s.trim();
  if (t === "true") return true;
  if (t === "false") return false;
  if (t !== "" && Number.isFinite(Number(t))) return Number(t);
  return t;
}

/** Resolves a parameter name to its path in the scenario object. */
export function paramPath(name: string): string[] {
  const segs = name.split(".");
  if (segs[0] === "gateway" && segs[1] === "params" && segs.length > 2) {
    return ["gateway", "params", segs.slice(2).join(".")];
  }
  if (SCENARIO_FIELDS.has(segs[0]!)) return segs;
  return ["gateway", "params", name];
}

const NUM = "[-+]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][-+]?\\d+)?";
const RANGE = new RegExp(`^(${NUM})\\.\\.(${NUM})(?::(\\*?)(${NUM}))?$`);

/** Parses one `--param NAME=VALUES`. `random`: a range without step is continuous instead of integers. */
export function parseParam(text: string, random = false): ParamSpec {
  const eq = text.indexOf("=");
  if (eq <= 0) throw new InputError(`--param "${text}": expected NAME=VALUES, e.g. prefix-cache-scorer.weight=0..5:1`);
  const name = text.slice(0, eq).trim();
  const spec = text.slice(eq + 1).trim();
  if (name === "" || name.split(".").some((s) => s === ""))
    throw new InputError(`--param "${text}": empty segment in the name "${name}"`);
  if (spec === "") throw new InputError(`--param ${name}: no values after "="`);
  const path = paramPath(name);
  const m = RANGE.exec(spec);
  if (!m) {
    const values = spec.split(",").map(parseScalar);
    if (values.some((v) => v === "")) throw new InputError(`--param ${name}: empty value in the list "${spec}"`);
    return { name, path, spec, values };
  }
  const lo = Number(m[1]);
  const hi = Number(m[2]);
  if (hi < lo) throw new InputError(`--param ${name}: range "${spec}" ends before it starts`);
  const geometric = m[3] === "*";
  if (m[4] === undefined) {
    if (random) return { name, path, spec, values: undefined, range: { lo, hi } };
    if (!Number.isInteger(lo) || !Number.isInteger(hi))
      throw new InputError(
        `--param ${name}: "${spec}" needs a step in a grid, e.g. ${lo}..${hi}:${clean((hi - lo) / 4)}`,
      );
    return { name, path, spec, values: steps(name, lo, hi, 1, false) };
  }
  const step = Number(m[4]);
  return { name, path, spec, values: steps(name, lo, hi, step, geometric) };
}

const MAX_VALUES = 10_000;

function steps(name: string, lo: number, hi: number, step: number, geometric: boolean): number[] {
  const out: number[] = [];
  if (geometric) {
    if (!(step > 1) || !(lo > 0))
      throw new InputError(`--param ${name}: a geometric range needs lo > 0 and a factor > 1`);
    for (let v = lo; v <= hi * (1 + 1e-12); v = clean(v * step)) {
      out.push(clean(v));
      if (out.length > MAX_VALUES) break;
    }
  } else {
    if (!(step > 0)) throw new InputError(`--param ${name}: the step must be > 0`);
    for (let i = 0; ; i++) {
      const v = clean(lo + i * step);
      if (v > hi + Math.abs(step) * 1e-9) break;
      out.push(v);
      if (out.length > MAX_VALUES) break;
    }
  }
  if (out.length > MAX_VALUES) throw new InputError(`--param ${name}: more than ${MAX_VALUES} values`);
  return out;
}

export type PointValues = Record<string, ParamValue>;

/** Every combination, the first parameter varying slowest (as nested loops in the order given). */
export function gridPoints(params: readonly ParamSpec[], max = 100_000): PointValues[] {
  let total = 1;
  for (const p of params) total *= p.values!.length;
  if (total > max) throw new InputError(`the grid has ${total} points (more than ${max}); use --random K to sample it`);
  let out: PointValues[] = [{}];
  for (const p of params) {
    const next: PointValues[] = [];
    for (const base of out) for (const v of p.values!) next.push({ ...base, [p.name]: v });
    out = next;
  }
  return out;
}

/** K points drawn independently: each parameter uniformly from its values, or uniformly in its range. */
export function randomPoints(params: readonly ParamSpec[], k: number, rng: Rng): PointValues[] {
  const out: PointValues[] = [];
  for (let i = 0; i < k; i++) {
    const pt: PointValues = {};
    for (const p of params) {
      if (p.values) pt[p.name] = p.values[Math.min(p.values.length - 1, Math.floor(rng.next() * p.values.length))]!;
      else {
        const { lo, hi } = p.range!;
        pt[p.name] = Number((lo + rng.next() * (hi - lo)).toPrecision(4));
      }
    }
    out.push(pt);
  }
  return out;
}

function clone<T>(x: T): T {
  return structuredClone(x);
}

/**
 * A copy of the raw scenario object with the point's values set at their paths. Missing mappings on the way are
 * created; list indices must exist. Throws InputError naming the parameter.
 */
export function applyValues(raw: unknown, params: readonly ParamSpec[], values: PointValues): unknown {
  const root = clone(raw) as Record<string, unknown>;
  for (const p of params) {
    if (!(p.name in values)) continue;
    let obj: unknown = root;
    for (let i = 0; i < p.path.length - 1; i++) {
      const seg = p.path[i]!;
      const where = p.path.slice(0, i + 1).join(".");
      if (Array.isArray(obj)) {
        const idx = Number(seg);
        if (!Number.isInteger(idx) || idx < 0 || idx >= obj.length)
          throw new InputError(`--param ${p.name}: "${where}": no item ${seg} (the list has ${obj.length})`);
        obj = obj[idx];
        continue;
      }
      const o = obj as Record<string, unknown>;
      const next = o[seg];
      if (next === undefined || next === null) o[seg] = {};
      else if (typeof next !== "object")
        throw new InputError(`--param ${p.name}: "${where}" is a value (${JSON.stringify(next)}), not a mapping`);
      obj = o[seg];
    }
    const last = p.path[p.path.length - 1]!;
    if (Array.isArray(obj)) {
      const idx = Number(last);
      if (!Number.isInteger(idx) || idx < 0 || idx >= obj.length)
        throw new InputError(`--param ${p.name}: no item ${last} (the list has ${obj.length})`);
      obj[idx] = values[p.name];
    } else (obj as Record<string, unknown>)[last] = values[p.name];
  }
  return root;
}
