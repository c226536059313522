import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT_INTERNAL, exitCodeOf, main } from "../src/cli/main.ts";
import { InputError, OutputError } from "../src/errors.ts";
import { makeDirs } from "../src/report/atomic.ts";
import { captureOutput } from "./helpers/capture.ts";

const io = captureOutput();
const dir = mkdtempSync(join(tmpdir(), "gatelab-exit-"));
const SMALL = join(import.meta.dirname, "fixtures/lab-small.yaml");
const TINY = join(dir, "tiny.yaml");
writeFileSync(
  TINY,
  `name: tiny
requests: 30
pools:
  - model: llama-3.1-8b-instruct
    replicas: 2
workload:
  type: poisson
  rate: 10
  input: { dist: constant, value: 200 }
  output: { dist: constant, value: 20 }
slos:
  ttft_p95_ms: 10000
`,
);

describe("option errors exit 2 in every subcommand", () => {
  for (const argv of [
    ["trace", "stats", "x.csv", "--bogus"],
    ["trace", "convert", "a.csv", "b.jsonl", "--nope"],
    ["workload", "export", TINY],
    ["run", TINY, "--seed", "-1"],
    ["sweep", TINY],
    ["merge"],
    ["check"],
    ["drill", TINY, "--bogus"],
    ["calibrate", "--bogus"],
    ["validate", "--bogus"],
    ["policies", "--bogus"],
    ["models", "--bogus"],
  ]) {
    it(argv.join(" "), async () => {
      expect(await main(argv)).toBe(2);
      expect(io.err).not.toContain("internal error");
    });
  }
});

describe("did-you-mean for commands", () => {
  it("a misspelt command is not taken for a scenario file", async () => {
    expect(await main(["sweeep", "x.yaml"])).toBe(2);
    expect(io.err).toBe('gatelab: unknown command "sweeep"; did you mean "sweep"?\n');
  });
  it("a word far from every command lists them", async () => {
    expect(await main(["frobnicate"])).toBe(2);
    expect(io.err).toContain('unknown command "frobnicate"; commands: run, compare');
  });
});

describe("outputs that cannot be written: exit 3 with the path, before the simulation", () => {
  it("run --out /proc/x", async () => {
    expect(await main(["run", TINY, "--out", "/proc/x"])).toBe(3);
    expect(io.err).toMatch(/^gatelab: \/proc\/x: cannot write/);
    expect(io.out).toBe("");
  });
  it("run --out through a file", async () => {
    const f = join(dir, "afile");
    writeFileSync(f, "x");
    expect(await main(["run", TINY, "--out", join(f, "sub")])).toBe(3);
    expect(io.err).toContain(`${f} is a file, not a folder`);
  });
  it("check --junit unwritable: no run, exit 3", async () => {
    expect(await main(["check", TINY, "--junit", "/proc/x/j.xml"])).toBe(3);
    expect(io.err).toContain("/proc/x/j.xml");
    expect(io.out).toBe("");
  });
  it("check --update-baseline to an unwritable path: exit 3", async () => {
    expect(await main(["check", TINY, "--baseline", "/proc/b.json", "--update-baseline"])).toBe(3);
    expect(io.err).toContain("/proc/b.json");
  });
  it("compare --out onto a file, drill --out onto a device", async () => {
    const f = join(dir, "plain.txt");
    writeFileSync(f, "x");
    expect(await main(["compare", TINY, "--out", f])).toBe(3);
    expect(io.err).toContain(f);
    expect(await main(["drill", TINY, "--out", "/dev/null"])).toBe(3);
  });
  it("sweep and merge --out /proc/…", async () => {
    expect(await main(["sweep", TINY, "--param", "pools.0.replicas=1,2", "--out", "/proc/sw", "-j", "1"])).toBe(3);
    expect(await main(["merge", join(dir, "nothing"), "--out", "/proc/m"])).toBe(3);
  });
  it("run --trace-decisions /proc/d.jsonl", async () => {
    expect(await main(["run", TINY, "--trace-decisions", "/proc/d.jsonl"])).toBe(3);
  });
  it("inference-perf compare --chart /proc/x, and a folder under a dangling link (Node's recursive mkdir spun forever)", async () => {
    const reports = join(import.meta.dirname, "../../shared/data/inference-perf/reports");
    const run = join(reports, "inference-perf__demos__kubecon-na-2025__vllm+batch_size__results__");
    const argv = ["inference-perf", "compare", "--measured", run, "--predicted", run, "--chart"];
    expect(await main([...argv, "/proc/x"])).toBe(3);
    expect(io.err).toBe("gatelab: /proc/x: cannot create the folder: ENOENT (no such folder)\n");
    const link = join(dir, "dangling");
    symlinkSync(join(dir, "no-such-target"), link);
    expect(await main([...argv, join(link, "charts")])).toBe(3);
    expect(io.err).toContain(`${join(link, "charts")}: cannot create the folder`);
  });
  it("makeDirs creates missing parents, accepts existing folders, and fails once where a parent cannot hold children", () => {
    const deep = join(dir, "a", "b", "c");
    makeDirs(deep);
    expect(statSync(deep).isDirectory()).toBe(true);
    makeDirs(deep);
    expect(() => makeDirs("/proc/x/y")).toThrow(/ENOENT/);
    writeFileSync(join(dir, "plain"), "x");
    expect(() => makeDirs(join(dir, "plain", "sub"))).toThrow(/ENOTDIR/);
  });
  it("a folder holding someone else's files is not overwritten", async () => {
    const d = join(dir, "mine");
    mkdirSync(d);
    writeFileSync(join(d, "thesis.tex"), "precious");
    expect(await main(["run", TINY, "--out", d])).toBe(3);
    expect(io.err).toContain("thesis.tex");
  });
});

describe("output sets appear together", () => {
  it("run --out twice: the second set replaces the first, no temporary siblings left", async () => {
    const d = join(dir, "set");
    expect(await main(["run", TINY, "--out", d])).toBe(0);
    expect(readdirSync(d).sort()).toEqual([".gatelab-output", "requests.csv", "summary.json"]);
    expect(await main(["run", TINY, "--out", d, "--seed", "3"])).toBe(0);
    expect(readdirSync(dir).filter((n) => n.includes("gatelab-tmp") || n.includes("gatelab-old"))).toEqual([]);
  });
  it("stale temporary siblings of a killed process are removed by the next run", async () => {
    const d = join(dir, "stale");
    // PID 2^22 + 1 is above Linux's pid_max: never a live process.
    const orphan = join(dir, ".stale.gatelab-tmp-4194305");
    mkdirSync(orphan);
    writeFileSync(join(orphan, "requests.csv"), "half");
    expect(await main(["run", TINY, "--out", d])).toBe(0);
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(join(d, "summary.json"))).toBe(true);
  });
});

describe("bad input files exit 2", () => {
  it("/dev/zero as a scenario is refused without reading it", async () => {
    expect(await main(["run", "/dev/zero"])).toBe(2);
    expect(io.err).toContain("/dev/zero: cannot read the scenario file: not a regular file");
  });
  it("a folder as a scenario", async () => {
    expect(await main(["run", dir])).toBe(2);
    expect(io.err).toContain("is a folder");
  });
  it("a missing required field says so", async () => {
    const f = join(dir, "missing.yaml");
    writeFileSync(f, "requests: 5\npools:\n  - model: llama-3.1-8b-instruct\nworkload: { type: poisson, rate: 1 }\n");
    expect(await main(["run", f])).toBe(2);
    expect(io.err).toContain(`${f}:3: pools.0.replicas: missing field (expected a number)`);
  });
  it("a misspelt field suggests the right one", async () => {
    const f = join(dir, "typo.yaml");
    writeFileSync(
      f,
      "requests: 5\npools:\n  - model: llama-3.1-8b-instruct\n    replicas: 1\n    gpu_hour_usdd: 2\nworkload: { type: poisson, rate: 1 }\n",
    );
    expect(await main(["run", f])).toBe(2);
    expect(io.err).toContain('unknown field "gpu_hour_usdd"; did you mean "gpu_hour_usd"?');
  });
});

describe("exit code of each kind of failure", () => {
  it("input 2, output 3, a bug 70 with its stack", () => {
    expect(exitCodeOf(new InputError("x"))).toBe(2);
    expect(exitCodeOf(new OutputError("y"))).toBe(3);
    expect(exitCodeOf(Object.assign(new Error("disk"), { code: "ENOSPC", path: "/x/y" }))).toBe(3);
    expect(io.err).toContain("/x/y: cannot write: ENOSPC (no space left on device)");
    io.err = "";
    expect(exitCodeOf(new TypeError("boom"))).toBe(EXIT_INTERNAL);
    expect(io.err).toContain("internal error");
    expect(io.err).toContain("at ");
  });
  it("a missing explicit baseline is bad input, not a failed gate", async () => {
    expect(await main(["check", SMALL, "--baseline", join(dir, "nob.json")])).toBe(2);
  });
});
