import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

describe("README.md", () => {
  it("is the assembly of docs/ (run `npm run readme` after editing a chapter)", () => {
    const r = spawnSync(
      process.execPath,
      [new URL("../scripts/build-readme.mjs", import.meta.url).pathname, "--check"],
      {
        encoding: "utf8",
      },
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
