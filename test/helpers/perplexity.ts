// Perplexity of a language model held in memory, on token windows and their
// targets (.npy, int64 [N, T]), run in this process by onnxruntime-node with
// the project's cross-entropy (src/validation/metrics.ts). For tests and
// scripts that prune in memory; users get the same number from `validate`.

import * as ort from 'onnxruntime-node';
import { readNpyHeader } from '../../src/validation/npy';
import { crossEntropySum } from '../../src/validation/metrics';
import * as fs from 'node:fs';

function readInt64(file: string, rows: number): { data: BigInt64Array; width: number } {
  const header = readNpyHeader(file);
  if (header.dtype !== 'int64' || header.shape.length !== 2) throw new Error(`${file}: expected int64 [N, T]`);
  const width = header.shape[1];
  const n = Math.min(rows, header.shape[0]);
  const bytes = fs.readFileSync(file).subarray(header.dataOffset, header.dataOffset + n * width * 8);
  return { data: new BigInt64Array(Uint8Array.from(bytes).buffer), width };
}

/** exp(mean cross-entropy) over the first `rows` windows (all by default). */
export async function perplexityOf(model: Uint8Array, inputs: string, targets: string, rows = Infinity, batch = 64): Promise<number> {
  const x = readInt64(inputs, rows);
  const y = readInt64(targets, rows);
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
