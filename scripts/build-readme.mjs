// Assembles README.md from docs/: readme-head.md (the front page: what gatelab is, the two commands, the three jobs),
// a table of contents of the chapters below (title and sections of each, read from the chapter itself), and
// readme-tail.md. `node scripts/build-readme.mjs` writes README.md; `--check` exits 1 if README.md is out of date.
// The chapters are the documentation; a new one is a file in docs/ plus one line in CHAPTERS.
import { readFileSync, writeFileSync } from "node:fs";

const CHAPTERS = [
  "reference",
  "simulation",
  "models",
  "workloads",
  "gateway",
  "admission",
  "lab",
  "fidelity",
  "calibration",
  "vllm-engine",
  "inference-perf",
  "ecosystem",
  "reliability",
  "performance",
  "development",
];
const doc = (name) => readFileSync(new URL(`../docs/${name}.md`, import.meta.url), "utf8");

/** The chapter's title (its `# ` heading) and its sections (`## ` headings), outside code fences. */
export function outline(md) {
  let fence = false;
  let title = "";
  const sections = [];
  for (const line of md.split("\n")) {
    if (line.startsWith("```")) fence = !fence;
    if (fence) continue;
    if (line.startsWith("# ") && title === "") title = line.slice(2).trim();
    else if (line.startsWith("## ")) sections.push(line.slice(3).trim());
  }
  return { title, sections };
}

function toc() {
  const rows = CHAPTERS.map((c) => {
    const { title, sections } = outline(doc(c));
    return `| [${title}](docs/${c}.md) | ${sections.join(" · ").replaceAll("|", "\\|")} |`;
  });
  return ["| chapter | sections |", "|---|---|", ...rows].join("\n");
}

export function buildReadme() {
  return `${[doc("readme-head").trimEnd(), toc(), doc("readme-tail").trimEnd()].join("\n\n")}\n`;
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
