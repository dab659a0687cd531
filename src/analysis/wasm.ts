// A small WebAssembly assembler: just the instructions the SIMD norm kernel
// (halfKernel.ts) needs, spelled as in the text format, and a module of
// functions over one imported memory. Writing the few bytes here keeps the
// kernel readable and checked in as source, with no toolchain or dependency.
// `wasm2wat` (Debian's wabt) prints what it builds, for anyone who wants to read it.

export type Code = number[];

export const enum Type { i32 = 0x7f, i64 = 0x7e, f64 = 0x7c, v128 = 0x7b }

function uleb(n: number): Code {
  const out: Code = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

function sleb(n: number): Code {
  const out: Code = [];
  for (;;) {
    const b = n & 0x7f;
    n = Math.floor(n / 128);
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
}

const simd = (op: number, ...imm: Code): Code => [0xfd, ...uleb(op), ...imm];
/** Alignment as a power of two, and a constant offset. */
const memarg = (align: number, offset = 0): Code => [...uleb(align), ...uleb(offset)];

/** The instructions, by their text-format names (`.` written as `_`). */
export const op = {
  // control: blocks carry no values
  block: [0x02, 0x40], loop: [0x03, 0x40], if: [0x04, 0x40], else: [0x05], end: [0x0b],
  br: (depth: number): Code => [0x0c, ...uleb(depth)],
  br_if: (depth: number): Code => [0x0d, ...uleb(depth)],
  return: [0x0f],
  local_get: (i: number): Code => [0x20, ...uleb(i)],
  local_set: (i: number): Code => [0x21, ...uleb(i)],
  local_tee: (i: number): Code => [0x22, ...uleb(i)],
  // scalars
  i32_load16_u: (offset = 0): Code => [0x2f, ...memarg(1, offset)],
  f64_load: (offset = 0): Code => [0x2b, ...memarg(3, offset)],
  f64_store: (offset = 0): Code => [0x39, ...memarg(3, offset)],
  i32_const: (n: number): Code => [0x41, ...sleb(n)],
  f64_const: (x: number): Code => [0x44, ...new Uint8Array(new Float64Array([x]).buffer)],
  i32_eqz: [0x45], i32_ne: [0x47], i32_lt_u: [0x49], i32_gt_u: [0x4b], i32_le_u: [0x4d], i32_ge_u: [0x4f],
  i32_add: [0x6a], i32_sub: [0x6b], i32_mul: [0x6c], i32_and: [0x71], i32_or: [0x72], i32_shl: [0x74],
  i64_shl: [0x86], f64_add: [0xa0], f64_mul: [0xa2],
  i64_extend_i32_u: [0xad], f64_reinterpret_i64: [0xbf],
  // SIMD
  v128_load: (offset = 0): Code => simd(0x00, ...memarg(0, offset)),
  v128_load16x4_u: (offset = 0): Code => simd(0x04, ...memarg(0, offset)),
  v128_store: (offset = 0): Code => simd(0x0b, ...memarg(0, offset)),
  i32x4_splat: simd(0x11), f64x2_splat: simd(0x14),
  i32x4_extract_lane: (lane: number): Code => simd(0x1b, lane),
  f64x2_extract_lane: (lane: number): Code => simd(0x21, lane),
  i16x8_eq: simd(0x2d), i32x4_eq: simd(0x37),
  i32x4_gt_u: simd(0x3c),
  v128_and: simd(0x4e), v128_any_true: simd(0x53),
  i16x8_max_u: simd(0x99),
  i32x4_extadd_pairwise_i16x8_s: simd(0x7e),
  i32x4_extend_low_i16x8_u: simd(0xa9), i32x4_extend_high_i16x8_u: simd(0xaa),
  i32x4_add: simd(0xae), i32x4_max_u: simd(0xb9),
  i16x8_splat: simd(0x10), i16x8_add: simd(0x8e), i16x8_gt_u: simd(0x32),
  i64x2_extend_low_i32x4_u: simd(0xc9), i64x2_extend_high_i32x4_u: simd(0xca), i64x2_shl: simd(0xcb),
  f64x2_add: simd(0xf0), f64x2_mul: simd(0xf2),
};

export interface WasmFunction {
  name: string;
  params: Type[];
  results: Type[];
  /** Locals after the params, in order. */
  locals: Type[];
  body: Code;
}

const section = (id: number, content: Code): Code => [id, ...uleb(content.length), ...content];
const vec = (items: Code[]): Code => [...uleb(items.length), ...items.flat()];
const name = (s: string): Code => vec([...Buffer.from(s, 'utf8')].map((b) => [b]));

/** A module importing memory `env.memory` and exporting `fns` by name. */
export function wasmModule(fns: WasmFunction[]): Uint8Array<ArrayBuffer> {
  const types = fns.map((f) => [0x60, ...vec(f.params.map((t) => [t])), ...vec(f.results.map((t) => [t]))]);
  const imports = [[...name('env'), ...name('memory'), 0x02, 0x00, 0x01]]; // memory, limits: min 1 page, no max
  const funcs = fns.map((_, i) => uleb(i));
  const exports = fns.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]);
  const codes = fns.map((f) => {
    const locals = vec(f.locals.map((t) => [1, t]));
    const body = [...locals, ...f.body, ...op.end];
    return [...uleb(body.length), ...body];
  });
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)), ...section(2, vec(imports)), ...section(3, vec(funcs)),
    ...section(7, vec(exports)), ...section(10, vec(codes)),
  ]);
}
