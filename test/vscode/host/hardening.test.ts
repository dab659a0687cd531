// Hardening inside the real extension host: a crafted model's hover says why
// it cannot be pruned (quickly, without the host's memory growing by GBs);
// the plan editor explains "amount" and refuses amount 1 on structured steps;
// paths a plan names outside the workspace are refused with the reason; and a
// validation past the worker's memory budget fails with the batch, after which
// the next one runs in the same extension host.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { PruneLensApi } from '../../../src/extension/services';
import { sequenceLength } from '../../../src/extension/sequence';
import { encodeNpy } from '../../../src/validation/npy';
import type { ValidationReport } from '../../../src/validation/report';
import type { ModelTreeNode } from '../../../src/extension/tree';
import { hugeInputModel } from '../../fixtures/models/crafted';

let api: PruneLensApi;
const workspace = () => vscode.workspace.workspaceFolders![0].uri.fsPath;
const inWorkspace = (name: string) => vscode.Uri.file(path.join(workspace(), name));

async function until<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const hoverText = (hovers: vscode.Hover[]) => hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');

describe('Prune Lens hardening', function () {
  this.timeout(120_000);

  before(async () => {
    const ext = vscode.extensions.getExtension<PruneLensApi>('prune-lens.prune-lens');
    assert.ok(ext);
    api = await ext.activate();
  });

  it('the crafted ~100-byte model with input [1, 500000000]: the layer hover names the tensor and dim, and the host does not balloon', async () => {
    const file = inWorkspace('crafted-huge-input.onnx');
    fs.writeFileSync(file.fsPath, hugeInputModel());
    const model = await until(async () => ((await api.services.tree.getChildren()) ?? []).find((n) => n.uri.fsPath === file.fsPath), 'the crafted model in the view');
    const layer = await until(async () => ((await api.services.tree.getChildren(model)) ?? []).find((n): n is Extract<ModelTreeNode, { kind: 'layer' }> => n.kind === 'layer'), 'its layer');
    const before = process.memoryUsage();
    const item = await api.services.tree.resolveTreeItem(api.services.tree.getTreeItem(layer), layer);
    const after = process.memoryUsage();
    // The markdown escapes punctuation; compare the text a user reads.
    const md = (item?.tooltip as vscode.MarkdownString).value.replace(/\\(.)/g, '$1');
    assert.match(md, /structured pruning cannot use this model: .*crafted-huge-input\.onnx: x declares 500000000 channels on dim 1; Prune Lens handles at most 1048576 channels per tensor/);
    const grown = after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers;
    assert.ok(grown < 50 * 2 ** 20, `the extension host grew by ${(grown / 2 ** 20).toFixed(0)} MB`);
  });

  describe('amount in plan files', () => {
    const plan = () => inWorkspace('digits_lenet.prune.json');

    it('hovering "amount" states the rule of the step\'s kind, with worked numbers', async () => {
      fs.writeFileSync(plan().fsPath, JSON.stringify({ steps: [{ method: 'l1', structured: true, amount: 0.25 }, { method: 'l1', amount: 0.25 }] }, null, 2) + '\n');
      const doc = await vscode.workspace.openTextDocument(plan());
      const at = (n: number) => {
        let i = -1;
        for (let k = 0; k <= n; k++) i = doc.getText().indexOf('"amount"', i + 1);
        return doc.positionAt(i + 2);
      };
      const structured = hoverText(await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', plan(), at(0)));
      assert.match(structured, /Structured steps follow Torch-Pruning: a group of n channels keeps floor\(n × \(1 − amount\)\).*n = 10: 3 channels removed/);
      const mask = hoverText(await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', plan(), at(1)));
      assert.match(mask, /Masks follow torch\.nn\.utils\.prune: round\(amount × n\).*n = 10: 2 zeroed/);
    });

    it('amount 1 on a structured step is an error on the amount', async () => {
      const text = JSON.stringify({ steps: [{ method: 'l1', structured: true, amount: 1 }] }, null, 2) + '\n';
      fs.writeFileSync(plan().fsPath, text);
      await vscode.workspace.openTextDocument(plan());
      const d = await until(() => vscode.languages.getDiagnostics(plan()).find((x) => x.source === 'Prune Lens' && /would remove every channel/.test(x.message)), 'the amount diagnostic');
      assert.equal(d.severity, vscode.DiagnosticSeverity.Error);
      const doc = await vscode.workspace.openTextDocument(plan());
      assert.equal(doc.getText(d.range), '1');
    });
  });

  it('a plan whose output leaves the workspace is refused with the reason, and nothing is written there', async () => {
    const planUri = inWorkspace('digits_mlp.prune.json');
    fs.writeFileSync(planUri.fsPath, JSON.stringify({ output: '../escaped-{name}.onnx', steps: [{ method: 'l1', amount: 0.2 }] }, null, 2) + '\n');
    const outside = path.join(path.dirname(workspace()), 'escaped-digits_mlp.onnx');
    fs.rmSync(outside, { force: true });
    await assert.rejects(
      async () => vscode.commands.executeCommand('pruneLens.applyPlan', planUri, {}),
      (e: Error) => /output .*escaped-digits_mlp\.onnx \(from "output" of digits_mlp\.prune\.json\) is outside the workspace folder/.test(e.message),
    );
    assert.ok(!fs.existsSync(outside), 'the output was written outside the workspace');
  });

  it('a validation past a 256 MiB worker budget: "ran out of memory at batch 1; try a smaller batch size", and the next validation in the same host works', async function () {
    this.timeout(300_000);
    const settings = vscode.workspace.getConfiguration('pruneLens');
    await settings.update('worker.memoryLimitMb', 256, vscode.ConfigurationTarget.Global);
    try {
      // shufflenet_dyn on generated inputs: about 355 MiB resident at batch 256, about 100 MiB at batch 4 (test/unit/worker/pressure.test.ts).
      const model = inWorkspace('shufflenet_dyn.onnx');
      const job = { original: model.fsPath, providers: ['cpu'] };
      await assert.rejects(
        async () => vscode.commands.executeCommand('pruneLens.validate', model, { ...job, samples: 512, batchSize: 512 }),
        (e: Error) => e.message === 'ran out of memory at batch 1; try a smaller batch size (batchSize is 512)',
      );
      const hostMemory = process.memoryUsage().rss;
      const report = await vscode.commands.executeCommand<ValidationReport>('pruneLens.validate', model, { ...job, samples: 8, batchSize: 4 });
      assert.equal(report.samples, 8);
      assert.equal(report.batchSize, 4);
      assert.equal(report.agreement, 1);
      // The batches lived in the worker, never in the extension host.
      assert.ok(hostMemory < 1024 * 2 ** 20, `the extension host holds ${(hostMemory / 2 ** 20).toFixed(0)} MiB`);
    } finally {
      await settings.update('worker.memoryLimitMb', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  describe('paths a plan, a setting or a report names, outside the workspace', () => {
    const settings = () => vscode.workspace.getConfiguration('pruneLens');
    /** A file beside the workspace folder (in the harness's own temp folder), never inside it. */
    const outside = (name: string, bytes: Buffer | string) => {
      const file = path.join(path.dirname(workspace()), name);
      fs.writeFileSync(file, bytes);
      return file;
    };
    const OUTSIDE_REASON = /is outside the workspace folder; Prune Lens reads and writes files a plan or a setting names only inside the workspace, unless you pick the file in a dialog/;

    it('calibration data a plan step names is refused with the step and the reason, and nothing is written', async () => {
      const data = outside('outside_train_x.npy', fs.readFileSync(inWorkspace('digits_train_x.npy').fsPath));
      const planUri = inWorkspace('digits_resnet_slim_s1e-2.outside.prune.json');
      fs.writeFileSync(planUri.fsPath, JSON.stringify({
        steps: [{ method: 'l1', structured: true, amount: 0.3, ignore: ['fc'], calibration: { data: '../outside_train_x.npy', size: 64 }, recovery: { method: 'least-squares' } }],
      }, null, 2) + '\n');
      const output = inWorkspace('resnet.outside-data-test.onnx').fsPath;
      await assert.rejects(
        async () => vscode.commands.executeCommand('pruneLens.applyPlan', planUri, { model: 'digits_resnet_slim_s1e-2.onnx', output: path.basename(output) }),
        (e: Error) => e.message.startsWith(`calibration data ${data} (from step 1 of digits_resnet_slim_s1e-2.outside.prune.json) `) && OUTSIDE_REASON.test(e.message),
      );
      assert.ok(!fs.existsSync(output));
    });

    it('validation data and labels the settings name are refused for Validate, naming the setting', async () => {
      const model = inWorkspace('digits_lenet.onnx');
      const data = outside('outside_val_x.npy', fs.readFileSync(inWorkspace('digits_val_x.npy').fsPath));
      await settings().update('validation.data', data, vscode.ConfigurationTarget.Workspace);
      try {
        await assert.rejects(
          async () => vscode.commands.executeCommand('pruneLens.validate', model, { original: model.fsPath, providers: ['cpu'] }),
          (e: Error) => e.message.startsWith(`validation data ${data} (from the setting pruneLens.validation.data) `) && OUTSIDE_REASON.test(e.message),
        );
        // Inside the workspace, the same data is used, and so are labels the setting names only if inside too.
        await settings().update('validation.data', 'digits_val_x.npy', vscode.ConfigurationTarget.Workspace);
        const labels = outside('outside_val_y.npy', fs.readFileSync(inWorkspace('digits_val_y.npy').fsPath));
        await settings().update('validation.labels', labels, vscode.ConfigurationTarget.Workspace);
        await assert.rejects(
          async () => vscode.commands.executeCommand('pruneLens.validate', model, { original: model.fsPath, providers: ['cpu'] }),
          (e: Error) => e.message.startsWith(`labels ${labels} (from the setting pruneLens.validation.labels) `),
        );
        await settings().update('validation.labels', 'digits_val_y.npy', vscode.ConfigurationTarget.Workspace);
        const report = await vscode.commands.executeCommand<ValidationReport>('pruneLens.validate', model, { original: model.fsPath, providers: ['cpu'] });
        assert.equal(report.samples, 360);
        assert.ok(report.labels);
      } finally {
        await settings().update('validation.data', undefined, vscode.ConfigurationTarget.Workspace);
        await settings().update('validation.labels', undefined, vscode.ConfigurationTarget.Workspace);
      }
    });

    it('a token model\'s sequence length is not read from data outside the workspace (the header read on hover)', async () => {
      const model = inWorkspace('lm_gpt_licenses.onnx');
      const tokens = encodeNpy('int64', [2, 23], new BigInt64Array(46));
      const far = outside('outside_tokens.npy', tokens);
      fs.writeFileSync(inWorkspace('inside_tokens.npy').fsPath, tokens);
      const table = { sequenceDim: 'sequence' };
      try {
        await settings().update('validation.data', far, vscode.ConfigurationTarget.Workspace);
        assert.equal(sequenceLength(table, model), undefined);
        // A link inside the workspace that leads out is outside too.
        fs.rmSync(inWorkspace('linked_tokens.npy').fsPath, { force: true });
        fs.symlinkSync(far, inWorkspace('linked_tokens.npy').fsPath);
        await settings().update('validation.data', 'linked_tokens.npy', vscode.ConfigurationTarget.Workspace);
        assert.equal(sequenceLength(table, model), undefined);
        await settings().update('validation.data', 'inside_tokens.npy', vscode.ConfigurationTarget.Workspace);
        assert.equal(sequenceLength(table, model), 23);
      } finally {
        await settings().update('validation.data', undefined, vscode.ConfigurationTarget.Workspace);
      }
    });

    it('a cudaLibraryPath in the workspace\'s settings that leads out of it is refused, saying where to set it instead', async () => {
      const model = inWorkspace('digits_lenet.onnx');
      await settings().update('cudaLibraryPath', path.dirname(workspace()), vscode.ConfigurationTarget.Workspace);
      try {
        await assert.rejects(
          async () => vscode.commands.executeCommand('pruneLens.validate', model, { original: model.fsPath, samples: 16, providers: ['cpu'] }),
          /cudaLibraryPath .* \(from the workspace's settings\) is outside the workspace folder; Prune Lens loads native libraries a workspace names only from inside it: set pruneLens.cudaLibraryPath in your user settings instead/,
        );
        // A prune runs on CPU and does not need the folder: it goes on.
        const pruned = await vscode.commands.executeCommand<{ output: string }>('pruneLens.pruneModel', inWorkspace('digits_mlp.onnx'), {
          method: 'l1', amount: 0.3, structured: false, output: 'mlp.refused-cuda-test.onnx', overwrite: true,
        });
        assert.ok(fs.existsSync(pruned.output));
      } finally {
        await settings().update('cudaLibraryPath', undefined, vscode.ConfigurationTarget.Workspace);
      }
      const report = await vscode.commands.executeCommand<ValidationReport>('pruneLens.validate', model, { original: model.fsPath, samples: 16, providers: ['cpu'] });
      assert.equal(report.samples, 16);
    });

    it('the original a prune report names outside the workspace is not loaded', async () => {
      const source = outside('outside_lenet.onnx', fs.readFileSync(inWorkspace('digits_lenet.onnx').fsPath));
      const pruned = inWorkspace('lenet.outside-source-test.onnx');
      fs.copyFileSync(inWorkspace('digits_lenet.onnx').fsPath, pruned.fsPath);
      fs.writeFileSync(`${pruned.fsPath}.report.json`, JSON.stringify({ source, output: pruned.fsPath, layers: [], warnings: [] }));
      await assert.rejects(
        async () => vscode.commands.executeCommand('pruneLens.validate', pruned, { samples: 16, providers: ['cpu'] }),
        (e: Error) => e.message.startsWith(`original model ${source} (from the prune report of lenet.outside-source-test.onnx) `) && OUTSIDE_REASON.test(e.message),
      );
    });
  });
});
