// Pickers, filters and saturation detection against the upstream rules (docs/reference.md#endpoint-picker-pipeline,
// #endpoint-picker-filters-and-saturation-detectors, #flow-control).
import { describe, expect, it } from "vitest";
import { affinityFilterParams, PrefixCacheAffinityFilter } from "../src/policies/epp/affinity-filter.ts";
import {
  DecisionTreeFilter,
  LabelSelectorFilter,
  LeastKvCacheFilter,
  LeastQueueFilter,
  LoraAffinityFilter,
  LowQueueFilter,
  RoleFilter,
} from "../src/policies/epp/filters.ts";
import { Cycle, type Filter, type Picker } from "../src/policies/epp/framework.ts";
import { InflightLoadProducer } from "../src/policies/epp/inflight.ts";
import { MaxScorePicker, RandomPicker, WeightedRandomPicker } from "../src/policies/epp/pickers.ts";
import { ApproxPrefixProducer, prefixProducerParams, resolvePrefixSettings } from "../src/policies/epp/prefix.ts";
import {
  ConcurrencyDetector,
  concurrencyParams,
  concurrencySaturation,
  DEFAULT_UTILIZATION,
  isSaturated,
  UtilizationDetector,
  utilizationParams,
  utilizationSaturation,
} from "../src/policies/epp/saturation.ts";
import { context, endpoints, localLoad, request, routerInit } from "../src/policies/testing.ts";
import type { EndpointView, RoutingContext } from "../src/policies/types.ts";
import type { Request } from "../src/sim/request.ts";
import { rngStream } from "../src/sim/rng.ts";

let cycleId = 0;
const anyReq = request([{ id: 1, tokens: 10 }]);
const cyc = (req: Request, ctx: RoutingContext) => new Cycle(++cycleId, req, ctx);
const idx = (eps: readonly EndpointView[]) => eps.map((e) => e.index);
function filt(f: Filter, ctx: RoutingContext, req: Request = anyReq): number[] {
  return idx(f.filter(cyc(req, ctx), ctx.endpoints));
}

function pickMany(p: Picker, scores: number[], draws: number, seed = 7): number[] {
  const eps = endpoints(scores.length);
  const rng = rngStream(seed, "routing");
  const counts = new Array<number>(scores.length).fill(0);
  for (let i = 0; i < draws; i++) {
    const k = p.pick(cyc(anyReq, context(anyReq, eps, { rng })), eps, Float64Array.from(scores));
    counts[k]!++;
  }
  return counts;
}

describe("max-score-picker", () => {
  it("takes the highest total", () => {
    expect(pickMany(new MaxScorePicker("m"), [0.2, 0.9, 0.5], 50)).toEqual([0, 50, 0]);
  });
  it("breaks ties uniformly at random with the routing stream, deterministically for a seed", () => {
    const a = pickMany(new MaxScorePicker("m"), [1, 1, 1, 0], 3000, 7);
    const b = pickMany(new MaxScorePicker("m"), [1, 1, 1, 0], 3000, 7);
    expect(a).toEqual(b);
    expect(a[3]).toBe(0);
    for (const c of a.slice(0, 3)) expect(c / 3000).toBeGreaterThan(0.3);
    expect(pickMany(new MaxScorePicker("m"), [1, 1, 1, 0], 3000, 8)).not.toEqual(a);
    const seq = (seed: number) => {
      const eps = endpoints(4);
      const rng = rngStream(seed, "routing");
      const p = new MaxScorePicker("m");
      return Array.from({ length: 20 }, () =>
        p.pick(cyc(anyReq, context(anyReq, eps, { rng })), eps, Float64Array.from([1, 1, 1, 1])),
      );
    };
    expect(seq(42)).toEqual(seq(42));
  });
  it("all-equal scores pick uniformly; empty list → -1", () => {
    const c = pickMany(new MaxScorePicker("m"), [0, 0], 2000);
    expect(c[0]! / 2000).toBeGreaterThan(0.45);
    expect(c[0]! / 2000).toBeLessThan(0.55);
    expect(new MaxScorePicker("m").pick(cyc(anyReq, context(anyReq, [])), [], new Float64Array(0))).toBe(-1);
  });
});

describe("random-picker and weighted-random-picker", () => {
  it("random-picker ignores scores", () => {
    const c = pickMany(new RandomPicker("r"), [5, 0, 0, 0], 4000);
    for (const x of c) expect(x / 4000).toBeGreaterThan(0.22);
  });
  it("weighted-random: P(i) = score_i / Σ score; score ≤ 0 never picked", () => {
    const c = pickMany(new WeightedRandomPicker("w"), [1, 3, 0], 8000);
    expect(c[2]).toBe(0);
    expect(c[1]! / 8000).toBeGreaterThan(0.73);
    expect(c[1]! / 8000).toBeLessThan(0.77);
  });
  it("weighted-random with every score ≤ 0 behaves as random", () => {
    const c = pickMany(new WeightedRandomPicker("w"), [0, 0, -1], 3000);
    for (const x of c) expect(x / 3000).toBeGreaterThan(0.29);
  });
  it("empty list → -1", () => {
    expect(new WeightedRandomPicker("w").pick(cyc(anyReq, context(anyReq, [])), [], new Float64Array(0))).toBe(-1);
  });
});

describe("legacy decision-tree filters", () => {
  it("least-queue-filter keeps waiting ≤ min + ⌊(max−min)/N⌋", () => {
    expect(
      filt(
        new LeastQueueFilter("f"),
        context(anyReq, endpoints([{ waiting: 0 }, { waiting: 3 }, { waiting: 7 }, { waiting: 10 }])),
      ),
    ).toEqual([0]);
    expect(
      filt(new LeastQueueFilter("f"), context(anyReq, endpoints([{ waiting: 1 }, { waiting: 2 }, { waiting: 7 }]))),
    ).toEqual([0, 1]);
    expect(filt(new LeastQueueFilter("f"), context(anyReq, []))).toEqual([]);
  });
  it("least-kv-cache-filter keeps kv ≤ min + (max−min)/N", () => {
    expect(
      filt(new LeastKvCacheFilter("f"), context(anyReq, endpoints([{ kv: 0.1 }, { kv: 0.3 }, { kv: 0.9 }]))),
    ).toEqual([0, 1]);
  });
  it("low-queue-filter keeps waiting ≤ threshold", () => {
    expect(
      filt(
        new LowQueueFilter("f", { threshold: 128 }),
        context(anyReq, endpoints([{ waiting: 128 }, { waiting: 129 }])),
      ),
    ).toEqual([0]);
  });
  it("lora-affinity-filter: affinity (running or waiting) w.p. threshold, else free slots", () => {
    const req = request([{ id: 1, tokens: 8 }], { adapter: "a" });
    const eps = endpoints([
      { waitingAdapters: ["a"], maxLora: 1 },
      { runningAdapters: ["b"], maxLora: 4 },
      { runningAdapters: ["b"], maxLora: 1 },
    ]);
    expect(filt(new LoraAffinityFilter("f", { threshold: 1 }), context(req, eps), req)).toEqual([0]);
    expect(filt(new LoraAffinityFilter("f", { threshold: 0 }), context(req, eps), req)).toEqual([1]);
    const none = endpoints([{ runningAdapters: ["b"], maxLora: 1 }]);
    expect(filt(new LoraAffinityFilter("f", { threshold: 0.999 }), context(req, none), req)).toEqual([]);
  });
  it("decision tree: success continues with the filtered list, failure with the unfiltered one", () => {
    const filters = new Map<string, Filter>([
      ["low", new LowQueueFilter("low", { threshold: 1 })],
      ["kv", new LeastKvCacheFilter("kv")],
      ["queue", new LeastQueueFilter("queue")],
    ]);
    const tree = new DecisionTreeFilter(
      "t",
      { current: { pluginRef: "low" }, nextOnSuccess: { pluginRef: "kv" }, nextOnFailure: { pluginRef: "queue" } },
      (n) => filters.get(n)!,
    );
    // low keeps pod 0 → least-kv over [0] only.
    expect(
      filt(
        tree,
        context(
          anyReq,
          endpoints([
            { waiting: 0, kv: 0.9 },
            { waiting: 5, kv: 0.1 },
          ]),
        ),
      ),
    ).toEqual([0]);
    // low keeps nobody → least-queue over everything: 3 + ⌊2/2⌋ = 4 → pod 0.
    expect(filt(tree, context(anyReq, endpoints([{ waiting: 3 }, { waiting: 5 }])))).toEqual([0]);
    // leaf failure is returned as is (empty).
    const leaf = new DecisionTreeFilter("t", { current: { pluginRef: "low" } }, (n) => filters.get(n)!);
    expect(filt(leaf, context(anyReq, endpoints([{ waiting: 3 }])))).toEqual([]);
  });
  it("role filters: no labels in gatelab → decode keeps all, prefill/encode keep none", () => {
    const ctx = context(anyReq, endpoints(2));
    expect(filt(new RoleFilter("d", "decode-filter"), ctx)).toEqual([0, 1]);
    expect(filt(new RoleFilter("p", "prefill-filter"), ctx)).toEqual([]);
  });
});

describe("saturation detection", () => {
  const fresh = (w: number, kv: number, t = 0.95) => ({ waiting: w, kv, scrapeTime: t });
  it("roofline saturation: mean of max(waiting/5, kv/0.8), stale (> 200 ms) → 1, empty → 1", () => {
    const eps = endpoints([fresh(5, 0), fresh(0, 0.4)]);
    expect(utilizationSaturation(eps, 1.0)).toBe(0.75);
    expect(isSaturated(eps, 1.0)).toBe(false);
    const stale = endpoints([fresh(5, 0), fresh(0, 0.4, 0.7)]);
    expect(utilizationSaturation(stale, 1.0)).toBe(1);
    expect(isSaturated(stale, 1.0)).toBe(true);
    expect(isSaturated([], 1.0)).toBe(true);
    // Exactly 200 ms old is still fresh.
    expect(utilizationSaturation(endpoints([fresh(0, 0, 0.8)]), 1.0)).toBe(0);
  });
  it("v1.0: saturated only when no fresh pod has waiting ≤ 5 and kv ≤ 0.8", () => {
    expect(isSaturated(endpoints([fresh(5, 0.8), fresh(9, 0.9)]), 1.0, { mode: "v1.0" })).toBe(false);
    expect(isSaturated(endpoints([fresh(6, 0), fresh(0, 0.81)]), 1.0, { mode: "v1.0" })).toBe(true);
    expect(isSaturated(endpoints([fresh(0, 0, 0.5)]), 1.0, { mode: "v1.0" })).toBe(true);
    expect(isSaturated([], 1.0, { mode: "v1.0" })).toBe(true);
    // Thresholds are overridable.
    expect(isSaturated(endpoints([fresh(2, 0)]), 1.0, { queueDepthThreshold: 2 })).toBe(true);
  });
  it("utilization-detector as a filter: keep fresh pods below both thresholds; fail open", () => {
    const d = new UtilizationDetector("u", utilizationParams.parse({}));
    expect(d.settings).toEqual(DEFAULT_UTILIZATION);
    const eps = endpoints([fresh(2, 0.5), fresh(5, 0.1), fresh(0, 0, 0.7), fresh(0, 0.8)]);
    expect(filt(d, context(anyReq, eps, { now: 1.0 }))).toEqual([0]);
    const all = endpoints([fresh(9, 0), fresh(0, 0.9)]);
    expect(filt(d, context(anyReq, all, { now: 1.0 }))).toEqual([0, 1]);
    const loose = new UtilizationDetector("u", utilizationParams.parse({ headroom: 0.2 }));
    expect(filt(loose, context(anyReq, endpoints([fresh(5, 0.1), fresh(6, 0.1)]), { now: 1.0 }))).toEqual([0]);
    expect(utilizationParams.parse({ metricsStalenessThreshold: "1s" }).metricsStalenessThreshold).toBe(1);
  });
  it("concurrency-detector: Σ in-flight / Σ capacity; filter drops full endpoints", () => {
    const s = concurrencyParams.parse({});
    const local = localLoad(2, [50, 150]);
    expect(concurrencySaturation(endpoints(2), local, s)).toBe(1);
    const d = new ConcurrencyDetector("c", s);
    expect(filt(d, context(anyReq, endpoints(2), { local }))).toEqual([0]);
  });
});

describe("prefix-cache-affinity-filter", () => {
  const init = routerInit(3);
  function setup(params: Record<string, unknown> = {}, detector?: UtilizationDetector) {
    // 16-token blocks (GIE release-1.5 family): the partial-match cases below are sized for them.
    const p = new ApproxPrefixProducer(
      "p",
      resolvePrefixSettings(prefixProducerParams.parse({}), init, "gie-r1.5"),
      init,
    );
    const load = new InflightLoadProducer(
      "l",
      { addEstimatedOutputTokens: false, maxEstimatedOutputTokens: 0 },
      init,
      p,
    );
    const f = new PrefixCacheAffinityFilter("a", affinityFilterParams.parse(params), p, load, detector);
    p.onDispatch(request([{ id: 1, tokens: 64 }]), 0, 0, undefined);
    return { p, load, f };
  }
  const hot = () => request([{ id: 1, tokens: 64 }]);
  it("keeps the pods whose match ratio ≥ affinityThreshold", () => {
    const { f } = setup();
    const r = hot();
    expect(filt(f, context(r, endpoints(3)), r)).toEqual([0]);
    const half = request([
      { id: 1, tokens: 32 },
      { id: 2, tokens: 32 },
    ]); // 2 of 4 blocks
    expect(filt(f, context(half, endpoints(3)), half)).toEqual([0, 1, 2]);
    const { f: f2 } = setup({ affinityThreshold: 0.5 });
    expect(filt(f2, context(half, endpoints(3)), half)).toEqual([0]);
  });
  it("TTFT release: sticky min TTFT − others' min TTFT > maxTTFTPenaltyMs → all (tokens / 15928 tok/s)", () => {
    const { f, load } = setup();
    load.onDispatch(request([{ id: 50, tokens: 200_000 }]), 0, 0, undefined); // 12,556 ms of prefill
    let r = hot();
    expect(filt(f, context(r, endpoints(3)), r)).toEqual([0]);
    load.onDispatch(request([{ id: 51, tokens: 100_000 }]), 0, 0, undefined); // 18,835 ms > 18,000
    r = hot();
    expect(filt(f, context(r, endpoints(3)), r)).toEqual([0, 1, 2]);
  });
  it("maxTokensInFlightPenalty τ (tokens) releases too", () => {
    const { f, load } = setup({ maxTTFTPenaltyMs: 0, maxTokensInFlightPenalty: 1000 });
    load.onDispatch(request([{ id: 52, tokens: 1001 }]), 0, 0, undefined);
    const r = hot();
    expect(filt(f, context(r, endpoints(3)), r)).toEqual([0, 1, 2]);
  });
  it("escape hatch: a saturated sticky pod is released, queue depth decides", () => {
    const d = new UtilizationDetector("u", utilizationParams.parse({}));
    const { f } = setup({ maxTTFTPenaltyMs: 0, saturationDetectorRef: "u" }, d);
    const r = hot();
    expect(filt(f, context(r, endpoints([{ waiting: 4 }, {}, {}])), r)).toEqual([0]);
    expect(filt(f, context(r, endpoints([{ waiting: 5 }, {}, {}])), r)).toEqual([0, 1, 2]);
    // Stale metrics count as saturated.
    expect(filt(f, context(r, endpoints([{ scrapeTime: 0 }, {}, {}]), { now: 0.3 }), r)).toEqual([0, 1, 2]);
  });
  it("one candidate, threshold 0, exploration 1 → unchanged", () => {
    const r = hot();
    expect(filt(setup().f, context(r, endpoints(1)), r)).toEqual([0]);
    expect(filt(setup({ affinityThreshold: 0 }).f, context(r, endpoints(3)), r)).toEqual([0, 1, 2]);
    expect(filt(setup({ explorationProbability: 1 }).f, context(r, endpoints(3)), r)).toEqual([0, 1, 2]);
  });
});

describe("pod labels: role filters and the label selector", () => {
  // Replicas: 0 prefill, 1 decode, 2 both, 3 unlabelled, 4 prefill-decode.
  const labels = [
    { "llm-d.ai/role": "prefill", zone: "a" },
    { "llm-d.ai/role": "decode", zone: "b" },
    { "llm-d.ai/role": "both" },
    {},
    { "llm-d.ai/role": "prefill-decode", zone: "a" },
  ];
  const eps = endpoints(5);
  const kept = (f: Filter) => {
    const req = request([{ id: 1, tokens: 10 }]);
    const ctx = context(req, eps);
    return f.filter(new Cycle(1, req, ctx), eps).map((e) => e.index);
  };
  it("decode-filter keeps decode, both, prefill-decode and unlabelled pods; prefill-filter needs the label", () => {
    expect(kept(new RoleFilter("d", "decode-filter", labels))).toEqual([1, 2, 3, 4]);
    expect(kept(new RoleFilter("p", "prefill-filter", labels))).toEqual([0, 2, 4]);
    expect(kept(new RoleFilter("e", "encode-filter", labels))).toEqual([]);
    expect(new RoleFilter("e", "encode-filter", labels).selectsAny(5)).toBe(false);
  });
  it("label-selector-filter: matchLabels and In / NotIn / Exists / DoesNotExist", () => {
    expect(kept(new LabelSelectorFilter("s", { matchLabels: { zone: "a" } }, labels))).toEqual([0, 4]);
    const expr = (operator: "In" | "NotIn" | "Exists" | "DoesNotExist", values?: string[]) =>
      kept(
        new LabelSelectorFilter(
          "s",
          { matchExpressions: [{ key: "zone", operator, ...(values ? { values } : {}) }] },
          labels,
        ),
      );
    expect(expr("In", ["b"])).toEqual([1]);
    expect(expr("NotIn", ["a"])).toEqual([1, 2, 3]);
    expect(expr("Exists")).toEqual([0, 1, 4]);
    expect(expr("DoesNotExist")).toEqual([2, 3]);
  });
});

describe("max-score-picker: the single-maximum fast path equals shuffle-then-first-maximum", () => {
  // The reference: the full Fisher–Yates shuffle of the candidates with the routing stream, then the first maximum in
  // shuffled order. Pick and the stream's position afterwards must match exactly (every later decision reads it).
  function reference(rng: ReturnType<typeof rngStream>, scores: Float64Array, n: number): number {
    const perm = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = perm[i]!;
      perm[i] = perm[j]!;
      perm[j] = t;
    }
    let best = perm[0]!;
    for (let k = 1; k < n; k++) if (scores[perm[k]!]! > scores[best]!) best = perm[k]!;
    return best;
  }
  it("unique maxima, ties (two-way, all equal, late), 1–1,500 candidates", () => {
    const picker = new MaxScorePicker("p");
    let s = 99;
    const rnd = () => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return s / 2147483648;
    };
    for (let round = 0; round < 120; round++) {
      const n = [1, 2, 3, 32, 511, 512, 513, 1024, 1500][round % 9]!;
      const kind = round % 4; // 0 distinct, 1 all equal, 2 coarse values (ties), 3 a tie that a later value breaks
      const scores = Float64Array.from({ length: n }, (_, i) =>
        kind === 0 ? rnd() : kind === 1 ? 0.5 : kind === 2 ? Math.floor(rnd() * 4) : i === n - 1 ? 2 : i < 2 ? 1 : 0,
      );
      const eps = endpoints(n);
      const ctxA = context(anyReq, eps, { rng: rngStream(round, "pick") });
      const refRng = rngStream(round, "pick");
      expect(picker.pick(cyc(anyReq, ctxA), eps, scores)).toBe(reference(refRng, scores, n));
      expect(ctxA.rng.next()).toBe(refRng.next());
    }
  });
});
