import { describe, expect, it } from "vitest";
import { z } from "zod";
import { schemaIssueText, valueAtPath } from "../src/errors.ts";

const Schema = z.strictObject({
  format: z.literal("f/1"),
  n: z.number().int().positive(),
  share: z.number().min(0).max(1),
  list: z.array(z.strictObject({ name: z.string() })),
  kind: z.enum(["a", "b"]).optional(),
  tags: z.array(z.string().min(1)).min(1).max(2).optional(),
});

function first(raw: unknown): string {
  const r = Schema.safeParse(raw);
  if (r.success) throw new Error("expected a failure");
  const i = r.error.issues[0]!;
  return `${i.path.join(".")}: ${schemaIssueText(i, raw)}`;
}

const ok = { format: "f/1", n: 2, share: 0.5, list: [{ name: "x" }] };

describe("schemaIssueText", () => {
  it("names a missing key with what was expected (a literal's value too)", () => {
    const { format: _f, ...noFormat } = ok;
    expect(first(noFormat)).toBe('format: missing (expected "f/1")');
    const { n: _n, ...noN } = ok;
    expect(first(noN)).toBe("n: missing (expected number)");
    expect(first({ ...ok, list: [{}] })).toBe("list.0.name: missing (expected string)");
  });

  it("shows what is written where the type is wrong", () => {
    expect(first({ ...ok, n: "two" })).toBe('n: expected number, got "two"');
    expect(first({ ...ok, n: null })).toBe("n: expected number, got nothing");
    expect(first({ ...ok, list: { a: 1 } })).toBe("list: expected array, got a mapping");
    expect(first({ ...ok, list: [[1]] })).toBe("list.0: expected object, got a list");
  });

  it("states a numeric bound with the value", () => {
    expect(first({ ...ok, n: 0 })).toBe("n: expected a number > 0, got 0");
    expect(first({ ...ok, share: -0.5 })).toBe("share: expected a number ≥ 0, got -0.5");
    expect(first({ ...ok, share: 2 })).toBe("share: expected a number ≤ 1, got 2");
  });

  it("says a list or text of the wrong length in words (zod: 'Too small: expected array to have >=1 items')", () => {
    expect(first({ ...ok, tags: [] })).toBe("tags: expected at least 1 item, got an empty list");
    expect(first({ ...ok, tags: ["a", "b", "c"] })).toBe("tags: expected at most 2 items, got 3 items");
    expect(first({ ...ok, tags: [""] })).toBe('tags.0: expected a non-empty string, got ""');
  });

  it("lists an enum's choices with the value written", () => {
    expect(first({ ...ok, kind: "c" })).toBe('kind: expected one of a, b, got "c"');
  });

  it("keeps the message of other issues", () => {
    expect(first({ ...ok, n: 1.5 })).toMatch(/^n: /);
    expect(first({ ...ok, extra: 1 })).toMatch(/Unrecognized key/);
  });

  it("valueAtPath walks mappings and lists and tells a missing key from a null value", () => {
    const raw = { a: [{ b: null }] };
    expect(valueAtPath(raw, ["a", 0, "b"])).toEqual({ has: true, value: null });
    expect(valueAtPath(raw, ["a", 0, "c"])).toEqual({ has: false, value: undefined });
    expect(valueAtPath(raw, ["a", 3])).toEqual({ has: false, value: undefined });
    expect(valueAtPath(7, ["x"])).toEqual({ has: false, value: undefined });
  });
});
