/**
 * The random streams step seedrandom's Alea themselves (src/sim/rng.ts): every draw must be bit-identical to
 * seedrandom's own generator for the same seed, and `skip(k)` must leave the stream exactly where k draws would.
 */
import fc from "fast-check";
import seedrandom from "seedrandom";
import { describe, expect, it } from "vitest";
import { hashString, mix } from "../src/sim/hash.ts";
import { rngStream, setShuffleKernel } from "../src/sim/rng.ts";
import { SHUFFLE_KERNEL_MAX_N, shuffleKernel } from "../src/sim/wasm-shuffle.ts";

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
    for (const k of [0, 1, 2, 3, 31, 511, 512, 513, 1023, 2047, 2048, 2049, 4095, 100_000]) {
      const a = rngStream(9, `skip${k}`);
      const b = seedrandom.alea(seedString(9, `skip${k}`));
      for (let round = 0; round < 3; round++) {
        a.skip(k);
        for (let i = 0; i < k; i++) b();
        for (let i = 0; i < 5; i++) expect(a.next()).toBe(b());
      }
    }
  });

  it("shuffleIndices(perm, n) is Fisher–Yates with int(i + 1) for i = n − 1 … 1: same permutation, same stream after", () => {
    for (let seed = 0; seed < 40; seed++) {
      const a = rngStream(seed, "shuffle");
      const b = rngStream(seed, "shuffle");
      const pa = new Int32Array(1500);
      const pb = new Int32Array(1500);
      for (let round = 0; round < 12; round++) {
        const n = [0, 1, 2, 3, 7, 64, 1024, 1500][(seed + round) % 8]!;
        pa.fill(-7);
        a.shuffleIndices(pa, n);
        for (let i = 0; i < n; i++) pb[i] = i;
        for (let i = n - 1; i > 0; i--) {
          const j = b.int(i + 1);
          const t = pb[i]!;
          pb[i] = pb[j]!;
          pb[j] = t;
        }
        expect(Array.from(pa.subarray(0, n))).toEqual(Array.from(pb.subarray(0, n)));
        if (n < pa.length) expect(pa[n]).toBe(-7); // nothing written past n
        expect(a.next()).toBe(b.next());
      }
    }
  });

  it("the WebAssembly shuffle kernel gives the JavaScript loop's permutation and stream, up to its length bound", () => {
    expect(shuffleKernel()).toBeDefined(); // Node 20 has WebAssembly: the kernel is what runs
    const lengths = [2, 3, 5, 16, 17, 255, 1024, 4093, 16_380, 16_381, 40_000, SHUFFLE_KERNEL_MAX_N];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 0, max: lengths.length - 1 }), (seed, li) => {
        const n = lengths[li]!;
        const a = rngStream(seed, "routing");
        const b = rngStream(seed, "routing");
        a.skip(seed % 7); // carries and digits from anywhere in the stream
        b.skip(seed % 7);
        const pa = new Int32Array(n);
        const pb = new Int32Array(n);
        try {
          setShuffleKernel(false);
          b.shuffleIndices(pb, n);
        } finally {
          setShuffleKernel(true);
        }
        const c = rngStream(seed, "routing");
        c.skip(seed % 7);
        if (seed % 2 === 0) a.shuffleIndices(pa, n);
        else pa.set(a.shuffled(n).subarray(0, n)); // the kernel's buffer, no copy
        let diff = -1;
        for (let i = 0; i < n && diff < 0; i++) if (pa[i] !== pb[i]) diff = i;
        expect(diff).toBe(-1);
        for (let k = 0; k < 4; k++) expect(a.next()).toBe(b.next());
        // Without the kernel, `shuffled` gives the same permutation from its own buffer.
        try {
          setShuffleKernel(false);
          const pc = c.shuffled(n);
          diff = -1;
          for (let i = 0; i < n && diff < 0; i++) if (pc[i] !== pb[i]) diff = i;
          expect(diff).toBe(-1);
        } finally {
          setShuffleKernel(true);
        }
        c.skip(4); // a and b drew 4 above
        expect(c.next()).toBe(b.next());
      }),
      { seed: 5, numRuns: 60 },
    );
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
