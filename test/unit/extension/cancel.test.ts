// Cancel from the extension's progress notification, through the extension's
// own entry points (the bundled extension, activated against the scripted
// `vscode` stand-in): expanding a model in the Models view, and the Prune
// Model command. A cancel settles promptly, leaves the workspace as it was,
// and the next request works.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { newGraph, newModel, newNode, newTensor, newValueInfo } from '../../../src/onnx/build';
import { parseModel, saveModel, serializeModel } from '../../../src/onnx/model';
import { DataType } from '../../../src/onnx/tensor';
import { concatChunks } from '../../../src/onnx/wire';
import type { ModelTreeNode } from '../../../src/extension/tree';
import type { PruneReport } from '../../../src/pruning/report';
import { loadExtension, type LoadedExtension } from '../../helpers/extension';
import { tempDir } from '../../helpers/models';
import type { ShownProgress } from '../../helpers/vscodeStandIn';

const HIDDEN = 256;
const FFN = 704;

/** A Llama-style MLP stack in fp16 with its weights in external data (about 4 MB), written by the project's writer. */
async function mlpStack(dir: string, blocks = 4): Promise<string> {
  let seed = 12345;
  const weight = (name: string, dims: number[]) => {
    const raw = new Uint8Array(dims[0] * dims[1] * 2);
    for (let i = 0; i < raw.length; i += 2) {
      seed = (Math.imul(seed, 1664525) + 1013904223) | 0;
      // Finite fp16 values of either sign, below 1 in magnitude.
      const bits = ((seed >>> 16) & 0x83ff) | 0x2c00;
      raw[i] = bits & 0xff;
      raw[i + 1] = bits >> 8;
    }
    return newTensor(name, DataType.FLOAT16, dims, raw);
  };
  const inits = [];
  const nodes = [];
  let x = 'x';
  for (let b = 0; b < blocks; b++) {
    const p = `model.layers.${b}.mlp`;
    inits.push(weight(`${p}.gate_proj.weight`, [HIDDEN, FFN]), weight(`${p}.up_proj.weight`, [HIDDEN, FFN]), weight(`${p}.down_proj.weight`, [FFN, HIDDEN]));
    const y = b + 1 === blocks ? 'y' : `x${b + 1}`;
    nodes.push(
      newNode('MatMul', [x, `${p}.gate_proj.weight`], [`g${b}`], `/${p}/gate_proj/MatMul`),
      newNode('Sigmoid', [`g${b}`], [`s${b}`], `/${p}/act/Sigmoid`),
      newNode('Mul', [`g${b}`, `s${b}`], [`a${b}`], `/${p}/act/Mul`),
      newNode('MatMul', [x, `${p}.up_proj.weight`], [`u${b}`], `/${p}/up_proj/MatMul`),
      newNode('Mul', [`a${b}`, `u${b}`], [`h${b}`], `/${p}/Mul`),
      newNode('MatMul', [`h${b}`, `${p}.down_proj.weight`], [`d${b}`], `/${p}/down_proj/MatMul`),
      newNode('Add', [x, `d${b}`], [y], `/${p}/Add`),
    );
    x = y;
  }
  const graph = newGraph('mlp_stack', nodes, [newValueInfo('x', DataType.FLOAT16, ['N', HIDDEN])], [newValueInfo('y', DataType.FLOAT16, ['N', HIDDEN])], inits);
  const file = path.join(dir, 'stack.onnx');
  await saveModel(parseModel(concatChunks(serializeModel(newModel(graph, 17, 8)))), file, { externalThreshold: 0 });
  return file;
}

/** Files under `dir`, recursively, as relative paths. */
function listing(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

describe('cancel from the extension\'s progress notification', function () {
  this.timeout(120_000);
  let dir: string;
  let model: string;
  let ext: LoadedExtension;
  /** What the notification must say for the test to press Cancel (undefined: never). */
  let cancelWhen: ((p: ShownProgress) => boolean) | undefined;
  let cancelledAt: number | undefined;

  before(async () => {
    dir = tempDir('extension-cancel');
    model = await mlpStack(dir);
    ext = await loadExtension(dir, {}, (p) => {
      if (cancelledAt === undefined && cancelWhen?.(p)) {
        cancelledAt = performance.now();
        p.cancel();
      }
    });
  });
  after(() => ext?.dispose());
  beforeEach(() => {
    cancelWhen = undefined;
    cancelledAt = undefined;
  });

  const uri = () => (ext.scripted.api.Uri as { file(p: string): unknown }).file(model);
  const modelNode = () => ({ kind: 'model', uri: uri() }) as unknown as ModelTreeNode;

  it('expanding a model whose analysis is cancelled lists "Analysis cancelled", reads nothing more, and the next expansion analyses it', async () => {
    const cache = ext.api.services.cache;
    // This model is small: show the notification at once, and press Cancel as soon as it appears.
    cache.notify.bytes = 0;
    cancelWhen = (p) => p.title.includes('analysing stack.onnx');
    const before = listing(dir);
    const children = await ext.api.services.tree.getChildren(modelNode());
    const settledMs = performance.now() - cancelledAt!;
    assert.ok(cancelledAt !== undefined, 'no notification to cancel');
    assert.deepEqual(children.map((c) => c.kind === 'message' && c.label), ['Analysis cancelled']);
    assert.ok(settledMs < 2000, `settled ${settledMs.toFixed(0)} ms after Cancel`);
    assert.deepEqual(listing(dir), before);

    cancelWhen = undefined;
    const again = await ext.api.services.tree.getChildren(modelNode());
    assert.ok(again.length > 0 && again.every((c) => c.kind !== 'message'), JSON.stringify(again.map((c) => c.kind)));
    const table = await cache.get(uri() as never);
    assert.equal(table.layers.length, 12);
  });

  for (const stage of [{ name: 'while it prunes', message: /step 1\/1/ }, { name: 'while it writes', message: /^writing pruned\.onnx/ }]) {
    it(`Prune Model cancelled ${stage.name} settles promptly and leaves no file; the next prune writes its files`, async () => {
      const before = listing(dir);
      cancelWhen = (p) => p.title.includes('pruning stack.onnx') && stage.message.test(p.message ?? '');
      const prune = ext.scripted.commands.get('pruneLens.pruneModel')!;
      const options = { method: 'l1', amount: 0.5, structured: true, output: 'pruned.onnx' };
      await assert.rejects(async () => prune(uri(), options), (e: Error) => /cancel/i.test(e.message));
      const settledMs = performance.now() - cancelledAt!;
      assert.ok(cancelledAt !== undefined, 'the notification never said that');
      assert.ok(settledMs < 5000, `settled ${settledMs.toFixed(0)} ms after Cancel`);
      assert.deepEqual(listing(dir), before);

      cancelWhen = undefined;
      const report = await prune(uri(), options) as PruneReport;
      assert.equal(report.output, path.join(dir, 'pruned.onnx'));
      assert.deepEqual(listing(dir), [...before, 'pruned.onnx', 'pruned.onnx.data', 'pruned.onnx.report.json'].sort());
      assert.ok(report.layers.some((l) => l.outAfter < l.outBefore), 'nothing was cut');
      for (const f of ['pruned.onnx', 'pruned.onnx.data', 'pruned.onnx.report.json']) fs.rmSync(path.join(dir, f));
    });
  }
});
