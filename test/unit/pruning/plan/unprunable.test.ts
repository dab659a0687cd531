// A model whose every channel group is frozen: a prune writes nothing and says
// which groups are frozen and why (issue 10, bug 3).

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeModel } from '../../../../src/analysis';
import { pruneCommand } from '../../../../src/cli/prune';
import { saveModel } from '../../../../src/onnx/model';
import * as ort from 'onnxruntime-node';
import { concatChunks } from '../../../../src/onnx/wire';
import { serializeModel } from '../../../../src/onnx/model';
import { unprunableVitLike } from '../../../fixtures/models/unprunable';
import { tempDir } from '../unstructured/helpers';

describe('plan: a model nothing can be pruned from', () => {
  it('the ViT-like fixture runs in onnxruntime and has three prunable-looking layers', async () => {
    const model = unprunableVitLike();
    assert.equal(analyzeModel(model).layers.length, 3);
    const bytes = concatChunks(serializeModel(model));
    const session = await ort.InferenceSession.create(bytes);
    const out = await session.run({
      input: new ort.Tensor('float32', new Float32Array(2 * 3 * 64).fill(0.5), [2, 3, 8, 8]),
      token_shape: new ort.Tensor('int64', BigInt64Array.from([2n, 8n, 25n]), [3]),
    });
    await session.release();
    assert.deepEqual(Object.keys(out).sort(), ['features', 'logits']);
  });

  it('prune-lens prune writes no file and names the frozen groups with their reasons', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'vit_like.onnx');
    await saveModel(unprunableVitLike(), file);
    await assert.rejects(pruneCommand([file, '--method', 'l1', '--structured', '--global', '--amount', '0.3'], () => undefined), (e: Error) => {
      assert.match(e.message, /nothing was pruned, so no file was written/);
      assert.match(e.message, /shape computed at run time \(patch_embed\)/);
      assert.match(e.message, /reaches the graph output/);
      assert.match(e.message, /op Einsum has no rule \(side\)/);
      return true;
    });
    assert.deepEqual(fs.readdirSync(dir), ['vit_like.onnx']);
  });
});
