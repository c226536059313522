// Assembles README.md from docs/: readme-head.md, the reference chapters (headings shifted one level down), and
// readme-tail.md. `node scripts/build-readme.mjs` writes README.md; `--check` exits 1 if README.md is out of date.
// The chapters stay in docs/ (code comments point at them); README.md is the one document to read.
import { readFileSync, writeFileSync } from "node:fs";

const CHAPTERS = [
  "models",
  "workloads",
  "gateway",
  "admission",
  "lab",
  "fidelity",
  "calibration",
  "inference-perf",
  "ecosystem",
  "reliability",
];
const doc = (name) => readFileSync(new URL(`../docs/${name}.md`, import.meta.url), "utf8");

function shift(md) {
  let fence = false;
  return md
    .split("\n")
    .map((line) => {
      if (line.startsWith("```")) fence = !fence;
      return !fence && /^#{1,5} /.test(line) ? `#${line}` : line;
    })
    .join("\n");
}

export function buildReadme() {
  const parts = [doc("readme-head").trimEnd()];
  for (const c of CHAPTERS) parts.push(shift(doc(c)).trimEnd());
  parts.push(doc("readme-tail").trimEnd());
  return `${parts.join("\n\n")}\n`;
}

const out = buildReadme();
const target = new URL("../README.md", import.meta.url);
if (process.argv.includes("--check")) {
  let cur = "";
  try {
    cur = readFileSync(target, "utf8");
  } catch {}
  if (cur !== out) {
    process.stderr.write("README.md is out of date: run `npm run readme`\n");
    process.exit(1);
  }
} else writeFileSync(target, out);
