// Smoke test of the host harness: the extension under development is loaded into the
// real extension host, activates, and sees the sample workspace.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

const extensionId = 'prune-lens.prune-lens';

describe('extension host smoke', () => {
  it('loads and activates prune-lens.prune-lens', async () => {
    const ext = vscode.extensions.getExtension(extensionId);
    assert.ok(ext, `${extensionId} is not among the loaded extensions`);
    await ext.activate();
    assert.equal(ext.isActive, true);
  });

  it('opens the sample workspace with the digits models', async () => {
    const models = await vscode.workspace.findFiles('*.onnx');
    const names = models.map((u) => u.path.split('/').pop());
    assert.ok(names.includes('digits_vgg_slim_s1e-2.onnx'), `workspace models: ${names.join(', ')}`);
  });
});
