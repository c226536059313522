/**
 * The per-replica KV-event queues: a delivery at `t` hands over exactly the events due by `t`, each replica's in
 * push order, as its endpoint, after showing their hashes to the prefetch hook; nothing is lost or repeated across
 * growth and compaction of the queues (fast-check against a plain list per replica).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KvEventQueues } from "../src/cluster/kv-events.ts";

type Op = { push: true; replica: number; dt: number; stored: boolean } | { push: false; at: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      push: fc.constant(true as const),
      replica: fc.integer({ min: 0, max: 3 }),
      dt: fc.constantFrom(0, 0.001, 0.01, 0.05),
      stored: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ push: fc.constant(false as const), at: fc.double({ min: 0, max: 0.2, noNaN: true }) }),
  },
);

describe("KvEventQueues", () => {
  it("delivers the due events of each replica in order, once, with their hashes prefetched first (fast-check)", () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 200, maxLength: 1000 }), (ops) => {
        const q = new KvEventQueues(4);
        const endpointOf = Int32Array.from([0, 0, 2, 3]); // replica 1 publishes as the pod of replica 0
        const model: { t: number; stored: boolean; hash: number }[][] = [[], [], [], []];
        const last = [0, 0, 0, 0];
        let clock = 0;
        let hash = 1;
        for (const o of ops) {
          if (o.push) {
            // A replica's own events come in time order.
            last[o.replica] = Math.max(last[o.replica]!, clock) + o.dt;
            q.push(o.replica, last[o.replica]!, o.stored, hash);
            model[o.replica]!.push({ t: last[o.replica]!, stored: o.stored, hash: hash++ });
            continue;
          }
          clock += o.at;
          const got: string[] = [];
          const shown: number[] = [];
          q.deliver(
            clock,
            endpointOf,
            (ev, due) => got.push(`${ev.replica} ${ev.kind} ${ev.hash} ${due}`),
            (hs, from, to) => {
              shown.push(...hs.subarray(from, to));
              return 0;
            },
          );
          const want: string[] = [];
          for (let r = 0; r < 4; r++) {
            const m = model[r]!;
            let k = 0;
            while (k < m.length && m[k]!.t <= clock) k++;
            for (const e of m.splice(0, k))
              want.push(`${endpointOf[r]} ${e.stored ? "stored" : "removed"} ${e.hash} ${e.t}`);
          }
          expect(got).toEqual(want);
          expect(shown).toEqual(want.map((w) => Number(w.split(" ")[2])));
        }
      }),
      { seed: 20261203, numRuns: 300 },
    );
  });
});
