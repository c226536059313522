/**
 * Charts and the HTML report of a sweep: the Pareto front, and a heatmap of the objective over the first two
 * parameters (or a line over the only one). Written under the sweep folder: `charts/*.{svg,png}`, `report.html`.
 */
import { join } from "node:path";
import { writeFileAtomic } from "./atomic.ts";
import {
  type Chart,
  heatmapSpec,
  paretoSpec,
  type SweepChartPoint,
  sweepLineSpec,
  varyingParams,
  writeCharts,
} from "./charts.ts";
import { sweepTables } from "./html/views.ts";
import { renderHtmlReport } from "./html.ts";
import { metricInfo } from "./metric-catalog.ts";
import type { SweepManifestShape, SweepResultsShape } from "./sweep-shape.ts";

export function sweepChartList(r: SweepResultsShape): Chart[] {
  const pts: SweepChartPoint[] = r.points.map((p) => ({
    id: p.id,
    values: p.values,
    metrics: p.metrics as unknown as Record<string, number>,
    slos_ok: p.slos_ok,
  }));
  const [ox, oy] = r.pareto.objectives.map((o) => o.split(":")[0]!);
  const objKey = r.best.objective.split(":")[0]!;
  const info = (k: string) => {
    const m = metricInfo(k)!;
    return { key: k, label: m.label, better: m.better };
  };
  const charts: Chart[] = [
    {
      name: "pareto",
      title: "Pareto front",
      spec: paretoSpec(pts, info(ox!), info(oy!), new Set(r.pareto.front), r.best.id ?? undefined),
    },
  ];
  const vary = varyingParams(pts);
  if (vary.length >= 2) {
    charts.push({
      name: "heatmap",
      title: "Objective heatmap",
      spec: heatmapSpec(pts, vary[0]!, vary[1]!, info(objKey)),
    });
  } else if (vary.length === 1) {
    charts.push({
      name: "sweep-line",
      title: "Objective against the parameter",
      spec: sweepLineSpec(pts, vary[0]!, info(objKey)),
    });
  }
  return charts;
}

/** Renders the sweep's charts and report; returns the paths written. */
export async function sweepCharts(
  dir: string,
  manifest: SweepManifestShape,
  r: SweepResultsShape,
  text: string,
): Promise<string[]> {
  const charts = sweepChartList(r);
  const explore = sweepTables(r);
  const files = await writeCharts(join(dir, "charts"), charts);
  const report = join(dir, "report.html");
  const params = manifest.params.map((p) => `${p.name}=${p.spec}`).join("  ");
  writeFileAtomic(
    report,
    renderHtmlReport({
      kind: "sweep",
      title: `gatelab sweep: ${r.scenario}`,
      subtitle: `${manifest.mode} search · ${manifest.points} points · ${params} · seed ${manifest.seed}`,
      sections: [
        {
          title: "Explorer",
          note: "Crosses violate the scenario's SLOs; the ringed point is the best one that meets them. Click a point (or a row below) to see its full summary.",
          charts,
          tables: [explore.table],
          explorer: explore.explorer,
          text,
        },
      ],
    }),
  );
  files.push(report);
  return files;
}
