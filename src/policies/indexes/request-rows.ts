import { NumMap } from "../../sim/num-map.ts";

/**
 * Per-request router state (what a router holds for a request between dispatch and completion) as rows of a
 * `Float64Array`, found by request id through a `NumMap`: no object per request. Rows are recycled. (Not the
 * simulation's per-request records, `sim/records.ts` `RequestTable`.)
 */
export class RequestRows {
  /** Numbers per row. */
  readonly columns: number;
  /** Row-major data; re-read after `open` (it may grow). */
  data: Float64Array;
  private readonly rows = new NumMap();
  private free: Int32Array = new Int32Array(64);
  private nFree = 0;
  private next = 0;

  constructor(columns: number) {
    this.columns = columns;
    this.data = new Float64Array(64 * columns);
  }

  get size(): number {
    return this.rows.size;
  }

  /** Offset of `id`'s row in `data`, or -1. */
  find(id: number): number {
    const r = this.rows.get(id);
    return r < 0 ? -1 : r * this.columns;
  }

  /** Offset of a fresh row for `id` (zeroed); `id` must not have one. */
  open(id: number): number {
    let r: number;
    if (this.nFree > 0) r = this.free[--this.nFree]!;
    else {
      r = this.next++;
      if ((r + 1) * this.columns > this.data.length) {
        const d = new Float64Array(this.data.length * 2);
        d.set(this.data);
        this.data = d;
      }
    }
    this.rows.set(id, r);
    const o = r * this.columns;
    this.data.fill(0, o, o + this.columns);
    return o;
  }

  /** Frees `id`'s row (no-op when it has none). */
  close(id: number): void {
    const r = this.rows.get(id);
    if (r < 0) return;
    this.rows.delete(id);
    if (this.nFree === this.free.length) {
      const f = new Int32Array(this.free.length * 2);
      f.set(this.free);
      this.free = f;
    }
    this.free[this.nFree++] = r;
  }
}
