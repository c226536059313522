/**
 * One layout for every report page (compare, sweep, drill, check): a header with the verdict, a table of contents,
 * then sections of real HTML tables (sortable by clicking a header; deltas and SLO verdicts coloured), interactive
 * charts (vega-embed, inlined: tooltips, zoom and pan, legend toggles) and, for sweeps, an explorer that shows a
 * point's full summary when its chart mark or table row is clicked. Offline and deterministic: no timestamps, no
 * network; `<body data-rendered="true">` once every chart is drawn (`"error"` and a console error otherwise).
 */
import type { Chart } from "../charts.ts";
import { interactiveSpec } from "./interactive.ts";
import type { Cell, Report, Section, Table } from "./model.ts";

export function escapeHtml(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

/** JSON safe inside `<script>`: no `<` (so no `</script>`), and no line separators that break JS strings. */
export function scriptJson(x: unknown): string {
  return JSON.stringify(x).replaceAll("<", "\\u003c").replaceAll("\u2028", "\\u2028").replaceAll("\u2029", "\\u2029");
}

const STYLE = `
:root { --fg: #1f2328; --muted: #656d76; --line: #d0d7de; --bg2: #f6f8fa; --good: #1a7f37; --bad: #cf222e;
  --goodbg: #dafbe1; --badbg: #ffebe9; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: var(--fg);
  font-size: 14px; line-height: 1.45; }
header { padding: 20px 28px 12px; border-bottom: 1px solid var(--line); background: var(--bg2); }
h1 { font-size: 22px; margin: 0 0 4px; }
.sub { color: var(--muted); margin: 0; }
.verdict { display: inline-block; margin-top: 8px; padding: 3px 10px; border-radius: 12px; font-weight: 600; }
.verdict.pass { background: var(--goodbg); color: var(--good); }
.verdict.fail { background: var(--badbg); color: var(--bad); }
nav { padding: 8px 28px; border-bottom: 1px solid var(--line); font-size: 13px; }
nav a { margin-right: 14px; color: #0969da; text-decoration: none; }
main { padding: 0 28px 40px; max-width: 1500px; }
h2 { font-size: 17px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.note { color: var(--muted); margin: 4px 0 10px; max-width: 900px; }
.scroll { overflow-x: auto; margin: 8px 0 16px; }
table.data { border-collapse: collapse; font-size: 13px; }
table.data caption { text-align: left; font-weight: 600; padding: 4px 0; }
table.data th, table.data td { border-bottom: 1px solid var(--line); padding: 4px 10px; white-space: nowrap; }
table.data th { background: var(--bg2); text-align: left; cursor: pointer; user-select: none; position: sticky; top: 0; }
table.data th.num, table.data td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.data th[aria-sort="ascending"]::after { content: " ▲"; font-size: 10px; }
table.data th[aria-sort="descending"]::after { content: " ▼"; font-size: 10px; }
table.data td:first-child, table.data th:first-child { position: sticky; left: 0; background: white; }
table.data th:first-child { background: var(--bg2); z-index: 1; }
table.data tbody tr:hover td { background: #f3f8ff; }
table.data tr.explore { cursor: pointer; }
td.better { color: var(--good); } td.worse { color: var(--bad); }
td.pass { color: var(--good); font-weight: 600; } td.fail { color: var(--bad); font-weight: 600; }
td.muted { color: var(--muted); }
.chart { margin: 12px 0 24px; }
details { margin: 6px 0 16px; } summary { cursor: pointer; color: var(--muted); }
pre { background: var(--bg2); padding: 10px 12px; overflow-x: auto; font-size: 12px; line-height: 1.35; }
.explorer { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; margin: 8px 0 16px; background: #fcfcfd; }
.explorer .hint { color: var(--muted); }
.err { color: var(--bad); }
`;

function cellOf(c: Cell | string): Cell {
  return typeof c === "string" ? { text: c } : c;
}

function renderTable(t: Table): string {
  const head = t.columns
    .map((c, i) => `<th data-col="${i}"${c.numeric ? ' class="num"' : ""} scope="col">${escapeHtml(c.label)}</th>`)
    .join("");
  const rows = t.rows.map((r) => {
    const cells = r.map((raw, i) => {
      const c = cellOf(raw);
      const cls = [t.columns[i]?.numeric ? "num" : "", c.mark ?? ""].filter((x) => x !== "").join(" ");
      const sort = c.sort !== undefined ? ` data-sort="${escapeHtml(String(c.sort))}"` : "";
      const title = c.title ? ` title="${escapeHtml(c.title)}"` : "";
      return `<td${cls ? ` class="${cls}"` : ""}${sort}${title}>${escapeHtml(c.text)}</td>`;
    });
    const first = cellOf(r[0] ?? "");
    const ex = t.explore ? ` class="explore" data-point="${escapeHtml(String(first.sort ?? first.text))}"` : "";
    return `<tr${ex}>${cells.join("")}</tr>`;
  });
  const caption = t.caption ? `<caption>${escapeHtml(t.caption)}</caption>` : "";
  return `<div class="scroll"><table class="data" data-table="${escapeHtml(t.id)}">${caption}<thead><tr>${head}</tr></thead><tbody>${rows.join("")}</tbody></table></div>`;
}

function slug(s: string, used: Set<string>): string {
  const base =
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "") || "section";
  let id = base;
  for (let i = 2; used.has(id); i++) id = `${base}-${i}`;
  used.add(id);
  return id;
}

/**
 * First script of the page: counts errors (console.error, uncaught exceptions, rejected promises) on
 * `<body data-errors>` so that a browser test (or a person in the inspector) sees a broken page at once.
 */
const GUARD = `
window.__reportErrors = [];
(function () {
  function push(m) {
    window.__reportErrors.push(String(m));
    if (document.body) document.body.setAttribute("data-errors", String(window.__reportErrors.length));
  }
  var ce = console.error;
  console.error = function () { push(Array.prototype.join.call(arguments, " ")); return ce.apply(console, arguments); };
  window.addEventListener("error", function (e) { push(e.message || "error"); });
  window.addEventListener("unhandledrejection", function (e) { push("unhandled rejection: " + e.reason); });
})();
`;

const BOOT = `
"use strict";
(function () {
  function key(td) {
    if (!td) return "";
    var s = td.getAttribute("data-sort");
    if (s === null) s = td.textContent || "";
    var n = Number(s);
    return s !== "" && isFinite(n) ? n : s.toLowerCase();
  }
  document.querySelectorAll("table.data").forEach(function (table) {
    table.querySelectorAll("th").forEach(function (th) {
      th.addEventListener("click", function () {
        var col = Number(th.getAttribute("data-col"));
        var asc = th.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("th").forEach(function (o) { o.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[col]), y = key(b.cells[col]);
          var c = typeof x === "number" && typeof y === "number" ? x - y : String(x) < String(y) ? -1 : String(x) > String(y) ? 1 : 0;
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  var explorers = REPORT.explorers;
  function show(section, id) {
    var ex = explorers[section];
    var box = document.getElementById("explorer-" + section);
    if (!ex || !box) return;
    var rows = ex.points[String(id)];
    if (!rows) return;
    var html = "<table class=\\"data\\" data-table=\\"point\\"><caption>point " + String(id).replace(/[<&"]/g, "") + "</caption><thead><tr><th>field</th><th class=\\"num\\">value</th></tr></thead><tbody>";
    rows.forEach(function (r) {
      var e = function (s) { return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;"); };
      html += "<tr><td>" + e(r[0]) + "</td><td class=\\"num\\">" + e(r[1]) + "</td></tr>";
    });
    box.innerHTML = html + "</tbody></table>";
    box.setAttribute("data-point", String(id));
  }
  document.querySelectorAll("tr.explore").forEach(function (tr) {
    tr.addEventListener("click", function () {
      var sec = tr.closest("section");
      show(sec.getAttribute("data-section"), tr.getAttribute("data-point"));
    });
  });
  var charts = REPORT.charts;
  Promise.all(charts.map(function (c, i) {
    return vegaEmbed("#chart-" + i, c.spec, { actions: false, renderer: "svg" }).then(function (res) {
      if (c.explore !== null) {
        var field = (explorers[c.explore] && explorers[c.explore].field) || "id";
        res.view.addEventListener("click", function (ev, item) {
          var d = item && item.datum;
          if (d && d[field] !== undefined && d[field] !== null) show(c.explore, d[field]);
        });
      }
      return res;
    });
  })).then(function () {
    // A link to a sweep point (report.html#point=7) opens it in the explorer.
    var m = /^#point=(.+)$/.exec(location.hash);
    var first = Object.keys(explorers)[0];
    if (m && first !== undefined) show(first, decodeURIComponent(m[1]));
    document.body.setAttribute("data-errors", String(window.__reportErrors.length));
    document.body.setAttribute("data-rendered", "true");
  }).catch(function (e) {
    document.body.setAttribute("data-rendered", "error");
    console.error("chart error: " + e);
    var p = document.createElement("p"); p.className = "err"; p.textContent = "chart error: " + e; document.body.prepend(p);
  });
})();
`;

/** The page's HTML; `libs` are the inlined vega / vega-lite / vega-embed bundles. */
export function renderReport(r: Report, libs: readonly string[]): string {
  const charts: { spec: unknown; explore: string | null }[] = [];
  const explorers: Record<string, unknown> = {};
  const used = new Set<string>();
  const nav: string[] = [];
  const body: string[] = [];
  for (const s of r.sections) {
    const id = slug(s.title, used);
    nav.push(`<a href="#${id}">${escapeHtml(s.title)}</a>`);
    body.push(sectionHtml(s, id, charts, explorers));
  }
  const verdict = r.verdict
    ? `<div class="verdict ${r.verdict.ok ? "pass" : "fail"}" data-verdict="${r.verdict.ok ? "pass" : "fail"}">${escapeHtml(r.verdict.text)}</div>`
    : "";
  const scripts = libs.map((src) => `<script>${src}</script>`).join("\n");
  const data = `const REPORT = ${scriptJson({ charts, explorers })};`;
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(r.title)}</title>`,
    `<style>${STYLE}</style>`,
    `<script>${GUARD}</script>`,
    scripts,
    "</head>",
    `<body data-report="${r.kind}" data-errors="0">`,
    `<header><h1>${escapeHtml(r.title)}</h1>${r.subtitle ? `<p class="sub">${escapeHtml(r.subtitle)}</p>` : ""}${verdict}</header>`,
    nav.length > 1 ? `<nav>${nav.join("")}</nav>` : "",
    "<main>",
    ...body,
    "</main>",
    `<script>${data}${BOOT}</script>`,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

function sectionHtml(
  s: Section,
  id: string,
  charts: { spec: unknown; explore: string | null }[],
  explorers: Record<string, unknown>,
): string {
  const out: string[] = [`<section id="${id}" data-section="${id}">`, `<h2>${escapeHtml(s.title)}</h2>`];
  if (s.note) out.push(`<p class="note">${escapeHtml(s.note)}</p>`);
  for (const c of s.charts ?? []) out.push(chartHtml(c, charts, s.explorer ? id : null));
  if (s.explorer) {
    // Between the charts and the table: what was clicked shows right under the charts.
    explorers[id] = { points: s.explorer.points, field: s.explorer.field ?? "id" };
    out.push(
      `<div class="explorer" id="explorer-${id}"><span class="hint">Click a point of a chart or a row of the table to see its full summary.</span></div>`,
    );
  }
  for (const t of s.tables ?? []) out.push(renderTable(t));
  if (s.text) {
    const pre = `<pre>${escapeHtml(s.text)}</pre>`;
    out.push(s.tables && s.tables.length > 0 ? `<details><summary>plain text</summary>${pre}</details>` : pre);
  }
  out.push("</section>");
  return out.join("\n");
}

function chartHtml(c: Chart, charts: { spec: unknown; explore: string | null }[], explore: string | null): string {
  const id = `chart-${charts.length}`;
  charts.push({ spec: interactiveSpec(c.spec), explore });
  return `<div class="chart" id="${id}" data-chart="${escapeHtml(c.name)}" title="${escapeHtml(c.title)}"></div>`;
}
