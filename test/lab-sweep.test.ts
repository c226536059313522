import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { resolveShard } from "../src/cli/lab.ts";
import { InputError } from "../src/errors.ts";
import { applyValues, gridPoints, paramPath, parseParam, randomPoints, scenarioFieldHint } from "../src/lab/params.ts";
import {
  loadSweepBase,
  mergeSweeps,
  type PointResult,
  paretoFront,
  parseShard,
  planSweep,
  pointFile,
  runSweep,
  shardJobs,
} from "../src/lab/sweep.ts";
import { rngStream } from "../src/sim/rng.ts";

const SCENARIO = join(import.meta.dirname, "fixtures", "lab-small.yaml");
const PARAMS = ["prefix-cache-scorer.weight=0..3:1", "queue-scorer.weight=1,3"];

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "gl-sweep-"));
}

/** Every file under `dir` with its bytes, by relative path. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const f of readdirSync(d).sort()) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p).toString("base64"));
    }
  };
  walk(dir);
  return out;
}

describe("sweep parameters", () => {
  it("parses ranges, geometric ranges and lists", () => {
    expect(parseParam("prefix-cache-scorer.weight=0..5:1").values).toEqual([0, 1, 2, 3, 4, 5]);
    expect(parseParam("x.weight=0..1:0.25").values).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(parseParam("a.b=0..0.3:0.1").values).toEqual([0, 0.1, 0.2, 0.3]);
    expect(parseParam("pools.0.replicas=2..6:2").values).toEqual([2, 4, 6]);
    expect(parseParam("gateway.scrape_interval_ms=10,50,200").values).toEqual([10, 50, 200]);
    expect(parseParam("gateway.policy=round-robin,gie-default").values).toEqual(["round-robin", "gie-default"]);
    expect(parseParam("x.y=1..64:*2").values).toEqual([1, 2, 4, 8, 16, 32, 64]);
    expect(parseParam("x.y=1..3").values).toEqual([1, 2, 3]);
    expect(parseParam("x.y=0..1", true).range).toEqual({ lo: 0, hi: 1 });
  });

  it("maps names to scenario paths or gateway.params", () => {
    expect(paramPath("pools.0.replicas")).toEqual(["pools", "0", "replicas"]);
    expect(paramPath("prefix-cache-scorer.weight")).toEqual(["gateway", "params", "prefix-cache-scorer.weight"]);
    expect(paramPath("gateway.params.dynamo-kv.temperature")).toEqual(["gateway", "params", "dynamo-kv.temperature"]);
    // Every top-level section of a scenario is a path (these two were once taken for plugin parameters).
    expect(paramPath("clients.default.max_retries")).toEqual(["clients", "default", "max_retries"]);
    expect(paramPath("kv_transfer.bandwidth_gb_s")).toEqual(["kv_transfer", "bandwidth_gb_s"]);
    expect(paramPath("sample_interval_s")).toEqual(["sample_interval_s"]);
    // A plugin-looking name whose head is a misspelt scenario field gets a hint; plugin names and fields do not.
    expect(scenarioFieldHint("pool.0.replicas")).toBe(
      '--param pool.0.replicas: did you mean the scenario field "pools"?',
    );
    expect(scenarioFieldHint("client.default.max_retries")).toMatch(/"clients"/);
    expect(scenarioFieldHint("prefix-cache-scorer.weight")).toBeUndefined();
    expect(scenarioFieldHint("pools.0.replicas")).toBeUndefined();
    expect(scenarioFieldHint("gateway.params.pool.x")).toBeUndefined();
  });

  it("rejects malformed parameters with an InputError naming them", () => {
    expect(() => parseParam("nothing")).toThrow(InputError);
    expect(() => parseParam("x.y=5..1:1")).toThrow(/ends before it starts/);
    expect(() => parseParam("x.y=0..1.5")).toThrow(/needs a step/);
    expect(() => parseParam("x.y=0..1:0")).toThrow(/step must be > 0/);
  });

  it("builds the grid with the first parameter varying slowest, and random points reproducibly", () => {
    const ps = [parseParam("a.w=1,2"), parseParam("b.w=x,y,z")];
    expect(gridPoints(ps).map((p) => `${p["a.w"]}${p["b.w"]}`)).toEqual(["1x", "1y", "1z", "2x", "2y", "2z"]);
    const r = [parseParam("a.w=0..1", true), parseParam("b.w=x,y,z", true)];
    const p1 = randomPoints(r, 5, rngStream(9, "t"));
    expect(randomPoints(r, 5, rngStream(9, "t"))).toEqual(p1);
    for (const p of p1) {
      expect(p["a.w"]).toBeGreaterThanOrEqual(0);
      expect(p["a.w"]).toBeLessThanOrEqual(1);
      expect(["x", "y", "z"]).toContain(p["b.w"]);
    }
  });

  it("applies values to a copy of the raw scenario, creating mappings but not list items", () => {
    const raw = { pools: [{ replicas: 2 }], gateway: { policy: "gie-default" } };
    const ps = [parseParam("pools.0.replicas=4"), parseParam("prefix-cache-scorer.weight=2")];
    const out = applyValues(raw, ps, { "pools.0.replicas": 4, "prefix-cache-scorer.weight": 2 }) as typeof raw & {
      gateway: { params: Record<string, number> };
    };
    expect(out.pools[0]!.replicas).toBe(4);
    expect(out.gateway.params["prefix-cache-scorer.weight"]).toBe(2);
    expect(raw.pools[0]!.replicas).toBe(2);
    expect(() => applyValues(raw, [parseParam("pools.3.replicas=1")], { "pools.3.replicas": 1 })).toThrow(/no item 3/);
  });

  it("validates every point before running: a bad value names its point", () => {
    const base = loadSweepBase(SCENARIO);
    expect(() => planSweep(base, { params: ["pools.0.replicas=2,0"] })).toThrow(/point 1.*pools\.0\.replicas/s);
    expect(() => planSweep(base, { params: ["no-such-plugin.weight=1"] })).toThrow(InputError);
  });

  it("shards by id modulo N and parses i/N", () => {
    const base = loadSweepBase(SCENARIO);
    const plan = planSweep(base, { params: PARAMS });
    const s0 = shardJobs(plan.jobs, parseShard("0/3")).map((j) => j.id);
    const s1 = shardJobs(plan.jobs, parseShard("1/3")).map((j) => j.id);
    const s2 = shardJobs(plan.jobs, parseShard("2/3")).map((j) => j.id);
    expect([...s0, ...s1, ...s2].sort((a, b) => a - b)).toEqual(plan.jobs.map((j) => j.id));
    expect(s1).toEqual([1, 4, 7]);
    expect(() => parseShard("2/2")).toThrow(InputError);
    expect(() => parseShard("x")).toThrow(InputError);
  });

  it("--shard N takes the index from JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs)", () => {
    expect(resolveShard("4", { JOB_COMPLETION_INDEX: "3" })).toEqual({ index: 3, count: 4 });
    expect(resolveShard("1/4", { JOB_COMPLETION_INDEX: "3" })).toEqual({ index: 1, count: 4 });
    expect(resolveShard(undefined, { JOB_COMPLETION_INDEX: "3" })).toBeUndefined();
    expect(() => resolveShard("4", {})).toThrow(/JOB_COMPLETION_INDEX/);
    expect(() => resolveShard("4", { JOB_COMPLETION_INDEX: "4" })).toThrow(InputError);
  });

  it("per-point seeds: the base seed by default, derived from (seed, id) with varySeed", () => {
    const base = loadSweepBase(SCENARIO);
    const a = planSweep(base, { params: PARAMS });
    expect(new Set(a.jobs.map((j) => j.seed))).toEqual(new Set([7]));
    const b = planSweep(base, { params: PARAMS, varySeed: true });
    const c = planSweep(base, { params: PARAMS, varySeed: true });
    expect(b.jobs.map((j) => j.seed)).toEqual(c.jobs.map((j) => j.seed));
    expect(new Set(b.jobs.map((j) => j.seed)).size).toBe(b.jobs.length);
  });
});

describe("Pareto front", () => {
  const pt = (id: number, ttft: number, thr: number) =>
    ({ id, metrics: { ttft_p95_ms: ttft, throughput_rps: thr } }) as unknown as PointResult;
  it("keeps the non-dominated points (ties stay)", () => {
    const pts = [pt(0, 10, 5), pt(1, 20, 6), pt(2, 15, 4), pt(3, 10, 5), pt(4, 30, 6)];
    const obj = [
      { key: "ttft_p95_ms", dir: "min" },
      { key: "throughput_rps", dir: "max" },
    ] as const;
    expect(paretoFront(pts, obj)).toEqual([0, 1, 3]);
  });
});

describe("sweep runs", () => {
  const base = loadSweepBase(SCENARIO);

  it("--jobs 1 and --jobs 2 write byte-identical folders (charts and report included)", async () => {
    const d1 = tmp();
    const d2 = tmp();
    const r1 = await runSweep(base, { params: PARAMS, out: d1, jobs: 1 });
    const r2 = await runSweep(base, { params: PARAMS, out: d2, jobs: 2 });
    expect(r1.ran).toBe(8);
    expect(r2.ran).toBe(8);
    const a = snapshot(d1);
    const b = snapshot(d2);
    expect([...a.keys()]).toEqual([...b.keys()]);
    for (const [k, v] of a) expect(b.get(k), k).toBe(v);
    expect(a.has("results.csv") && a.has("charts/pareto.svg") && a.has("charts/heatmap.png")).toBe(true);
    const csv = readFileSync(join(d1, "results.csv"), "utf8").trim().split("\n");
    expect(csv).toHaveLength(9);
    expect(csv[0]).toMatch(/^id,seed,prefix-cache-scorer\.weight,queue-scorer\.weight,/);
    const res = JSON.parse(readFileSync(join(d1, "results.json"), "utf8"));
    expect(res.points.map((p: PointResult) => p.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(res.pareto.front.length).toBeGreaterThan(0);
    expect(res.best.id).not.toBeNull();
    expect(readFileSync(join(d1, "charts", "pareto.svg"), "utf8")).toContain("Pareto front");
  });

  it("--shard 0/2 + --shard 1/2 + merge equals the unsharded run", async () => {
    const whole = tmp();
    const s0 = tmp();
    const s1 = tmp();
    const merged = tmp();
    await runSweep(base, { params: PARAMS, out: whole, jobs: 1, charts: false, random: 6, seed: 3 });
    const r0 = await runSweep(base, {
      params: PARAMS,
      out: s0,
      jobs: 1,
      charts: false,
      random: 6,
      seed: 3,
      shard: { index: 0, count: 2 },
    });
    expect(r0.results).toBeUndefined();
    expect(existsSync(join(s0, "results.csv"))).toBe(false);
    await runSweep(base, {
      params: PARAMS,
      out: s1,
      jobs: 2,
      charts: false,
      random: 6,
      seed: 3,
      shard: { index: 1, count: 2 },
    });
    // Merging an incomplete set of shards names the missing points.
    await expect(mergeSweeps([s0], tmp(), { charts: false })).rejects.toThrow(/3 of 6 points missing \(ids 1, 3, 5\)/);
    await mergeSweeps([s0, s1], merged, { charts: false });
    const a = snapshot(whole);
    const b = snapshot(merged);
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [k, v] of a) expect(b.get(k), k).toBe(v);
  });

  it("resumes an interrupted sweep without repeating or losing points", async () => {
    const ref = tmp();
    await runSweep(base, { params: PARAMS, out: ref, jobs: 1, charts: false });
    const dir = tmp();
    await runSweep(base, { params: PARAMS, out: dir, jobs: 1, charts: false });
    // Interruption: the aggregate was never written and one point was in flight.
    rmSync(join(dir, "results.csv"));
    rmSync(join(dir, "results.json"));
    rmSync(pointFile(dir, 5));
    const kept = statSync(pointFile(dir, 2)).mtimeMs;
    const progress: number[] = [];
    const r = await runSweep(base, {
      params: PARAMS,
      out: dir,
      jobs: 2,
      charts: false,
      onProgress: (done) => progress.push(done),
    });
    expect(r.skipped).toBe(7);
    expect(r.ran).toBe(1);
    expect(progress).toEqual([7, 8]);
    expect(statSync(pointFile(dir, 2)).mtimeMs).toBe(kept);
    const a = snapshot(ref);
    const b = snapshot(dir);
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [k, v] of a) expect(b.get(k), k).toBe(v);
  });

  it("refuses to resume a different sweep in the same folder", async () => {
    const dir = tmp();
    await runSweep(base, { params: ["queue-scorer.weight=1,2"], out: dir, jobs: 1, charts: false });
    await expect(
      runSweep(base, { params: ["queue-scorer.weight=1,3"], out: dir, jobs: 1, charts: false }),
    ).rejects.toThrow(/different sweep/);
  });

  it("sweeps scenario fields too, and picks the best point under the SLOs", async () => {
    const dir = tmp();
    const r = await runSweep(base, {
      params: ["pools.0.replicas=1,2", "gateway.scrape_interval_ms=10,200"],
      out: dir,
      jobs: 1,
      charts: false,
      objective: "gpu_hours:min",
    });
    const pts = r.results!.points;
    expect(pts).toHaveLength(4);
    // One replica costs about half the GPU-hours of two.
    expect(pts[0]!.metrics.gpu_hours).toBeLessThan(pts[2]!.metrics.gpu_hours);
    const best = r.results!.best;
    if (best.id !== null) {
      const b = pts.find((p) => p.id === best.id)!;
      expect(b.slos_ok).toBe(true);
      for (const p of pts) if (p.slos_ok) expect(b.metrics.gpu_hours).toBeLessThanOrEqual(p.metrics.gpu_hours);
    }
  });
});
