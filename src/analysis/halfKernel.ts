// fp16 and bf16 norms in WebAssembly SIMD: per-row and per-column sums of |x|
// and x², and the exact zeros, of a [rows, d1] block of 16-bit floats. Each
// value becomes a float64 by moving its bits into place (a shift) and one
// multiply by a power of two, which is exact for every finite value, zeros and
// subnormals included; the sums are float64, as in the JavaScript kernel
// (norms.ts). That is several times faster than a table per value, so the
// norms of a large language model cost little more than reading it.
//
// Only the summation order differs from the JavaScript kernel (two lanes, rows
// in groups): sums of fp16 |x| below 2^29 are exact in float64 in any order, so
// L1 comes out bit for bit, and L2 to the last bit or so. A block holding an
// infinity or a NaN is reported (run returns undefined) and the caller takes
// the JavaScript path, which gives those their IEEE meaning.

import { DataType } from '../onnx/tensor';
import { op, Type, wasmModule, type Code, type WasmFunction } from './wasm';

/** How a 16-bit float's magnitude bits become a float64's: the shift, the scale, the first non-finite pattern. */
const FORMATS = {
  // fp16: 5-bit exponent at bit 10 → float64's exponent at bit 52; 2^(1023-15) rebiases it.
  [DataType.FLOAT16]: { shift: 42, scale: 2 ** 1008, special: 0x7c00 },
  // bf16: 8-bit exponent at bit 7 → bit 52; 2^(1023-127).
  [DataType.BFLOAT16]: { shift: 45, scale: 2 ** 896, special: 0x7f80 },
} as const;

/**
 * Rows summed together before their columns are added to memory: a quarter of
 * the column read-modify-writes (one row at a time was about half as fast).
 */
const ROWS = 4;

/** Builds `norms16(src, rows, d1, rowL1, rowL2, col1, col2, shift, scale, special) → zeros, or -1`. */
function kernel(): WasmFunction {
  // params
  const src = 0, rows = 1, d1 = 2, rowL1 = 3, rowL2 = 4, col1 = 5, col2 = 6, shift = 7, scale = 8, special = 9;
  const locals: Type[] = [];
  const local = (t: Type) => 10 + locals.push(t) - 1;
  const r = local(Type.i32), c = local(Type.i32), stride = local(Type.i32), vecEnd = local(Type.i32);
  const rowPtr = local(Type.i32), p = local(Type.i32), q1 = local(Type.i32), q2 = local(Type.i32);
  const rl1 = local(Type.i32), rl2 = local(Type.i32), k = local(Type.i32), zs = local(Type.i32), flag = local(Type.i32);
  const shift64 = local(Type.i64), x = local(Type.f64);
  const scaleV = local(Type.v128), mask = local(Type.v128), mx = local(Type.v128), zm = local(Type.v128), zero = local(Type.v128);
  const v = local(Type.v128), lo = local(Type.v128), hi = local(Type.v128);
  const e = [0, 1, 2, 3].map(() => local(Type.v128));
  const s1 = [0, 1, 2, 3].map(() => local(Type.v128));
  const s2 = [0, 1, 2, 3].map(() => local(Type.v128));
  const X = [0, 1, 2, 3].map(() => local(Type.v128));
  const Q = [0, 1, 2, 3].map(() => local(Type.v128));
  const { local_get: get, local_set: set, local_tee: tee } = op;
  const W = 8; // columns per step: one 128-bit load of eight 16-bit values

  /** float64x2 of magnitudes from two u32 lanes of `from` (low or high half). */
  const toF64 = (from: number, high: boolean): Code => [
    ...get(from), ...(high ? op.i64x2_extend_high_i32x4_u : op.i64x2_extend_low_i32x4_u),
    ...get(shift), ...op.i64x2_shl, ...get(scaleV), ...op.f64x2_mul,
  ];

  /** One step over R rows: 8 columns each, row sums into s1/s2, column sums added to memory. */
  const step = (R: number): Code => {
    const code: Code = [];
    for (let j = 0; j < R; j++) {
      // v = |bits| of 8 values of row j
      code.push(...get(p), ...(j ? [...get(stride), ...op.i32_const(j), ...op.i32_mul, ...op.i32_add] : []), ...op.v128_load(),
        ...get(mask), ...op.v128_and, ...tee(v));
      code.push(...get(mx), ...op.i16x8_max_u, ...set(mx));
      code.push(...get(zm), ...get(v), ...get(zero), ...op.i16x8_eq, ...op.i32x4_extadd_pairwise_i16x8_s, ...op.i32x4_add, ...set(zm));
      code.push(...get(v), ...op.i32x4_extend_low_i16x8_u, ...set(lo), ...get(v), ...op.i32x4_extend_high_i16x8_u, ...set(hi));
      for (let h = 0; h < 4; h++) code.push(...toF64(h < 2 ? lo : hi, h % 2 === 1), ...set(e[h]));
      for (let h = 0; h < 4; h++) {
        code.push(...get(s1[j]), ...get(e[h]), ...op.f64x2_add, ...set(s1[j]));
        code.push(...get(s2[j]), ...get(e[h]), ...get(e[h]), ...op.f64x2_mul, ...(j ? [...tee(v)] : [...tee(Q[h])]), ...op.f64x2_add, ...set(s2[j]));
        if (j) code.push(...get(Q[h]), ...get(v), ...op.f64x2_add, ...set(Q[h]), ...get(X[h]), ...get(e[h]), ...op.f64x2_add, ...set(X[h]));
        else code.push(...get(e[h]), ...set(X[h]));
      }
    }
    for (let h = 0; h < 4; h++) {
      code.push(...get(q1), ...get(q1), ...op.v128_load(16 * h), ...get(X[h]), ...op.f64x2_add, ...op.v128_store(16 * h));
      code.push(...get(q2), ...get(q2), ...op.v128_load(16 * h), ...get(Q[h]), ...op.f64x2_add, ...op.v128_store(16 * h));
    }
    return code;
  };

  /** While R more rows remain: the vector steps over their columns, then their row sums stored. */
  const rowGroups = (R: number): Code => [
    ...op.block, ...op.loop,
    ...get(r), ...op.i32_const(R), ...op.i32_add, ...get(rows), ...op.i32_gt_u, ...op.br_if(1),
    ...[...s1.slice(0, R), ...s2.slice(0, R)].flatMap((a) => [...get(zero), ...set(a)]),
    ...get(rowPtr), ...set(p), ...get(col1), ...set(q1), ...get(col2), ...set(q2), ...op.i32_const(0), ...set(c),
    ...op.block, ...op.loop,
    ...get(c), ...get(vecEnd), ...op.i32_ge_u, ...op.br_if(1),
    ...step(R),
    ...get(c), ...op.i32_const(W), ...op.i32_add, ...set(c),
    ...get(p), ...op.i32_const(2 * W), ...op.i32_add, ...set(p),
    ...get(q1), ...op.i32_const(8 * W), ...op.i32_add, ...set(q1),
    ...get(q2), ...op.i32_const(8 * W), ...op.i32_add, ...set(q2),
    ...op.br(0), ...op.end, ...op.end,
    ...Array.from({ length: R }, (_, j) => [
      ...get(rl1), ...get(s1[j]), ...op.f64x2_extract_lane(0), ...get(s1[j]), ...op.f64x2_extract_lane(1), ...op.f64_add, ...op.f64_store(8 * j),
      ...get(rl2), ...get(s2[j]), ...op.f64x2_extract_lane(0), ...get(s2[j]), ...op.f64x2_extract_lane(1), ...op.f64_add, ...op.f64_store(8 * j),
    ]).flat(),
    ...get(r), ...op.i32_const(R), ...op.i32_add, ...set(r),
    ...get(rowPtr), ...get(stride), ...op.i32_const(R), ...op.i32_mul, ...op.i32_add, ...set(rowPtr),
    ...get(rl1), ...op.i32_const(8 * R), ...op.i32_add, ...set(rl1),
    ...get(rl2), ...op.i32_const(8 * R), ...op.i32_add, ...set(rl2),
    ...op.br(0), ...op.end, ...op.end,
  ];

  /** f64 at address `addr` += x */
  const addTo = (addr: Code, value: Code): Code => [...addr, ...addr, ...op.f64_load(), ...value, ...op.f64_add, ...op.f64_store()];
  const at = (base: number, index: number, size: number): Code => [...get(base), ...get(index), ...op.i32_const(size), ...op.i32_mul, ...op.i32_add];
  const sq = [...get(x), ...get(x), ...op.f64_mul];

  /** Columns past the last whole step, one value at a time, every row. */
  const tail: Code = [
    ...op.i32_const(0), ...set(r), ...get(src), ...set(rowPtr),
    ...op.block, ...op.loop,
    ...get(r), ...get(rows), ...op.i32_ge_u, ...op.br_if(1),
    ...get(vecEnd), ...set(c),
    ...op.block, ...op.loop,
    ...get(c), ...get(d1), ...op.i32_ge_u, ...op.br_if(1),
    ...get(rowPtr), ...get(c), ...op.i32_const(2), ...op.i32_mul, ...op.i32_add, ...op.i32_load16_u(), ...op.i32_const(0x7fff), ...op.i32_and, ...set(k),
    ...get(flag), ...get(k), ...get(special), ...op.i32_ge_u, ...op.i32_or, ...set(flag),
    ...get(zs), ...get(k), ...op.i32_eqz, ...op.i32_add, ...set(zs),
    ...get(k), ...op.i64_extend_i32_u, ...get(shift64), ...op.i64_shl, ...op.f64_reinterpret_i64, ...get(scale), ...op.f64_mul, ...set(x),
    ...addTo(at(rowL1, r, 8), get(x)), ...addTo(at(rowL2, r, 8), sq),
    ...addTo(at(col1, c, 8), get(x)), ...addTo(at(col2, c, 8), sq),
    ...get(c), ...op.i32_const(1), ...op.i32_add, ...set(c),
    ...op.br(0), ...op.end, ...op.end,
    ...get(r), ...op.i32_const(1), ...op.i32_add, ...set(r),
    ...get(rowPtr), ...get(stride), ...op.i32_add, ...set(rowPtr),
    ...op.br(0), ...op.end, ...op.end,
  ];

  const body: Code = [
    ...get(d1), ...op.i32_const(2), ...op.i32_mul, ...set(stride),
    ...get(d1), ...op.i32_const(-W), ...op.i32_and, ...set(vecEnd),
    ...get(scale), ...op.f64x2_splat, ...set(scaleV),
    ...op.i32_const(0x7fff), ...op.i16x8_splat, ...set(mask),
    ...get(shift), ...op.i64_extend_i32_u, ...set(shift64),
    ...get(src), ...set(rowPtr), ...get(rowL1), ...set(rl1), ...get(rowL2), ...set(rl2),
    ...rowGroups(ROWS), ...rowGroups(1),
    ...tail,
    // any value at or past the first non-finite pattern: let the caller redo the block
    ...get(flag), ...get(mx), ...get(special), ...op.i32_const(1), ...op.i32_sub, ...op.i16x8_splat, ...op.i16x8_gt_u, ...op.v128_any_true, ...op.i32_or,
    ...op.if, ...op.i32_const(-1), ...op.return, ...op.end,
    ...get(zs),
    ...[0, 1, 2, 3].flatMap((lane) => [...get(zm), ...op.i32x4_extract_lane(lane), ...op.i32_sub]),
  ];
  return { name: 'norms16', params: [Type.i32, Type.i32, Type.i32, Type.i32, Type.i32, Type.i32, Type.i32, Type.i32, Type.f64, Type.i32], results: [Type.i32], locals, body };
}

/** The module's bytes (also for `wasm2wat`). */
export function halfKernelModule(): Uint8Array<ArrayBuffer> {
  return wasmModule([kernel()]);
}

type Norms16 = (src: number, rows: number, d1: number, rowL1: number, rowL2: number, col1: number, col2: number, shift: number, scale: number, special: number) => number;

const PAGE = 65536;

/**
 * One thread's kernel and its memory, laid out as [input | row sums | column sums].
 * A caller that reads a file can read straight into `input` (no copy).
 */
export class HalfKernel {
  private readonly memory = new WebAssembly.Memory({ initial: 1 });
  private readonly fn: Norms16;
  private inputBytes = 0;
  private rowCap = 0;
  private colCap = 0;

  constructor() {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(halfKernelModule()), { env: { memory: this.memory } });
    this.fn = instance.exports.norms16 as Norms16;
  }

  /** Makes room for `bytes` of input, `rows` rows and `cols` columns; views of memory taken before this may be stale. */
  reserve(bytes: number, rows: number, cols: number): void {
    if (bytes <= this.inputBytes && rows <= this.rowCap && cols <= this.colCap) return;
    this.inputBytes = Math.max(this.inputBytes, align(bytes));
    this.rowCap = Math.max(this.rowCap, rows);
    this.colCap = Math.max(this.colCap, cols);
    const need = this.inputBytes + 16 * (this.rowCap + this.colCap);
    const have = this.memory.buffer.byteLength;
    if (need > have) this.memory.grow(Math.ceil((need - have) / PAGE));
  }

  /** Whether `bytes` lie in the input area (a block read there is used in place). */
  holds(bytes: Uint8Array): boolean {
    return bytes.buffer === this.memory.buffer && bytes.byteOffset + bytes.length <= this.inputBytes;
  }

  /** The input area (valid until the next reserve). */
  input(bytes: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, 0, bytes);
  }

  /**
   * Sums of a [rows, d1] block of `dt` values: |x| and x² of each row stored
   * into rowL1/rowL2, of each column added to colL1/colL2. `block` may be the
   * input area itself or any bytes (copied in). Returns the zeros, or
   * undefined (nothing changed) when the block holds an infinity or a NaN.
   */
  run(block: Uint8Array, rows: number, d1: number, dt: DataType.FLOAT16 | DataType.BFLOAT16,
    rowL1: Float64Array, rowL2: Float64Array, colL1: Float64Array, colL2: Float64Array): number | undefined {
    const bytes = rows * d1 * 2;
    const inPlace = this.holds(block);
    // Growing the memory would detach a block that lies in it: in place, the room was reserved before the read.
    if (!inPlace) this.reserve(bytes, rows, d1);
    else if (rows > this.rowCap || d1 > this.colCap) throw new Error('HalfKernel.run: more rows or columns than reserved');
    const mem = this.memory.buffer;
    if (!inPlace) new Uint8Array(mem, 0, bytes).set(block.subarray(0, bytes));
    const src = inPlace ? block.byteOffset : 0;
    const r1 = this.inputBytes;
    const r2 = r1 + 8 * this.rowCap;
    const c1 = r2 + 8 * this.rowCap;
    const c2 = c1 + 8 * this.colCap;
    const cols1 = new Float64Array(mem, c1, d1);
    const cols2 = new Float64Array(mem, c2, d1);
    cols1.set(colL1.subarray(0, d1));
    cols2.set(colL2.subarray(0, d1));
    const f = FORMATS[dt];
    const zeros = this.fn(src, rows, d1, r1, r2, c1, c2, f.shift, f.scale, f.special);
    if (zeros < 0) return undefined;
    rowL1.set(new Float64Array(mem, r1, rows));
    rowL2.set(new Float64Array(mem, r2, rows));
    colL1.set(cols1);
    colL2.set(cols2);
    return zeros;
  }
}

const align = (n: number) => Math.ceil(n / 16) * 16;

let shared: HalfKernel | null | undefined;

/** This thread's kernel, or null where WebAssembly SIMD is unavailable (the JavaScript kernel is used then). */
export function halfKernel(): HalfKernel | null {
  if (shared === undefined) {
    try {
      shared = new HalfKernel();
    } catch {
      shared = null;
    }
  }
  return shared;
}
