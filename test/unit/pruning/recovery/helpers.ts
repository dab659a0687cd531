// Shared by the recovery and sensitivity tests: the real digits models and
// data, and accuracy of an in-memory model measured with onnxruntime.

import * as fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { serializeModel, type OnnxModel } from '../../../../src/onnx/model';
import { concatChunks } from '../../../../src/onnx/wire';
import { readNpyHeader } from '../../../../src/validation/npy';
import { modelPath } from '../../../helpers/models';

/** An .npy file's values as float32 (float32 or int64 data). */
export function readNpy(file: string): { shape: number[]; data: Float32Array } {
  const header = readNpyHeader(file);
  const bytes = fs.readFileSync(file).subarray(header.dataOffset);
  const buf = Buffer.from(bytes);
  if (header.dtype === 'float32') return { shape: header.shape, data: new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4) };
  if (header.dtype === 'int64') return { shape: header.shape, data: Float32Array.from(new BigInt64Array(buf.buffer, buf.byteOffset, buf.length / 8), Number) };
  throw new Error(`${file}: unexpected dtype ${header.dtype}`);
}

let val: { x: Float32Array; y: Float32Array; n: number } | undefined;

/** Top-1 accuracy of `m` on digits_val (360 images), run by onnxruntime from the model's serialized bytes. */
export async function digitsAccuracy(m: OnnxModel): Promise<number> {
  val ??= (() => {
    const x = readNpy(modelPath('digits_val_x.npy'));
    return { x: x.data, y: readNpy(modelPath('digits_val_y.npy')).data, n: x.shape[0] };
  })();
  const session = await ort.InferenceSession.create(concatChunks(serializeModel(m)));
  try {
    const out = await session.run({ input: new ort.Tensor('float32', val.x, [val.n, 1, 8, 8]) });
    const logits = out[session.outputNames[0]].data as Float32Array;
    const classes = logits.length / val.n;
    let right = 0;
    for (let i = 0; i < val.n; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (logits[i * classes + c] > logits[i * classes + best]) best = c;
      if (best === val.y[i]) right++;
    }
    return right / val.n;
  } finally {
    await session.release();
  }
}
