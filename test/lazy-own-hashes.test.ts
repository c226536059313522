/**
 * A replica computes a request's block hashes only up to its first block of content of its own (`Segment.unique`)
 * while those blocks are private (`Seq` `lazyOwnHashes`): nothing reads their hashes until a preemption numbers
 * them (`Seq.ensureHashes`), and after a preemption on a replica every request there gets its hashes in full (a
 * later attempt of the preempted request could look its own blocks up). Whole runs with preemption, retries, KV
 * events and P/D against `ownBlocks: false` are in `own-blocks.test.ts`; here the sequence itself and the switch.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { runScenario } from "../src/lab/run.ts";
import { Replica } from "../src/models/replica.ts";
import { Seq } from "../src/models/seq.ts";
import { Cycle } from "../src/policies/epp/framework.ts";
import { ApproxPrefixProducer, prefixProducerParams, resolvePrefixSettings } from "../src/policies/epp/prefix.ts";
import { context, endpoints, request, routerInit } from "../src/policies/testing.ts";
import { parseScenario } from "../src/scenario.ts";
import { promptBlockHashes, type Segment } from "../src/sim/hash.ts";
import type { Request } from "../src/sim/request.ts";

// 100 shared tokens, then 150 of its own: blocks of 16 → 15 full blocks, the 7th (tokens 96–111) the first of its own.
const req: Request = {
  id: 1,
  arrival: 0,
  outputTokens: 20,
  prompt: [
    { id: 11, tokens: 100 },
    { id: 12, tokens: 150, unique: true },
  ],
  inputTokens: 250,
};

describe("Seq with lazyOwnHashes", () => {
  it("computes the hashes before its first block of its own, and the rest on demand, equal to the full chain", () => {
    const full = promptBlockHashes(req, 16);
    expect(full.length).toBe(15);
    const s = new Seq(req, 16, 1 << 20, undefined, undefined, true, true, true, true);
    expect(s.hashCount).toBe(15);
    expect(s.uniqueFrom).toBe(6);
    expect(s.privateFrom).toBe(6);
    expect([...s.hashes]).toEqual([...full.subarray(0, 6)]);
    expect([...s.ensureHashes()]).toEqual([...full]);
    expect(s.hashes.length).toBe(15);
  });

  it("computes them all when they may be read: numbered blocks, no prefix caching, hashes handed over, own blocks mapped", () => {
    const full = [...promptBlockHashes(req, 16)];
    const make = (privateBlocks: boolean, prefixCaching: boolean, given?: Float64Array, ownBlocks = true) =>
      new Seq(req, 16, 1 << 20, given, undefined, ownBlocks, privateBlocks, prefixCaching, true);
    expect([...make(false, true).hashes]).toEqual(full); // a second tier takes evicted hashes
    expect([...make(true, false).hashes]).toEqual(full);
    expect([...make(true, true, undefined, false).hashes]).toEqual(full); // ownBlocks: false, the reference
    const given = promptBlockHashes(req, 16);
    expect(make(true, true, given).hashes).toBe(given);
    // Without the flag (the replica saw a preemption): in full.
    expect([...new Seq(req, 16, 1 << 20, undefined, undefined, true, true, true, false).hashes]).toEqual(full);
  });
});

describe("a replica's switch to full hashes", () => {
  afterEach(() => vi.restoreAllMocks());
  it("after a preemption on a replica, its requests' hashes are computed in full; before, only up to their own content", () => {
    const loaded = parseScenario(
      `name: lazy-switch
seed: 4
requests: 400
pools:
  - { model: llama-3.1-8b-instruct, replicas: 2, engine: { total_kv_blocks: 700 } }
gateway: { policy: round-robin }
workload:
  type: poisson
  rate: 40
  input: { dist: normal, mean: 1500, std: 600, min: 64 }
  output: { dist: uniform, min: 50, max: 400 }
  prefix: { groups: 2, tokens: 200 }
`,
      "lazy-switch.yaml",
      ".",
    );
    const ref = runScenario(loaded, { ownBlocks: false, checkInvariants: true });
    const seen: { afterPreemption: boolean; partial: boolean }[] = [];
    const make = Replica.prototype.makeSeq;
    vi.spyOn(Replica.prototype, "makeSeq").mockImplementation(function (this: Replica, ...args) {
      const afterPreemption = (this as unknown as { ownLookedUp: boolean }).ownLookedUp;
      const s = make.apply(this, args);
      if (s.uniqueFrom < s.hashCount) seen.push({ afterPreemption, partial: s.hashes.length < s.hashCount });
      return s;
    });
    const ensure = vi.spyOn(Seq.prototype, "ensureHashes");
    const out = runScenario(loaded, { checkInvariants: true });
    expect(out.summary.preemptions).toBeGreaterThan(5);
    const before = seen.filter((x) => !x.afterPreemption);
    const after = seen.filter((x) => x.afterPreemption);
    expect(before.length).toBeGreaterThan(20);
    expect(after.length).toBeGreaterThan(20);
    expect(before.every((x) => x.partial)).toBe(true);
    expect(after.some((x) => x.partial)).toBe(false);
    // A preempted request's private blocks are numbered with their hashes: computed then.
    expect(ensure).toHaveBeenCalled();
    expect(JSON.stringify(out.summary)).toBe(JSON.stringify(ref.summary));
  });
});

describe("the approximate prefix producer asks for its hashes before a request's own content only", () => {
  it("matches and holds as a producer that loads every hash, with its context handing out short arrays", () => {
    const eps = endpoints(4);
    for (const variant of ["llm-d-router-2026-08", "gie-r1.5", "gie-v1.0"] as const) {
      const base = routerInit(4, { blockSize: 16, numGpuBlocks: [40, 60, 80, 1000] });
      const lazy = new ApproxPrefixProducer(
        "lazy",
        resolvePrefixSettings(prefixProducerParams.parse({}), { ...base, singleDispatch: true }, variant),
        { ...base, singleDispatch: true },
      );
      const full = new ApproxPrefixProducer(
        "full",
        resolvePrefixSettings(prefixProducerParams.parse({}), base, variant),
        base,
      );
      let asked = 0;
      let longest = 0;
      for (let k = 0; k < 300; k++) {
        // Shared system prompts of 0–300 tokens (3 of them), then the request's own 1–400 tokens (some requests
        // none): full blocks, partial tails, prompts shorter than a block.
        const sys = (k * 7) % 4;
        const segs: Segment[] = sys === 0 ? [] : [{ id: 100 + sys, tokens: sys * 100 }];
        if (k % 9 !== 0) segs.push({ id: 10_000 + k, tokens: 1 + ((k * 37) % 400), unique: true });
        if (segs.length === 0) segs.push({ id: 5, tokens: 30 });
        const req = request(segs);
        const ctxFull = context(req, eps);
        const ctxLazy = {
          ...context(req, eps),
          promptHashPrefix: (bs: number, count: number) => {
            asked++;
            const h = promptBlockHashes(req, bs, count);
            longest = Math.max(longest, h.length);
            return h;
          },
        };
        const a = full.match(new Cycle(2 * k, req, ctxFull));
        const cl = new Cycle(2 * k + 1, req, ctxLazy);
        const b = lazy.match(cl);
        expect([b.totalBlocks, b.noMatch, [...b.matchBlocks]]).toEqual([a.totalBlocks, a.noMatch, [...a.matchBlocks]]);
        const r = (k * 5) % 4;
        full.onDispatch(req, r, 0, new Cycle(2 * k, req, ctxFull));
        lazy.onDispatch(req, r, 0, cl);
        // Without a cycle (a dispatch the router did not decide): computed here, as far as needed.
        if (k % 50 === 49) {
          const again = request([{ id: 100 + sys, tokens: sys * 100 + 5 }]);
          full.onDispatch(again, (r + 1) % 4, 0, undefined);
          lazy.onDispatch(again, (r + 1) % 4, 0, undefined);
        }
        for (let i = 0; i < 4; i++) expect(lazy.size(i)).toBe(full.size(i));
      }
      expect(asked).toBeGreaterThan(100);
      // Never more than the shared part: at most 300 tokens of system prompt, 4 blocks of 64 or 18 of 16.
      expect(longest).toBeLessThanOrEqual(19);
    }
  });
});
