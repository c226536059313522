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
import type { KvCache } from "../models/kv-cache.ts";
import type { KvEvent, KvView } from "../policies/types.ts";
import { NumMap } from "../sim/num-map.ts";

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

  /**
   * Per replica, the hashes with events not yet delivered (`trackPending`): hash → 2 × their count + 1 when the
   * earliest of them is a store. A replica's stores and evictions of a hash alternate (its cache holds a hash in one
   * block at most), so the earliest undelivered event tells what the router last heard.
   */
  private undelivered: NumMap[] | undefined;

  constructor(replicas: number) {
    for (let i = 0; i < replicas; i++) this.queues.push(new ReplicaQueue());
    this.ends = new Int32Array(replicas);
  }

  /** Keeps the undelivered hashes of each replica (for `KvCacheView`); before the first event. */
  trackPending(): void {
    this.undelivered = this.queues.map(() => new NumMap(64));
  }

  /** An event of replica `replica`, due for delivery at `t`. */
  push(replica: number, t: number, stored: boolean, hash: number): void {
    this.queues[replica]!.push(t, stored, hash);
    this.pending++;
    const u = this.undelivered?.[replica];
    if (u !== undefined) {
      const i = u.claim(hash);
      u.setAt(i, u.inserted ? (stored ? 3 : 2) : u.valueAt(i) + 2);
    }
  }

  /**
   * What replica `replica`'s router-side index would say of `hash`: 1 held, 0 not, -1 the cache's own state (no
   * undelivered event about it).
   */
  heardOf(replica: number, hash: number): number {
    const u = this.undelivered![replica]!;
    if (u.size === 0) return -1;
    const v = u.get(hash);
    // The earliest undelivered event is a store: not held yet; an eviction: still held.
    return v < 0 ? -1 : (v & 1) === 1 ? 0 : 1;
  }

  /**
   * Delivers every event due at or before `t` to `sink` (each replica's in order), as endpoint `endpointOf[r]`;
   * without a sink (the router reads the `KvCacheView`) they only leave the queues. `prefetch` is first given the
   * hashes of all of them, replica by replica, to load the index slots they will touch (`Router.prefetchKvEvents`):
   * the events of one decision are spread over the replicas, a few each.
   */
  deliver(
    t: number,
    endpointOf: Int32Array,
    sink?: (ev: KvEvent, due: number) => void,
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
      const u = this.undelivered?.[r];
      if (u !== undefined) {
        for (let i = q.head; i < e; i++) {
          const h = q.hashes[i]!;
          const v = u.get(h) - 2;
          // The next undelivered event of the hash is the opposite of this one.
          if (v < 2) u.delete(h);
          else u.set(h, (v & ~1) | (q.stored[i] === 1 ? 0 : 1));
        }
      }
      if (sink !== undefined) {
        for (let i = q.head; i < e; i++) {
          ev.kind = q.stored[i] === 1 ? "stored" : "removed";
          ev.hash = q.hashes[i]!;
          sink(ev, q.times[i]!);
        }
      }
      this.pending -= e - q.head;
      if (e === q.tail) q.head = q.tail = 0;
      else q.head = e;
    }
  }
}

/**
 * `KvView` over the replicas' caches: a hash with undelivered events reads as the router last heard (the earliest
 * of them undone), any other as the cache holds it now — the caches are settled up to the decision first
 * (`flushKvEvents`). One probe of the replica's cache per block instead of an index update per event: cheaper while
 * a request has fewer candidates than the ~64 events it causes (the engine offers it up to 128 replicas).
 */
export class KvCacheView implements KvView {
  private readonly queues: KvEventQueues;
  private readonly kvs: readonly KvCache[];

  constructor(queues: KvEventQueues, kvs: readonly KvCache[]) {
    this.queues = queues;
    this.kvs = kvs;
    queues.trackPending();
  }

  heldPrefix(replica: number, hashes: Float64Array, n: number): number {
    const kv = this.kvs[replica]!;
    const q = this.queues;
    let i = 0;
    for (; i < n; i++) {
      const h = hashes[i]!;
      const heard = q.heardOf(replica, h);
      if (heard === 0) break;
      if (heard < 0 && kv.blockOf(h) < 0) break;
    }
    return i;
  }

  prefetch(hashes: Float64Array, replicas: Int32Array, m: number): number {
    let acc = 0;
    for (let j = 0; j < m; j++) acc += this.kvs[replicas[j]!]!.prefetchLookup(hashes);
    return acc;
  }
}
