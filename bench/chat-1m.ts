/**
 * chat-1m: 1,000,000 synthetic chat requests on 32 replicas of Llama-3.1-8B/H100 routed by `gie-default` with a 50 ms
 * scrape interval. The chat shape is BLIS's (../shared/data/blis-traces/poisson-chat-r40.yaml: Gaussian 512±128 input
 * and 256±64 output tokens, Poisson arrivals) at BLIS's chat-r40 load per replica (10 req/s), so 320 req/s in all.
 * Targets (issue 16): ≥ 100,000 simulated requests per CPU-second, peak RSS ≤ 450 MB.
 *
 * `npm run bench -- chat-1m [requests] [replicas] [policy]`: the request count, the replica count (the rate stays
 * 10 req/s per replica) and the routing policy can be changed, e.g. `chat-1m 100000 1024` for the replica-scaling
 * target or `chat-1m 200000 32 llm-d-precise` against `chat-1m 200000 32 round-robin`. A fifth argument sets every
 * replica's KV cache size in blocks (`total_kv_blocks`; default: derived, 26,312 here), e.g. `chat-1m 100000 32
 * round-robin 2000` to see how much of the cost is the KV tables' cache misses (docs/performance.md).
 */
import { runScenario } from "../src/lab/run.ts";
import { parseScenario } from "../src/scenario.ts";
import { finish, mark, result } from "./common.ts";

const n = Number(process.argv[2] ?? 1_000_000);
const replicas = Number(process.argv[3] ?? 32);
const policy = process.argv[4] ?? "gie-default";
const kvBlocks = process.argv[5] === undefined ? undefined : Number(process.argv[5]);
const yaml = `name: chat-1m
seed: 1
requests: ${n}
pools:
  - model: llama-3.1-8b-instruct
    replicas: ${replicas}${kvBlocks === undefined ? "" : `\n    engine: { total_kv_blocks: ${kvBlocks} }`}
gateway: { policy: ${policy}, scrape_interval_ms: 50 }
sample_interval_s: 10
workload:
  type: poisson
  rate: ${10 * replicas}
  input: { dist: normal, mean: 512, std: 128, min: 16 }
  output: { dist: normal, mean: 256, std: 64, min: 8 }
`;
const t = mark();
const loaded = parseScenario(yaml, "chat-1m", ".");
const out = runScenario(loaded);
finish(
  `chat-1m (${replicas} replicas, ${policy}${kvBlocks === undefined ? "" : `, ${kvBlocks} KV blocks each`})`,
  result(
    replicas === 32 && policy === "gie-default" && kvBlocks === undefined
      ? "chat-1m"
      : `chat-1m/${replicas}/${policy}${kvBlocks === undefined ? "" : `/${kvBlocks}-blocks`}`,
    out.summary.requests.total,
    out.result.events,
    t,
  ),
  `simulated ${out.summary.duration_s.toFixed(0)} s, TTFT p95 ${out.summary.ttft_ms.p95.toFixed(1)} ms, hit rate ${(out.summary.prefix_cache_hit_rate * 100).toFixed(1)} %`,
);
