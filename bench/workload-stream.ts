/**
 * Streaming benchmark: generates 1,000,000 synthetic requests (a mix of shared-prefix Poisson traffic, open-loop chat
 * sessions and RAG queries) and replays them through a minimal engine stand-in that keeps at most a few thousand
 * requests in flight (each completes 2 s after it arrives, so the stream is consumed in time order, as the engine
 * does). Memory must stay flat: peak RSS is printed and must stay under 500 MB.
 *
 * Usage: `npx tsx bench/workload-stream.ts [requests]`. Last line: one JSON object
 * `{"name","requests","events","wall_s","requests_per_s","events_per_s","peak_rss_mb"}` (events = requests here).
 */
import { EventHeap } from "../src/sim/heap.ts";
import type { Request } from "../src/sim/request.ts";
import { buildWorkload } from "../src/workloads/index.ts";

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

const t0 = process.hrtime.bigint();
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
const wall = Number(process.hrtime.bigint() - t0) / 1e9;
const peakMb = peakRss / (1024 * 1024);

process.stdout.write(
  `workload-stream: ${requests.toLocaleString("en-US")} requests (${(promptTokens / requests).toFixed(0)} prompt tokens on average) ` +
    `generated and replayed in ${wall.toFixed(2)} s (${Math.round(requests / wall).toLocaleString("en-US")} req/s), ` +
    `peak RSS ${peakMb.toFixed(1)} MB (limit 500 MB)\n`,
);
process.stdout.write(
  `${JSON.stringify({
    name: "workload-stream",
    requests,
    events: requests,
    wall_s: Number(wall.toFixed(3)),
    requests_per_s: Math.round(requests / wall),
    events_per_s: Math.round(requests / wall),
    peak_rss_mb: Number(peakMb.toFixed(1)),
  })}\n`,
);
