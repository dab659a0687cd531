// Tensor values, whichever field holds them: raw_data (views of the file),
// float_data, int32_data (also fp16/bf16/int8/uint8 bit patterns), int64_data,
// double_data, uint64_data; packed and unpacked encodings.

import { strict as assert } from 'node:assert';
import { decodeMessage } from '../../../src/onnx/codec';
import { loadModelSync } from '../../../src/onnx/model';
import type { TensorProto } from '../../../src/onnx/schema';
import { DataType, tensorBytes, tensorFloats, tensorInts } from '../../../src/onnx/tensor';
import { modelPath } from '../../helpers/models';
import { cat, fDouble, fFloat, fInt, fLen, fStr, tag, varint } from '../../helpers/protobuf';

/** A TensorProto's bytes: name, data_type, dims, then the data fields given. */
function tensorBytesOf(dataType: number, dims: number[], ...data: Uint8Array[]): Uint8Array {
  return cat(fStr(8, 't'), fInt(2, dataType), ...dims.map((d) => fInt(1, d)), ...data);
}

function decodeTensor(bytes: Uint8Array): TensorProto {
  return decodeMessage<TensorProto>('TensorProto', bytes);
}

function packedVarints(field: number, values: (number | bigint)[]): Uint8Array {
  return fLen(field, ...values.map(varint));
}

function raw(bytes: number[]): Uint8Array {
  return fLen(9, Uint8Array.from(bytes));
}

function u16le(values: number[]): number[] {
  return values.flatMap((v) => [v & 0xff, (v >> 8) & 0xff]);
}

// Reference bit patterns (IEEE 754 binary16 and bfloat16) and their values.
const HALF: [number, number][] = [
  [0x3c00, 1], [0xc000, -2], [0x3555, 0.333251953125], [0x7bff, 65504], [0x0001, 2 ** -24],
  [0x0400, 2 ** -14], [0x8000, -0], [0x7c00, Infinity], [0xfc00, -Infinity],
];
const BF16: [number, number][] = [
  [0x3f80, 1], [0xc000, -2], [0x4049, 3.140625], [0x7f7f, 3.3895313892515355e38], [0x0001, 9.183549615799121e-41],
  [0x8000, -0], [0x7f80, Infinity],
];

describe('onnx tensors: typed fields', () => {
  it('float_data, packed and unpacked', () => {
    const values = [1.5, -2.25, 0, 3.4028234663852886e38];
    const packed = decodeTensor(tensorBytesOf(DataType.FLOAT, [2, 2], fLen(4, ...values.map((v) => fFloat(0, v).subarray(1)))));
    const unpacked = decodeTensor(tensorBytesOf(DataType.FLOAT, [2, 2], ...values.map((v) => fFloat(4, v))));
    assert.deepEqual(Array.from(tensorFloats(packed)), values);
    assert.deepEqual(Array.from(tensorFloats(unpacked)), values);
  });

  it('double_data keeps full precision in tensorBytes and rounds to float32 in tensorFloats', () => {
    const values = [0.1, -1e300, 2 ** -1074];
    const t = decodeTensor(tensorBytesOf(DataType.DOUBLE, [3], ...values.map((v) => fDouble(10, v))));
    const view = new DataView(tensorBytes(t).buffer);
    assert.deepEqual([0, 1, 2].map((i) => view.getFloat64(i * 8, true)), values);
    assert.deepEqual(Array.from(tensorFloats(t)), [Math.fround(0.1), -Infinity, 0]);
  });

  it('int32_data with negative values (ten-byte varints)', () => {
    const values = [-1, 2147483647, -2147483648, 0, 7];
    const t = decodeTensor(tensorBytesOf(DataType.INT32, [5], packedVarints(5, values)));
    assert.deepEqual(tensorInts(t), values);
    // As float32, 2^31 - 1 rounds to 2^31.
    assert.deepEqual(Array.from(tensorFloats(t)), values.map(Math.fround));
  });

  it('int64_data, with values past 2^53 clamped for shape use', () => {
    const t = decodeTensor(tensorBytesOf(DataType.INT64, [4], packedVarints(7, [-5, 2 ** 40, 9223372036854775807n, -9223372036854775808n])));
    assert.deepEqual(tensorInts(t), [-5, 2 ** 40, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]);
    const view = new DataView(tensorBytes(t).buffer);
    assert.equal(view.getBigInt64(16, true), 9223372036854775807n, 'the exact value stays in the bytes');
  });

  it('uint64_data', () => {
    const t = decodeTensor(tensorBytesOf(DataType.UINT64, [2], packedVarints(11, [3, 18446744073709551615n])));
    const view = new DataView(tensorBytes(t).buffer);
    assert.equal(view.getBigUint64(0, true), 3n);
    assert.equal(view.getBigUint64(8, true), 18446744073709551615n);
  });

  it('float16 in int32_data and in raw_data', () => {
    const bits = HALF.map(([b]) => b);
    const expected = HALF.map(([, v]) => v);
    const typed = decodeTensor(tensorBytesOf(DataType.FLOAT16, [bits.length], packedVarints(5, bits)));
    const rawT = decodeTensor(tensorBytesOf(DataType.FLOAT16, [bits.length], raw(u16le(bits))));
    assert.deepEqual(Array.from(tensorFloats(typed)), expected);
    assert.deepEqual(Array.from(tensorFloats(rawT)), expected);
    assert.ok(Object.is(tensorFloats(rawT)[6], -0), 'the sign of zero survives');
    const nan = decodeTensor(tensorBytesOf(DataType.FLOAT16, [1], raw(u16le([0x7e00]))));
    assert.ok(Number.isNaN(tensorFloats(nan)[0]));
  });

  it('bfloat16 in int32_data and in raw_data', () => {
    const bits = BF16.map(([b]) => b);
    const expected = BF16.map(([, v]) => Math.fround(v));
    const typed = decodeTensor(tensorBytesOf(DataType.BFLOAT16, [bits.length], packedVarints(5, bits)));
    const rawT = decodeTensor(tensorBytesOf(DataType.BFLOAT16, [bits.length], raw(u16le(bits))));
    assert.deepEqual(Array.from(tensorFloats(typed)), expected);
    assert.deepEqual(Array.from(tensorFloats(rawT)), expected);
  });

  it('int8 and uint8, in raw_data and int32_data', () => {
    const i8 = [-128, -1, 0, 1, 127];
    assert.deepEqual(Array.from(tensorFloats(decodeTensor(tensorBytesOf(DataType.INT8, [5], raw(i8.map((v) => v & 0xff)))))), i8);
    assert.deepEqual(Array.from(tensorFloats(decodeTensor(tensorBytesOf(DataType.INT8, [5], packedVarints(5, i8))))), i8);
    const u8 = [0, 1, 128, 255];
    assert.deepEqual(Array.from(tensorFloats(decodeTensor(tensorBytesOf(DataType.UINT8, [4], raw(u8))))), u8);
    assert.deepEqual(Array.from(tensorFloats(decodeTensor(tensorBytesOf(DataType.UINT8, [4], packedVarints(5, u8))))), u8);
  });

  it('raw fp32 and fp64', () => {
    const f = new Float32Array([1, -0.5, 1e-45]);
    const t32 = decodeTensor(tensorBytesOf(DataType.FLOAT, [3], fLen(9, new Uint8Array(f.buffer))));
    assert.deepEqual(tensorFloats(t32), f);
    const d = new Float64Array([0.5, -3]);
    const t64 = decodeTensor(tensorBytesOf(DataType.DOUBLE, [2], fLen(9, new Uint8Array(d.buffer))));
    assert.deepEqual(Array.from(tensorFloats(t64)), [0.5, -3]);
  });

  it('a scalar (no dims) holds one value; an empty dim holds none', () => {
    assert.deepEqual(Array.from(tensorFloats(decodeTensor(tensorBytesOf(DataType.FLOAT, [], fFloat(4, 2.5))))), [2.5]);
    assert.equal(tensorFloats(decodeTensor(tensorBytesOf(DataType.FLOAT, [3, 0]))).length, 0);
  });

  it('a count that does not match the dims is a tensor error naming the tensor', () => {
    const t = decodeTensor(tensorBytesOf(DataType.FLOAT, [3], fFloat(4, 1), fFloat(4, 2)));
    assert.throws(() => tensorFloats(t), (e: any) => e.code === 'tensor' && /tensor t/.test(e.message) && /2 values/.test(e.message));
    const r = decodeTensor(tensorBytesOf(DataType.FLOAT, [3], raw([0, 0, 0, 0, 0])));
    assert.throws(() => tensorFloats(r), (e: any) => e.code === 'tensor' && /5 bytes/.test(e.message));
  });

  it('dims asking for gigabytes that the typed field does not hold fail before anything is allocated', () => {
    for (const [dt, field] of [[DataType.FLOAT, fFloat(4, 1)], [DataType.INT64, fInt(7, 1)], [DataType.FLOAT16, fInt(5, 1)]] as const) {
      // 2^30 elements: 4 GiB of float32 or 8 GiB of int64 if allocated first.
      const t = decodeTensor(tensorBytesOf(dt, [1024, 1024, 1024], field));
      const before = process.memoryUsage().arrayBuffers;
      const start = performance.now();
      assert.throws(() => tensorBytes(t), (e: any) => e.code === 'tensor' && /holds 1 values, but the dims need 1073741824/.test(e.message));
      assert.ok(performance.now() - start < 100);
      assert.ok(process.memoryUsage().arrayBuffers - before < 50 * 1024 * 1024);
    }
  });

  it('a packed float field whose length is not a multiple of 4 is malformed', () => {
    const bad = tensorBytesOf(DataType.FLOAT, [1], cat(tag(4, 2), varint(5), new Uint8Array(5)));
    assert.throws(() => decodeTensor(bad), (e: any) => e.code === 'malformed' && e.location.field === 'float_data');
  });

  it('fp32 weights of a real model are views of the file bytes, not copies', () => {
    const m = loadModelSync(modelPath('digits_vgg_slim_s1e-2.onnx'));
    let views = 0;
    for (const t of m.graph.initializer) {
      assert.equal(t.raw_data!.buffer, m.bytes.buffer, `${t.name} raw_data is a copy`);
      const f = tensorFloats(t);
      if (t.raw_data!.byteOffset % 4 === 0) {
        assert.equal(f.buffer, m.bytes.buffer, `${t.name} values are a copy although aligned`);
        views++;
      }
      // Values equal a plain little-endian decode of the same bytes.
      const dv = new DataView(t.raw_data!.buffer, t.raw_data!.byteOffset, t.raw_data!.length);
      for (let i = 0; i < f.length; i += 97) assert.equal(f[i], dv.getFloat32(i * 4, true));
    }
    assert.ok(views > 0);
  });
});
