/**
 * chat-1m: 1,000,000 synthetic chat requests on 32 replicas of Llama-3.1-8B/H100 routed by `gie-default` with a 50 ms
 * scrape interval. The chat shape is BLIS's (reference/simulators.md §6: Gaussian 512±128 input and 256±64 output
 * tokens, Poisson arrivals) at BLIS's chat-r40 load per replica (10 req/s), so 320 req/s in all. Target: ≥ 100,000
 * simulated requests per second on one core, peak RSS ≤ 1.5 GB. `npm run bench -- chat-1m [requests]`.
 */
import { runScenario } from "../src/lab/run.ts";
import { parseScenario } from "../src/scenario.ts";
import { finish, now, result } from "./common.ts";

const n = Number(process.argv[2] ?? 1_000_000);
const yaml = `name: chat-1m
seed: 1
requests: ${n}
pools:
  - model: llama-3.1-8b-instruct
    replicas: 32
gateway: { policy: gie-default, scrape_interval_ms: 50 }
sample_interval_s: 10
workload:
  type: poisson
  rate: 320
  input: { dist: normal, mean: 512, std: 128, min: 16 }
  output: { dist: normal, mean: 256, std: 64, min: 8 }
`;
const loaded = parseScenario(yaml, "chat-1m", ".");
const t = now();
const out = runScenario(loaded);
const wall = now() - t;
finish(
  "chat-1m (32 replicas, gie-default)",
  result("chat-1m", out.summary.requests.total, out.result.events, wall),
  `simulated ${out.summary.duration_s.toFixed(0)} s, TTFT p95 ${out.summary.ttft_ms.p95.toFixed(1)} ms, hit rate ${(out.summary.prefix_cache_hit_rate * 100).toFixed(1)} %`,
);
