import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { applyTables, stalePages, TABLES } from "../scripts/build-docs-tables.ts";

describe("docs tables generated from the registries", () => {
  it("every docs page holds its registries' tables as they are now (run `npm run readme` after editing one)", () => {
    expect(stalePages()).toEqual([]);
  });

  it("a page whose table lags its registry is caught, and regenerating restores it", () => {
    const md = readFileSync(new URL("../docs/models.md", import.meta.url), "utf8");
    const stale = md.replace(/\| `kernel` \|[^\n]*\n/, "");
    expect(stale).not.toBe(md);
    expect(applyTables("models", stale)).toBe(md);
  });

  it("a page missing a table's markers is an error naming the table", () => {
    expect(() => applyTables("models", "# Models\n")).toThrow(/docs\/models\.md: missing <!-- generated:cost-models/);
    expect(Object.keys(TABLES)).toEqual(
      expect.arrayContaining(["cost-models", "trace-formats", "plugin-types", "outcomes", "drop-causes"]),
    );
  });
});
