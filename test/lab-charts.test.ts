import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compare } from "../src/lab/compare.ts";
import { detectBursts, niceWindow, windowStats } from "../src/metrics/windows.ts";
import { compareCharts, normalizeSvgIds, renderSvg, svgToPng } from "../src/report/charts.ts";
import { renderHtmlReport } from "../src/report/html.ts";
import { writeCompareOutputs } from "../src/report/lab-outputs.ts";
import { loadScenario } from "../src/scenario.ts";

const SCENARIO = join(import.meta.dirname, "fixtures", "lab-small.yaml");
const POLICIES = ["round-robin", "gie-default"];

describe("charts", () => {
  const c = compare(loadScenario(SCENARIO), { policies: POLICIES });
  const charts = compareCharts(c);

  it("builds the comparison charts", () => {
    expect(charts.map((x) => x.name)).toEqual([
      "ttft-cdf",
      "ttft-p95-over-time",
      "replica-load",
      "replica-kv-usage",
      "hit-rate",
    ]);
  });

  it("every spec compiles and renders to an SVG that names the policies", async () => {
    for (const ch of charts) {
      const svg = await renderSvg(ch.spec);
      expect(svg.startsWith("<svg"), ch.name).toBe(true);
      for (const p of POLICIES) expect(svg, `${ch.name} names ${p}`).toContain(p);
    }
  });

  it("replica charts have one line per replica, and the CDF reaches 1", async () => {
    const load = await renderSvg(charts[2]!.spec);
    expect(load).toContain("main/0");
    expect(load).toContain("main/1");
    const cdf = charts[0]!.spec as unknown as { data: { values: { policy: string; fraction: number }[] } };
    for (const p of POLICIES) {
      const f = cdf.data.values.filter((v) => v.policy === p).map((v) => v.fraction);
      expect(Math.max(...f)).toBe(1);
      expect(Math.min(...f)).toBe(0);
    }
  });

  it("the p95-over-time chart marks declared spikes, and the SLO", () => {
    const spiky = loadScenario(SCENARIO);
    const s = structuredClone(spiky.scenario) as typeof spiky.scenario & { workload: { arrival?: unknown } };
    s.workload.arrival = { process: "poisson", start_s: 0, spikes: [{ at: 2, duration: 2, factor: 3 }] };
    const c2 = compare({ ...spiky, scenario: s }, { policies: ["round-robin"] });
    const spec = JSON.stringify(compareCharts(c2)[1]!.spec);
    expect(spec).toContain("spike ×3");
    expect(spec).toContain("SLO 1000 ms");
  });

  it("renders the same bytes twice in one process (SVG ids renumbered) and makes a PNG", async () => {
    const a = await renderSvg(charts[1]!.spec);
    const b = await renderSvg(charts[1]!.spec);
    expect(a).toBe(b);
    const png = await svgToPng(a);
    expect(Buffer.from(png.subarray(0, 8)).toString("hex")).toBe("89504e470d0a1a0a");
    expect(normalizeSvgIds('<g id="gradient_7"/><path fill="url(#gradient_7)"/>')).toBe(
      '<g id="gradient_0"/><path fill="url(#gradient_0)"/>',
    );
  });

  it("windows and detected bursts", () => {
    expect(niceWindow(60)).toBe(1);
    expect(niceWindow(600)).toBe(10);
    const w = windowStats(c.runs[0]!.result.records, 1);
    expect(w.reduce((s, x) => s + x.arrivals, 0)).toBe(c.metrics[0]!.requests);
    const fake = [5, 5, 20, 22, 5, 5, 5, 30].map((n, i) => ({
      start: i,
      end: i + 1,
      arrivals: n,
      completed: n,
      backpressure: 0,
      ttft_p95_ms: 1,
      e2e_p95_ms: 1,
    }));
    expect(detectBursts(fake)).toEqual([
      { start: 2, end: 4, label: "burst" },
      { start: 7, end: 8, label: "burst" },
    ]);
  });
});

describe("HTML report", () => {
  const c = compare(loadScenario(SCENARIO), { policies: POLICIES });

  it("is one self-contained file: UMD bundles inlined, no network references, specs escaped", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gl-html-"));
    const files = await writeCompareOutputs(dir, c);
    const html = readFileSync(files.report!, "utf8");
    expect(html).toContain("vegaEmbed");
    expect(html).toContain('data-chart="ttft-cdf"');
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href=/);
    expect(files.charts.filter((f) => f.endsWith(".png"))).toHaveLength(5);
    const sj = JSON.parse(readFileSync(files.summary, "utf8"));
    expect(sj.runs.map((r: { policy: string }) => r.policy)).toEqual(POLICIES);
    expect(typeof sj.runs[0].metrics.goodput_fraction).toBe("number");
    // A title with markup is escaped, and `</script>` inside a spec cannot end the inline script.
    const evil = renderHtmlReport({
      title: "<b>x</b>",
      sections: [{ title: "s", charts: [{ name: "n", title: "t", spec: { description: "</script><b>" } as never }] }],
    });
    expect(evil).toContain("&lt;b&gt;x&lt;/b&gt;");
    expect(evil).not.toContain("</script><b>");
  });

  const chromium = "/usr/bin/chromium";
  it.skipIf(!existsSync(chromium))("renders offline in headless Chromium", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gl-chromium-"));
    const files = await writeCompareOutputs(dir, c);
    const dom = execFileSync(
      chromium,
      [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        // Offline: every request that is not file:// fails.
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        `--user-data-dir=${mkdtempSync(join(tmpdir(), "gl-chromium-profile-"))}`,
        "--window-size=1000,800",
        "--virtual-time-budget=10000",
        "--dump-dom",
        `file://${files.report}`,
      ],
      { encoding: "utf8", timeout: 60_000, stdio: ["ignore", "pipe", "ignore"] },
    );
    expect(dom).toContain('data-rendered="true"');
    // One rendered <svg> per chart.
    expect((dom.match(/<svg/g) ?? []).length).toBeGreaterThanOrEqual(5);
    expect(dom).toContain("gie-default");
  });
});
