/**
 * GIE release-1.5's single-plugin `predicted-latency-scorer` (kubernetes-sigs/gateway-api-inference-extension
 * `1e46715c`, `pkg/epp/framework/plugins/scheduling/scorer/predictedlatency/`), the form llm-d-router later split into
 * `predicted-latency-producer` + `latency-scorer` + `slo-headroom-tier-filter` + `latency-slo-admitter`. It predicts
 * in PrepareRequestData (only with the `prepareDataPlugins` feature gate, as GIE 1.5 runs that stage only then), admits
 * (AdmitRequest), and in Score picks ONE endpoint itself and scores it 1 (others 0):
 * 1. no predictions for every endpoint → weighted-random pick on the composite (KV free, relative queue, prefix);
 * 2. global affinity gate (`affinityGateTauGlobal` 0.99): with probability 1 − `epsilonExploreSticky` keep only the
 *    endpoints whose prefix score ≥ τ, unless their best predicted TTFT is > `affinityMaxTTFTPenaltyMs` worse;
 * 3. tiers: headroom ≥ 0 on TPOT and TTFT, else negative; both non-empty → the negative tier with probability
 *    `epsilonExploreNeg`;
 * 4. positive tier: the same gate with `affinityGateTau` 0.80, then weights `⌊(1 − c)·99⌋ + 2` (least) or `⌊c·99⌋ + 2`
 *    (most) of c = α·n(TTFT headroom) + β·n(TPOT headroom) (min-max, 0.5 when flat; α, β the headroom weights, 1 and 0
 *    when not streaming);
 * 5. negative tier: idle endpoints (none of its requests running) first; gate; categories both / TTFT / TPOT missed,
 *    weights `⌊(1 − blended deficit)·80⌋ + 2`, endpoints meeting both (possible with the TPOT buffer) weight 1;
 * 6. `selectionMode` linear: weighted random (one `Intn(total)` draw), max: the largest weight.
 * Random draws use the routing RNG stream (upstream seeds a fresh generator from the wall clock per Score call).
 * Line numbers are of the GIE 1.5 files.
 */
import { z } from "zod";
import type { Request } from "../../sim/request.ts";
import type { EndpointView, RouterInit } from "../types.ts";
import type { Admitter } from "./admitter.ts";
import type { Cycle, InflightTokens, PrefixMatchProvider, Scorer } from "./framework.ts";
import { type PredictedLatencyParams, PredictedLatencyProducer, requestSlo } from "./latency-predictor.ts";
import { unit } from "./params.ts";

/** scorer.go L59–L101 (Config, DefaultConfig), validation L124–L169. json.Unmarshal: unknown fields are ignored. */
export const gieLatencyScorerParams = z.looseObject({
  samplingMean: z.number().positive().default(1000),
  maxSampledTokens: z.number().int().min(0).default(0),
  sloBufferFactor: z.number().positive().default(1),
  negHeadroomTTFTWeight: z.number().min(0).default(0.8),
  negHeadroomTPOTWeight: z.number().min(0).default(0.2),
  headroomTTFTWeight: z.number().min(0).default(0.8),
  headroomTPOTWeight: z.number().min(0).default(0.2),
  headroomSelectionStrategy: z
    .enum(["least", "most", "composite-least", "composite-most", "composite-only", ""])
    .default("least")
    .transform((s) => (s === "" ? "least" : s)),
  compositeKVWeight: z.number().min(0).default(1),
  compositeQueueWeight: z.number().min(0).default(1),
  compositePrefixWeight: z.number().min(0).default(1),
  epsilonExploreSticky: unit.default(0.01),
  epsilonExploreNeg: unit.default(0.01),
  affinityGateTau: unit.default(0.8),
  affinityGateTauGlobal: unit.default(0.99),
  affinityMaxTTFTPenaltyMs: z.number().min(0).default(5000),
  contextTTL: z.unknown().optional(),
  selectionMode: z.string().default("linear"),
  streamingMode: z.boolean().default(true),
  endpointRoleLabel: z.string().default(""),
});
export type GieLatencyScorerParams = z.output<typeof gieLatencyScorerParams>;

/** types.go: `wMax` 100, `minWeight` 1, `eps` 1e-9. */
const W_MAX = 100;
const MIN_WEIGHT = 1;
const EPS = 1e-9;
/** weightEndpointsByBlendedDeficit (selection.go): `Wrange` 80. */
const W_RANGE = 80;

export class GiePredictedLatencyScorer implements Scorer, Admitter {
  readonly type = "predicted-latency-scorer";
  readonly name: string;
  readonly producer: PredictedLatencyProducer;
  private readonly p: GieLatencyScorerParams;
  private readonly prepareData: boolean;
  private readonly init: RouterInit;
  private readonly prefix: PrefixMatchProvider;
  // Scratch lists of indices into the scored `eps` (no allocation per request).
  private readonly a: Int32Array;
  private readonly b: Int32Array;
  private readonly c: Int32Array;
  private readonly choiceIdx: Int32Array;
  private readonly choiceW: Int32Array;
  private readonly prefixScore: Float64Array;
  private nChoices = 0;
  private total = 0;
  /** `hasValidEndpoint` of the request being scheduled (preparedata_helper.go L80–L103). */
  private hasValid = true;
  private validFor = -1;

  constructor(
    name: string,
    params: GieLatencyScorerParams,
    init: RouterInit,
    prefix: PrefixMatchProvider,
    inflight: InflightTokens,
    featureGates: readonly string[],
  ) {
    this.name = name;
    this.p = params;
    this.init = init;
    this.prefix = prefix;
    this.prepareData = featureGates.includes("prepareDataPlugins");
    const producerParams: PredictedLatencyParams = {
      sloBufferFactor: params.sloBufferFactor,
      streamingMode: params.streamingMode,
      endpointRoleLabel: params.endpointRoleLabel,
      predictInProduce: true,
      useEncoderCacheFeatures: false,
    };
    this.producer = new PredictedLatencyProducer(
      name,
      producerParams,
      init,
      prefix,
      inflight,
      undefined,
      "gie-1.5-scorer",
    );
    const n = Math.max(1, init.replicas);
    this.a = new Int32Array(n);
    this.b = new Int32Array(n);
    this.c = new Int32Array(n);
    this.choiceIdx = new Int32Array(n);
    this.choiceW = new Int32Array(n);
    this.prefixScore = new Float64Array(n);
  }

  /** PrepareRequestData (only with the prepareDataPlugins gate), then AdmitRequest (requestcontrol_hooks.go L338). */
  admit(cycle: Cycle): string | undefined {
    if (!this.prepareData) return undefined;
    this.prepare(cycle);
    return !this.hasValid && (cycle.req.priority ?? 0) < 0
      ? "predicted-latency-scorer: no valid endpoint available to serve the request"
      : undefined;
  }

  private prepare(cycle: Cycle): void {
    const P = this.producer;
    P.produce(cycle);
    if (this.validFor === cycle.id) return;
    this.validFor = cycle.id;
    // updateHasValidPod: invalid everywhere (when the SLOs make validity meaningful), every endpoint running a
    // request of this plugin's, none cold (KV < 2 %), none sticky (prefix ≥ affinityGateTauGlobal).
    const eps = cycle.ctx.endpoints;
    const slo = requestSlo(this.init, cycle.req);
    const ttft = slo?.ttftMs ?? 0;
    const tpot = slo?.tpotMs ?? 0;
    let allInvalid = ttft > 0 && (tpot > 0 || !this.p.streamingMode);
    let allRunning = true;
    let cold = false;
    let sticky = false;
    const m = this.prefix.match(cycle);
    for (let i = 0; i < eps.length; i++) {
      const r = eps[i]!.index;
      if (P.ttftValid[r] === 1 && P.tpotValid[r] === 1) allInvalid = false;
      if (P.dispatched[r] === 0) allRunning = false;
      if (eps[i]!.kvCacheUsage < 0.02) cold = true;
      const ps = m.totalBlocks > 0 ? m.matchBlocks[r]! / m.totalBlocks : 0;
      if (this.p.affinityGateTauGlobal > 0 && ps >= this.p.affinityGateTauGlobal) sticky = true;
    }
    this.hasValid = !(allInvalid && allRunning && !cold && !sticky);
  }

  onDispatch(req: Request, replica: number, now: number, cycle: Cycle | undefined): void {
    this.producer.onDispatch(req, replica, now, cycle);
  }

  onFirstToken(req: Request, replica: number, now: number): void {
    this.producer.onFirstToken(req, replica, now);
  }

  onComplete(req: Request, replica: number, now: number): void {
    this.producer.onComplete(req, replica, now);
  }

  score(cycle: Cycle, eps: readonly EndpointView[], out: Float64Array): void {
    const n = eps.length;
    for (let i = 0; i < n; i++) out[i] = 0;
    if (n === 0) return;
    const P = this.producer;
    // Prefix scores come from PrepareRequestData's context; without it (gate off) they are 0 (scorer.go L298–L330).
    const m = this.prepareData ? this.prefix.match(cycle) : undefined;
    for (let i = 0; i < n; i++) {
      const ps = m !== undefined && m.totalBlocks > 0 ? m.matchBlocks[eps[i]!.index]! / m.totalBlocks : 0;
      this.prefixScore[i] = Number.isNaN(ps) ? 0 : ps;
    }
    let all = this.prepareData;
    if (all) {
      this.prepare(cycle);
      for (let i = 0; i < n; i++) if (P.has[eps[i]!.index] !== 1) all = false;
    }
    let pick: number;
    const idx = this.a;
    for (let i = 0; i < n; i++) idx[i] = i;
    if (!all) pick = this.composite(cycle, eps, idx, n, "composite-only");
    else {
      // Global affinity gate over every endpoint, in place.
      const k = this.gate(cycle, eps, idx, n, this.p.affinityGateTauGlobal);
      let pos = 0;
      let neg = 0;
      const posL = this.b;
      const negL = this.c;
      for (let j = 0; j < k; j++) {
        const r = eps[idx[j]!]!.index;
        if (P.tpotHeadroom[r]! >= 0 && P.ttftHeadroom[r]! >= 0) posL[pos++] = idx[j]!;
        else negL[neg++] = idx[j]!;
      }
      const rng = cycle.ctx.rng;
      if (this.p.headroomSelectionStrategy === "composite-only")
        pick = this.composite(cycle, eps, idx, k, "composite-only");
      else if (pos > 0 && neg > 0) {
        pick =
          rng.next() < this.p.epsilonExploreNeg
            ? this.negative(cycle, eps, negL, neg)
            : this.positive(cycle, eps, posL, pos);
      } else if (pos > 0) pick = this.positive(cycle, eps, posL, pos);
      else if (neg > 0) pick = this.negative(cycle, eps, negL, neg);
      else pick = k > 0 ? idx[rng.int(k)]! : -1;
    }
    if (pick >= 0) out[pick] = 1;
  }

  /**
   * epsilonGreedyAffinityGate (scorer.go L242–L296): keeps, in place, the first `k` of `list` whose prefix score is
   * ≥ tau, unless none is, the exploration draw hits, or their best TTFT is too far behind. Returns the new length
   * (`k` unchanged when not sticky); `this.sticky` tells whether it narrowed.
   */
  private sticky = false;
  private gate(cycle: Cycle, eps: readonly EndpointView[], list: Int32Array, k: number, tau: number): number {
    this.sticky = false;
    if (tau <= 0) return k;
    let eligible = 0;
    for (let j = 0; j < k; j++) if (this.prefixScore[list[j]!]! >= tau) eligible++;
    if (eligible === 0) return k;
    if (cycle.ctx.rng.next() < this.p.epsilonExploreSticky) return k;
    const P = this.producer;
    if (this.p.affinityMaxTTFTPenaltyMs > 0) {
      let bestAll = Number.MAX_VALUE;
      let bestSticky = Number.MAX_VALUE;
      for (let j = 0; j < k; j++) {
        const i = list[j]!;
        const t = P.ttftMs[eps[i]!.index]!;
        if (t > 0 && t < bestAll) bestAll = t;
        if (this.prefixScore[i]! >= tau && t > 0 && t < bestSticky) bestSticky = t;
      }
      if (
        bestAll < Number.MAX_VALUE &&
        bestSticky < Number.MAX_VALUE &&
        bestSticky - bestAll > this.p.affinityMaxTTFTPenaltyMs
      ) {
        return k;
      }
    }
    let w = 0;
    for (let j = 0; j < k; j++) if (this.prefixScore[list[j]!]! >= tau) list[w++] = list[j]!;
    this.sticky = true;
    return w;
  }

  /** selectFromPositiveHeadroomEndpoints (selection.go L34–L63). */
  private positive(cycle: Cycle, eps: readonly EndpointView[], list: Int32Array, k0: number): number {
    if (k0 === 1) return list[0]!;
    const k = this.gate(cycle, eps, list, k0, this.p.affinityGateTau);
    if (this.sticky && k === 1) return list[0]!;
    const s = this.p.headroomSelectionStrategy;
    if (s === "composite-most" || s === "composite-least") return this.composite(cycle, eps, list, k, s);
    const P = this.producer;
    let minP = Number.MAX_VALUE;
    let maxP = -Number.MAX_VALUE;
    let minT = Number.MAX_VALUE;
    let maxT = -Number.MAX_VALUE;
    for (let j = 0; j < k; j++) {
      const r = eps[list[j]!]!.index;
      const hp = P.tpotHeadroom[r]!;
      const ht = P.ttftHeadroom[r]!;
      if (hp < minP) minP = hp;
      if (hp > maxP) maxP = hp;
      if (ht < minT) minT = ht;
      if (ht > maxT) maxT = ht;
    }
    const rangeP = maxP - minP;
    const rangeT = maxT - minT;
    let alpha = this.p.streamingMode ? this.p.headroomTTFTWeight : 1;
    let beta = this.p.streamingMode ? this.p.headroomTPOTWeight : 0;
    if (alpha + beta <= 0) {
      alpha = 1;
      beta = 0;
    }
    const sum = alpha + beta;
    alpha /= sum;
    beta /= sum;
    this.nChoices = 0;
    this.total = 0;
    for (let j = 0; j < k; j++) {
      const i = list[j]!;
      const r = eps[i]!.index;
      const nP = rangeP > EPS ? (P.tpotHeadroom[r]! - minP) / (rangeP + EPS) : 0.5;
      const nT = rangeT > EPS ? (P.ttftHeadroom[r]! - minT) / (rangeT + EPS) : 0.5;
      const c = alpha * nT + beta * nP;
      const w =
        s === "most"
          ? Math.trunc(c * (W_MAX - MIN_WEIGHT)) + MIN_WEIGHT + 1
          : Math.trunc((1 - c) * (W_MAX - MIN_WEIGHT)) + MIN_WEIGHT + 1;
      this.push(i, w);
    }
    return this.weighted(cycle, list[0]!);
  }

  /** selectFromNegativeHeadroomEndpoints (selection.go L65–L98): idle endpoints first. */
  private negative(cycle: Cycle, eps: readonly EndpointView[], list: Int32Array, k: number): number {
    if (k === 1) return list[0]!;
    const P = this.producer;
    let idle = 0;
    for (let j = 0; j < k; j++) if (P.dispatched[eps[list[j]!]!.index] === 0) idle++;
    // Stable partition: idle ones (or, when none, every one) to the front.
    let w = 0;
    if (idle > 0) {
      for (let j = 0; j < k; j++) if (P.dispatched[eps[list[j]!]!.index] === 0) list[w++] = list[j]!;
    } else w = k;
    return this.negativeInternal(cycle, eps, list, w);
  }

  /** selectFromNegativeHeadroomEndpointsInternal + handleNegativeHeadroomEndpointsHierarchical (selection.go). */
  private negativeInternal(cycle: Cycle, eps: readonly EndpointView[], list: Int32Array, k0: number): number {
    if (k0 === 1) return list[0]!;
    const k = this.gate(cycle, eps, list, k0, this.p.affinityGateTau);
    if (this.sticky && k === 1) return list[0]!;
    const s = this.p.headroomSelectionStrategy;
    if (s === "composite-most" || s === "composite-least") return this.composite(cycle, eps, list, k, s);
    const alpha = this.p.streamingMode ? this.p.negHeadroomTTFTWeight : 1;
    const beta = this.p.streamingMode ? this.p.negHeadroomTPOTWeight : 0;
    this.nChoices = 0;
    this.total = 0;
    // Categories in upstream's order: both negative, TTFT only, TPOT only; then the ones meeting both (weight 1).
    for (let cat = 0; cat < 3; cat++) this.deficits(eps, list, k, cat, alpha, beta);
    const P = this.producer;
    for (let j = 0; j < k; j++) {
      const r = eps[list[j]!]!.index;
      if (P.ttftHeadroom[r]! >= 0 && P.tpotHeadroom[r]! >= 0) this.push(list[j]!, MIN_WEIGHT);
    }
    return this.weighted(cycle, list[0]!);
  }

  private category(r: number): number {
    const P = this.producer;
    const tn = P.ttftHeadroom[r]! < 0;
    const pn = P.tpotHeadroom[r]! < 0;
    return tn && pn ? 0 : tn ? 1 : pn ? 2 : 3;
  }

  /** weightEndpointsByBlendedDeficit (selection.go) for the endpoints of category `cat`. */
  private deficits(
    eps: readonly EndpointView[],
    list: Int32Array,
    k: number,
    cat: number,
    a0: number,
    b0: number,
  ): void {
    const P = this.producer;
    let minT = Number.MAX_VALUE;
    let maxT = -Number.MAX_VALUE;
    let minP = Number.MAX_VALUE;
    let maxP = -Number.MAX_VALUE;
    let any = false;
    for (let j = 0; j < k; j++) {
      const r = eps[list[j]!]!.index;
      if (this.category(r) !== cat) continue;
      any = true;
      const dt = P.ttftHeadroom[r]! < 0 ? -P.ttftHeadroom[r]! : 0;
      const dp = P.tpotHeadroom[r]! < 0 ? -P.tpotHeadroom[r]! : 0;
      if (dt < minT) minT = dt;
      if (dt > maxT) maxT = dt;
      if (dp < minP) minP = dp;
      if (dp > maxP) maxP = dp;
    }
    if (!any) return;
    const rangeT = maxT - minT;
    const rangeP = maxP - minP;
    let alpha = a0;
    let beta = b0;
    if (alpha + beta <= 0) {
      alpha = 1;
      beta = 0;
    } else {
      const sum = alpha + beta;
      alpha /= sum;
      beta /= sum;
    }
    for (let j = 0; j < k; j++) {
      const r = eps[list[j]!]!.index;
      if (this.category(r) !== cat) continue;
      const dt = P.ttftHeadroom[r]! < 0 ? -P.ttftHeadroom[r]! : 0;
      const dp = P.tpotHeadroom[r]! < 0 ? -P.tpotHeadroom[r]! : 0;
      const nT = rangeT > EPS ? (dt - minT) / (rangeT + EPS) : 0;
      const nP = rangeP > EPS ? (dp - minP) / (rangeP + EPS) : 0;
      const blended = alpha * nT + beta * nP;
      this.push(list[j]!, Math.trunc((1 - blended) * W_RANGE) + MIN_WEIGHT + 1);
    }
  }

  /** selectFromCompositeScores + buildCompositeChoices (helpers.go L30–L146). */
  private composite(
    cycle: Cycle,
    eps: readonly EndpointView[],
    list: Int32Array,
    k: number,
    strategy: "composite-only" | "composite-most" | "composite-least",
  ): number {
    let wkv = this.p.compositeKVWeight;
    let wq = this.p.compositeQueueWeight;
    let wp = this.p.compositePrefixWeight;
    const sumw = wkv + wq + wp;
    if (sumw <= 0) {
      wkv = 1;
      wq = 0;
      wp = 0;
    } else {
      wkv /= sumw;
      wq /= sumw;
      wp /= sumw;
    }
    let minQ = 2147483647;
    let maxQ = -1;
    for (let j = 0; j < k; j++) {
      const q = eps[list[j]!]!.waiting;
      if (q < minQ) minQ = q;
      if (q > maxQ) maxQ = q;
    }
    const den = maxQ - minQ;
    this.nChoices = 0;
    this.total = 0;
    for (let j = 0; j < k; j++) {
      const i = list[j]!;
      const e = eps[i]!;
      const rel = den > 0 ? (maxQ - e.waiting) / den : 1;
      const c = wkv * (1 - e.kvCacheUsage) + wq * rel + wp * this.prefixScore[i]!;
      this.push(i, Math.round(MIN_WEIGHT + (W_MAX - MIN_WEIGHT) * c));
    }
    // composite-least inverts the weights but keeps the total of the original ones (helpers.go L36–L40).
    if (strategy === "composite-least") {
      for (let c = 0; c < this.nChoices; c++) this.choiceW[c] = MIN_WEIGHT + W_MAX - this.choiceW[c]!;
    }
    return this.weighted(cycle, k > 0 ? list[0]! : -1);
  }

  private push(i: number, w: number): void {
    this.choiceIdx[this.nChoices] = i;
    this.choiceW[this.nChoices++] = w;
    this.total += w;
  }

  /** performWeightedRandomSelection (helpers.go L44–L86); `fallback` is upstream's `candidates[0]`. */
  private weighted(cycle: Cycle, fallback: number): number {
    if (this.total === 0) return -1;
    if (this.p.selectionMode === "max") {
      let best = -1;
      let bw = 0;
      for (let c = 0; c < this.nChoices; c++) {
        if (this.choiceW[c]! > bw) {
          bw = this.choiceW[c]!;
          best = this.choiceIdx[c]!;
        }
      }
      return best >= 0 ? best : fallback;
    }
    let x = cycle.ctx.rng.int(this.total);
    for (let c = 0; c < this.nChoices; c++) {
      if (x < this.choiceW[c]!) return this.choiceIdx[c]!;
      x -= this.choiceW[c]!;
    }
    return fallback;
  }
}
