/**
 * A table from request ids (non-negative integers below 2^53) to objects, for the engine's in-flight requests.
 *
 * Why not `Map<number, T>`: with requests arriving and completing all the time, V8 rebuilds a `Map`'s hash table
 * whenever its deleted entries pile up (every few hundred requests here), and each table left behind still points at
 * the requests it held. Once a table has been promoted to the old generation it is garbage that the young
 * generation's collector cannot see as such: every young object it points to — a request, its sequence, its prompt —
 * is kept alive and promoted in turn ("nepotism"), so nearly every request of a run ended in the old generation and
 * each scavenge copied megabytes (measured on chat-1m: ~4 MB promoted per scavenge, ~2 KB allocated per request).
 * Here the ids live in a `NumMap` (typed arrays: no references), the objects in one array whose slot is cleared when
 * its id leaves, and freed slots are reused: nothing ever holds a request after `delete`.
 */
import { NumMap } from "./num-map.ts";

export class IdTable<T> {
  private readonly slotOf = new NumMap(64);
  private readonly items: (T | undefined)[] = [];
  private readonly free: number[] = [];

  get size(): number {
    return this.slotOf.size;
  }

  get(id: number): T | undefined {
    const s = this.slotOf.get(id);
    return s < 0 ? undefined : this.items[s];
  }

  has(id: number): boolean {
    return this.slotOf.has(id);
  }

  /** Sets `id` to `value` (replacing any value it had). */
  set(id: number, value: T): void {
    const old = this.slotOf.get(id);
    if (old >= 0) {
      this.items[old] = value;
      return;
    }
    let s: number;
    if (this.free.length > 0) {
      s = this.free.pop()!;
      this.items[s] = value;
    } else {
      s = this.items.length;
      this.items.push(value);
    }
    this.slotOf.set(id, s);
  }

  /** Removes `id`; false if it was not there. */
  delete(id: number): boolean {
    const s = this.slotOf.get(id);
    if (s < 0) return false;
    this.slotOf.delete(id);
    this.items[s] = undefined;
    this.free.push(s);
    return true;
  }
}
