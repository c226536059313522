/**
 * One self-contained HTML report that works offline: the UMD builds of vega, vega-lite and vega-embed are inlined
 * (~830 KB), the chart specs carry their data, and the page sets `<body data-rendered="true">` once every chart is
 * drawn (what the headless-Chromium test waits for). No timestamps: the same inputs give the same bytes. The layout
 * (tables, interactive charts, the sweep explorer) is in html/.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Report, ReportKind, Section } from "./html/model.ts";
import { renderReport } from "./html/render.ts";

const UMD: readonly [pkg: string, file: string][] = [
  ["vega", "vega.min.js"],
  ["vega-lite", "vega-lite.min.js"],
  ["vega-embed", "vega-embed.min.js"],
];

let umdCache: string[] | undefined;

/**
 * The UMD bundles' source. vega-lite's `exports` map hides `build/*.min.js`, so the package entry is resolved and
 * the file is read from the `build/` folder beside it (every one of the three packages keeps its entry there).
 */
function umdSources(): string[] {
  if (umdCache) return umdCache;
  const require = createRequire(import.meta.url);
  umdCache = UMD.map(([pkg, file]) => {
    let dir = dirname(require.resolve(pkg));
    while (!dir.endsWith("/build") && dirname(dir) !== dir) dir = dirname(dir);
    // A `</script` inside the bundle would end the inline script early.
    return readFileSync(join(dir, file), "utf8").replaceAll("</script", "<\\/script");
  });
  return umdCache;
}

export { escapeHtml } from "./html/render.ts";

/** A section: tables, charts, a note, and the terminal's plain text (folded when there are tables). */
export type ReportSection = Section;

export interface HtmlReport {
  readonly title: string;
  readonly subtitle?: string;
  /** Which report this is (`data-report` on the body; the browser test checks every kind). */
  readonly kind?: ReportKind;
  readonly verdict?: Report["verdict"] | undefined;
  readonly sections: readonly ReportSection[];
}

/** The report's HTML text (see html/render.ts for the layout). */
export function renderHtmlReport(r: HtmlReport): string {
  return renderReport({ ...r, kind: r.kind ?? "report" }, umdSources());
}
