// Protobuf wire format: a bounds-checked reader over a byte view and a writer
// that builds a list of chunks. Bytes fields are returned as subarrays of the
// input (zero-copy) and written back by reference, so a 500 MB model is never
// copied to be read or re-encoded.

import { PruneLensError } from './errors';

export const enum WireType {
  Varint = 0,
  I64 = 1,
  Len = 2,
  StartGroup = 3,
  EndGroup = 4,
  I32 = 5,
}

/** int64 values: a number when exactly representable, a bigint otherwise. */
export type Int64 = number | bigint;

const TWO_32 = 4294967296;

export class WireReader {
  pos: number;
  /** Where the reader started, to report offsets relative to the whole file. */
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
    /** Offset of buf[0] in the file. */
    readonly base: number,
    /** For error messages: the message being read. */
    public path: string,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  fail(detail: string, code: 'truncated' | 'malformed' | 'limit' = 'malformed', at = this.pos): never {
    throw new PruneLensError(code, detail, { field: this.path || undefined, offset: this.base + at });
  }

  /** Reads a varint as an unsigned number (up to 2^53); used for tags and lengths. */
  uint(): number {
    const { buf, end } = this;
    let pos = this.pos;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) this.fail('unexpected end of data inside a varint', 'truncated', pos);
      const b = buf[pos++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        this.pos = pos;
        if (result > Number.MAX_SAFE_INTEGER) this.fail('varint too large for a length or tag', 'limit');
        return result;
      }
      mul *= 128;
    }
    this.fail('varint longer than 10 bytes');
  }

  /** Reads a varint as a signed int64 (two's complement), exact. */
  int64(): Int64 {
    const { buf, end } = this;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) this.fail('unexpected end of data inside a varint', 'truncated', pos);
      const b = buf[pos++];
      if (shift < 28) lo |= (b & 0x7f) << shift;
      else if (shift === 28) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >>> 4;
      } else hi |= (b & 0x7f) << (shift - 32);
      shift += 7;
      if (b < 0x80) {
        this.pos = pos;
        return joinInt64(lo >>> 0, hi | 0);
      }
    }
    this.fail('varint longer than 10 bytes');
  }

  /** int32/enum fields: int64 truncated to 32 bits, as protobuf does. */
  int32(): number {
    const v = this.int64();
    return typeof v === 'bigint' ? Number(BigInt.asIntN(32, v)) : v | 0;
  }

  uint64(): Int64 {
    const v = this.int64();
    if (typeof v === 'number' && v < 0) return BigInt.asUintN(64, BigInt(v));
    if (typeof v === 'bigint') {
      const u = BigInt.asUintN(64, v);
      return u <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(u) : u;
    }
    return v;
  }

  fixed32(): number {
    this.need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
  }

  float(): number {
    this.need(4);
    const v = dataView(this.buf).getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  double(): number {
    this.need(8);
    const v = dataView(this.buf).getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A length-delimited payload: returns [start, end) after checking the length. */
  lenRange(): [number, number] {
    const at = this.pos;
    const len = this.uint();
    if (len > this.end - this.pos) {
      this.fail(`length ${len} exceeds the ${this.end - this.pos} bytes left`, 'truncated', at);
    }
    const start = this.pos;
    this.pos += len;
    return [start, start + len];
  }

  bytes(): Uint8Array {
    const [s, e] = this.lenRange();
    return this.buf.subarray(s, e);
  }

  string(): string {
    const [s, e] = this.lenRange();
    return decodeUtf8(this.buf, s, e);
  }

  /** Skips a field's payload; groups are not used by ONNX and are rejected. */
  skip(wireType: number): void {
    switch (wireType) {
      case WireType.Varint:
        this.int64();
        return;
      case WireType.I64:
        this.need(8);
        this.pos += 8;
        return;
      case WireType.Len:
        this.lenRange();
        return;
      case WireType.I32:
        this.need(4);
        this.pos += 4;
        return;
      default:
        this.fail(`unsupported wire type ${wireType}`);
    }
  }

  private need(n: number): void {
    if (this.end - this.pos < n) this.fail(`unexpected end of data: need ${n} bytes`, 'truncated');
  }
}

function joinInt64(lo: number, hi: number): Int64 {
  // Safe range: hi in [-2^21, 2^21).
  if (hi >= -0x200000 && hi < 0x200000) return hi * TWO_32 + lo;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

const views = new WeakMap<ArrayBufferLike, DataView>();
function dataView(buf: Uint8Array): DataView {
  // One DataView per buffer, offset so that reader positions index it directly.
  if (buf.byteOffset === 0) {
    let v = views.get(buf.buffer);
    if (!v) views.set(buf.buffer, (v = new DataView(buf.buffer)));
    return v;
  }
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

const utf8 = new TextDecoder('utf-8');
function decodeUtf8(buf: Uint8Array, s: number, e: number): string {
  // Short ASCII names are the common case; decoding them by hand is faster.
  if (e - s < 64) {
    let out = '';
    for (let i = s; i < e; i++) {
      const c = buf[i];
      if (c >= 0x80) return utf8.decode(buf.subarray(s, e));
      out += String.fromCharCode(c);
    }
    return out;
  }
  return utf8.decode(buf.subarray(s, e));
}

const utf8enc = new TextEncoder();

/** Encodes into a list of chunks; large byte payloads are referenced, not copied. */
export class WireWriter {
  private chunks: Uint8Array[] = [];
  private scratch = new Uint8Array(256);
  private used = 0;
  private total = 0;

  get length(): number {
    return this.total + this.used;
  }

  finish(): Uint8Array[] {
    this.flush();
    return this.chunks;
  }

  private flush(): void {
    if (this.used > 0) {
      this.chunks.push(this.scratch.subarray(0, this.used));
      this.total += this.used;
      this.scratch = new Uint8Array(256);
      this.used = 0;
    }
  }

  private room(n: number): void {
    if (this.used + n > this.scratch.length) {
      this.flush();
      if (n > this.scratch.length) this.scratch = new Uint8Array(n);
    }
  }

  tag(field: number, wt: WireType): void {
    this.uint(field * 8 + wt);
  }

  uint(v: number): void {
    this.room(10);
    const s = this.scratch;
    while (v >= 0x80) {
      s[this.used++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    s[this.used++] = v;
  }

  int64(v: Int64): void {
    if (typeof v === 'number' && v >= 0) return this.uint(v);
    let u = BigInt.asUintN(64, BigInt(v));
    this.room(10);
    const s = this.scratch;
    while (u >= 0x80n) {
      s[this.used++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    s[this.used++] = Number(u);
  }

  fixed32(v: number): void {
    this.room(4);
    const s = this.scratch;
    s[this.used++] = v & 0xff;
    s[this.used++] = (v >>> 8) & 0xff;
    s[this.used++] = (v >>> 16) & 0xff;
    s[this.used++] = (v >>> 24) & 0xff;
  }

  float(v: number): void {
    this.room(4);
    new DataView(this.scratch.buffer).setFloat32(this.used, v, true);
    this.used += 4;
  }

  double(v: number): void {
    this.room(8);
    new DataView(this.scratch.buffer).setFloat64(this.used, v, true);
    this.used += 8;
  }

  /** Appends bytes as they are (no tag, no length). Large arrays are referenced. */
  raw(b: Uint8Array): void {
    if (b.length <= 64) {
      this.room(b.length);
      this.scratch.set(b, this.used);
      this.used += b.length;
      return;
    }
    this.flush();
    this.chunks.push(b);
    this.total += b.length;
  }

  bytes(b: Uint8Array): void {
    this.uint(b.length);
    this.raw(b);
  }

  string(s: string): void {
    this.bytes(utf8enc.encode(s));
  }

  /** A nested message: its chunks are appended after its length. */
  message(sub: WireWriter): void {
    const chunks = sub.finish();
    this.uint(sub.length);
    for (const c of chunks) this.raw(c);
  }
}

export function concatChunks(chunks: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}
