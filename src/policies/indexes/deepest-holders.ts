import type { HolderIndex } from "./holder-index.ts";
import type { LruHolderIndex } from "./lru-holder-index.ts";

/**
 * The prefix routers' walk down a chain of block hashes (vLLM prefix-aware, SGLang cache-aware): the deepest hash some
 * candidate holds, and its holders among the candidates. Scratch lists are kept between calls: nothing is allocated.
 */
export class DeepestHolders {
  /** Holders among the candidates of the deepest hash reached by the last `walk`, ascending: `list[0..count)`. */
  list: Int32Array;
  count = 0;
  private cur: Int32Array;
  private readonly scratch: Int32Array;
  private readonly isCand: Uint8Array;

  constructor(replicas: number) {
    this.isCand = new Uint8Array(replicas);
    const lists = Math.max(32, replicas + 31);
    this.list = new Int32Array(lists);
    this.cur = new Int32Array(lists);
    this.scratch = new Int32Array(lists);
  }

  /**
   * Walks `hashes` in order while some of `candidates` holds the hash (per `index`, which lists holders ascending);
   * returns the number of hashes walked and leaves the deepest one's candidate holders in `list[0..count)`.
   */
  walk(
    index: HolderIndex | LruHolderIndex,
    hashes: Float64Array,
    candidates: readonly { readonly index: number }[],
  ): number {
    const isCand = this.isCand;
    for (const ep of candidates) isCand[ep.index] = 1;
    const l = this.scratch;
    let holders = this.list;
    let cur = this.cur;
    let nHolders = 0;
    let matched = 0;
    for (let b = 0; b < hashes.length; b++) {
      const n = index.holdersInto(hashes[b]!, l);
      if (n === 0) break;
      let c = 0;
      for (let j = 0; j < n; j++) if (isCand[l[j]!] === 1) cur[c++] = l[j]!;
      if (c === 0) break;
      const t = holders;
      holders = cur;
      cur = t;
      nHolders = c;
      matched++;
    }
    this.list = holders;
    this.cur = cur;
    this.count = nHolders;
    for (const ep of candidates) isCand[ep.index] = 0;
    return matched;
  }
}
