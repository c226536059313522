/**
 * The KV events (BlockStored / BlockRemoved) on their way from the replicas to a router that reads them, one queue
 * per replica, each delivered once `gateway.kv_event_delay_ms` has passed.
 *
 * Per replica, not one queue for the cluster: a fast-forward stretch replays a step's block operations when the
 * replica is next observed, stamped with the step's start (`KvCache.eventTime`), so events reach the queues later
 * than they happened and out of time order across replicas; each replica's own events stay in time order (its block
 * operations are replayed before any new one). Before a routing decision at `t` the engine settles every replica up
 * to `t` and delivers every event stamped ≤ t, replica by replica: the routers' indexes keep a set of holders per
 * block hash (stores counted), so the order of events of different replicas does not change what they hold, and
 * the set delivered is the one stepping delivers (`test/fast-forward.test.ts` checks both ways agree).
 */
import type { KvEvent } from "../policies/types.ts";

class ReplicaQueue {
  times = new Float64Array(16);
  hashes = new Float64Array(16);
  stored = new Uint8Array(16);
  head = 0;
  tail = 0;

  push(t: number, stored: boolean, hash: number): void {
    if (this.tail === this.times.length) {
      if (this.head * 2 >= this.tail) {
        // Mostly delivered: slide the rest to the front.
        this.times.copyWithin(0, this.head, this.tail);
        this.hashes.copyWithin(0, this.head, this.tail);
        this.stored.copyWithin(0, this.head, this.tail);
      } else {
        const cap = this.times.length * 2;
        const times = new Float64Array(cap);
        const hashes = new Float64Array(cap);
        const st = new Uint8Array(cap);
        times.set(this.times.subarray(this.head, this.tail));
        hashes.set(this.hashes.subarray(this.head, this.tail));
        st.set(this.stored.subarray(this.head, this.tail));
        this.times = times;
        this.hashes = hashes;
        this.stored = st;
      }
      this.tail -= this.head;
      this.head = 0;
    }
    const i = this.tail++;
    this.times[i] = t;
    this.hashes[i] = hash;
    this.stored[i] = stored ? 1 : 0;
  }
}

export class KvEventQueues {
  private readonly queues: ReplicaQueue[] = [];
  /** Events pushed and not yet delivered (all queues). */
  private pending = 0;
  /** The event handed to the router, reused (routers read it during the call only). */
  private readonly ev: { replica: number; kind: "stored" | "removed"; hash: number } = {
    replica: 0,
    kind: "stored",
    hash: 0,
  };

  /** Per replica, the end of its events due (scratch of `deliver`). */
  private readonly ends: Int32Array;
  /** What the prefetch loads returned (kept so that they are not optimised away). */
  kept = 0;

  constructor(replicas: number) {
    for (let i = 0; i < replicas; i++) this.queues.push(new ReplicaQueue());
    this.ends = new Int32Array(replicas);
  }

  /** An event of replica `replica`, due for delivery at `t`. */
  push(replica: number, t: number, stored: boolean, hash: number): void {
    this.queues[replica]!.push(t, stored, hash);
    this.pending++;
  }

  /**
   * Delivers every event due at or before `t` to `sink` (each replica's in order), as endpoint `endpointOf[r]`.
   * `prefetch` is first given the hashes of all of them, replica by replica, to load the index slots they will touch
   * (`Router.prefetchKvEvents`): the events of one decision are spread over the replicas, a few each.
   */
  deliver(
    t: number,
    endpointOf: Int32Array,
    sink: (ev: KvEvent, due: number) => void,
    prefetch?: (hashes: Float64Array, from: number, to: number) => number,
  ): void {
    if (this.pending === 0) return;
    const qs = this.queues;
    const ends = this.ends;
    let any = false;
    for (let r = 0; r < qs.length; r++) {
      const q = qs[r]!;
      let e = q.head;
      while (e < q.tail && q.times[e]! <= t) e++;
      ends[r] = e;
      if (e === q.head) continue;
      any = true;
      if (prefetch !== undefined) this.kept += prefetch(q.hashes, q.head, e);
    }
    if (!any) return;
    const ev = this.ev;
    for (let r = 0; r < qs.length; r++) {
      const q = qs[r]!;
      const e = ends[r]!;
      if (e === q.head) continue;
      ev.replica = endpointOf[r]!;
      for (let i = q.head; i < e; i++) {
        ev.kind = q.stored[i] === 1 ? "stored" : "removed";
        ev.hash = q.hashes[i]!;
        sink(ev, q.times[i]!);
      }
      this.pending -= e - q.head;
      if (e === q.tail) q.head = q.tail = 0;
      else q.head = e;
    }
  }
}
