/**
 * chat-1m: 1,000,000 synthetic multi-turn chat requests (8 apps with shared system prompts, growing history) on 32
 * replicas of Llama-3.1-8B/H100 routed by `gie-default` with a 50 ms scrape interval. Target: ≥ 100,000 simulated
 * requests per second on one core, peak RSS ≤ 1.5 GB. `npm run bench -- chat-1m [requests]`.
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
  type: chat
  arrival: { process: poisson, rate: 60 }
  apps: 8
  system_prompt: { dist: uniform, min: 500, max: 1500 }
  turns: { dist: uniform, min: 1, max: 6 }
  message: { dist: lognormal, mean: 150, std: 100, min: 4, max: 2000 }
  output: { dist: lognormal, mean: 200, std: 120, min: 4, max: 1000 }
  think_time: { dist: exponential, mean: 5 }
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
