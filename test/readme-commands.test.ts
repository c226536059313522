/**
 * Every command of README.md's `sh` code blocks, run as written on this repository, exits as the README says: 0, or
 * the code named by a trailing `# exits N` comment.
 *
 * Each command runs with bash in a scratch folder holding the repository's `scenarios/` and `node_modules/` (outputs land in the scratch
 * folder, not in results/). Two mappings keep the test about the README rather than about the build: the CLI
 * (`node dist/src/cli/bin.js`, what `npm ci` builds) runs from the source through tsx, so a stale dist/ cannot pass
 * or fail it; `npm start` is `package.json`'s start script, which is that same CLI with no arguments. `npm ci` and
 * `npm test` are the setup and this very suite, not rerun here.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const CLI = "node dist/src/cli/bin.js";

interface Command {
  readonly line: string;
  readonly exit: number;
}

/** The commands of the README's `sh` blocks, split at `&&`, with their expected exit codes. */
function readmeCommands(md: string): Command[] {
  const out: Command[] = [];
  let inSh = false;
  for (const raw of md.split("\n")) {
    if (raw.startsWith("```")) {
      inSh = !inSh && raw.trim() === "```sh";
      continue;
    }
    if (!inSh) continue;
    const [code = "", comment = ""] = raw.split(/\s#\s/, 2);
    const exit = /exits (\d+)/.exec(comment);
    for (const part of code.split("&&")) {
      const line = part.trim();
      if (line !== "") out.push({ line, exit: exit ? Number(exit[1]) : 0 });
    }
  }
  return out;
}

const commands = readmeCommands(readFileSync(join(ROOT, "README.md"), "utf8"));
const SKIPPED = new Set(["npm ci", "npm test"]);

describe("README.md commands", () => {
  it("the README shows the setup, the three jobs and a failing gate", () => {
    const lines = commands.map((c) => c.line);
    expect(lines).toEqual(expect.arrayContaining(["npm ci", "npm start", "npm test"]));
    for (const job of ["drill", "compare", "sweep", "check"]) {
      expect(lines.some((l) => l.startsWith(`${CLI} ${job} `))).toBe(true);
    }
    expect(commands.some((c) => c.exit === 1)).toBe(true);
    expect(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts.start).toBe(CLI);
  });

  const scratch = mkdtempSync(join(tmpdir(), "gl-readme-"));
  symlinkSync(join(ROOT, "scenarios"), join(scratch, "scenarios"));
  symlinkSync(join(ROOT, "node_modules"), join(scratch, "node_modules"));
  const source = `node --import tsx ${join(ROOT, "src/cli/bin.ts")}`;

  for (const c of commands.filter((x) => !SKIPPED.has(x.line))) {
    it(`${c.line} exits ${c.exit}`, { timeout: 300_000 }, () => {
      const line = c.line === "npm start" ? source : c.line.replaceAll(CLI, source);
      const r = spawnSync("bash", ["-c", line], {
        cwd: scratch,
        encoding: "utf8",
        env: { ...process.env, CI: "1" },
      });
      expect({ status: r.status, stderr: r.status === c.exit ? "" : r.stderr }).toEqual({ status: c.exit, stderr: "" });
    });
  }
});
