/** Plain-text tables for people: a header row, aligned columns (numbers right-aligned), a rule under the header. */
export type Cell = string | number;

export function renderTable(
  header: readonly string[],
  rows: readonly (readonly Cell[])[],
  opts: { indent?: string } = {},
): string {
  const cells = [header.map(String), ...rows.map((r) => r.map((c) => (typeof c === "number" ? fmtNum(c) : c)))];
  const numeric = header.map(
    (_, j) =>
      rows.length > 0 &&
      // "∞" and "n/a" (fmtNum of non-finite values) and "-" (no value) keep a numeric column right-aligned.
      rows.every(
        (r) => typeof r[j] === "number" || /^[-+]?[\d.,]+[%x]?$|^[-+]?\d|^[-+]?∞|^n\/a$|^-$/.test(String(r[j])),
      ),
  );
  const width = header.map((_, j) => Math.max(...cells.map((r) => (r[j] ?? "").length)));
  const indent = opts.indent ?? "";
  const line = (r: readonly string[]) =>
    indent +
    r
      .map((c, j) => (j > 0 && numeric[j] ? c.padStart(width[j]!) : c.padEnd(width[j]!)))
      .join("  ")
      .trimEnd();
  const out = [line(cells[0]!), indent + width.map((w) => "─".repeat(w)).join("  ")];
  for (const r of cells.slice(1)) out.push(line(r));
  return out.join("\n");
}

/** Compact number formatting: integers with thousands separators, others with 3 significant decimals. */
export function fmtNum(x: number, digits?: number): string {
  if (!Number.isFinite(x)) return x > 0 ? "∞" : x < 0 ? "-∞" : "n/a";
  if (digits !== undefined) return x.toFixed(digits);
  if (Number.isInteger(x)) return x.toLocaleString("en-US");
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(1);
  if (a >= 10) return x.toFixed(2);
  return x.toFixed(3);
}

/** Relative change of b against a, as a signed percentage string ("+12.3%"), or "" when a is 0. */
export function fmtDelta(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || a === 0) return "";
  const d = ((b - a) / Math.abs(a)) * 100;
  if (Math.abs(d) < 0.05) return "±0%";
  return `${d > 0 ? "+" : ""}${d.toFixed(1)}%`;
}

export function fmtPct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}
