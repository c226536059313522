/**
 * Streaming benchmark: generates 1,000,000 synthetic requests (a mix of shared-prefix Poisson traffic, open-loop chat
 * sessions and RAG queries) and replays them through a minimal engine stand-in that keeps at most a few thousand
 * requests in flight (each completes 2 s after it arrives, so the stream is consumed in time order, as the engine
 * does). Memory must stay flat: peak RSS is printed and must stay under 500 MB.
 *
 * Usage: `npm run bench -- workload-stream [requests]`. Last line: one JSON object (bench/common.ts; events =
 * requests here).
 */
import { EventHeap } from "../src/sim/heap.ts";
import type { Request } from "../src/sim/request.ts";
import { buildWorkload } from "../src/workloads/index.ts";
import { finish, mark, result } from "./common.ts";

const N = Number(process.argv[2] ?? 1_000_000);

const workload = {
  rate: 500,
  mix: [
    {
      type: "poisson",
      weight: 2,
      input: { dist: "lognormal", mean: 600, std: 300 },
      output: 200,
      prefix: { groups: 16, tokens: 512 },
    },
    { type: "chat", weight: 2, apps: 8, system_prompt: 400, turns: 6, think_time: { dist: "exponential", mean: 8 } },
    { type: "rag", weight: 1, documents: 50000, k: 4 },
  ],
};

let peakRss = 0;
function sampleRss(): void {
  const r = process.memoryUsage.rss();
  if (r > peakRss) peakRss = r;
}

const t0 = mark();
const src = buildWorkload(workload, { seed: 1, baseDir: ".", maxRequests: N });
const heap = new EventHeap(4096);
const inFlight = new Map<number, Request>();
let requests = 0;
let promptTokens = 0;
let next = src.next();
while (next !== undefined || heap.size > 0) {
  if (next !== undefined && next.arrival <= heap.peekTime()) {
    const r = next;
    requests++;
    promptTokens += r.inputTokens;
    inFlight.set(r.id, r);
    heap.push(r.arrival + 2, 1, r.id);
    next = src.next();
  } else {
    heap.pop();
    const r = inFlight.get(heap.lastArg)!;
    inFlight.delete(r.id);
    for (const f of src.onFinish?.(r, heap.lastTime, true) ?? []) {
      requests++;
      promptTokens += f.inputTokens;
      inFlight.set(f.id, f);
      heap.push(f.arrival + 2, 1, f.id);
    }
  }
  if ((requests & 0xffff) === 0) sampleRss();
}
sampleRss();
const peakMb = peakRss / (1024 * 1024);
finish(
  "workload-stream",
  result("workload-stream", requests, requests, t0),
  `${(promptTokens / requests).toFixed(0)} prompt tokens on average; peak RSS sampled ${peakMb.toFixed(1)} MB (limit 500 MB)`,
);
