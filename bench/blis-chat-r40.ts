/**
 * blis-chat-r40: BLIS's 10,000-request Poisson chat stream (../shared/data/blis-traces/trace-chat-r40.csv) on 4
 * replicas of Llama-3.1-8B/H100, first with round-robin, then with `gie-default` and a 50 ms scrape interval. The
 * JSON line reports the gie-default run. A speed ratio against BLIS is quoted only from a paired run (both simulators'
 * whole processes, interleaved on the same machine): docs/performance.md gives the recipe.
 */
import { runScenario } from "../src/lab/run.ts";
import { loadScenario, packageRoot } from "../src/scenario.ts";
import { finish, line, mark, result } from "./common.ts";

let t = mark();
const loaded = loadScenario(`${packageRoot()}/scenarios/blis-chat-r40.yaml`);
const rr = runScenario(loaded, { policy: "round-robin" });
process.stdout.write(
  `${line("blis-chat-r40 round-robin", result("blis-chat-r40/round-robin", rr.summary.requests.total, rr.result.events, t), `TTFT p95 ${rr.summary.ttft_ms.p95.toFixed(2)} ms`)}\n`,
);
t = mark();
const gie = runScenario(loaded, { policy: "gie-default" });
finish(
  "blis-chat-r40 gie-default (50 ms scrape)",
  result("blis-chat-r40", gie.summary.requests.total, gie.result.events, t),
  `TTFT p95 ${gie.summary.ttft_ms.p95.toFixed(2)} ms`,
);
