// Generated language-model-sized files for the bench, never committed: a
// Llama-style MLP stack (per block: gate and up MatMuls 2048×5632, SiLU(gate)·up,
// down MatMul 5632×2048, residual add), its weights in one external data file.
// Written a tensor at a time, so generating 4 GB needs 50 MB of memory.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { newGraph, newModel, newNode, newValueInfo } from '../../src/onnx/build';
import { encodeMessage } from '../../src/onnx/codec';
import type { NodeProto, TensorProto } from '../../src/onnx/schema';
import { DataType } from '../../src/onnx/tensor';
import { concatChunks } from '../../src/onnx/wire';

export const HIDDEN = 2048;
export const FFN = 5632;

/** Where generated models live: outside the repository, reused between runs. */
export const BENCH_DIR = process.env.PRUNE_LENS_BENCH_DIR ?? path.join(os.tmpdir(), 'prune-lens-bench-llm');

export interface LlmSpec {
  blocks: number;
  dtype: DataType.FLOAT16 | DataType.FLOAT;
}

export function llmFile(spec: LlmSpec): string {
  return path.join(BENCH_DIR, `llama-mlp-${spec.blocks}x${HIDDEN}x${FFN}-${spec.dtype === DataType.FLOAT ? 'fp32' : 'fp16'}`, 'model.onnx');
}

/** Bytes of the weights of a spec. */
export function llmBytes(spec: LlmSpec): number {
  return spec.blocks * 3 * HIDDEN * FFN * (spec.dtype === DataType.FLOAT ? 4 : 2);
}

/** Generates the model unless it is already there (complete: the .onnx is written last). */
export function generateLlm(spec: LlmSpec): string {
  const file = llmFile(spec);
  if (fs.existsSync(file)) return file;
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const dataName = 'model.onnx.data';
  const fd = fs.openSync(path.join(dir, dataName), 'w');
  const esize = spec.dtype === DataType.FLOAT ? 4 : 2;
  const buf = new Uint8Array(HIDDEN * FFN * esize);
  const inits: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  let seed = 0x9e3779b9;
  let offset = 0;
  const weight = (name: string, dims: number[]) => {
    seed = fillRandom(buf, spec.dtype, seed);
    fs.writeSync(fd, buf, 0, buf.length, offset);
    inits.push({
      name, data_type: spec.dtype, dims, data_location: 1,
      external_data: [{ key: 'location', value: dataName }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(buf.length) }],
      float_data: [], int32_data: [], string_data: [], int64_data: [], double_data: [], uint64_data: [], metadata_props: [],
    });
    offset += buf.length;
    return name;
  };
  try {
    let x = 'x';
    for (let b = 0; b < spec.blocks; b++) {
      const p = `model.layers.${b}.mlp`;
      const gate = weight(`${p}.gate_proj.weight`, [HIDDEN, FFN]);
      const up = weight(`${p}.up_proj.weight`, [HIDDEN, FFN]);
      const down = weight(`${p}.down_proj.weight`, [FFN, HIDDEN]);
      const n = (op: string, inputs: string[], out: string) => nodes.push(newNode(op, inputs, [out], `/${p}/${out}`));
      n('MatMul', [x, gate], `g${b}`);
      n('Sigmoid', [`g${b}`], `s${b}`);
      n('Mul', [`g${b}`, `s${b}`], `a${b}`);
      n('MatMul', [x, up], `u${b}`);
      n('Mul', [`a${b}`, `u${b}`], `h${b}`);
      n('MatMul', [`h${b}`, down], `d${b}`);
      const next = b + 1 === spec.blocks ? 'y' : `x${b + 1}`;
      n('Add', [x, `d${b}`], next);
      x = next;
    }
  } finally {
    fs.closeSync(fd);
  }
  const graph = newGraph('llama_mlp', nodes, [newValueInfo('x', spec.dtype, ['N', HIDDEN])], [newValueInfo('y', spec.dtype, ['N', HIDDEN])], inits);
  fs.writeFileSync(file, concatChunks(encodeMessage('ModelProto', newModel(graph, 17, 8))));
  return file;
}

/**
 * Seeded weights of magnitude 2^-12..2^-5 with random signs, written as bits
 * (no float conversion per value: generating must not dominate the bench).
 */
function fillRandom(buf: Uint8Array, dtype: DataType, seed: number): number {
  let s = seed | 0;
  if (dtype === DataType.FLOAT16) {
    const h = new Uint16Array(buf.buffer, buf.byteOffset, buf.length / 2);
    for (let i = 0; i < h.length; i++) {
      s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
      // sign | exponent 3..9 (2^-12..2^-6 scaled) | mantissa
      h[i] = (s & 0x8000) | ((3 + ((s >>> 16) & 7) % 7) << 10) | ((s >>> 20) & 0x3ff);
    }
  } else {
    const w = new Uint32Array(buf.buffer, buf.byteOffset, buf.length / 4);
    for (let i = 0; i < w.length; i++) {
      s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
      // fp32 with exponent 115..121 (2^-12..2^-6): sign | exponent | 23-bit mantissa
      w[i] = ((s & 1) << 31) | ((115 + ((s >>> 1) & 7) % 7) << 23) | ((s >>> 9) & 0x7fffff);
    }
  }
  return s;
}
