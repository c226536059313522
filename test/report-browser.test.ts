/**
 * Every report kind (compare, sweep, drill, check) rendered in a real browser, headless and offline: no console
 * error, every chart drawn with marks, every table with its rows. Needs Chromium (`.ci/run` installs Debian's); where
 * it is missing the test is skipped — except under CI=true, where it fails.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { main } from "../src/cli/main.ts";

const SMALL = join(import.meta.dirname, "fixtures", "lab-small.yaml");

function findBrowser(): string | undefined {
  const env = process.env.GATELAB_CHROMIUM;
  if (env) return env;
  for (const c of ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"])
    if (existsSync(c)) return c;
  const w = spawnSync("sh", ["-c", "command -v chromium || command -v chromium-browser || command -v google-chrome"], {
    encoding: "utf8",
  });
  const p = w.stdout.trim();
  return p !== "" ? p : undefined;
}

const browser = findBrowser();
const inCi = process.env.CI === "true" || process.env.CI === "1";

interface Page {
  dom: string;
  /** Console lines Chromium logged (uncaught errors show here too). */
  console: string[];
}

/** Loads a file in headless Chromium, offline (every non-file request fails), and returns the DOM after scripts ran. */
function load(file: string, hash = ""): Page {
  const r = spawnSync(
    browser!,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--no-first-run",
      "--disable-sync",
      "--disable-background-networking",
      "--disable-component-update",
      "--proxy-server=127.0.0.1:9",
      "--proxy-bypass-list=<-loopback>",
      `--user-data-dir=${mkdtempSync(join(tmpdir(), "gl-chromium-profile-"))}`,
      "--window-size=1400,900",
      "--virtual-time-budget=10000",
      "--enable-logging=stderr",
      "--v=0",
      "--dump-dom",
      `file://${file}${hash}`,
    ],
    { encoding: "utf8", timeout: 120_000, maxBuffer: 64 << 20 },
  );
  if (r.status !== 0) throw new Error(`chromium exited ${r.status}: ${r.stderr.slice(-2000)}`);
  return { dom: r.stdout, console: r.stderr.split("\n").filter((l) => l.includes(":CONSOLE")) };
}

/** What is wrong with a rendered report page ([] = nothing). */
export function pageProblems(p: Page, kind: string): string[] {
  const out: string[] = [];
  // The inlined libraries contain "<body" in strings: take the real element (it carries data-report).
  const body = /<body([^>]*data-report=[^>]*)>/.exec(p.dom)?.[1] ?? "";
  if (!body.includes(`data-report="${kind}"`)) out.push(`not a ${kind} report`);
  if (!body.includes('data-rendered="true"'))
    out.push(`charts not rendered (${/data-rendered="(\w+)"/.exec(body)?.[1] ?? "never"})`);
  const errors = /data-errors="(\d+)"/.exec(body)?.[1];
  if (errors !== "0") out.push(`${errors ?? "?"} console errors`);
  for (const l of p.console) if (/Uncaught|Error/.test(l)) out.push(`console: ${l.slice(l.indexOf("]") + 1, 200)}`);
  // Each chart: its own SVG with at least one data mark that drew something.
  const charts = [...p.dom.matchAll(/<div class="chart[^"]*" id="(chart-\d+)" data-chart="([^"]+)"/g)];
  if (charts.length === 0 && kind !== "check") out.push("no charts");
  charts.forEach((m, i) => {
    const start = m.index!;
    const end = i + 1 < charts.length ? charts[i + 1]!.index! : p.dom.indexOf("</section>", start);
    const html = p.dom.slice(start, end);
    if (!html.includes("<svg")) out.push(`chart ${m[2]} has no SVG`);
    const marks = html.match(
      /<g class="mark-(?:line|symbol|rect|area)[^"]*role-mark[^"]*"[^>]*>(?:<(?:path|g)[^>]*>)/g,
    );
    if (!marks || marks.length === 0) out.push(`chart ${m[2]} has no marks`);
  });
  // Each table: a header and at least one body row, every row as wide as the header.
  const tables = [...p.dom.matchAll(/<table class="data" data-table="([^"]+)">([\s\S]*?)<\/table>/g)];
  if (tables.length === 0) out.push("no tables");
  for (const t of tables) {
    const cols = (t[2]!.match(/<th[ >]/g) ?? []).length;
    const rows = [...t[2]!.matchAll(/<tr[^>]*>([\s\S]*?)<\/tr>/g)].slice(1);
    if (rows.length === 0) out.push(`table ${t[1]} has no rows`);
    for (const r of rows)
      if ((r[1]!.match(/<td[ >]/g) ?? []).length !== cols) out.push(`table ${t[1]} has a short row`);
  }
  return out;
}

function tableRows(dom: string, id: string): number {
  const t = new RegExp(`<table class="data" data-table="${id}">([\\s\\S]*?)</table>`).exec(dom);
  return t ? [...t[1]!.matchAll(/<tr[^>]*>/g)].length - 1 : -1;
}

async function cli(args: string[]): Promise<number> {
  const o = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  const e = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    return await main(args);
  } finally {
    o.mockRestore();
    e.mockRestore();
    process.exitCode = undefined;
  }
}

describe.runIf(browser !== undefined || inCi)("reports in a real browser (headless Chromium)", () => {
  it("a browser is available", () => {
    // Under CI=true a missing browser is a failure, not a skip.
    expect(browser, "Chromium not found: install it (apt-get install chromium) or set GATELAB_CHROMIUM").toBeDefined();
  });

  it.runIf(browser !== undefined)(
    "compare, sweep, drill and check render with no console error, marks in every chart, rows in every table",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "gl-reports-"));
      expect(await cli(["compare", SMALL, "-P", "round-robin,gie-default", "-o", join(dir, "compare")])).toBe(0);
      expect(
        await cli([
          "sweep",
          SMALL,
          "--param",
          "pools.0.replicas=1..2:1",
          "--param",
          "gateway.policy=round-robin,gie-default",
          "-j",
          "1",
          "--no-progress",
          "-o",
          join(dir, "sweep"),
        ]),
      ).toBe(0);
      expect([0, 1]).toContain(await cli(["drill", SMALL, "-o", join(dir, "drill")]));
      const base = join(dir, "baseline.json");
      expect(await cli(["check", SMALL, "--baseline", base, "--update-baseline"])).toBe(0);
      expect(await cli(["check", SMALL, "--baseline", base, "--report", join(dir, "check.html")])).toBe(0);

      const pages = {
        compare: load(join(dir, "compare", "report.html")),
        // Opened on a point: the explorer shows its full summary.
        sweep: load(join(dir, "sweep", "report.html"), "#point=3"),
        drill: load(join(dir, "drill", "report.html")),
        check: load(join(dir, "check.html")),
      };
      for (const [kind, p] of Object.entries(pages)) expect(pageProblems(p, kind), kind).toEqual([]);
      // The tables hold what the runs produced: 2 policies × 2 replicas, 4 sweep points, 3 drill phases.
      expect(tableRows(pages.compare.dom, "per-replica")).toBe(4);
      expect(tableRows(pages.compare.dom, "slos")).toBe(2);
      expect(tableRows(pages.sweep.dom, "points")).toBe(4);
      const box = /<div class="explorer" id="explorer-[^"]+" data-point="3">([\s\S]*?)<\/div>/.exec(pages.sweep.dom);
      expect(box, "explorer opened on point 3").not.toBeNull();
      const inner = box?.[1] ?? "";
      expect(inner).toContain("<caption>point 3</caption>");
      expect(inner).toContain("TTFT p95 (ms)");
      expect((inner.match(/<tr>/g) ?? []).length).toBeGreaterThan(20);
      expect(tableRows(pages.drill.dom, "phases")).toBeGreaterThanOrEqual(2);
      expect(tableRows(pages.check.dom, "diff")).toBeGreaterThan(5);
      expect(pages.compare.dom).toContain('class="num better"');
      expect(pages.check.dom).toContain('data-verdict="pass"');
      expect(pages.drill.dom).not.toContain("1 policies");
    },
    600_000,
  );

  it.runIf(browser !== undefined)(
    "a deliberately broken report fails the check (blank chart, empty table, script error)",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "gl-broken-"));
      expect(await cli(["compare", SMALL, "-P", "round-robin", "-o", dir])).toBe(0);
      const file = join(dir, "report.html");
      let html = readFileSync(file, "utf8");
      // Blank the CDF's data, empty the per-replica table, throw in the page.
      html = html.replace(/"data":\{"values":\[\{"policy":"round-robin","ttft_ms"[^\]]*\]\}/, '"data":{"values":[]}');
      html = html.replace(/(<table class="data" data-table="per-replica">[\s\S]*?<tbody>)[\s\S]*?(<\/tbody>)/, "$1$2");
      html = html.replace("</main>", "</main><script>null.boom;</script>");
      writeFileSync(file, html);
      const problems = pageProblems(load(file), "compare");
      expect(problems).toContain("chart ttft-cdf has no marks");
      expect(problems).toContain("table per-replica has no rows");
      expect(problems.some((p) => /console errors/.test(p))).toBe(true);
    },
    300_000,
  );
});
