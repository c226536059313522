import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IdTable } from "../src/sim/id-table.ts";

describe("IdTable", () => {
  it("behaves like Map<number, object> under random set/delete/get (fast-check)", () => {
    const op = fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 300 }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const t = new IdTable<{ v: number }>();
        const m = new Map<number, { v: number }>();
        let n = 0;
        for (const [kind, id] of ops) {
          if (kind === 0) {
            const o = { v: n++ };
            t.set(id, o);
            m.set(id, o);
          } else if (kind === 1) {
            expect(t.delete(id)).toBe(m.delete(id));
          }
          expect(t.get(id)).toBe(m.get(id));
          expect(t.has(id)).toBe(m.has(id));
          expect(t.size).toBe(m.size);
        }
        for (const [id, o] of m) expect(t.get(id)).toBe(o);
      }),
    );
  });

  it("keeps no reference to a deleted object and reuses its slot", () => {
    const t = new IdTable<{ id: number }>();
    const objs = Array.from({ length: 1000 }, (_, id) => ({ id }));
    // Requests come and go: at most 10 in flight, ids dense and increasing (as the engine's).
    for (const o of objs) {
      t.set(o.id, o);
      if (o.id >= 10) t.delete(o.id - 10);
    }
    expect(t.size).toBe(10);
    const items = (t as unknown as { items: unknown[] }).items;
    // Eleven slots in all (eleven in flight at most: each request is set before the oldest leaves), ten of them
    // holding the requests still in flight: the 990 gone are held nowhere.
    expect(items.length).toBe(11);
    expect(items.filter((x) => x !== undefined).length).toBe(10);
    for (const o of objs.slice(0, 990)) expect(items.includes(o)).toBe(false);
    for (const o of objs.slice(990)) expect(t.get(o.id)).toBe(o);
  });

  it("replaces the object of an id set twice without taking a second slot", () => {
    const t = new IdTable<string>();
    t.set(2 ** 40, "a");
    t.set(2 ** 40, "b");
    expect(t.size).toBe(1);
    expect(t.get(2 ** 40)).toBe("b");
    expect(t.delete(2 ** 40)).toBe(true);
    expect(t.delete(2 ** 40)).toBe(false);
    expect(t.get(2 ** 40)).toBeUndefined();
  });
});
