// Data-aware work through the extension, in the real extension host: plans
// with calibration and recovery, sensitivity curves and suggested plans, all
// run by the worker process the extension owns. Expected figures come from
// the core's own reading of the same files, never hard-coded.
//
// The file sorts after extension.test.ts on purpose: that suite checks that
// activation parsed nothing, and these tests parse models.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { analyzeFile } from '../../../src/analysis';
import { loadModel } from '../../../src/onnx/model';
import type { PruneReport, SensitivityReport } from '../../../src/pruning/report';
import { buildDependencyGraph } from '../../../src/pruning/structured';
import type { PruneLensApi } from '../../../src/extension/services';
import type { SensitivityResult } from '../../../src/worker/protocol';
import type { ValidationReport } from '../../../src/validation/report';

const VGG = 'digits_vgg_slim_s1e-2.onnx';
const RESNET = 'digits_resnet_slim_s1e-2.onnx';

let api: PruneLensApi;
const workspace = () => vscode.workspace.workspaceFolders![0].uri.fsPath;
const inWorkspace = (name: string) => vscode.Uri.file(path.join(workspace(), name));
const VAL = () => ({ data: inWorkspace('digits_val_x.npy').fsPath, labels: inWorkspace('digits_val_y.npy').fsPath });

/** The groups sensitivity analysis measures: those the structured engine may cut. */
async function prunableGroups(file: string): Promise<string[][]> {
  const graph = buildDependencyGraph(await loadModel(file));
  return graph.groups.filter((g) => !g.frozen && g.size > 1).map((g) => g.rootNodes.slice());
}

async function until<T>(probe: () => T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function validateOnDigits(pruned: string, original: string): Promise<ValidationReport> {
  return vscode.commands.executeCommand<ValidationReport>('pruneLens.validate', vscode.Uri.file(pruned), { original, ...VAL(), providers: ['cpu'] });
}

describe('Prune Lens worker jobs (calibration, recovery, sensitivity)', function () {
  this.timeout(240_000);

  before(async () => {
    const ext = vscode.extensions.getExtension<PruneLensApi>('prune-lens.prune-lens');
    assert.ok(ext, 'prune-lens.prune-lens is not loaded');
    api = await ext.activate();
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  describe('pruning with calibration and recovery', () => {
    it(`applies a plan with least-squares recovery to ${RESNET}: the report has recovery errors, accuracy stays >= 0.90`, async () => {
      const planUri = inWorkspace('digits_resnet_slim_s1e-2.recovery.prune.json');
      const plan = {
        steps: [{
          method: 'l1', structured: true, scope: 'local', amount: 0.5, ignore: ['fc'],
          calibration: { data: 'digits_train_x.npy', size: 256 }, recovery: { method: 'least-squares' },
        }],
      };
      fs.writeFileSync(planUri.fsPath, JSON.stringify(plan, null, 2) + '\n');
      const report = await vscode.commands.executeCommand<PruneReport>('pruneLens.applyPlan', planUri, { output: 'resnet.recovered-test.onnx' });
      const out = inWorkspace('resnet.recovered-test.onnx').fsPath;
      assert.equal(report.output, out);
      assert.deepEqual(JSON.parse(fs.readFileSync(`${out}.report.json`, 'utf8')), report);

      // Every layer that lost input channels was refit, and fits its original outputs better than before.
      assert.ok(report.recovery && report.recovery.length >= 4, JSON.stringify(report.recovery));
      for (const r of report.recovery) assert.ok(r.errorAfter < r.errorBefore, `${r.layer}: ${r.errorBefore} → ${r.errorAfter}`);
      // L1 local 50%: each cut layer has half its channels (fc, ignored, keeps its 10 outputs).
      const before = await analyzeFile(inWorkspace(RESNET).fsPath);
      const after = await analyzeFile(out);
      const fc = after.layers.find((l) => l.displayName === 'fc')!;
      assert.equal(fc.outChannels, before.layers.find((l) => l.displayName === 'fc')!.outChannels);
      assert.ok(after.totals.macs < before.totals.macs * 0.6, `MACs ${before.totals.macs} → ${after.totals.macs}`);

      const validation = await validateOnDigits(out, inWorkspace(RESNET).fsPath);
      assert.equal(validation.samples, 360);
      assert.ok(validation.pruned.accuracy! >= 0.9, `accuracy ${validation.original.accuracy} → ${validation.pruned.accuracy}`);
    });

    it('Prune Model takes a data-aware criterion, recovery and calibration as options', async () => {
      const source = inWorkspace(RESNET);
      const request = { method: 'activation-norm', amount: 0.5, scope: 'local', structured: true, ignore: ['fc'], calibration: { data: 'digits_train_x.npy', size: 128 } };
      const recalibrated = await vscode.commands.executeCommand<PruneReport>('pruneLens.pruneModel', source, {
        ...request, recovery: 'bn-recalibration', output: 'resnet.actnorm-bn-test.onnx',
      });
      const plain = await vscode.commands.executeCommand<PruneReport>('pruneLens.pruneModel', source, { ...request, output: 'resnet.actnorm-test.onnx' });
      assert.equal(recalibrated.method, 'activation-norm');
      assert.ok(recalibrated.layers.some((l) => l.outAfter < l.outBefore), 'no channel removed');
      // The same channels go (the ranking is the calibration data's), and no weights are refit...
      assert.deepEqual(recalibrated.layers.map((l) => l.removed), plain.layers.map((l) => l.removed));
      assert.equal(recalibrated.recovery, undefined);
      const gammas = async (file: string) => (await analyzeFile(file)).layers.map((l) => l.batchNorm?.gamma);
      assert.deepEqual(await gammas(recalibrated.output), await gammas(plain.output));
      // ...but the BatchNorm statistics were recomputed: the files differ.
      assert.notDeepEqual(fs.readFileSync(recalibrated.output), fs.readFileSync(plain.output));
    });

    it('refuses a data-aware prune without calibration data, naming the setting', async () => {
      await assert.rejects(
        async () => vscode.commands.executeCommand('pruneLens.pruneModel', inWorkspace(RESNET), {
          method: 'wanda', amount: 0.3, structured: true, output: 'resnet.wanda-test.onnx',
        }),
        /wanda needs calibration data: pass calibration, or set pruneLens.calibration.data/,
      );
      await assert.rejects(
        async () => vscode.commands.executeCommand('pruneLens.pruneModel', inWorkspace(RESNET), {
          method: 'l1', amount: 0.3, structured: true, recovery: 'least-squares', calibration: 'no-such-file.npy', output: 'resnet.ls-test.onnx',
        }),
        /calibration data not found: .*no-such-file\.npy/,
      );
      assert.ok(!fs.existsSync(inWorkspace('resnet.wanda-test.onnx').fsPath));
    });

    it('a cancelled job leaves no file behind, and the worker runs the next one', async () => {
      const output = inWorkspace('resnet.cancelled-test.onnx').fsPath;
      const controller = new AbortController();
      const plan = {
        steps: [{
          method: 'l1' as const, structured: true, amount: 0.5, ignore: ['fc'],
          calibration: { data: 'digits_train_x.npy', size: 256 }, recovery: { method: 'least-squares' as const },
        }],
      };
      const job = api.services.jobs.prunePlan({ model: inWorkspace(RESNET).fsPath, plan, planBaseDir: workspace(), output }, inWorkspace(RESNET), {
        signal: controller.signal,
        onProgress: (e) => {
          if (e.stage === 'recover') controller.abort();
        },
      });
      await assert.rejects(job, /cancelled/);
      const leftovers = fs.readdirSync(workspace()).filter((f) => f.includes('resnet.cancelled-test'));
      assert.deepEqual(leftovers, []);
      const next = await vscode.commands.executeCommand<PruneReport>('pruneLens.pruneModel', inWorkspace('digits_mlp.onnx'), {
        method: 'l1', amount: 0.3, structured: false, output: 'mlp.after-cancel-test.onnx',
      });
      assert.ok(next.totals.zerosAfter! > next.totals.zerosBefore!);
    });
  });

  describe('sensitivity analysis', () => {
    it(`returns a curve for every prunable channel group of ${VGG} and shows it in the report`, async () => {
      const source = inWorkspace(VGG);
      const report = await vscode.commands.executeCommand<SensitivityReport>('pruneLens.sensitivity', source, VAL());
      const expected = await prunableGroups(source.fsPath);
      assert.ok(expected.length >= 4, `${expected.length} groups`);
      assert.deepEqual(report.curves.map((c) => c.layers).sort(), expected.sort());
      assert.equal(report.metricName, 'accuracy');
      assert.ok(report.baseline > 0.99, `baseline ${report.baseline}`);
      for (const c of report.curves) {
        assert.deepEqual(c.ratios, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
        assert.equal(c.metric.length, c.ratios.length);
        assert.ok(c.metric.every((m) => m >= 0 && m <= 1), `${c.layer}: ${c.metric}`);
        // Pruning more of a group never saves fewer MACs.
        c.macsSaved!.forEach((m, i) => assert.ok(i === 0 || m >= c.macsSaved![i - 1], `${c.layer}: ${c.macsSaved}`));
      }
      // Cutting 90% of a layer hurts more than cutting 10% somewhere.
      assert.ok(report.curves.some((c) => c.metric[c.metric.length - 1] < c.metric[0]), 'every curve flat');
      assert.equal(api.services.reports.openCount(source), 1, 'the curves open the report');
    });

    it('without labels, measures agreement with the unpruned model', async () => {
      const report = await vscode.commands.executeCommand<SensitivityReport>('pruneLens.sensitivity', inWorkspace('digits_lenet.onnx'), {
        data: 'digits_val_x.npy', ratios: [0.5], open: false,
      });
      assert.equal(report.metricName, 'agreement');
      assert.equal(report.baseline, 1);
      assert.ok(report.curves.length > 0 && report.curves.every((c) => c.ratios.length === 1));
    });

    it('asks for data it cannot find, in words that say how to fix it', async () => {
      await assert.rejects(
        async () => vscode.commands.executeCommand('pruneLens.sensitivity', inWorkspace(VGG), {}),
        /pass data, or set pruneLens.validation.data/,
      );
      await assert.rejects(
        async () => vscode.commands.executeCommand('pruneLens.sensitivity', inWorkspace(VGG), { data: 'missing.npy' }),
        /validation data not found: .*missing\.npy/,
      );
    });

    it('suggests a plan removing half the MACs; applied, it does', async () => {
      const source = inWorkspace(VGG);
      const result = await vscode.commands.executeCommand<SensitivityResult>('pruneLens.suggestPlan', source, { ...VAL(), target: 0.5, open: false });
      const file = inWorkspace('digits_vgg_slim_s1e-2.suggested.prune.json').fsPath;
      assert.equal(result.suggestion?.file, file);
      // The plan checks clean in the editor (the plan-file diagnostics).
      await vscode.workspace.openTextDocument(file);
      await until(() => (vscode.languages.getDiagnostics(vscode.Uri.file(file)).some((d) => d.source === 'Prune Lens') ? undefined : true), 'a clean suggested plan');
      assert.ok(result.suggestion!.macsReduction >= 0.5, `MACs −${result.suggestion!.macsReduction}`);

      const report = await vscode.commands.executeCommand<PruneReport>('pruneLens.applyPlan', vscode.Uri.file(file), { output: 'vgg.suggested-test.onnx' });
      assert.ok(report.totals.macsAfter <= report.totals.macsBefore * 0.5, `MACs ${report.totals.macsBefore} → ${report.totals.macsAfter}`);
      assert.ok((await analyzeFile(report.output)).totals.macs < (await analyzeFile(source.fsPath)).totals.macs);

      // A second suggestion does not overwrite the first silently.
      await assert.rejects(
        async () => vscode.commands.executeCommand('pruneLens.suggestPlan', source, { ...VAL(), target: 0.3 }),
        /already exists \(pass overwrite: true/,
      );
    });
  });
});
