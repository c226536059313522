import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compare } from "../src/lab/compare.ts";
import { detectBursts, niceWindow, windowStats } from "../src/metrics/windows.ts";
import { compareCharts, heatmapSpec, normalizeSvgIds, renderSvg, svgToPng } from "../src/report/charts.ts";
import { interactiveSpec } from "../src/report/html/interactive.ts";
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
  const charts = compareCharts(c);

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

  it("heatmap: the plot fills most of the canvas even with long parameter names and a small grid", async () => {
    const px = "prefix-cache-scorer.weight";
    const py = "kv-cache-utilization-scorer.weight";
    const pts = [0, 5].flatMap((a, i) =>
      [0, 5].map((b, j) => ({
        id: i * 2 + j,
        values: { [px]: a, [py]: b },
        metrics: { ttft_p95_ms: 10 + a * 30 + b + (a === 5 && b === 5 ? 900 : 0) },
        slos_ok: true,
      })),
    );
    const spec = heatmapSpec(pts, px, py, { key: "ttft_p95_ms", label: "TTFT p95 (ms)", better: "lower" });
    const svg = await renderSvg(spec);
    const w = Number(/width="([\d.]+)"/.exec(svg)![1]);
    const h = Number(/height="([\d.]+)"/.exec(svg)![1]);
    const plot = spec as unknown as { width: number; height: number };
    // Before: a 160 × 120 plot on a 971 × 374 canvas (5 %).
    expect((plot.width * plot.height) / (w * h)).toBeGreaterThan(0.5);
  });

  it("report charts are interactive: tooltips, zoom on continuous axes, legend toggles; files stay static", () => {
    const cdf = interactiveSpec(charts[0]!.spec) as unknown as { layer: Record<string, unknown>[] };
    const line = cdf.layer[0]!;
    expect(line.mark).toMatchObject({ type: "line", tooltip: true });
    expect(line.params).toEqual([
      { name: "zoom0", select: "interval", bind: "scales" },
      { name: "legend0", select: { type: "point", fields: ["policy"] }, bind: "legend" },
    ]);
    expect((charts[0]!.spec as unknown as { layer: Record<string, unknown>[] }).layer[0]!.params).toBeUndefined();
    // The replica panels (vconcat): zoom per panel, no legend binding shared across panels.
    const rep = interactiveSpec(charts[2]!.spec) as unknown as { vconcat: { layer: Record<string, unknown>[] }[] };
    const params = rep.vconcat.flatMap((p) => p.layer.flatMap((l) => (l.params as { name: string }[]) ?? []));
    expect(params.map((p) => p.name)).toEqual(["zoom0", "zoom1"]);
  });
});
