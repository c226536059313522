/**
 * Blocks of a request's own content (`Segment.unique`: a synthetic request's message, a RAG query) are registered out
 * of the prefix cache's map (`KvCache.registerOwn`) until a preemption enters them (`KvCache.mapOwn`), and the
 * approximate prefix index keeps their hashes out of its holder lists when no request is dispatched twice
 * (`LruHolderIndex.insert`'s `own`). Nothing a run reports may change: the cache against a reference cache that maps
 * every block (same evictions, events, free order, hits), the index against one that indexes every hash, and whole
 * runs against `ownBlocks: false` (preemption and re-admission, async scheduling on and off, KV events read by
 * llm-d-precise and dynamo-kv, CPU offload, P/D, client retries, the shipped RAG scenario).
 */
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { runScenario } from "../src/lab/run.ts";
import { KvCache, type KvSecondTier } from "../src/models/kv-cache.ts";
import { HolderLists } from "../src/policies/indexes/holder-lists.ts";
import { LruHolderIndex } from "../src/policies/indexes/lru-holder-index.ts";
import { loadScenario, parseScenario } from "../src/scenario.ts";

describe("KvCache.registerOwn / mapOwn", () => {
  it("a block with its own hash is cached, evicted, reported and offloaded as any other, but found only once mapped", () => {
    const kv = new KvCache(3, 16);
    const events: string[] = [];
    kv.listener = (kind, h) => events.push(`${kind} ${h}`);
    const evicted: number[] = [];
    const tier: KvSecondTier = { onEvict: (h) => evicted.push(h), lookup: () => 0, loadTime: () => 0 };
    kv.secondTier = tier;
    const a = kv.allocate();
    const b = kv.allocate();
    kv.register(a, 7);
    kv.registerOwn(b, 2 ** 52 + 5);
    expect(kv.blockHash(b)).toBe(2 ** 52 + 5);
    expect(kv.cachedBlocks).toBe(2);
    expect(kv.has(2 ** 52 + 5)).toBe(false);
    expect(kv.lookup(Float64Array.of(7, 2 ** 52 + 5), 2)).toBe(1);
    kv.checkInvariants();
    // Freed tail first: b, then a, then the fresh block 2 is taken first, then b (evicted), then a.
    kv.releaseAll([a, b]);
    expect(kv.allocate()).toBe(2);
    expect(kv.allocate()).toBe(b);
    expect(kv.evictions).toBe(1);
    expect(evicted).toEqual([2 ** 52 + 5]);
    expect(kv.blockHash(b)).toBe(-1);
    kv.checkInvariants();
    // mapOwn makes a block of its own findable, without a second event, and leaves other blocks as they are.
    kv.registerOwn(b, 99);
    kv.mapOwn(Int32Array.of(2, b), 0, 2);
    expect(kv.has(99)).toBe(true);
    expect(kv.blockOf(99)).toBe(b);
    expect(kv.blockHash(2)).toBe(-1);
    expect(kv.cachedBlocks).toBe(2);
    kv.checkInvariants();
    expect(events).toEqual([`stored 7`, `stored ${2 ** 52 + 5}`, `removed ${2 ** 52 + 5}`, "stored 99"]);
  });

  it("behaves as a cache that maps every block: same events, evictions, free order and hits (fast-check)", () => {
    // op 0: allocate + register a shared hash (0..9), 1: allocate + registerOwn a fresh hash, 2: release a held block,
    // 3: acquire a shared hash if cached, 4: map the held blocks' own hashes (a preemption does so before freeing).
    const op = fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 40 }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const own = new KvCache(8, 16);
        const ref = new KvCache(8, 16);
        const evOwn: string[] = [];
        const evRef: string[] = [];
        own.listener = (k, h) => evOwn.push(`${k} ${h}`);
        ref.listener = (k, h) => evRef.push(`${k} ${h}`);
        const held: number[] = [];
        let fresh = 1000;
        const both = (f: (kv: KvCache) => number) => {
          const x = f(own);
          expect(f(ref)).toBe(x);
          return x;
        };
        for (const [kind, v] of ops) {
          if (kind <= 1) {
            const b = both((kv) => kv.allocate());
            if (b < 0) continue;
            held.push(b);
            if (kind === 0) {
              own.register(b, v % 10);
              ref.register(b, v % 10);
            } else {
              const h = fresh++;
              own.registerOwn(b, h);
              ref.register(b, h);
            }
          } else if (kind === 2 && held.length > 0) {
            const b = held.splice(v % held.length, 1)[0]!;
            own.release(b);
            ref.release(b);
          } else if (kind === 3 && ref.has(v % 10)) {
            held.push(both((kv) => kv.acquire(v % 10)));
          } else if (kind === 4) {
            own.mapOwn(Int32Array.from(held), 0, held.length);
          }
          for (let h = 0; h < 10; h++) expect(own.has(h)).toBe(ref.has(h));
        }
        expect(evOwn).toEqual(evRef);
        expect(own.evictions).toBe(ref.evictions);
        expect(own.freeOrder()).toEqual(ref.freeOrder());
        expect(own.cachedBlocks).toBe(ref.cachedBlocks);
        for (let b = 0; b < 8; b++) expect(own.blockHash(b)).toBe(ref.blockHash(b));
        own.checkInvariants();
        // Once every held block is mapped, each hash a held block carries is found in both.
        own.mapOwn(Int32Array.from(held), 0, held.length);
        for (const b of held) expect(own.blockOf(ref.blockHash(b))).toBe(ref.blockOf(ref.blockHash(b)));
        own.checkInvariants();
      }),
      { seed: 4242, numRuns: 300 },
    );
  });
});

describe("KvCache private blocks (allocatePrivate / releasePrivate / numberPrivate)", () => {
  it("a cache whose blocks all stay private allocates no per-block records; the first numbered block does", () => {
    // 256 caches of an 8B model's 26,312 blocks: records for every block would be 256 × 421 KB = 108 MB.
    const before = process.memoryUsage().arrayBuffers;
    const caches: KvCache[] = [];
    for (let i = 0; i < 256; i++) {
      const kv = new KvCache(26_312, 16);
      expect(kv.allocatePrivate(2_000)).toBe(true);
      kv.releasePrivate(1_500, 0);
      expect(kv.allocatePrivate(3_000)).toBe(true);
      caches.push(kv);
    }
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(20 * 2 ** 20);
    // Numbering a block (a preemption) brings the records: the block's own, then any later one's.
    const kv = caches[0]!;
    const b = kv.numberPrivate();
    expect(kv.refCount(b)).toBe(1);
    const c = kv.allocate();
    expect(c).not.toBe(b);
    kv.register(c, 12345);
    expect(kv.blockHash(c)).toBe(12345);
    // numberPrivate numbers a block already held (no new one); allocate takes one more.
    expect(kv.usage).toBeCloseTo((3_500 + 1) / 26_312, 12);
    kv.checkInvariants();
  });

  it("take and free capacity as numbered blocks would: same evictions, free counts and hits (fast-check)", () => {
    // op 0: a numbered block with a shared hash (0..9); 1: a request's private blocks (`o` of its own content
    // registered, then anonymous ones); 2: free a held item, tail first; 3: hit a shared hash; 4: number a private
    // item (a preemption) and go on holding it as numbered blocks.
    const op = fc.tuple(
      fc.integer({ min: 0, max: 4 }),
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 0, max: 4 }),
    );
    fc.assert(
      // 12 blocks: the cache is often full; 40: the free ring wraps and is compacted with runs in it.
      fc.property(fc.array(op, { minLength: 200, maxLength: 1200 }), fc.constantFrom(12, 24, 40), (ops, blocks) => {
        const priv = new KvCache(blocks, 16);
        const ref = new KvCache(blocks, 16);
        // Held items: numbered blocks of `priv` (and the same numbers' counterparts of `ref`), or private runs.
        type Item = { p: number[]; r: number[]; own: number; anon: number; hashes: number[] };
        const held: Item[] = [];
        let fresh = 1000;
        for (const [kind, v, w] of ops) {
          if (kind === 0) {
            const a = priv.allocate();
            const b = ref.allocate();
            expect(a < 0).toBe(b < 0);
            if (a < 0) continue;
            priv.register(a, v % 10);
            ref.register(b, v % 10);
            held.push({ p: [a], r: [b], own: 0, anon: 0, hashes: [] });
          } else if (kind === 1) {
            const k = 1 + (v % 5);
            const o = Math.min(w, k);
            const ok = priv.allocatePrivate(k);
            expect(ok).toBe(ref.freeBlocks >= k);
            if (!ok) continue;
            const r: number[] = [];
            const hashes: number[] = [];
            for (let j = 0; j < k; j++) r.push(ref.allocate());
            for (let j = 0; j < o; j++) {
              hashes.push(fresh);
              ref.registerOwn(r[j]!, fresh++);
            }
            held.push({ p: [], r, own: o, anon: k - o, hashes });
          } else if (kind === 2 && held.length > 0) {
            const it = held.splice(v % held.length, 1)[0]!;
            if (it.own + it.anon > 0) priv.releasePrivate(it.anon, it.own);
            priv.releaseAll(it.p);
            ref.releaseAll(it.r);
          } else if (kind === 3 && ref.has(v % 10)) {
            const a = priv.acquire(v % 10);
            held.push({ p: [a], r: [ref.acquire(v % 10)], own: 0, anon: 0, hashes: [] });
          } else if (kind === 4 && held.length > 0) {
            // Numbered in place: the own blocks enter the map in both (the reference's via mapOwn).
            const it = held[v % held.length]!;
            if (it.own + it.anon === 0) continue;
            const nums: number[] = [];
            for (let j = 0; j < it.own + it.anon; j++) nums.push(priv.numberPrivate());
            for (let j = 0; j < it.own; j++) priv.register(nums[j]!, it.hashes[j]!);
            ref.mapOwn(Int32Array.from(it.r), 0, it.own);
            it.p.push(...nums);
            it.own = 0;
            it.anon = 0;
          }
          expect(priv.freeBlocks).toBe(ref.freeBlocks);
          expect(priv.evictions).toBe(ref.evictions);
          for (let h = 0; h < 10; h++) expect(priv.has(h)).toBe(ref.has(h));
          for (let h = 1000; h < fresh; h++) expect(priv.has(h)).toBe(ref.has(h));
        }
        priv.checkInvariants();
        ref.checkInvariants();
      }),
      { seed: 777, numRuns: 200 },
    );
  });
});

describe("LruHolderIndex.insert with hashes of their own", () => {
  it("holds, evicts and matches as an index that indexes every hash, its own hashes as runs (fast-check)", () => {
    // A request: `shared` hashes from a small pool (prefixes other requests repeat), then `own` fresh ones.
    const req = fc.record({
      replica: fc.integer({ min: 0, max: 2 }),
      shared: fc.array(fc.integer({ min: 0, max: 12 }), { maxLength: 6 }),
      own: fc.integer({ min: 0, max: 6 }),
    });
    fc.assert(
      fc.property(fc.array(req, { maxLength: 80 }), fc.integer({ min: 1, max: 12 }), (reqs, cap) => {
        const a = new LruHolderIndex(3);
        const b = new LruHolderIndex(3);
        let fresh = 1000;
        for (const r of reqs) {
          const hashes = Float64Array.from([...r.shared, ...Array.from({ length: r.own }, () => fresh++)]);
          // The reference first: its walk is what a later request with these shared hashes sees.
          const counts = [new Int32Array(3), new Int32Array(3)];
          expect(a.walk(hashes, r.shared.length, counts[0]!)).toBe(b.walk(hashes, r.shared.length, counts[1]!));
          expect(counts[0]).toEqual(counts[1]);
          a.insert(hashes, hashes.length, r.replica, cap, r.shared.length);
          b.insert(hashes, hashes.length, r.replica, cap);
          for (let rep = 0; rep < 3; rep++) {
            // A run stands for its hashes without keeping them: NaN in its place.
            expect(a.order(rep)).toEqual(b.order(rep).map((h) => (h >= 1000 ? Number.NaN : h)));
            expect(a.size(rep)).toBe(b.size(rep));
          }
          for (let h = 0; h < 13; h++) expect(a.holders(h)).toEqual(b.holders(h));
        }
      }),
      { seed: 99, numRuns: 300 },
    );
  });
});

const chat = (extra: string, engine: string, policy = "gie-default") =>
  parseScenario(
    `name: own
seed: 5
requests: 400
pools:
  - model: llama-3.1-8b-instruct
    replicas: 3
    engine: { ${engine} }
${extra}
gateway: { policy: ${policy}, kv_event_delay_ms: 5 }
workload:
  type: poisson
  rate: 40
  input: { dist: normal, mean: 700, std: 300, min: 1 }
  output: { dist: uniform, min: 1, max: 900 }
  prefix: { groups: 3, tokens: { dist: uniform, min: 0, max: 300 } }
`,
    "own.yaml",
    "scenarios",
  );

describe("whole runs with blocks of their own equal the reference (ownBlocks: false)", () => {
  afterEach(() => vi.restoreAllMocks());
  const cases: [string, () => ReturnType<typeof chat>, number, string?][] = [
    ["scarce KV: preemption and re-admission (async scheduling)", () => chat("", "total_kv_blocks: 700"), 5],
    [
      "scarce KV, synchronous scheduling",
      () => chat("", "total_kv_blocks: 700, async_scheduling: false, max_num_seqs: 64"),
      5,
    ],
    ["KV events read by llm-d-precise", () => chat("", "total_kv_blocks: 900", "llm-d-precise"), 0],
    ["KV events indexed by dynamo-kv", () => chat("", "total_kv_blocks: 700", "dynamo-kv"), 5],
    ["CPU offload tier", () => chat("", "total_kv_blocks: 600, cpu_kv_blocks: 400"), 5],
    [
      "P/D disaggregation (llm-d P/D EndpointPickerConfig)",
      () =>
        parseScenario(
          `name: own-pd
seed: 2
requests: 300
pools:
  - { name: prefill, model: llama-3.1-8b-instruct, replicas: 2, labels: { llm-d.ai/role: prefill } }
  - { name: decode, model: llama-3.1-8b-instruct, replicas: 2, engine: { total_kv_blocks: 2000 }, labels: { llm-d.ai/role: decode } }
gateway: { epp_config: epp/llm-d-pd.yaml }
kv_transfer: { link: rdma }
workload:
  type: poisson
  rate: 20
  input: { dist: normal, mean: 3000, std: 1500, min: 100 }
  output: { dist: uniform, min: 1, max: 400 }
  prefix: { groups: 2, tokens: 1000 }
`,
          "own-pd.yaml",
          "scenarios",
        ),
      0,
    ],
    [
      // Hits on free blocks leave stale entries in the free ring, compacted in place with runs in it.
      "the default scenario (bursty RAG and chat, scarce KV), with gie-default",
      () => loadScenario(undefined),
      0,
      "gie-default",
    ],
    [
      "the shipped RAG scenario, with gie-default",
      () => loadScenario(new URL("../scenarios/rag.yaml", import.meta.url).pathname),
      0,
      "gie-default",
    ],
    [
      "client retries: the router indexes every hash (a retried request looks its own up)",
      () => loadScenario(new URL("../scenarios/spike-retry-backoff.yaml", import.meta.url).pathname),
      0,
    ],
  ];
  for (const [what, load, minPreemptions, policy] of cases) {
    it(what, () => {
      const loaded = load();
      const o = policy !== undefined ? { policy } : {};
      const ref = runScenario(loaded, { ...o, ownBlocks: false, checkInvariants: true });
      const registerOwn = vi.spyOn(KvCache.prototype, "registerOwn");
      const mapOwn = vi.spyOn(KvCache.prototype, "mapOwn");
      const allocatePrivate = vi.spyOn(KvCache.prototype, "allocatePrivate");
      const numberPrivate = vi.spyOn(KvCache.prototype, "numberPrivate");
      const addUnlisted = vi.spyOn(HolderLists.prototype, "addUnlisted");
      const out = runScenario(loaded, { ...o, checkInvariants: true });
      // A second tier to feed: blocks of their own keep their hash (registerOwn); else they are private, held as
      // counts (allocatePrivate; no KV events), and numbered when their request is preempted.
      const feeds = /offload/.test(what);
      if (feeds) {
        expect(registerOwn.mock.calls.length).toBeGreaterThan(1000);
        expect(allocatePrivate).not.toHaveBeenCalled();
        if (minPreemptions > 0) expect(mapOwn).toHaveBeenCalled();
      } else {
        expect(allocatePrivate.mock.calls.length).toBeGreaterThan(1000);
        expect(registerOwn).not.toHaveBeenCalled();
        if (minPreemptions > 0) expect(numberPrivate).toHaveBeenCalled();
      }
      // The approximate prefix index (gie-default, the P/D config) when no request can be dispatched twice.
      const approx = !/llm-d-precise|dynamo-kv/.test(what);
      if (/retries/.test(what)) {
        expect(addUnlisted).not.toHaveBeenCalled();
        expect(out.summary.gateway.retries).toBeGreaterThan(0);
      } else if (approx) expect(addUnlisted.mock.calls.length).toBeGreaterThan(250); // a run per dispatch
      expect(out.summary.preemptions).toBeGreaterThanOrEqual(minPreemptions);
      expect(out.summary.requests.completed).toBeGreaterThan(100);
      expect(JSON.stringify(out.summary)).toBe(JSON.stringify(ref.summary));
    });
  }
});

describe("private blocks across engine settings equal the reference (ownBlocks: false) and stepping", () => {
  for (const engine of [
    "total_kv_blocks: 600, enable_prefix_caching: false",
    "total_kv_blocks: 600, scheduling_policy: priority",
    "total_kv_blocks: 700, long_prefill_token_threshold: 64, max_num_batched_tokens: 256",
    "total_kv_blocks: 9000, block_size: 1",
    "total_kv_blocks: 800, enable_chunked_prefill: false, max_num_batched_tokens: 8192",
  ]) {
    it(engine, () => {
      const loaded = chat("", engine);
      const ref = runScenario(loaded, { ownBlocks: false, checkInvariants: true });
      const out = runScenario(loaded, { checkInvariants: true });
      const stepped = runScenario(loaded, { fastForward: false });
      expect(out.summary.preemptions).toBeGreaterThan(20);
      expect(JSON.stringify(out.summary)).toBe(JSON.stringify(ref.summary));
      expect(JSON.stringify(stepped.summary)).toBe(JSON.stringify(ref.summary));
    });
  }
});
