/**
 * Files `compare --out DIR` leaves behind, all written atomically:
 * - `summary.json`: per policy its lab metrics, SLO verdicts, per-class and per-tenant metrics and the full summary;
 * - `requests.csv`: one row per request and policy;
 * - `charts/<name>.svg` and `.png`: the comparison charts;
 * - `report.html`: one offline page with the table and every chart.
 */
import { dirname, join, relative } from "node:path";
import type { Span } from "../metrics/windows.ts";
import { writeFileAtomic } from "./atomic.ts";
import { compareCharts, writeCharts } from "./charts.ts";
import { type CompareOutput, comparisonJson, formatComparison } from "./compare.ts";
import type { ReportKind, Section } from "./html/model.ts";
import { compareTables } from "./html/views.ts";
import { renderHtmlReport } from "./html.ts";
import { writeRequestsCsv } from "./outputs.ts";

export interface CompareFiles {
  readonly summary: string;
  readonly requests: string;
  readonly charts: readonly string[];
  readonly report: string | undefined;
}

export interface CompareOutputOptions {
  /** Render charts and the HTML report (default true). */
  readonly charts?: boolean;
  /** Window width of the p95-over-time chart, seconds (default: about 60 windows). */
  readonly windowS?: number;
  /** Spans to shade as bursts (default: the workload's spikes, else detected bursts). */
  readonly spans?: readonly Span[];
  /** Report title and an extra first section (drill verdicts). */
  readonly title?: string;
  readonly intro?: { readonly title: string; readonly text: string };
  /** Sections before the comparison (the drill's phases and checks). */
  readonly lead?: readonly Section[];
  readonly kind?: ReportKind;
  readonly verdict?: { readonly ok: boolean; readonly text: string };
}

export async function writeCompareOutputs(
  dir: string,
  c: CompareOutput,
  o: CompareOutputOptions = {},
): Promise<CompareFiles> {
  const summary = join(dir, "summary.json");
  const requests = join(dir, "requests.csv");
  writeFileAtomic(summary, `${JSON.stringify(comparisonJson(c), null, 2)}\n`);
  writeRequestsCsv(requests, c.runs);
  if (o.charts === false) return { summary, requests, charts: [], report: undefined };
  const charts = compareCharts(c, {
    ...(o.windowS !== undefined ? { windowS: o.windowS } : {}),
    ...(o.spans !== undefined ? { spans: o.spans } : {}),
  });
  const paths = await writeCharts(join(dir, "charts"), charts);
  const report = join(dir, "report.html");
  writeFileAtomic(
    report,
    renderHtmlReport({
      kind: o.kind ?? "compare",
      title: o.title ?? `gatelab compare: ${c.scenario}`,
      subtitle: `seed ${c.seed} · ${c.runs.length === 1 ? "1 policy" : `${c.runs.length} policies on the same request stream`}`,
      verdict: o.verdict,
      sections: [
        ...(o.intro ? [o.intro] : []),
        ...(o.lead ?? []),
        {
          title: c.runs.length > 1 ? "Side by side" : "Summary",
          tables: compareTables(c),
          text: formatComparison(c),
        },
        {
          title: "Latency",
          note: "TTFT = first token − arrival at the gateway. The shaded spans are traffic bursts. Drag to pan, scroll to zoom, double-click to reset; click a legend entry to highlight a policy.",
          charts: charts.filter((x) => x.name.startsWith("ttft")),
        },
        { title: "Replicas", charts: charts.filter((x) => x.name.startsWith("replica")) },
        { title: "Prefix cache", charts: charts.filter((x) => x.name === "hit-rate") },
      ],
    }),
  );
  return { summary, requests, charts: paths, report };
}

/** The same files under their final folder `dir` (they were written into a temporary stage folder). */
export function relocate(f: CompareFiles, dir: string): CompareFiles {
  const stage = dirname(f.summary);
  const move = (p: string) => join(dir, relative(stage, p));
  return {
    summary: move(f.summary),
    requests: move(f.requests),
    charts: f.charts.map(move),
    report: f.report === undefined ? undefined : move(f.report),
  };
}
