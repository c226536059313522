/**
 * Enqueue times are derived, not stored, while they follow the engine's rule (dispatch + the replica's pre-queue
 * overheads): every row must read back the time a stored column would hold, on runs with retries, degradation,
 * flow control and P/D disaggregation (where the prefill pod's overheads apply and the column is stored).
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../src/lab/run.ts";
import { loadScenario } from "../src/scenario.ts";
import { RequestTable } from "../src/sim/records.ts";

const file = (n: string) => new URL(`../scenarios/${n}.yaml`, import.meta.url).pathname;

describe("derived enqueue times", () => {
  for (const name of ["spike-retry-aggressive", "spike-degradation", "spike-flow-control", "pd-disagg", "lora-heavy"]) {
    it(`equal the stored ones on ${name}`, () => {
      const loaded = loadScenario(file(name));
      const derived = runScenario(loaded).result.records;
      const proto = RequestTable.prototype as unknown as { deriveEnqueue: (...a: unknown[]) => void };
      const keep = proto.deriveEnqueue;
      proto.deriveEnqueue = () => {}; // the reference: every enqueue time stored
      let stored: RequestTable;
      try {
        stored = runScenario(loaded).result.records;
      } finally {
        proto.deriveEnqueue = keep;
      }
      expect(derived.size).toBe(stored.size);
      let enqueued = 0;
      for (let i = 0; i < stored.size; i++) {
        expect(derived.enqueueAt(i)).toBe(stored.enqueueAt(i));
        if (stored.enqueueAt(i) >= 0) enqueued++;
      }
      expect(enqueued).toBeGreaterThan(stored.size / 2);
      expect(Array.from(derived.enqueue.subarray(0, derived.size))).toEqual(
        Array.from(stored.enqueue.subarray(0, stored.size)),
      );
    });
  }
});
