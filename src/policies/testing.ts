/**
 * Hand-built inputs for router tests: endpoint views, local load counters, requests with shared prefixes and routing
 * contexts. Not used by the simulator itself.
 */
import { promptBlockHashes, type Segment } from "../sim/hash.ts";
import type { Request } from "../sim/request.ts";
import { type Rng, rngStream } from "../sim/rng.ts";
import type { EndpointView, LocalLoad, RouterInit, RoutingContext } from "./types.ts";

export interface EndpointSpec {
  waiting?: number;
  running?: number;
  kv?: number;
  runningAdapters?: string[];
  waitingAdapters?: string[];
  maxLora?: number;
  scrapeTime?: number;
  blockSize?: number;
  numGpuBlocks?: number;
}

/** An endpoint view `main/<index>` with the given scraped metrics (defaults: idle, fresh at t = 0). */
export function endpoint(index: number, s: EndpointSpec = {}): EndpointView {
  return {
    index,
    name: `main/${index}`,
    pool: "main",
    model: "m",
    waiting: s.waiting ?? 0,
    running: s.running ?? 0,
    kvCacheUsage: s.kv ?? 0,
    runningAdapters: new Set(s.runningAdapters ?? []),
    waitingAdapters: new Set(s.waitingAdapters ?? []),
    residentAdapters: new Set(s.runningAdapters ?? []),
    maxLora: s.maxLora ?? 0,
    blockSize: s.blockSize ?? 16,
    numGpuBlocks: s.numGpuBlocks ?? 1000,
    maxNumSeqs: 256,
    scrapeTime: s.scrapeTime ?? 0,
  };
}

/** `n` idle endpoints, or one per spec. */
export function endpoints(specs: number | EndpointSpec[]): EndpointView[] {
  if (typeof specs === "number") return Array.from({ length: specs }, (_, i) => endpoint(i));
  return specs.map((s, i) => endpoint(i, s));
}

export function localLoad(n: number, inFlight: number[] = []): LocalLoad {
  const l = {
    inFlight: new Int32Array(n),
    inFlightPrefillTokens: new Float64Array(n),
    inFlightTokens: new Float64Array(n),
  };
  inFlight.forEach((v, i) => {
    l.inFlight[i] = v;
  });
  return l;
}

export function routerInit(replicas: number, o: Partial<RouterInit> = {}): RouterInit {
  return {
    replicas,
    blockSize: o.blockSize ?? 16,
    numGpuBlocks: o.numGpuBlocks ?? Array.from({ length: replicas }, () => 1000),
    ...(o.traceDecisions !== undefined ? { traceDecisions: o.traceDecisions } : {}),
    ...(o.labels !== undefined ? { labels: o.labels } : {}),
  };
}

let nextId = 0;

/** A request whose prompt is the given segments (content id, tokens). */
export function request(segments: Segment[], o: Partial<Omit<Request, "prompt" | "inputTokens">> = {}): Request {
  const inputTokens = segments.reduce((s, x) => s + x.tokens, 0);
  return { id: o.id ?? nextId++, arrival: 0, outputTokens: 10, ...o, prompt: segments, inputTokens };
}

export interface ContextOptions {
  now?: number;
  local?: LocalLoad;
  rng?: Rng;
  seed?: number;
}

/** A routing context for `req` over `eps`; prompt hashes as the engine computes them (`blockHashes`). */
export function context(req: Request, eps: readonly EndpointView[], o: ContextOptions = {}): RoutingContext {
  const n = Math.max(0, ...eps.map((e) => e.index + 1));
  const cache = new Map<number, Float64Array>();
  return {
    now: o.now ?? 0,
    endpoints: eps,
    local: o.local ?? localLoad(n),
    rng: o.rng ?? rngStream(o.seed ?? 1, "routing"),
    promptHashes(bs: number): Float64Array {
      let h = cache.get(bs);
      if (h === undefined) cache.set(bs, (h = promptBlockHashes(req, bs)));
      return h;
    },
  };
}
