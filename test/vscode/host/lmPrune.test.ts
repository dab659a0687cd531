// Prune Model with options, in the real extension host: unstructured wanda and
// sparsegpt on a language model at a sparsity or an N:M pattern, run in the
// worker; options that do not fit them are refused before any work.
//
// The file sorts after extension.test.ts on purpose: that suite checks that
// activation parsed nothing, and these tests parse models.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { PruneLensApi } from '../../../src/extension/services';
import type { PruneReport } from '../../../src/pruning/report';

const MODEL = 'lm_gpt_licenses.onnx';
const workspace = () => vscode.workspace.workspaceFolders![0].uri.fsPath;
const inWorkspace = (name: string) => vscode.Uri.file(path.join(workspace(), name));

describe('Prune Model: wanda and sparsegpt on a language model', function () {
  this.timeout(240_000);

  before(async () => {
    const ext = vscode.extensions.getExtension<PruneLensApi>('prune-lens.prune-lens');
    assert.ok(ext, 'prune-lens.prune-lens is not loaded');
    await ext.activate();
  });

  const prune = (options: Record<string, unknown>) =>
    vscode.commands.executeCommand<PruneReport>('pruneLens.pruneModel', inWorkspace(MODEL), { structured: false, calibration: { data: 'lm_licenses_train_x.npy', size: 32 }, ...options });

  for (const [method, target] of [['sparsegpt', { nm: '2:4' }], ['wanda', { amount: 0.5 }]] as const) {
    it(`${method} ${JSON.stringify(target)} zeroes half of every layer's weights`, async () => {
      const output = `lm_gpt.${method}-host-test.onnx`;
      const report = await prune({ method, ...target, output });
      assert.equal(report.method, method);
      assert.equal(report.output, inWorkspace(output).fsPath);
      assert.ok(fs.existsSync(report.output));
      const pruned = report.layers.filter((l) => (l.zerosAfter ?? 0) > (l.zerosBefore ?? 0));
      assert.equal(pruned.length, 25);
      for (const l of pruned) assert.equal(l.zerosAfter! * 2, l.paramsBefore, `${l.layer}: ${l.zerosAfter} of ${l.paramsBefore}`);
    });
  }

  it('refuses an N:M pattern for other methods or a malformed one, and a global scope, naming the problem', async () => {
    await assert.rejects(async () => prune({ method: 'l1', nm: '2:4', output: 'x.onnx' }), /nm applies to wanda and sparsegpt with structured: false/);
    await assert.rejects(async () => prune({ method: 'wanda', nm: '4:4', output: 'x.onnx' }), /nm must be a pattern N:M with 0 < N < M/);
    await assert.rejects(async () => prune({ method: 'sparsegpt', amount: 0.5, scope: 'global', output: 'x.onnx' }), /sparsegpt prunes each layer on its own/);
    await assert.rejects(async () => prune({ method: 'sparsegpt', structured: true, amount: 0.5, output: 'x.onnx' }), /sparsegpt zeroes weights: pass structured: false/);
    assert.ok(!fs.existsSync(inWorkspace('x.onnx').fsPath));
  });
});
