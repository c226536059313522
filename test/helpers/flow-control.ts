// Shared set-up of the flow-control tests.
import { FlowControlSchema } from "../../src/policies/flow-control/schema.ts";
import { flowControlFromScenario } from "../../src/policies/flow-control/settings.ts";

/** Simulation options of the flow-control tests: invariants checked, router-local counts exact. */
export const flowOpts = { seed: 3, scrapeIntervalS: 0.05, kvEventDelayS: 0, sampleIntervalS: 1, checkInvariants: true };

/** Flow control saturated as soon as one request is in flight per replica (router-local counts: exact). */
export function fc(extra: Record<string, unknown> = {}) {
  return flowControlFromScenario(
    FlowControlSchema.parse({
      saturationDetector: { type: "concurrency-detector", parameters: { maxConcurrency: 1 } },
      ...extra,
    }),
  );
}
