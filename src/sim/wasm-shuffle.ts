/**
 * The Fisher–Yates shuffle over Alea's digits as a WebAssembly function: the max-score picker shuffles every
 * candidate on each decision (1,023 draws at 1,024 endpoints), and JavaScript numbers make each draw a chain of
 * floating-point products, conversions and a division, while WebAssembly has 64-bit integers: a draw is one
 * multiplication, one addition and a shift. Same draws, same swaps, bit for bit, as `AleaRng`'s JavaScript loop
 * (`test/rng.test.ts` compares both on random states and lengths); a shuffle of 1,024 takes 1.3–1.4 µs against
 * 3.7–4.4 µs with other memory touched between shuffles, as between routing decisions (micro-benchmark,
 * docs/performance.md).
 *
 * The module is assembled here from its instruction list (about 240 bytes; no toolchain, no binary checked in) and
 * compiled once per thread. Where WebAssembly is absent (`node --jitless`) or will not compile, `shuffleKernel()` is
 * undefined and the JavaScript loop runs.
 *
 * Memory: bytes 0–15 hold the stream's digits x₀, x₁, x₂ and carry c (u32 each, in and out); then `cap` i32 for the
 * permutation from byte 16, and `cap` more holding 0 … cap − 1, copied over the permutation to start each shuffle
 * (`memory.copy`, bulk memory: about twice as fast as a loop storing them).
 */

/**
 * The exact-index bound: the index of draw x (a 32-bit digit) for position i is ⌊x·2⁻³²·(i + 1)⌋, computed in
 * JavaScript as two double products; here as (x·(i + 1)) >> 32 in 64-bit integers. Both are exact, hence equal, while
 * x·(i + 1) < 2⁵³: i + 1 ≤ 2²¹.
 */
export const SHUFFLE_KERNEL_MAX_N = 1 << 21;

/** The WebAssembly API as this module uses it (the project's type libraries do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

export interface ShuffleKernel {
  /** The digits and carry in and out (write them, `shuffle`, read them back: a new view after memory grew). */
  state: Uint32Array;
  /**
   * Shuffles 0 … n − 1 (1 ≤ n ≤ `SHUFFLE_KERNEL_MAX_N`) with the state's stream and returns the kernel's memory from
   * the permutation on (its first n entries; valid until the next call).
   */
  shuffle(n: number): Int32Array;
}

// Binary encoding (WebAssembly core specification, §5): LEB128 integers, length-prefixed vectors and sections.
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  // Constants here fit in 53 bits: BigInt keeps the shifts exact past 32.
  let v = BigInt(n);
  const out: number[] = [];
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, bytes: number[]): number[] {
  return [id, ...uleb(bytes.length), ...bytes];
}

function name(s: string): number[] {
  return vec([...s].map((c) => [c.charCodeAt(0)]));
}

const I32 = 0x7f;
const I64 = 0x7e;
const BLOCK = 0x02;
const LOOP = 0x03;
const BR = 0x0c;
const BR_IF = 0x0d;
const END = 0x0b;
const VOID = 0x40;
const GET = 0x20;
const SET = 0x21;
const I32_LOAD = 0x28;
const I64_LOAD32_U = 0x35;
const I32_STORE = 0x36;
const I64_STORE32 = 0x3e;
const I32_CONST = 0x41;
const I64_CONST = 0x42;
const I32_LE_S = 0x4c;
const I32_ADD = 0x6a;
const I32_SUB = 0x6b;
const I32_SHL = 0x74;
/** `memory.copy` (bulk memory: prefix 0xfc, 10, then the destination and source memory indices). */
const MEMORY_COPY = [0xfc, 10, 0, 0];
const I64_ADD = 0x7c;
const I64_MUL = 0x7e;
const I64_AND = 0x83;
const I64_SHR_U = 0x88;
const I32_WRAP_I64 = 0xa7;
const I64_EXTEND_I32_U = 0xad;

/** Memory immediate: alignment 2^2, byte offset. */
function at(offset: number): number[] {
  return [2, ...uleb(offset)];
}

const PERM = 16;
/** Alea's multiplier (seedrandom `lib/alea.js`: `2091639 * me.s0 + …`). */
const MUL = 2091639;

/** The module's bytes: one memory and `shuffle(n, from)` (`from`: the byte offset of the identity). */
function moduleBytes(): Uint8Array {
  // Locals: n, from (the parameters), x0 x1 x2 c t (i64), i pi pj tmp (i32).
  const [n, from, x0, x1, x2, c, t, i, pi, pj, tmp] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const incr = (l: number, by: number) => [GET, l, I32_CONST, ...sleb(by), I32_ADD, SET, l];
  // One Fisher–Yates step at position i, then i − 1.
  // biome-ignore format: one instruction group a line
  const step = [
    // t = a·x0 + c; the digits shift; the new digit is t mod 2^32, the carry t div 2^32.
    I64_CONST, ...sleb(MUL), GET, x0, I64_MUL, GET, c, I64_ADD, SET, t,
    GET, t, I64_CONST, 32, I64_SHR_U, SET, c,
    GET, x1, SET, x0,
    GET, x2, SET, x1,
    GET, t, I64_CONST, ...sleb(0xffffffff), I64_AND, SET, x2,
    // j = (x2 · (i + 1)) >> 32, as a byte offset.
    GET, x2, GET, i, I32_CONST, 1, I32_ADD, I64_EXTEND_I32_U, I64_MUL, I64_CONST, 32, I64_SHR_U, I32_WRAP_I64,
    I32_CONST, 2, I32_SHL, SET, pj,
    GET, i, I32_CONST, 2, I32_SHL, SET, pi,
    GET, pi, I32_LOAD, ...at(PERM), SET, tmp,
    GET, pi, GET, pj, I32_LOAD, ...at(PERM), I32_STORE, ...at(PERM),
    GET, pj, GET, tmp, I32_STORE, ...at(PERM),
    ...incr(i, -1),
  ];
  // biome-ignore format: one instruction group a line
  const body = [
    // The state in.
    I32_CONST, 0, I64_LOAD32_U, ...at(0), SET, x0,
    I32_CONST, 0, I64_LOAD32_U, ...at(4), SET, x1,
    I32_CONST, 0, I64_LOAD32_U, ...at(8), SET, x2,
    I32_CONST, 0, I64_LOAD32_U, ...at(12), SET, c,
    // perm[k] = k for k < n: n entries of the identity copied.
    I32_CONST, ...sleb(PERM), GET, from, GET, n, I32_CONST, 2, I32_SHL, ...MEMORY_COPY,
    // For i = n − 1 down to 1: draw, then swap perm[i] and perm[j]; two steps a turn while i ≥ 2 (a quarter less
    // time: the loop's own checks are per turn), then the last one if left.
    ...[GET, n, I32_CONST, 1, I32_SUB, SET, i],
    BLOCK, VOID, LOOP, VOID,
      GET, i, I32_CONST, 1, I32_LE_S, BR_IF, 1,
      ...step,
      ...step,
      BR, 0,
    END, END,
    BLOCK, VOID, LOOP, VOID,
      GET, i, I32_CONST, 0, I32_LE_S, BR_IF, 1,
      ...step,
      BR, 0,
    END, END,
    // The state out.
    I32_CONST, 0, GET, x0, I64_STORE32, ...at(0),
    I32_CONST, 0, GET, x1, I64_STORE32, ...at(4),
    I32_CONST, 0, GET, x2, I64_STORE32, ...at(8),
    I32_CONST, 0, GET, c, I64_STORE32, ...at(12),
    END,
  ];
  const code = [
    ...vec([
      [...uleb(5), I64],
      [...uleb(4), I32],
    ]),
    ...body,
  ];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
    ...section(1, vec([[0x60, ...vec([[I32], [I32]]), ...vec([])]])), // type 0: (i32, i32) → ()
    ...section(3, vec([uleb(0)])), // function 0 has type 0
    ...section(5, vec([[0x00, ...uleb(1)]])), // one memory, 1 page at first
    ...section(
      7,
      vec([
        [...name("memory"), 0x02, 0],
        [...name("shuffle"), 0x00, 0],
      ]),
    ),
    ...section(10, vec([[...uleb(code.length), ...code]])),
  ]);
}

let kernel: ShuffleKernel | undefined | null = null;

/** The kernel of this thread (built on first use); undefined where WebAssembly is unavailable. */
export function shuffleKernel(): ShuffleKernel | undefined {
  if (kernel === null) kernel = build();
  return kernel;
}

function build(): ShuffleKernel | undefined {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (api === undefined) return undefined;
  let exports: Record<string, unknown>;
  try {
    exports = new api.Instance(new api.Module(moduleBytes()), {}).exports;
  } catch {
    return undefined; // e.g. code generation disallowed: the JavaScript loop runs
  }
  const memory = exports.memory as WasmMemory;
  const run = exports.shuffle as (n: number, from: number) => void;
  let cap = 0;
  let perm = new Int32Array(0);
  const k: ShuffleKernel = {
    state: new Uint32Array(0),
    shuffle(n: number): Int32Array {
      if (n > cap) fit(n);
      run(n, PERM + 4 * cap);
      return perm;
    },
  };
  /** Lays the memory out for `cap` entries (at least `n`), growing it if needed; the state bytes are kept. */
  const fit = (n: number): void => {
    const need = PERM + 8 * n;
    if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));
    cap = Math.floor((memory.buffer.byteLength - PERM) / 8);
    perm = new Int32Array(memory.buffer, PERM, cap);
    const identity = new Int32Array(memory.buffer, PERM + 4 * cap, cap);
    for (let i = 0; i < cap; i++) identity[i] = i;
    k.state = new Uint32Array(memory.buffer, 0, 4);
  };
  fit(1);
  return k;
}
