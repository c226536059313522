/**
 * Latency-predictor routing as llm-d-router ships it (`ebab6879`; GIE release-1.5 has the same plugins and defaults):
 * - `predicted-latency-producer` (`pkg/epp/framework/plugins/requestcontrol/dataproducer/predictedlatency/`): before
 *   scheduling, predicts TTFT and TPOT for every candidate endpoint and publishes the headroom against the request's
 *   SLO headers; on the response it sends the observed TTFT / TPOT, with the features seen at dispatch, to the
 *   latency predictor's training server;
 * - the predictor itself (the sidecar, llm-d/llm-d-latency-predictor@04e44cd `training/training_server.py`), trained
 *   online in simulated time on the simulated replicas' own observed latencies: `LatencyPredictor` below, with the
 *   model of `bayesian-ridge.ts`;
 * - `latency-scorer` (`scheduling/scorer/latency/plugin.go`), `slo-headroom-tier-filter`
 *   (`scheduling/filter/sloheadroomtier/plugin.go`) and `latency-slo-admitter`
 *   (`requestcontrol/admitter/latencyslo/plugin.go`), which read the published predictions.
 * Line numbers below are of those files at llm-d-router `ebab6879` unless stated otherwise.
 *
 * Per request the work is O(candidates · features) with no allocation: predictions live in arrays indexed by replica,
 * rewritten each scheduling cycle; the per-request context is a row of a `RequestRows`.
 */
import { z } from "zod";
import type { Request } from "../../sim/request.ts";
import { RequestRows } from "../indexes/request-rows.ts";
import type { EndpointView, RouterInit } from "../types.ts";
import type { Admitter } from "./admitter.ts";
import { BucketedRidge, bucketKey, LinearModel } from "./bayesian-ridge.ts";
import type { BuildEnv, Cycle, Filter, InflightTokens, Plugin, PrefixMatchProvider, Scorer } from "./framework.ts";
import { unit } from "./params.ts";

// ---------------------------------------------------------------------------------------------------------------
// The predictor (the training / prediction sidecars), in simulated time.

/**
 * The sidecar's settings as the Helm charts deploy it (`inferenceExtension.latencyPredictor` in GIE release-1.5
 * `config/charts/epplib/values.yaml` L1–L40, `router.latencyPredictor` in llm-d-router `config/charts/routerlib/
 * values.yaml` L170–L208) and the server's own defaults (llm-d-latency-predictor@04e44cd `training/training_server.py`
 * `Settings` L70–L100).
 */
export const PREDICTOR_SETTINGS = {
  /** `LATENCY_RETRAINING_INTERVAL_SEC` "10" in both charts (server default 1800). */
  retrainingIntervalS: 10,
  /** `continuous_training_loop` sleeps 10 s before its first `train()` (training_server.py L1840–L1841). */
  firstTrainingS: 10,
  /**
   * `LATENCY_MIN_SAMPLES_FOR_RETRAIN_FRESH` 10: `load_models` lowers `MIN_SAMPLES_FOR_RETRAIN` (charts: "100") to it
   * when no saved model exists, which is every start with the charts' `emptyDir` model volume (`load_models`,
   * training_server.py L1499, L1512).
   */
  minSamplesForRetrain: 10,
  /** `LATENCY_MAX_TRAINING_DATA_SIZE_PER_BUCKET` "500". */
  maxTrainingDataSizePerBucket: 500,
  /** `LATENCY_TEST_TRAIN_RATIO` 0.1: that share of samples is held out as test data, never trained on. */
  testTrainRatio: 0.1,
  /** `_create_default_model` (L799–L836): before the first retrain both models fit one sample with target 10 ms. */
  defaultPredictionMs: 10,
  /** Client `MaxBulkSize` 100 (latencypredictorclient/types.go L82): more candidates → the bulk call fails. */
  maxBulkSize: 100,
} as const;

/** TTFT features (training_server.py `_prepare_features_with_interaction`, Bayesian-ridge column set L884–L895). */
export const TTFT_FEATURES = [
  "is_queued",
  "kv_cache_percentage",
  "input_token_length",
  "num_request_waiting",
  "num_request_running",
  "prefill_tokens_in_flight",
  "decode_tokens_in_flight",
  "prefix_cache_score",
  "effective_input_tokens",
  "pod_type_",
  "pod_type_prefill",
  "pod_type_decode",
] as const;
/** TPOT features (same function, `tpot` branch, with `pod_type_cat` one-hot encoded). */
export const TPOT_FEATURES = [
  "is_queued",
  "kv_cache_percentage",
  "input_token_length",
  "num_request_waiting",
  "num_request_running",
  "prefill_tokens_in_flight",
  "decode_tokens_in_flight",
  "num_tokens_generated",
  "pod_type_",
  "pod_type_prefill",
  "pod_type_decode",
] as const;

/** Pod role codes (`pod_type` '' | prefill | decode; any other label value one-hot encodes as all zeros). */
const POD_NONE = 0;
const POD_PREFILL = 1;
const POD_DECODE = 2;
const POD_OTHER = 3;

/** What the router knows about one endpoint when it predicts or records a sample. */
export interface LatencyFeatures {
  kv: number;
  inputTokens: number;
  waiting: number;
  running: number;
  prefillTokensInFlight: number;
  prefixScore: number;
  pod: number;
}

function podColumns(x: Float64Array, at: number, pod: number): void {
  x[at] = pod === POD_NONE ? 1 : 0;
  x[at + 1] = pod === POD_PREFILL ? 1 : 0;
  x[at + 2] = pod === POD_DECODE ? 1 : 0;
}

export function ttftRow(x: Float64Array, f: LatencyFeatures): Float64Array {
  x[0] = f.waiting > 0 ? 1 : 0;
  x[1] = f.kv;
  x[2] = f.inputTokens;
  x[3] = f.waiting;
  x[4] = f.running;
  x[5] = f.prefillTokensInFlight;
  x[6] = 0; // the producer always sends decode_tokens_in_flight 0 (requestcontrol_hooks.go L118)
  x[7] = f.prefixScore;
  x[8] = (1 - f.prefixScore) * f.inputTokens;
  podColumns(x, 9, f.pod);
  return x;
}

/** `generated`: 1 when predicting (prediction.go L71), 0 when training (TPOT entry and `TPOT_ZERO_TOKEN_COUNT`). */
export function tpotRow(x: Float64Array, f: LatencyFeatures, generated: number): Float64Array {
  x[0] = f.waiting > 0 ? 1 : 0;
  x[1] = f.kv;
  x[2] = f.inputTokens;
  x[3] = f.waiting;
  x[4] = f.running;
  x[5] = f.prefillTokensInFlight;
  x[6] = 0;
  x[7] = generated;
  podColumns(x, 8, f.pod);
  return x;
}

/**
 * The latency predictor: TTFT and TPOT Bayesian-ridge models, trained on a schedule in simulated time (first at
 * `firstTrainingS`, then every `retrainingIntervalS`) on the samples received so far; before the first successful
 * fit each predicts the default model's 10 ms.
 */
export class LatencyPredictor {
  readonly ttft = new LinearModel(TTFT_FEATURES.length, PREDICTOR_SETTINGS.defaultPredictionMs);
  readonly tpot = new LinearModel(TPOT_FEATURES.length, PREDICTOR_SETTINGS.defaultPredictionMs);
  private readonly ttftData: BucketedRidge;
  private readonly tpotData: BucketedRidge;
  private readonly interval: number;
  private nextTrain: number;
  private entries = 0;
  /** Fits that changed a model (TTFT and TPOT counted apart). */
  fits = 0;
  /** Samples held out as test data. */
  heldOut = 0;
  private readonly holdEvery: number;

  constructor(
    o: { firstTrainingS?: number; retrainingIntervalS?: number; maxPerBucket?: number; testTrainRatio?: number } = {},
  ) {
    this.interval = o.retrainingIntervalS ?? PREDICTOR_SETTINGS.retrainingIntervalS;
    this.nextTrain = o.firstTrainingS ?? PREDICTOR_SETTINGS.firstTrainingS;
    const per = o.maxPerBucket ?? PREDICTOR_SETTINGS.maxTrainingDataSizePerBucket;
    this.ttftData = new BucketedRidge(TTFT_FEATURES.length, per);
    this.tpotData = new BucketedRidge(TPOT_FEATURES.length, per);
    const ratio = o.testTrainRatio ?? PREDICTOR_SETTINGS.testTrainRatio;
    this.holdEvery = ratio > 0 ? Math.round(1 / ratio) : 0;
  }

  /** Retained training samples (TTFT, TPOT). */
  get samples(): { ttft: number; tpot: number } {
    return { ttft: this.ttftData.size, tpot: this.tpotData.size };
  }

  /**
   * Runs the training ticks due by `now`. Ticks with no new sample in between would fit the same data again, so
   * consecutive ones collapse into one.
   */
  advance(now: number): void {
    if (now < this.nextTrain) return;
    this.train();
    this.nextTrain += (Math.floor((now - this.nextTrain) / this.interval) + 1) * this.interval;
  }

  /** `train()` (training_server.py): skip below the minimum in total, then each model on its own samples. */
  private train(): void {
    const min = PREDICTOR_SETTINGS.minSamplesForRetrain;
    if (this.ttftData.size + this.tpotData.size < min) return;
    if (this.ttftData.fit(this.ttft, min)) this.fits++;
    if (this.tpotData.fit(this.tpot, min)) this.fits++;
  }

  /**
   * `add_training_sample`: one training entry; every `1/testTrainRatio`-th entry is held out as test data (the server
   * splits on a hash of the sample, 10 %). `ttftMs` / `tpotMs` ≤ 0 mark the entry as not a sample of that target.
   */
  addSample(now: number, x: Float64Array, y: number, target: "ttft" | "tpot", f: LatencyFeatures): void {
    this.advance(now);
    this.entries++;
    if (this.holdEvery > 0 && this.entries % this.holdEvery === 0) {
      this.heldOut++;
      return;
    }
    if (!(y > 0)) return;
    const key = bucketKey(f.waiting, f.kv, target === "ttft" ? f.prefixScore : 0);
    (target === "ttft" ? this.ttftData : this.tpotData).add(key, x, y);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// predicted-latency-producer

export const predictedLatencyParams = z.strictObject({
  // Deprecated and ignored (plugin.go L230–L234, L285–L287).
  samplingMean: z.number().optional(),
  maxDecodeTokenSamplesForPrediction: z.number().int().optional(),
  /** plugin.go L235, default 1 (L264), must be > 0 (L303–L305). */
  sloBufferFactor: z.number().positive().default(1),
  /** Per-request context TTL (a Go duration, default 5m); requests always finish in gatelab: no effect. */
  contextTTL: z.unknown().optional(),
  /** plugin.go L237, default false: TTFT is the end-to-end latency, TPOT is neither trained nor scored. */
  streamingMode: z.boolean().default(false),
  /** Pod label naming the P/D role (`pod_type` feature, TPOT neutralised on prefill pods). */
  endpointRoleLabel: z.string().default(""),
  /** plugin.go L243, default true; false: training only, no predictions published. */
  predictInProduce: z.boolean().default(true),
  /** GIE release-1.5's name for predictInProduce. */
  predictInPrepareData: z.boolean().optional(),
  prefixMatchInfoProducerName: z.string().optional(),
  inFlightLoadProducerName: z.string().optional(),
  /** Multimodal encoder-cache features: gatelab requests are text-only, both features stay 0. */
  useEncoderCacheFeatures: z.boolean().default(false),
  encoderCacheMatchInfoProducerName: z.string().optional(),
});
export type PredictedLatencyParams = z.output<typeof predictedLatencyParams>;

/** SLO headers of a request: `x-llm-d-slo-ttft-ms`, `x-llm-d-slo-tpot-ms` (pkg/epp/metadata/consts.go L50–L56). */
export function requestSlo(init: RouterInit, req: Request): { ttftMs: number; tpotMs: number } | undefined {
  if (req.sloClass === undefined) return undefined;
  return init.requestSlos?.get(req.sloClass);
}

// Per-request row (RequestRows columns).
const C_REPLICA = 0;
const C_T0 = 1;
const C_TTFT = 2;
const C_LEVEL = 3;
const C_HAS = 4;
/** Features of the endpoint TTFT is incurred on (the prefill pod when disaggregated). */
const C_F1 = 5;
/** Features of the primary (decode) endpoint, for TPOT. */
const C_F2 = 12;
const F_WIDTH = 7;
/** Tokens this request holds in the GIE 1.5 scorer's own prefill-tokens counter. */
const C_OWN = C_F2 + F_WIDTH;
const COLUMNS = C_OWN + 1;

/**
 * `router`: llm-d-router's `predicted-latency-producer` (running requests and prefill tokens in flight from the
 * in-flight load producer; TPOT neutralised on prefill pods). `gie-1.5-scorer`: the engine inside GIE release-1.5's
 * `predicted-latency-scorer` (`pkg/epp/framework/plugins/scheduling/scorer/predictedlatency/`): running requests from
 * the scrape (`buildPredictionRequest`, latencypredictor_helper.go L39–L64), prefill tokens in flight from its own
 * counter — a request's input added at PreRequest, before the dispatch snapshot, and released at the end of the stream
 * (requestcontrol_hooks.go L190–L200, L316) — and no prefill-pod neutralisation (prediction.go L45–L113).
 */
export type ProducerFlavor = "router" | "gie-1.5-scorer";

export class PredictedLatencyProducer implements Plugin, Admitter {
  readonly type = "predicted-latency-producer";
  readonly name: string;
  readonly predictor: LatencyPredictor;
  private readonly p: PredictedLatencyParams;
  private readonly predictInProduce: boolean;
  private readonly init: RouterInit;
  private readonly prefix: PrefixMatchProvider;
  private readonly inflight: InflightTokens;
  // Per replica, rewritten each cycle (the endpoint attributes `LatencyPredictionInfo`).
  private cycleId = -1;
  private produced = -1;
  readonly has: Uint8Array;
  readonly ttftMs: Float64Array;
  readonly tpotMs: Float64Array;
  readonly ttftHeadroom: Float64Array;
  readonly tpotHeadroom: Float64Array;
  readonly ttftValid: Uint8Array;
  readonly tpotValid: Uint8Array;
  /** Requests this plugin saw dispatched and not yet finished, per replica (`DispatchedRequestCount`). */
  readonly dispatched: Int32Array;
  /** Features captured at Produce, per replica: [kv, waiting, running, prefillTif, prefix, pod, input]. */
  private readonly snap: Float64Array;
  /** TPOT SLO levels (ascending, 0 first) and per replica the running requests at each level. */
  private readonly levels: Float64Array;
  private readonly atLevel: Int32Array;
  private readonly pods: Uint8Array;
  private readonly rows = new RequestRows(COLUMNS);
  private readonly gie: boolean;
  /** The GIE 1.5 scorer's own prefill-tokens-in-flight counter per replica. */
  private readonly own: Float64Array;
  private readonly x1: Float64Array = new Float64Array(TTFT_FEATURES.length);
  private readonly x2: Float64Array = new Float64Array(TPOT_FEATURES.length);
  private readonly f: LatencyFeatures = {
    kv: 0,
    inputTokens: 0,
    waiting: 0,
    running: 0,
    prefillTokensInFlight: 0,
    prefixScore: 0,
    pod: 0,
  };

  constructor(
    name: string,
    params: PredictedLatencyParams,
    init: RouterInit,
    prefix: PrefixMatchProvider,
    inflight: InflightTokens,
    predictor: LatencyPredictor = new LatencyPredictor(),
    flavor: ProducerFlavor = "router",
  ) {
    this.name = name;
    this.gie = flavor === "gie-1.5-scorer";
    this.own = new Float64Array(init.replicas);
    this.p = params;
    this.predictInProduce = params.predictInPrepareData ?? params.predictInProduce;
    this.init = init;
    this.prefix = prefix;
    this.inflight = inflight;
    this.predictor = predictor;
    const n = init.replicas;
    this.has = new Uint8Array(n);
    this.ttftMs = new Float64Array(n);
    this.tpotMs = new Float64Array(n);
    this.ttftHeadroom = new Float64Array(n);
    this.tpotHeadroom = new Float64Array(n);
    this.ttftValid = new Uint8Array(n);
    this.tpotValid = new Uint8Array(n);
    this.dispatched = new Int32Array(n);
    this.snap = new Float64Array(n * F_WIDTH);
    const lv = new Set<number>([0]);
    for (const s of init.requestSlos?.values() ?? []) lv.add(s.tpotMs);
    this.levels = Float64Array.from([...lv].sort((a, b) => a - b));
    this.atLevel = new Int32Array(n * this.levels.length);
    this.pods = new Uint8Array(n);
    for (let r = 0; r < n; r++) {
      const v = params.endpointRoleLabel === "" ? "" : (init.labels?.[r]?.[params.endpointRoleLabel] ?? "");
      this.pods[r] = v === "" ? POD_NONE : v === "prefill" ? POD_PREFILL : v === "decode" ? POD_DECODE : POD_OTHER;
    }
  }

  /** Produce runs before scheduling, ahead of the Admit plugins (director.go); it never refuses. */
  admit(cycle: Cycle): string | undefined {
    this.produce(cycle);
    return undefined;
  }

  /** Smallest TPOT SLO among the requests running on `replica` (0: none, or one without a TPOT SLO). */
  private minTpotSlo(replica: number): number {
    const L = this.levels.length;
    for (let l = 0; l < L; l++) if (this.atLevel[replica * L + l]! > 0) return this.levels[l]!;
    return 0;
  }

  private features(replica: number, into: LatencyFeatures, inputTokens: number): LatencyFeatures {
    const o = replica * F_WIDTH;
    into.kv = this.snap[o]!;
    into.waiting = this.snap[o + 1]!;
    into.running = this.snap[o + 2]!;
    into.prefillTokensInFlight = this.snap[o + 3]!;
    into.prefixScore = this.snap[o + 4]!;
    into.pod = this.snap[o + 5]!;
    into.inputTokens = inputTokens;
    return into;
  }

  /**
   * `Produce` (dataproducer_hooks.go L40–L120; `generatePredictions`, `validatePrediction` in prediction.go):
   * for every candidate, the features (KV usage and waiting queue from the last scrape, running requests and prefill
   * tokens in flight from the router's in-flight counters, prefix score = matched / total blocks, 0 when none), then
   * TTFT and TPOT predictions (≥ 0, as the prediction server returns them) and their headroom against the SLO.
   * Once per cycle; every consumer calls it.
   */
  produce(cycle: Cycle): void {
    if (this.cycleId === cycle.id) return;
    this.cycleId = cycle.id;
    const eps = cycle.ctx.endpoints;
    const now = cycle.ctx.now;
    this.predictor.advance(now);
    const m = this.prefix.match(cycle);
    const local = cycle.ctx.local;
    for (let i = 0; i < eps.length; i++) {
      const e = eps[i]!;
      const r = e.index;
      const o = r * F_WIDTH;
      this.snap[o] = e.kvCacheUsage;
      this.snap[o + 1] = e.waiting;
      this.snap[o + 2] = this.gie ? e.running : local.inFlight[r]!;
      this.snap[o + 3] = this.gie ? this.own[r]! : (this.inflight.loads[r] ?? 0);
      const score = m.totalBlocks > 0 ? m.matchBlocks[r]! / m.totalBlocks : 0;
      this.snap[o + 4] = Number.isNaN(score) ? 0 : score;
      this.snap[o + 5] = this.pods[r]!;
      this.has[r] = 0;
    }
    this.produced = cycle.id;
    if (!this.predictInProduce || eps.length === 0 || eps.length > PREDICTOR_SETTINGS.maxBulkSize) return;
    const slo = requestSlo(this.init, cycle.req);
    const ttftSlo = slo?.ttftMs ?? 0;
    const tpotSlo = slo?.tpotMs ?? 0;
    const buffer = this.p.sloBufferFactor;
    const f = this.f;
    for (let i = 0; i < eps.length; i++) {
      const r = eps[i]!.index;
      this.features(r, f, cycle.req.inputTokens);
      const ttft = Math.max(0, this.predictor.ttft.predict(ttftRow(this.x1, f)));
      const tpot = Math.max(0, this.predictor.tpot.predict(tpotRow(this.x2, f, 1)));
      this.ttftMs[r] = ttft;
      this.tpotMs[r] = tpot;
      // validatePrediction (prediction.go L149–L178).
      this.ttftValid[r] = ttft < ttftSlo ? 1 : 0;
      this.ttftHeadroom[r] = ttftSlo - ttft;
      let tpotOk = true;
      let head = 0;
      if (this.p.streamingMode) {
        let buffered = tpotSlo * buffer;
        const podMin = this.minTpotSlo(r);
        if (podMin > 0) buffered = Math.min(buffered, podMin * buffer);
        tpotOk = tpot < buffered;
        head = buffered - tpot;
      }
      // TPOT neutralised when not streaming or on a prefill pod (prediction.go L106–L115).
      if (!this.p.streamingMode || (!this.gie && this.pods[r] === POD_PREFILL)) {
        tpotOk = true;
        head = 0;
      }
      this.tpotValid[r] = tpotOk ? 1 : 0;
      this.tpotHeadroom[r] = head;
      this.has[r] = 1;
    }
  }

  /** PreRequest (requestcontrol_hooks.go L42–L121): remember what the prediction saw, count the request as running. */
  onDispatch(req: Request, replica: number, now: number, cycle: Cycle | undefined): void {
    this.finish(req.id);
    const o = this.rows.open(req.id);
    const d = this.rows.data;
    d[o + C_REPLICA] = replica;
    d[o + C_T0] = now;
    d[o + C_TTFT] = 0;
    const slo = requestSlo(this.init, req);
    const tpot = slo?.tpotMs ?? 0;
    let level = 0;
    while (level < this.levels.length - 1 && this.levels[level]! < tpot) level++;
    d[o + C_LEVEL] = level;
    this.atLevel[replica * this.levels.length + level]!++;
    this.dispatched[replica]!++;
    if (this.gie) {
      this.own[replica]! += req.inputTokens;
      d[o + C_OWN] = req.inputTokens;
    }
    // Features exist only for a request this router scheduled in the cycle just run (otherwise there is no
    // scheduling context and, as upstream, no training entry).
    const ok = cycle !== undefined && cycle.req.id === req.id && this.produced === cycle.id;
    d[o + C_HAS] = ok ? 1 : 0;
    if (!ok) return;
    const ttftAt = cycle.prefill >= 0 ? cycle.prefill : replica;
    for (let k = 0; k < F_WIDTH; k++) {
      d[o + C_F1 + k] = this.snap[ttftAt * F_WIDTH + k]!;
      d[o + C_F2 + k] = this.snap[replica * F_WIDTH + k]!;
    }
    if (this.gie) {
      // The training snapshot is the counter after this request's own tokens were added.
      d[o + C_F1 + 3] = this.own[ttftAt]!;
      d[o + C_F2 + 3] = this.own[replica]!;
    }
  }

  private rowFeatures(o: number, at: number, req: Request): LatencyFeatures {
    const d = this.rows.data;
    const f = this.f;
    f.kv = d[o + at]!;
    f.waiting = d[o + at + 1]!;
    f.running = d[o + at + 2]!;
    f.prefillTokensInFlight = d[o + at + 3]!;
    f.prefixScore = d[o + at + 4]!;
    f.pod = d[o + at + 5]!;
    f.inputTokens = req.inputTokens;
    return f;
  }

  /** TTFT entry (recordTTFTTrainingData): observed ms, truncated to whole ms as `Duration.Milliseconds()` does. */
  private recordTtft(req: Request, o: number, now: number): void {
    const d = this.rows.data;
    const ms = Math.floor((now - d[o + C_T0]!) * 1000);
    d[o + C_TTFT] = ms;
    if (d[o + C_HAS] !== 1) return;
    const f = this.rowFeatures(o, C_F1, req);
    this.predictor.addSample(now, ttftRow(this.x1, f), ms, "ttft", f);
  }

  /** First chunk: in streaming mode, TTFT is recorded now (requestcontrol_hooks.go L150–L155). */
  onFirstToken(req: Request, _replica: number, now: number): void {
    if (!this.p.streamingMode) return;
    const o = this.rows.find(req.id);
    if (o < 0 || this.rows.data[o + C_TTFT]! > 0) return;
    this.recordTtft(req, o, now);
  }

  /**
   * End of stream (requestcontrol_hooks.go L157–L207): not streaming → the end-to-end latency is recorded as TTFT;
   * streaming → TPOT = (e2e − TTFT)/(tokens − 1) when more than one token came. The token count is the request's
   * output (one chunk per token). A request that got no token (rejected, dropped) sends nothing.
   */
  onComplete(req: Request, _replica: number, now: number): void {
    const o = this.rows.find(req.id);
    if (o < 0) return;
    const d = this.rows.data;
    const gotTokens = this.p.streamingMode ? d[o + C_TTFT]! > 0 : req.outputTokens > 0;
    if (gotTokens && d[o + C_HAS] === 1) {
      if (!this.p.streamingMode) this.recordTtft(req, o, now);
      else if (req.outputTokens > 1) {
        const e2e = Math.floor((now - d[o + C_T0]!) * 1000);
        const tpot = (e2e - d[o + C_TTFT]!) / (req.outputTokens - 1);
        if (tpot > 0) {
          const f = this.rowFeatures(o, C_F2, req);
          f.prefixScore = 0; // the TPOT entry sends prefix_cache_score 0 (requestcontrol_hooks.go L188–L200)
          this.predictor.addSample(now, tpotRow(this.x2, f, 0), tpot, "tpot", f);
        }
      }
    }
    this.finish(req.id);
  }

  private finish(id: number): void {
    const o = this.rows.find(id);
    if (o < 0) return;
    const d = this.rows.data;
    const r = d[o + C_REPLICA]!;
    this.atLevel[r * this.levels.length + d[o + C_LEVEL]!]!--;
    this.dispatched[r]!--;
    if (this.gie) {
      this.own[r]! -= d[o + C_OWN]!;
      if (this.own[r]! < 1e-9) this.own[r] = 0;
    }
    this.rows.close(id);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// latency-scorer

export const latencyScorerParams = z.strictObject({
  /** scorer/latency/plugin.go L86–L93 defaults: ttftWeight 0.8, tpotWeight 0.2, strategy least, composite 1/1/1. */
  ttftWeight: z.number().default(0.8),
  tpotWeight: z.number().default(0.2),
  headroomSelectionStrategy: z.enum(["least", "most"]).default("least"),
  compositeKVWeight: z.number().default(1),
  compositeQueueWeight: z.number().default(1),
  compositePrefixWeight: z.number().default(1),
  latencyPredictionInfoProducerName: z.string().optional(),
  prefixMatchInfoProducerName: z.string().optional(),
});
export type LatencyScorerParams = z.output<typeof latencyScorerParams>;

const W_MAX = 100;
const SCORE_EPS = 1e-9;

/**
 * `latency-scorer`: endpoints whose headroom is ≥ 0 on both TTFT and TPOT are scored among themselves by the
 * strategy (`least`: the smallest headroom that still meets the SLO wins, packing); when none has, idle ones
 * (no request dispatched by the producer running), then those missing only TPOT, only TTFT, both, are scored with
 * `least` (smallest violation first). Within a tier: normalised |headroom| by min-max, combined α·TTFT + β·TPOT
 * (weights normalised; a dimension with no spread gives its weight to the other), score
 * `(⌊(1 − c)·100⌋ + 1)/100` (least) or `(⌊c·100⌋ + 1)/100` (most); others 0. Without predictions: the composite
 * `round(100·(w_kv·(1 − KV) + w_q·(max_q − q)/max_q + w_p·prefix))/100` (weights normalised).
 */
export class LatencyScorer implements Scorer {
  readonly type = "latency-scorer";
  readonly name: string;
  private readonly p: LatencyScorerParams;
  private readonly producer: PredictedLatencyProducer;
  private readonly prefix: PrefixMatchProvider;
  private readonly tier: Int32Array;
  private readonly group: Int32Array;

  constructor(
    name: string,
    params: LatencyScorerParams,
    producer: PredictedLatencyProducer,
    prefix: PrefixMatchProvider,
    replicas: number,
  ) {
    this.name = name;
    this.p = params;
    this.producer = producer;
    this.prefix = prefix;
    this.tier = new Int32Array(Math.max(1, replicas));
    this.group = new Int32Array(Math.max(1, replicas));
  }

  score(cycle: Cycle, eps: readonly EndpointView[], out: Float64Array): void {
    const P = this.producer;
    P.produce(cycle);
    const n = eps.length;
    for (let i = 0; i < n; i++) out[i] = 0;
    let any = false;
    for (let i = 0; i < n; i++) if (P.has[eps[i]!.index] === 1) any = true;
    if (!any) {
      this.composite(cycle, eps, out);
      return;
    }
    // Tier per endpoint: 0 positive (or no prediction), 1 idle negative, 2 TPOT-only negative, 3 TTFT-only, 4 both.
    const tier = this.tier;
    let positives = 0;
    let idle = 0;
    let tpotOnly = 0;
    let ttftOnly = 0;
    for (let i = 0; i < n; i++) {
      const r = eps[i]!.index;
      if (P.has[r] !== 1) {
        tier[i] = 0;
        positives++;
        continue;
      }
      const tn = P.ttftHeadroom[r]! < 0;
      const pn = P.tpotHeadroom[r]! < 0;
      if (!tn && !pn) {
        tier[i] = 0;
        positives++;
      } else if (P.dispatched[r] === 0) {
        tier[i] = 1;
        idle++;
      } else if (pn && !tn) {
        tier[i] = 2;
        tpotOnly++;
      } else if (tn && !pn) {
        tier[i] = 3;
        ttftOnly++;
      } else {
        tier[i] = 4;
      }
    }
    let pickTier: number;
    let forceLeast = true;
    if (positives > 0) {
      pickTier = 0;
      forceLeast = false;
    } else if (idle > 0) pickTier = 1;
    else if (tpotOnly > 0) pickTier = 2;
    else if (ttftOnly > 0) pickTier = 3;
    else pickTier = 4;
    let m = 0;
    for (let i = 0; i < n; i++) if (tier[i] === pickTier) this.group[m++] = i;
    this.scoreBucket(eps, m, out, forceLeast);
  }

  /** `scoreBucket` (plugin.go): min-max of |headroom| within the tier, then the strategy's weight. */
  private scoreBucket(eps: readonly EndpointView[], m: number, out: Float64Array, forceLeast: boolean): void {
    const P = this.producer;
    const sum = this.p.ttftWeight + this.p.tpotWeight;
    let alpha = sum <= 0 ? 1 : this.p.ttftWeight / sum;
    let beta = sum <= 0 ? 0 : this.p.tpotWeight / sum;
    let minT = Number.MAX_VALUE;
    let maxT = -Number.MAX_VALUE;
    let minP = Number.MAX_VALUE;
    let maxP = -Number.MAX_VALUE;
    for (let k = 0; k < m; k++) {
      const r = eps[this.group[k]!]!.index;
      const ht = Math.abs(P.ttftHeadroom[r]!);
      const hp = Math.abs(P.tpotHeadroom[r]!);
      if (ht < minT) minT = ht;
      if (ht > maxT) maxT = ht;
      if (hp < minP) minP = hp;
      if (hp > maxP) maxP = hp;
    }
    const rangeT = maxT - minT;
    const rangeP = maxP - minP;
    if (rangeT <= SCORE_EPS && rangeP > SCORE_EPS) {
      alpha = 0;
      beta = 1;
    } else if (rangeP <= SCORE_EPS && rangeT > SCORE_EPS) {
      alpha = 1;
      beta = 0;
    }
    const most = !forceLeast && this.p.headroomSelectionStrategy === "most";
    for (let k = 0; k < m; k++) {
      const i = this.group[k]!;
      const r = eps[i]!.index;
      const nT = rangeT > SCORE_EPS ? (Math.abs(P.ttftHeadroom[r]!) - minT) / rangeT : 0.5;
      const nP = rangeP > SCORE_EPS ? (Math.abs(P.tpotHeadroom[r]!) - minP) / rangeP : 0.5;
      const c = alpha * nT + beta * nP;
      const w = most ? Math.trunc(c * W_MAX) + 1 : Math.trunc((1 - c) * W_MAX) + 1;
      out[i] = w / W_MAX;
    }
  }

  /** `compositeScores` (plugin.go): the fallback when no endpoint has a prediction. */
  private composite(cycle: Cycle, eps: readonly EndpointView[], out: Float64Array): void {
    let wkv = this.p.compositeKVWeight;
    let wq = this.p.compositeQueueWeight;
    let wp = this.p.compositePrefixWeight;
    let s = wkv + wq + wp;
    if (s <= 0) {
      wkv = 1;
      wq = 0;
      wp = 0;
      s = 1;
    }
    wkv /= s;
    wq /= s;
    wp /= s;
    let maxQ = 0;
    for (let i = 0; i < eps.length; i++) if (eps[i]!.waiting > maxQ) maxQ = eps[i]!.waiting;
    const m = this.prefix.match(cycle);
    for (let i = 0; i < eps.length; i++) {
      const e = eps[i]!;
      const rel = maxQ > 0 ? (maxQ - e.waiting) / maxQ : 1;
      const prefix = m.totalBlocks > 0 ? m.matchBlocks[e.index]! / m.totalBlocks : 0;
      const c = wkv * (1 - e.kvCacheUsage) + wq * rel + wp * prefix;
      out[i] = Math.round(W_MAX * c) / W_MAX;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// slo-headroom-tier-filter

export const sloHeadroomTierParams = z.strictObject({
  /** sloheadroomtier/plugin.go L52–L54: default 0.01, must be in [0, 1] (L69–L71). */
  epsilonExploreNeg: unit.default(0.01),
  latencyPredictionInfoProducerName: z.string().optional(),
});

/**
 * `slo-headroom-tier-filter`: keeps the endpoints whose TTFT and TPOT headroom are both ≥ 0; with probability
 * `epsilonExploreNeg` (one draw from the routing RNG, only when both tiers are non-empty) keeps the negative tier
 * instead (endpoints without a prediction count as negative); no predictions at all → keeps every endpoint.
 */
export class SloHeadroomTierFilter implements Filter {
  readonly type = "slo-headroom-tier-filter";
  readonly name: string;
  private readonly eps: number;
  private readonly producer: PredictedLatencyProducer;

  constructor(name: string, params: z.output<typeof sloHeadroomTierParams>, producer: PredictedLatencyProducer) {
    this.name = name;
    this.eps = params.epsilonExploreNeg;
    this.producer = producer;
  }

  filter(cycle: Cycle, eps: readonly EndpointView[]): readonly EndpointView[] {
    if (eps.length <= 1) return eps;
    const P = this.producer;
    P.produce(cycle);
    let pos = 0;
    let withPred = 0;
    for (let i = 0; i < eps.length; i++) {
      const r = eps[i]!.index;
      if (P.has[r] !== 1) continue;
      withPred++;
      if (P.ttftHeadroom[r]! >= 0 && P.tpotHeadroom[r]! >= 0) pos++;
    }
    if (withPred === 0) return eps;
    const neg = eps.length - pos;
    let keepPositive: boolean;
    if (pos > 0 && neg > 0) keepPositive = !(cycle.ctx.rng.next() < this.eps);
    else keepPositive = pos > 0;
    const out = cycle.buffer(keepPositive ? pos : neg);
    let k = 0;
    for (let i = 0; i < eps.length; i++) {
      const r = eps[i]!.index;
      const isPos = P.has[r] === 1 && P.ttftHeadroom[r]! >= 0 && P.tpotHeadroom[r]! >= 0;
      if (isPos === keepPositive) out[k++] = eps[i]!;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// latency-slo-admitter

export const latencySloAdmitterParams = z.strictObject({
  latencyPredictionInfoProducerName: z.string().optional(),
});

/** KV usage under which a pod counts as cold (latencyslo/plugin.go L134: `KVCacheUsagePercent < 0.02`). */
export const COLD_KV_USAGE = 0.02;

/**
 * `latency-slo-admitter`: refuses a sheddable request (priority < 0) that carries an SLO when no candidate has a
 * prediction within it, none is idle (running 0 at the last scrape) and none is cold (KV usage < 2 %); no
 * predictions → admits (fail open). Refusals are the director's 429.
 */
export class LatencySloAdmitter implements Admitter {
  readonly type = "latency-slo-admitter";
  readonly name: string;
  private readonly producer: PredictedLatencyProducer;
  private readonly init: RouterInit;

  constructor(name: string, producer: PredictedLatencyProducer, init: RouterInit) {
    this.name = name;
    this.producer = producer;
    this.init = init;
  }

  admit(cycle: Cycle): string | undefined {
    if ((cycle.req.priority ?? 0) >= 0) return undefined;
    const slo = requestSlo(this.init, cycle.req);
    if (slo === undefined || !(slo.ttftMs > 0 || slo.tpotMs > 0)) return undefined;
    const P = this.producer;
    P.produce(cycle);
    let valid = false;
    let cold = false;
    let idle = false;
    let preds = false;
    const eps = cycle.ctx.endpoints;
    for (let i = 0; i < eps.length; i++) {
      const e = eps[i]!;
      if (e.kvCacheUsage < COLD_KV_USAGE) cold = true;
      if (e.running === 0) idle = true;
      if (P.has[e.index] === 1) {
        preds = true;
        if (P.ttftValid[e.index] === 1 && P.tpotValid[e.index] === 1) valid = true;
      }
    }
    if (!preds) return undefined;
    return !valid && !idle && !cold
      ? "latency-slo-admitter: no valid endpoint available to serve the request"
      : undefined;
  }
}

/** The producer a consumer reads (`latencyPredictionInfoProducerName`, else the config's or the auto-created one). */
export function latencyProducer(env: BuildEnv, name: string | undefined): PredictedLatencyProducer {
  return env.latencyProducer(name) as PredictedLatencyProducer;
}
