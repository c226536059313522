/**
 * The random streams step seedrandom's Alea themselves (src/sim/rng.ts): every draw must be bit-identical to
 * seedrandom's own generator for the same seed, and `skip(k)` must leave the stream exactly where k draws would.
 */
import seedrandom from "seedrandom";
import { describe, expect, it } from "vitest";
import { hashString, mix } from "../src/sim/hash.ts";
import { rngStream } from "../src/sim/rng.ts";

const seedString = (seed: number, purpose: string) => `${seed}:${purpose}:${mix(hashString(purpose), seed >>> 0)}`;

describe("rngStream", () => {
  it("draws exactly what seedrandom.alea draws for the same seed string (100,000 draws, 6 streams)", () => {
    for (const [seed, purpose] of [
      [42, "arrivals"],
      [1, "routing"],
      [0, "x"],
      [4294967295, "workload:0"],
      [7, ""],
      [123456, "retries"],
    ] as const) {
      const ours = rngStream(seed, purpose);
      const theirs = seedrandom.alea(seedString(seed, purpose));
      for (let i = 0; i < 100_000; i++) {
        const a = ours.next();
        const b = theirs();
        if (a !== b) expect({ seed, purpose, i, a }).toEqual({ seed, purpose, i, a: b });
      }
    }
  });

  it("skip(k) leaves the stream where k draws leave it: short skips (stepping) and long ones (the jump)", () => {
    for (const k of [0, 1, 2, 3, 31, 511, 512, 513, 1023, 4095, 100_000]) {
      const a = rngStream(9, `skip${k}`);
      const b = seedrandom.alea(seedString(9, `skip${k}`));
      for (let round = 0; round < 3; round++) {
        a.skip(k);
        for (let i = 0; i < k; i++) b();
        for (let i = 0; i < 5; i++) expect(a.next()).toBe(b());
      }
    }
  });

  it("int(n) is floor(next() × n), in [0, n)", () => {
    const a = rngStream(3, "int");
    const b = rngStream(3, "int");
    for (let i = 0; i < 10_000; i++) {
      const n = 1 + (i % 1024);
      const k = a.int(n);
      expect(k).toBe(Math.floor(b.next() * n));
      expect(k >= 0 && k < n).toBe(true);
    }
  });
});
