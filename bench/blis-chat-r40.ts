/**
 * blis-chat-r40: BLIS's 10,000-request Poisson chat stream (../shared/data/blis-traces/trace-chat-r40.csv) on 4
 * replicas of Llama-3.1-8B/H100, first with round-robin, then with `gie-default` and a 50 ms scrape interval. BLIS
 * needs 67 s (defaults) / 4.1 s (staleness off) for this on this kind of machine (reference/simulators.md §6.3).
 * The JSON line reports the gie-default run.
 */
import { runScenario } from "../src/lab/run.ts";
import { loadScenario, packageRoot } from "../src/scenario.ts";
import { finish, line, now, result } from "./common.ts";

const loaded = loadScenario(`${packageRoot()}/scenarios/blis-chat-r40.yaml`);
let t = now();
const rr = runScenario(loaded, { policy: "round-robin" });
const rrWall = now() - t;
process.stdout.write(
  `${line("blis-chat-r40 round-robin", result("blis-chat-r40/round-robin", rr.summary.requests.total, rr.result.events, rrWall), `TTFT p95 ${rr.summary.ttft_ms.p95.toFixed(2)} ms`)}\n`,
);
t = now();
const gie = runScenario(loaded, { policy: "gie-default" });
const wall = now() - t;
finish(
  "blis-chat-r40 gie-default (50 ms scrape)",
  result("blis-chat-r40", gie.summary.requests.total, gie.result.events, wall),
  `TTFT p95 ${gie.summary.ttft_ms.p95.toFixed(2)} ms; BLIS: 60.6 s → ${(60.6 / wall).toFixed(0)}× faster`,
);
