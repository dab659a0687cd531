// Perplexity of a language model held in memory, on token windows and their
// targets (.npy, int64 [N, T]), run in this process by onnxruntime-node with
// the project's cross-entropy (src/validation/metrics.ts). For tests and
// scripts that prune in memory; users get the same number from `validate`.

import * as ort from 'onnxruntime-node';
import { crossEntropySum } from '../../src/validation/metrics';
import { readNpyInt64 } from './models';

/** exp(mean cross-entropy) over the first `rows` windows (all by default). */
export async function perplexityOf(model: Uint8Array, inputs: string, targets: string, rows = Infinity, batch = 64): Promise<number> {
  const x = sequences(inputs, rows);
  const y = sequences(targets, rows);
  const session = await ort.InferenceSession.create(model);
  try {
    const n = x.data.length / x.width;
    let total = 0;
    for (let b = 0; b < n; b += batch) {
      const count = Math.min(batch, n - b);
      const ids = x.data.subarray(b * x.width, (b + count) * x.width);
      const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('int64', ids, [count, x.width]) });
      const logits = out[session.outputNames[0]].data as Float32Array;
      total += crossEntropySum(logits, count * x.width, Array.from(y.data.subarray(b * y.width, (b + count) * y.width), Number));
    }
    return Math.exp(total / (n * x.width));
  } finally {
    await session.release();
  }
}

function sequences(file: string, rows: number): { data: BigInt64Array; width: number } {
  const { shape, data } = readNpyInt64(file, rows);
  if (shape.length !== 2) throw new Error(`${file}: expected token ids [N, T], found [${shape.join(', ')}]`);
  return { data, width: shape[1] };
}
