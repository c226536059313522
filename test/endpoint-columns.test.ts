/**
 * Routers read the candidates' scraped metrics from columns (`EndpointColumns`) when the engine keeps them, and the
 * approximate prefix scorer skips its pass when no candidate matched: both must route exactly as the views do and as
 * the scorers' plain `score` does. Each case runs a shipped scenario three times — with the columns, with the views
 * only, and traced (per-scorer scores) — and compares the whole summaries (their per-replica figures follow every
 * decision).
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../src/lab/run.ts";
import { loadScenario } from "../src/scenario.ts";

const scenario = (name: string) => new URL(`../scenarios/${name}`, import.meta.url).pathname;

describe("endpoint columns", () => {
  // Scenarios with queues (chat-burst, spike), several pools and models (mixed, lora-heavy), prefix reuse (rag) and
  // the default; policies whose scorers read waiting (queue), running (running-requests-size), kv usage and prefix.
  const cases: [string | undefined, string][] = [
    [undefined, "gie-default"],
    [undefined, "llm-d-precise"],
    [scenario("chat-burst.yaml"), "gie-default"],
    [scenario("rag.yaml"), "gie-default"],
    [scenario("mixed.yaml"), "gie-default"],
    [scenario("lora-heavy.yaml"), "gie-default"],
    [scenario("spike-no-flow-control.yaml"), "gie-default"],
  ];
  for (const [file, policy] of cases) {
    it(`routes ${file?.split("/").pop() ?? "the default scenario"} with ${policy} exactly as the views do`, () => {
      const loaded = loadScenario(file);
      // No decision trace here: a traced router scores through the per-scorer breakdown, not these paths.
      const a = runScenario(loaded, { policy, endpointColumns: false });
      const b = runScenario(loaded, { policy });
      // Traced, the Endpoint Picker scores with each scorer's `score` (per-scorer breakdown), not `addWeighted`.
      let decisions = 0;
      const c = runScenario(loaded, { policy, onDecision: () => decisions++ });
      expect(b.summary.requests.total).toBeGreaterThan(100);
      expect(decisions).toBeGreaterThanOrEqual(b.summary.requests.total);
      // The per-replica figures (requests, hits, latencies) in the summary follow every routing decision.
      expect(JSON.stringify(b.summary)).toBe(JSON.stringify(a.summary));
      expect(JSON.stringify(b.summary)).toBe(JSON.stringify(c.summary));
    });
  }
});
