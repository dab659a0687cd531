// A tiny protobuf encoder for crafting exact bytes in tests: unknown fields,
// wrong wire types, absurd lengths, unpacked repeated fields. Independent of
// src/onnx/wire.ts on purpose, so the tests do not check the codec with itself.

export type Bytes = Uint8Array;

export function varint(v: number | bigint): Bytes {
  let u = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  while (u >= 0x80n) {
    out.push(Number(u & 0x7fn) | 0x80);
    u >>= 7n;
  }
  out.push(Number(u));
  return Uint8Array.from(out);
}

export function cat(...parts: Bytes[]): Bytes {
  return Uint8Array.from(Buffer.concat(parts));
}

export function tag(field: number, wireType: number): Bytes {
  return varint(field * 8 + wireType);
}

/** A varint field. */
export function fInt(field: number, v: number | bigint): Bytes {
  return cat(tag(field, 0), varint(v));
}

/** A length-delimited field holding `payload` (a message, string or bytes). */
export function fLen(field: number, ...payload: Bytes[]): Bytes {
  const body = cat(...payload);
  return cat(tag(field, 2), varint(body.length), body);
}

export function fStr(field: number, s: string): Bytes {
  return fLen(field, new TextEncoder().encode(s));
}

export function fFloat(field: number, v: number): Bytes {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, v, true);
  return cat(tag(field, 5), b);
}

export function fDouble(field: number, v: number): Bytes {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, v, true);
  return cat(tag(field, 1), b);
}

/** A minimal valid ModelProto around graph bytes: ir_version 7, opset 13. */
export function modelBytes(graphBody: Bytes, extra: Bytes = new Uint8Array(0)): Bytes {
  return cat(fInt(1, 7), fLen(8, fStr(1, ''), fInt(2, 13)), fLen(7, graphBody), extra);
}
