// The layering check: every file under src/ belongs to one layer, imports only files of its own layer or lower ones,
// and no chain of imports between files comes back to where it started (type-only and dynamic imports included).
// `node scripts/check-layers.mjs` prints the violations and exits 1 when there are any; `npm test` runs it.
//
// dependency-cruiser would do this, but it parses TypeScript through the `typescript` package's compiler API, which
// TypeScript 7 (the native compiler this project builds with) no longer ships; relative import specifiers are all
// this check needs, and Biome's formatting keeps them regular.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** Lowest first: a layer may import its own files and those of the layers before it. */
export const LAYERS = [
  { name: "kernel", paths: ["src/sim/", "src/errors.ts", "src/suggest.ts"] },
  { name: "models", paths: ["src/models/"] },
  { name: "gateway", paths: ["src/policies/"] },
  { name: "cluster", paths: ["src/cluster/"] },
  { name: "workloads", paths: ["src/workloads/"] },
  { name: "scenario", paths: ["src/scenario.ts", "src/scenario-bounds.ts", "src/scenarios-embedded.ts"] },
  { name: "metrics", paths: ["src/metrics/"] },
  { name: "report", paths: ["src/report/"] },
  { name: "lab", paths: ["src/lab/"] },
  { name: "cli", paths: ["src/cli/"] },
];

/** Index in LAYERS of a repository-relative path, or -1. */
export function layerOf(path) {
  return LAYERS.findIndex((l) => l.paths.some((p) => (p.endsWith("/") ? path.startsWith(p) : path === p)));
}

const IMPORT_RES = [
  /\b(import|export)(\s+type)?\s*(\{[^}]*\}|\*(?:\s+as\s+\w+)?|\w+(?:\s*,\s*\{[^}]*\})?)\s*from\s*"(\.{1,2}\/[^"]+)"/g, // import/export … from "…"
  /\bimport\s*\(\s*"(\.{1,2}\/[^"]+)"\s*\)/g, // import("…")
  /^\s*import\s*"(\.{1,2}\/[^"]+)"/gm, // import "…"
];

/**
 * Relative imports of a source text (comments removed first): specifier → whether every import of it is type-only
 * (`import type { … }`, `export type { … }`, or braces whose every name is `type X`).
 */
export function importMap(text) {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const out = new Map();
  const add = (spec, typeOnly) => out.set(spec, (out.get(spec) ?? true) && typeOnly);
  for (const m of code.matchAll(IMPORT_RES[0])) {
    const names = m[3].startsWith("{")
      ? m[3]
          .slice(1, -1)
          .split(",")
          .map((x) => x.trim())
          .filter(Boolean)
      : [];
    add(m[4], m[2] !== undefined || (names.length > 0 && names.every((n) => n.startsWith("type "))));
  }
  for (const re of IMPORT_RES.slice(1)) for (const m of code.matchAll(re)) add(m[1], false);
  return out;
}

/** Relative import specifiers of a source text. */
export function importsOf(text) {
  return [...importMap(text).keys()];
}

function listTs(root, dir) {
  const out = [];
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...listTs(root, p));
    else if (e.name.endsWith(".ts")) out.push(p);
  }
  return out;
}

/**
 * Checks the tree at `root` (default: this repository). `extra` adds or replaces files (path → text) before the
 * check, so a test can show that a deliberate back-edge is caught without writing into src/.
 * Returns the violations as sentences (empty: the layering holds).
 */
export function checkLayers({ root = join(dirname(fileURLToPath(import.meta.url)), ".."), extra = {} } = {}) {
  const files = new Map();
  for (const f of listTs(root, "src")) files.set(f, readFileSync(join(root, f), "utf8"));
  for (const [f, text] of Object.entries(extra)) files.set(f, text);
  const problems = [];
  const graph = new Map();
  for (const [file, text] of files) {
    const from = layerOf(file);
    if (from < 0) problems.push(`${file} belongs to no layer (add its folder to LAYERS in scripts/check-layers.mjs)`);
    const edges = [];
    for (const [spec, typeOnly] of importMap(text)) {
      const target = normalize(join(dirname(file), spec)).replaceAll("\\", "/");
      const to = layerOf(target);
      if (!files.has(target)) {
        problems.push(`${file} imports ${spec}, which is not a file under src/`);
        continue;
      }
      edges.push(target);
      if (from >= 0 && to > from) {
        problems.push(
          `${file} (${LAYERS[from].name}) imports ${target} (${LAYERS[to].name})${typeOnly ? " (types)" : ""}, a layer above it: ` +
            `layers point down (${LAYERS.map((l) => l.name).join(" < ")})`,
        );
      }
    }
    graph.set(file, edges);
  }
  for (const cycle of cycles(graph)) problems.push(`import cycle: ${[...cycle, cycle[0]].join(" → ")}`);
  return problems;
}

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
function cycles(graph) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const out = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(comp.reverse());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return out;
}

if (process.argv[1] && relative(process.argv[1], fileURLToPath(import.meta.url)) === "") {
  const problems = checkLayers();
  for (const p of problems) console.error(p);
  if (problems.length > 0) {
    console.error(`${problems.length} layering problem(s)`);
    process.exit(1);
  }
  console.log(`layers ok: ${LAYERS.map((l) => l.name).join(" < ")}; no import cycle; no exceptions`);
}
