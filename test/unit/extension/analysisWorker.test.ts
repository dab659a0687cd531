// The extension's analysis worker thread: progress while a model and its
// external weights are read, and cancel of a running job.

import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { AnalysisRequest, AnalysisResponse } from '../../../src/extension/analysisWorker';
import { newGraph, newModel, newNode, newTensor, newValueInfo } from '../../../src/onnx/build';
import { parseModel, saveModel, serializeModel } from '../../../src/onnx/model';
import { DataType } from '../../../src/onnx/tensor';
import { concatChunks } from '../../../src/onnx/wire';
import { ROOT, tempDir } from '../../helpers/models';

async function externalModel(): Promise<string> {
  const w = newTensor('w', DataType.FLOAT16, [256, 512], new Uint8Array(256 * 512 * 2).map((_, i) => (i * 7) & 0x3b));
  const graph = newGraph('g', [newNode('MatMul', ['x', 'w'], ['y'], 'mm')], [newValueInfo('x', DataType.FLOAT16, ['N', 256])],
    [newValueInfo('y', DataType.FLOAT16, ['N', 512])], [w]);
  const file = path.join(tempDir('analysis-worker'), 'm.onnx');
  await saveModel(parseModel(concatChunks(serializeModel(newModel(graph, 17, 8)))), file, { externalThreshold: 0 });
  return file;
}

describe('extension analysis worker', () => {
  let worker: Worker;
  before(() => {
    const source = path.join(ROOT, 'src', 'extension', 'analysisWorker.ts');
    worker = new Worker(`require('tsx/cjs'); require(${JSON.stringify(source)});`, { eval: true });
  });
  after(() => worker.terminate());

  function collect(id: number): Promise<AnalysisResponse[]> {
    return new Promise((resolve) => {
      const seen: AnalysisResponse[] = [];
      const on = (m: AnalysisResponse) => {
        if (m.id !== id) return;
        seen.push(m);
        if ('ok' in m) {
          worker.off('message', on);
          resolve(seen);
        }
      };
      worker.on('message', on);
    });
  }

  it('reports progress up to the whole size, the external weights included, when asked', async () => {
    const file = await externalModel();
    const replies = collect(1);
    worker.postMessage({ id: 1, file, what: 'table', progress: true } satisfies AnalysisRequest);
    const seen = await replies;
    const last = seen[seen.length - 1];
    assert.ok('ok' in last && last.ok, JSON.stringify(last));
    const progress = seen.flatMap((m) => ('progress' in m ? [m.progress] : []));
    assert.ok(progress.length >= 1);
    const end = progress[progress.length - 1];
    assert.equal(end.done, end.total);
    assert.ok(end.total > 256 * 512 * 2, `total ${end.total}`);
  });

  it('a cancelled job fails with code "cancelled", and the next one works', async () => {
    const file = await externalModel();
    const replies = collect(2);
    worker.postMessage({ id: 2, file, what: 'table' } satisfies AnalysisRequest);
    worker.postMessage({ cancel: 2 } satisfies AnalysisRequest);
    const last = (await replies).pop()!;
    assert.ok('ok' in last && !last.ok && last.error.code === 'cancelled', JSON.stringify(last));
    const again = collect(3);
    worker.postMessage({ id: 3, file, what: 'table' } satisfies AnalysisRequest);
    const ok = (await again).pop()!;
    assert.ok('ok' in ok && ok.ok);
  });
});
