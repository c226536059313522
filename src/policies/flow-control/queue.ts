/**
 * The flow controller's queue (EPP `pkg/epp/flowcontrol/`, reference/policies.md §2.8.3): one band per priority,
 * FCFS inside a band (`fcfs-ordering-policy`, one global order per band: `global-strict-fairness-policy`), strict
 * priority across bands, caps in requests and bytes per band and globally.
 *
 * Items are request ids with their enqueue time and byte size, in ring buffers (typed arrays, grown by doubling).
 */
import { type BandLimits, bandLimits, type FlowControlSettings } from "./settings.ts";

/** Why an enqueue was refused. */
export const EnqueueResult = { Ok: 0, GlobalFull: 1, BandFull: 2 } as const;
export type EnqueueResult = (typeof EnqueueResult)[keyof typeof EnqueueResult];

class Band {
  readonly priority: number;
  readonly limits: BandLimits;
  private ids = new Int32Array(64);
  private times = new Float64Array(64);
  private sizes = new Float64Array(64);
  private head = 0;
  count = 0;
  bytes = 0;
  constructor(priority: number, limits: BandLimits) {
    this.priority = priority;
    this.limits = limits;
  }
  push(id: number, t: number, size: number): void {
    if (this.count === this.ids.length) this.grow();
    const i = (this.head + this.count) & (this.ids.length - 1);
    this.ids[i] = id;
    this.times[i] = t;
    this.sizes[i] = size;
    this.count++;
    this.bytes += size;
  }
  headTime(): number {
    return this.times[this.head]!;
  }
  shift(): number {
    const i = this.head;
    const id = this.ids[i]!;
    this.bytes -= this.sizes[i]!;
    this.head = (i + 1) & (this.ids.length - 1);
    this.count--;
    if (this.count === 0) this.bytes = 0;
    return id;
  }
  private grow(): void {
    const n = this.ids.length * 2;
    const ids = new Int32Array(n);
    const times = new Float64Array(n);
    const sizes = new Float64Array(n);
    for (let k = 0; k < this.count; k++) {
      const j = (this.head + k) & (this.ids.length - 1);
      ids[k] = this.ids[j]!;
      times[k] = this.times[j]!;
      sizes[k] = this.sizes[j]!;
    }
    this.ids = ids;
    this.times = times;
    this.sizes = sizes;
    this.head = 0;
  }
}

export class FlowQueue {
  private readonly settings: FlowControlSettings;
  /** Bands by priority, highest first. */
  private bands: Band[] = [];
  private readonly byPriority = new Map<number, Band>();
  size = 0;
  bytes = 0;
  /** Largest number of queued requests seen. */
  peak = 0;

  constructor(settings: FlowControlSettings) {
    this.settings = settings;
  }

  private band(priority: number): Band {
    let b = this.byPriority.get(priority);
    if (b === undefined) {
      b = new Band(priority, bandLimits(this.settings, priority));
      this.byPriority.set(priority, b);
      this.bands = [...this.bands, b].sort((x, y) => y.priority - x.priority);
    }
    return b;
  }

  /** Queues request `id` (priority, body bytes) at `now`, unless a global or band cap would be exceeded. */
  enqueue(id: number, priority: number, bytes: number, now: number): EnqueueResult {
    const s = this.settings;
    if (this.size + 1 > s.maxRequests || this.bytes + bytes > s.maxBytes) return EnqueueResult.GlobalFull;
    const b = this.band(priority);
    if (b.count + 1 > b.limits.maxRequests || b.bytes + bytes > b.limits.maxBytes) return EnqueueResult.BandFull;
    b.push(id, now, bytes);
    this.size++;
    this.bytes += bytes;
    if (this.size > this.peak) this.peak = this.size;
    return EnqueueResult.Ok;
  }

  /** Removes and returns the head of the highest non-empty band (strict priority), or -1. */
  pop(): number {
    for (const b of this.bands) {
      if (b.count > 0) return this.take(b);
    }
    return -1;
  }

  private take(b: Band): number {
    const before = b.bytes;
    const id = b.shift();
    this.size--;
    this.bytes -= before - b.bytes;
    if (this.size === 0) this.bytes = 0;
    return id;
  }

  /** Removes every request queued at or before `deadline` (enqueue time ≤ now − TTL), calling `expire(id)`. */
  expire(deadline: number, expire: (id: number) => void): void {
    for (const b of this.bands) {
      while (b.count > 0 && b.headTime() <= deadline) expire(this.take(b));
    }
  }

  /** Requests queued per band, highest priority first (reports, tests). */
  bandSizes(): { priority: number; count: number; bytes: number }[] {
    return this.bands.map((b) => ({ priority: b.priority, count: b.count, bytes: b.bytes }));
  }
}
