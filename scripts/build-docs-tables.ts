// The docs tables that list a registry's entries, generated from the registry: cost models (src/models/cost-factory.ts
// COST_MODELS), trace formats (src/workloads/trace-formats.ts), EndpointPickerConfig plugin types
// (src/policies/epp/catalog.ts) and request outcomes and drop causes (src/sim/outcomes.ts). Each table sits in its
// docs page between `<!-- generated:NAME … -->` and `<!-- /generated -->`; this script rewrites those regions.
// `npm run readme` runs it (then builds README.md); `--check` exits 1 when a page is out of date, and
// test/docs-tables.test.ts fails then. A new table: a renderer in TABLES and the two markers in its page.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { COST_MODEL_KINDS, COST_MODELS } from "../src/models/cost-factory.ts";
import { PLUGIN_ALIASES, PLUGIN_TYPES, type PluginStatus, registryCounts } from "../src/policies/epp/catalog.ts";
import { DROP_REASON_INFO, OUTCOME_INFO } from "../src/sim/outcomes.ts";
import { TRACE_FORMAT_REGISTRY, TRACE_FORMATS } from "../src/workloads/trace-formats.ts";

const cell = (s: string): string => s.replaceAll("|", "\\|").replaceAll("\n", " ");
const code = (s: string): string => `\`${s}\``;

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `| ${head.join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`),
  ].join("\n");
}

function costModels(): string {
  return table(
    ["`type`", "what it prices", "fields besides `type`", "coefficient files", "`gatelab calibrate --model`"],
    COST_MODEL_KINDS.map((k) => {
      const e = COST_MODELS[k];
      const fields = Object.keys(e.schema.shape)
        .filter((f) => f !== "type")
        .map(code)
        .join(", ");
      const files =
        e.coefficients === undefined
          ? "—"
          : "beta" in e.coefficients
            ? `${e.coefficients.beta} β values`
            : "one β row per (model, GPU, TP)";
      return [code(k), e.docs, fields, files, e.calibration !== undefined ? "yes" : "—"];
    }),
  );
}

function traceFormats(): string {
  return table(
    ["format", "file", "columns / fields used", "prompt content", "chosen without `format:` for", "written"],
    TRACE_FORMATS.map((f) => {
      const e = TRACE_FORMAT_REGISTRY[f];
      const w = e.write === undefined ? "—" : e.write.suffix !== undefined ? `yes (\`*${e.write.suffix}\`)` : "yes";
      return [code(f), e.docs.file, e.docs.fields, e.docs.content, e.docs.detect, w];
    }),
  );
}

/** What each status means (prose of the docs; the counts come from the registry). */
const STATUS_MEANING: Record<PluginStatus, string> = {
  simulated: "parameters validated, behaviour modelled",
  "no-op":
    "runs, with a note in the run's output: it cannot change a routing decision in gatelab (parsers, reporters, " +
    "header handlers, data sources no simulated plugin reads, topology/multimodal plugins whose inputs text-only " +
    "requests without node topology never have)",
  "not-simulated": 'loads; refused when run: "recognised, not simulated: <why>"',
  "test-only":
    "the loader tests' mock types (`test-plugin`, `test-scorer`, …), validated like the mocks, refused when run",
};

function pluginStatuses(): string {
  const counts = registryCounts();
  return table(
    ["status", "count", "meaning"],
    (Object.keys(STATUS_MEANING) as PluginStatus[]).map((s) => [s, String(counts[s]), STATUS_MEANING[s]]),
  );
}

function pluginTypes(): string {
  const aliases = new Map<string, string[]>();
  for (const [alias, canon] of PLUGIN_ALIASES) aliases.set(canon, [...(aliases.get(canon) ?? []), alias]);
  const rows = [...PLUGIN_TYPES.values()]
    .sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0))
    .map((t) => {
      const a = aliases.get(t.type);
      const name = code(t.type) + (a !== undefined ? ` (alias ${a.map(code).join(", ")})` : "");
      const why = t.why !== undefined && !t.summary.includes(t.why) ? ` — ${t.why}` : "";
      return [name, t.kind, t.status, t.summary + why];
    });
  return table(["type", "kind", "status", "what it does (and why, when not simulated)"], rows);
}

function outcomes(): string {
  return table(
    ["outcome", "HTTP status", "meaning"],
    Object.values(OUTCOME_INFO).map((o) => [code(o.name), o.status || "—", o.doc]),
  );
}

function dropCauses(): string {
  return table(
    ["cause (`dropped_by_cause`)", "gateway counter", "HTTP status", "meaning"],
    Object.values(DROP_REASON_INFO)
      .filter((d) => d.counter !== "")
      .map((d) => [code(d.name), code(d.counter), d.status, d.doc]),
  );
}

/** Every generated table: its docs page and renderer. */
export const TABLES: Record<string, { readonly page: string; render(): string }> = {
  "cost-models": { page: "models", render: costModels },
  "trace-formats": { page: "workloads", render: traceFormats },
  "plugin-statuses": { page: "gateway", render: pluginStatuses },
  "plugin-types": { page: "gateway", render: pluginTypes },
  outcomes: { page: "admission", render: outcomes },
  "drop-causes": { page: "admission", render: dropCauses },
};

const REGION = /(<!-- generated:([\w-]+)[^\n]*-->\n)[\s\S]*?(<!-- \/generated -->)/g;

/** `md` (the docs page `page`) with its generated regions rewritten; throws if a table of the page has no region. */
export function applyTables(page: string, md: string): string {
  const seen = new Set<string>();
  const out = md.replace(REGION, (_m, open: string, name: string, close: string) => {
    const t = TABLES[name];
    if (t === undefined || t.page !== page)
      throw new Error(`docs/${page}.md: no generated table "${name}" belongs here`);
    seen.add(name);
    return `${open}${t.render()}\n${close}`;
  });
  for (const [name, t] of Object.entries(TABLES)) {
    if (t.page === page && !seen.has(name)) {
      throw new Error(`docs/${page}.md: missing <!-- generated:${name} --> … <!-- /generated --> region`);
    }
  }
  return out;
}

const pagePath = (page: string) => new URL(`../docs/${page}.md`, import.meta.url);

/** The pages whose generated regions differ from what the registries give. */
export function stalePages(): string[] {
  const pages = [...new Set(Object.values(TABLES).map((t) => t.page))];
  return pages.filter((p) => {
    const md = readFileSync(pagePath(p), "utf8");
    return applyTables(p, md) !== md;
  });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes("--check")) {
    const stale = stalePages();
    if (stale.length > 0) {
      process.stderr.write(`out of date: ${stale.map((p) => `docs/${p}.md`).join(", ")}: run \`npm run readme\`\n`);
      process.exit(1);
    }
  } else {
    for (const p of new Set(Object.values(TABLES).map((t) => t.page))) {
      const md = readFileSync(pagePath(p), "utf8");
      const next = applyTables(p, md);
      if (next !== md) writeFileSync(pagePath(p), next);
    }
  }
}
