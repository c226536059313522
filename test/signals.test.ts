import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RESTORE_TERMINAL, simulationProgress } from "../src/cli/progress.ts";
import type { Request, RequestSource } from "../src/sim/request.ts";

const ROOT = join(import.meta.dirname, "..");

describe("Ctrl-C during a sweep", () => {
  it("says what was saved and how to resume, and exits 130", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gatelab-sig-"));
    const out = join(dir, "sweep");
    const scenario = join(ROOT, "test/fixtures/lab-small.yaml");
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(ROOT, "src/cli/bin.ts"),
        "sweep",
        scenario,
        "--param",
        "queue-scorer.weight=1..12:1",
        "-j",
        "1",
        "--no-charts",
        "--out",
        out,
      ],
      { cwd: ROOT, env: { ...process.env, CI: "1" } },
    );
    let err = "";
    child.stderr.on("data", (b: Buffer) => {
      err += b.toString();
    });
    const points = join(out, "points");
    // Interrupt once the first points are on disk.
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (existsSync(points) && readdirSync(points).length >= 2) {
          clearInterval(poll);
          child.kill("SIGINT");
          resolve();
        }
      }, 20);
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    expect(code).toBe(130);
    const saved = readdirSync(points).length;
    expect(saved).toBeLessThan(12);
    expect(err).toMatch(new RegExp(`interrupted \\(SIGINT\\)\\. ${saved} of 12 points are saved in ${out}`));
    expect(err).toContain("run the same command again to resume");
  }, 120_000);
});

describe("the status line of long simulations", () => {
  function source(n: number): RequestSource {
    let i = 0;
    return {
      next(): Request | undefined {
        if (i >= n) return undefined;
        return { id: i, arrival: i++ * 0.01, prompt: [], inputTokens: 1, outputTokens: 1 };
      },
    };
  }
  function fakeTty(): NodeJS.WriteStream & { text: string } {
    const s = {
      isTTY: true,
      text: "",
      write: (x: string) => {
        s.text += x;
        return true;
      },
    };
    return s as unknown as NodeJS.WriteStream & { text: string };
  }

  it("appears after two seconds on a terminal, passes every request through, and is erased at the end", () => {
    const tty = fakeTty();
    let clock = 0;
    const p = simulationProgress(tty, true, () => (clock += 500));
    const src = p.wrap("run", 5000)(source(5000));
    let n = 0;
    while (src.next() !== undefined) n++;
    expect(n).toBe(5000);
    expect(tty.text).toMatch(/run: [\d,]+ of ~5,000 requests sent · \d+ s simulated/);
    p.done();
    expect(tty.text.endsWith("\r\u001b[2K")).toBe(true);
  });

  it("shows nothing when not wanted (not a terminal, or CI)", () => {
    const tty = fakeTty();
    let clock = 0;
    const p = simulationProgress(tty, false, () => (clock += 1000));
    const s = source(3000);
    expect(p.wrap("run", 3000)(s)).toBe(s);
    p.done();
    expect(tty.text).toBe("");
  });

  it("restores the cursor and line wrap", () => {
    expect(RESTORE_TERMINAL).toContain("\u001b[?25h");
    expect(RESTORE_TERMINAL).toContain("\u001b[?7h");
  });
});
