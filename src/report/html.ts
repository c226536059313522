/**
 * One self-contained HTML report that works offline: the UMD builds of vega, vega-lite and vega-embed are inlined
 * (~830 KB), the chart specs carry their data, and the page sets `<body data-rendered="true">` once every chart is
 * drawn (what the headless-Chromium test waits for). No timestamps: the same inputs give the same bytes.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Chart } from "./charts.ts";

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

export function escapeHtml(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

/** JSON safe inside `<script>`: no `<` (so no `</script>`), and no line separators that break JS strings. */
function scriptJson(x: unknown): string {
  return JSON.stringify(x).replaceAll("<", "\\u003c").replaceAll("\u2028", "\\u2028").replaceAll("\u2029", "\\u2029");
}

export interface ReportSection {
  readonly title: string;
  /** Preformatted text (a plain-text table), shown in a monospace block. */
  readonly text?: string;
  /** Paragraph of prose (escaped). */
  readonly note?: string;
  readonly charts?: readonly Chart[];
}

export interface HtmlReport {
  readonly title: string;
  readonly subtitle?: string;
  readonly sections: readonly ReportSection[];
}

const STYLE = `
body { font-family: "DejaVu Sans", system-ui, sans-serif; margin: 24px auto; max-width: 1000px; color: #222; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 17px; margin-top: 32px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.sub { color: #666; margin-top: 0; }
pre { background: #f7f7f7; padding: 10px 12px; overflow-x: auto; font-size: 12px; line-height: 1.35; border-radius: 4px; }
.chart { margin: 16px 0 24px; }
.err { color: #b00; }
`;

/** The report's HTML text. */
export function renderHtmlReport(r: HtmlReport): string {
  const specs: unknown[] = [];
  const body: string[] = [];
  body.push(`<h1>${escapeHtml(r.title)}</h1>`);
  if (r.subtitle) body.push(`<p class="sub">${escapeHtml(r.subtitle)}</p>`);
  for (const s of r.sections) {
    body.push(`<h2>${escapeHtml(s.title)}</h2>`);
    if (s.note) body.push(`<p>${escapeHtml(s.note)}</p>`);
    if (s.text) body.push(`<pre>${escapeHtml(s.text)}</pre>`);
    for (const c of s.charts ?? []) {
      const id = `chart-${specs.length}`;
      specs.push(c.spec);
      body.push(
        `<div class="chart" id="${id}" data-chart="${escapeHtml(c.name)}" title="${escapeHtml(c.title)}"></div>`,
      );
    }
  }
  const scripts = umdSources()
    .map((src) => `<script>${src}</script>`)
    .join("\n");
  const boot = `
const specs = ${scriptJson(specs)};
Promise.all(specs.map((s, i) => vegaEmbed("#chart-" + i, s, { actions: false, renderer: "svg" })))
  .then(() => { document.body.dataset.rendered = "true"; })
  .catch((e) => {
    document.body.dataset.rendered = "error";
    const p = document.createElement("p"); p.className = "err"; p.textContent = "chart error: " + e; document.body.prepend(p);
  });`;
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(r.title)}</title>`,
    `<style>${STYLE}</style>`,
    scripts,
    "</head>",
    "<body>",
    ...body,
    `<script>${boot}</script>`,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
