/**
 * Numeric hashing for prompt content and KV blocks.
 *
 * Block identity follows vLLM's prefix caching: block i's hash is a chained hash over everything up to the end of
 * block i (vLLM `hash_block_tokens(parent_hash, block_token_ids)`), so equal hashes mean equal prefixes. We never hash
 * strings on the hot path: a prompt is a list of segments (content id, token count) and a block's content is described
 * by the (content id, offset) pieces that fall into it. Hashes are 52-bit non-negative integers held in a JS number
 * (exact in a float64), so they fit in Float64Array and Map<number, …> keys.
 */

const TWO32 = 4294967296;
const MASK20 = 0xfffff;

/** 32-bit finaliser of MurmurHash3 (public domain algorithm). */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Mixes a 52-bit state with one 52-bit value; returns a 52-bit hash. Deterministic, allocation-free. */
export function mix(state: number, value: number): number {
  const sLo = (state % TWO32) >>> 0;
  const sHi = Math.floor(state / TWO32) >>> 0;
  const vLo = (value % TWO32) >>> 0;
  const vHi = Math.floor(value / TWO32) >>> 0;
  let a = fmix32((sLo ^ Math.imul(vLo, 0x9e3779b1)) + 0x7f4a7c15);
  let b = fmix32((sHi ^ Math.imul(vHi, 0x85ebca77) ^ a) + 0x165667b1);
  a = fmix32(a ^ Math.imul(b, 0xc2b2ae3d) ^ vHi);
  b = fmix32(b ^ Math.imul(a, 0x27d4eb2f) ^ vLo);
  return (b & MASK20) * TWO32 + a;
}

/** Hash of a list of integers (used to derive content ids, e.g. `contentId(NS_SYSTEM, group)`). */
export function hashInts(...values: number[]): number {
  let h = 0x1234567;
  for (const v of values) h = mix(h, v < 0 ? -v * 2 + 1 : v * 2);
  return h;
}

/** Hash of a string, for content ids derived from names (not used on the hot path). */
export function hashString(s: string): number {
  let h = 0x2545f491;
  for (let i = 0; i < s.length; i++) h = mix(h, s.charCodeAt(i));
  return mix(h, s.length);
}

/** A run of prompt tokens with one identity: `tokens` tokens of the content `id`, starting at `offset` within it. */
export interface Segment {
  readonly id: number;
  readonly tokens: number;
  /** Offset into the content (tokens), for a segment that continues content begun elsewhere. Default 0. */
  readonly offset?: number;
  /**
   * Content no other request's prompt holds (a generator's per-request message that no later request repeats): the
   * blocks from the one holding its first token on can only be looked up by their own request, so they stay out of
   * the KV cache's map and the routers' indexes (`Seq.uniqueFrom`). Only a generator that guarantees it sets it;
   * absent: the content may be shared.
   */
  readonly unique?: boolean;
}

/**
 * The first block (of `blockSize` tokens) holding content of the request's own (`Segment.unique`): it and every later
 * block, chained to it, hash to values no other request's blocks have. `Infinity` when no segment is marked.
 */
export function ownContentBlock(segments: readonly Segment[], blockSize: number): number {
  let before = 0;
  for (const seg of segments) {
    if (seg.unique === true && seg.tokens > 0) return Math.floor(before / blockSize);
    before += seg.tokens;
  }
  return Number.POSITIVE_INFINITY;
}

/** Total tokens of a segment list. */
export function segmentTokens(segments: readonly Segment[]): number {
  let n = 0;
  for (const s of segments) n += s.tokens;
  return n;
}

/** The one empty hash array (nothing can be written to it). */
const NO_HASHES = new Float64Array(0);

/** Hash arrays up to this many entries are cut from a shared slab (`hashArray`). */
const SLAB_MAX = 1024;
/** Entries per slab (64 KiB). */
const SLAB_LEN = 8192;
let slab = new ArrayBuffer(SLAB_LEN * 8);
let slabUsed = 0;

/**
 * A zeroed Float64Array of `n` entries for a request's block hashes. Each request needs one or two (the router's and
 * the engine's block sizes). Allocated one by one, each took a zero-filled buffer of its own outside the JS heap,
 * which with the collector's work on it cost 2–3 µs an array on this project's machine (a view onto a shared buffer:
 * ~0.35 µs). Arrays up to `SLAB_MAX` entries are therefore views onto a shared 64 KiB slab, cut one after another; a
 * slab is freed once every array cut from it is garbage, and requests end in about the order they start, so few are
 * held at a time. Each array's entries belong to it alone (no slab space is handed out twice).
 */
function hashArray(n: number): Float64Array {
  if (n === 0) return NO_HASHES;
  if (n > SLAB_MAX) return new Float64Array(n);
  if (slabUsed + n > SLAB_LEN) {
    slab = new ArrayBuffer(SLAB_LEN * 8);
    slabUsed = 0;
  }
  const out = new Float64Array(slab, slabUsed * 8, n);
  slabUsed += n;
  return out;
}

/**
 * Chained hashes of the full `blockSize`-token blocks of a token sequence described by `segments`, up to `maxBlocks`
 * blocks. Block i's hash depends on every piece of content in blocks 0..i (chaining) and on nothing after it.
 * Cost: O(blocks + segments); the state is two int32 lanes (no float division on the hot path), finalised into a
 * 52-bit number at each block boundary.
 */
export function blockHashes(
  segments: readonly Segment[],
  blockSize: number,
  maxBlocks = Number.POSITIVE_INFINITY,
  seed = 0,
): Float64Array {
  const total = segmentTokens(segments);
  const n = Math.min(Math.floor(total / blockSize), maxBlocks);
  const out = hashArray(n);
  if (n === 0) return out;
  let h1 = 0x51ed27 ^ blockSize;
  let h2 = 0x2545f491 ^ Math.imul(blockSize, 0x9e3779b1);
  if (seed !== 0) {
    // Extra keys of the first block (see `requestHashSeed`): chained, they change every block's hash.
    h1 = fmix32(h1 ^ Math.imul(seed >>> 0, 0xcc9e2d51));
    h2 = fmix32(h2 ^ Math.imul((seed / TWO32) >>> 0, 0x1b873593) ^ h1);
  }
  let block = 0;
  let filled = 0; // tokens already in the current block
  for (const seg of segments) {
    const id = seg.id;
    const idLo = id >>> 0;
    const idHi = (id / TWO32) >>> 0;
    let off = seg.offset ?? 0;
    let left = seg.tokens;
    while (left > 0 && block < n) {
      const take = Math.min(left, blockSize - filled);
      // The piece (content id, offset, length) identifies these tokens.
      h1 = Math.imul(h1 ^ idLo, 0xcc9e2d51);
      h1 = Math.imul((h1 << 15) | (h1 >>> 17), 0x1b873593) ^ off;
      h2 = Math.imul(h2 ^ idHi ^ h1, 0x85ebca6b);
      h2 = Math.imul((h2 << 13) | (h2 >>> 19), 0xc2b2ae35) ^ take;
      h1 = (h1 + Math.imul(h2 ^ (off >>> 16), 0x27d4eb2f)) | 0;
      off += take;
      left -= take;
      filled += take;
      if (filled === blockSize) {
        const a = fmix32(h1 ^ Math.imul(h2, 0x165667b1));
        const b = fmix32(h2 ^ Math.imul(a, 0x9e3779b1));
        out[block++] = (b & MASK20) * TWO32 + a;
        // Chain: the next block starts from this block's hash.
        h1 = a | 0;
        h2 = b | 0;
        filled = 0;
      }
    }
    if (block >= n) break;
  }
  return out;
}

/**
 * The extra keys a request mixes into its block hashes, as one 52-bit seed (0: none, the plain token chain).
 *
 * vLLM (`vllm/v1/core/kv_cache_utils.py`, `generate_block_hash_extra_keys`): the LoRA adapter's name
 * (`_gen_lora_extra_hash_keys` returns `lora_request.lora_name`) is an extra key of every block, and `cache_salt` of
 * the first block (`start_token_idx == 0`); since each block's hash chains its parent's, either makes the whole chain
 * differ — requests with different adapters or salts never share cached blocks. The llm-d router's approximate prefix
 * index seeds its chain the same way, with the request's target model (the adapter, when one is named) and its
 * `cache_salt` (`dataproducer/prefixhash/hashing.go`; docs/reference.md#endpoint-picker-scorers). One seed for both
 * sides keeps router and engine consistent.
 */
export function requestHashSeed(adapter: string | undefined, cacheSalt: string | undefined): number {
  if (adapter === undefined && cacheSalt === undefined) return 0;
  let h = mix(0x6c6f7261, adapter === undefined ? 0 : hashString(adapter) + 1);
  h = mix(h, cacheSalt === undefined ? 0 : hashString(cacheSalt) + 1);
  return h === 0 ? 1 : h;
}

/** The full-block hashes of a request's prompt, with its adapter and cache salt mixed in (`requestHashSeed`). */
export function promptBlockHashes(
  req: { readonly prompt: readonly Segment[]; readonly adapter?: string; readonly cacheSalt?: string },
  blockSize: number,
  maxBlocks = Number.POSITIVE_INFINITY,
): Float64Array {
  return blockHashes(req.prompt, blockSize, maxBlocks, requestHashSeed(req.adapter, req.cacheSalt));
}
