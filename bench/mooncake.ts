/**
 * mooncake: the Mooncake conversation trace (12,031 requests, mean prompt 12k tokens, 512-token prefix hashes) on 16
 * replicas of Llama-3.1-8B/H100 routed by `gie-default`.
 */
import { runScenario } from "../src/lab/run.ts";
import { packageRoot, parseScenario } from "../src/scenario.ts";
import { finish, mark, result } from "./common.ts";

const yaml = `name: mooncake
seed: 42
requests: 20000
pools:
  - model: llama-3.1-8b-instruct
    replicas: 16
gateway: { policy: gie-default }
workload: { type: trace, format: mooncake, path: ../../shared/data/mooncake/conversation_trace.jsonl }
`;
const t = mark();
const loaded = parseScenario(yaml, "mooncake", `${packageRoot()}/scenarios`);
const out = runScenario(loaded);
finish(
  "mooncake (16 replicas, gie-default)",
  result("mooncake", out.summary.requests.total, out.result.events, t),
  `hit rate ${(out.summary.prefix_cache_hit_rate * 100).toFixed(1)} %, TTFT p95 ${out.summary.ttft_ms.p95.toFixed(0)} ms`,
);
