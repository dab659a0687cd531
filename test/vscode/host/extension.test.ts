// Prune Lens inside the real extension host: the models view, hovers, plan-file
// features and the commands, on copies of the real models. Expected figures are
// computed here from the core's analysis of the same file, never hard-coded.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { analyzeFile } from '../../../src/analysis';
import type { LayerInfo, LayerTable } from '../../../src/analysis/types';
import { loadModel } from '../../../src/onnx/model';
import { buildDependencyGraph, keptCount } from '../../../src/pruning/structured';
import type { PruneReport } from '../../../src/pruning/report';
import { WORKER_THRESHOLD_BYTES } from '../../../src/extension/modelCache';
import type { PruneLensApi } from '../../../src/extension/services';
import type { ModelTreeNode } from '../../../src/extension/tree';
import type { ValidationReport } from '../../../src/validation/report';

const VGG = 'digits_vgg_slim_s1e-2.onnx';
const RESNET = 'digits_resnet_slim_s1e-2.onnx';
/** The shared models folder (reference results live there, not in the test workspace). */
const modelsDir = process.env.PRUNE_LENS_MODELS_DIR ?? path.resolve(__dirname, '../../../../shared/models');
const GAMMA_THRESHOLD = 0.01; // the pruneLens.gammaThreshold default

let api: PruneLensApi;
const workspace = () => vscode.workspace.workspaceFolders![0].uri.fsPath;
const inWorkspace = (name: string) => vscode.Uri.file(path.join(workspace(), name));

/** 3 significant digits, as the hovers print them (e.g. "0.0123", "1.5e-4"). */
function threeDigits(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e6) return v.toExponential(1);
  return Number(v.toPrecision(3)).toString();
}

const sorted = (v: readonly number[]) => [...v].sort((a, b) => a - b);

async function children(node?: ModelTreeNode): Promise<ModelTreeNode[]> {
  return (await api.services.tree.getChildren(node)) ?? [];
}

/** Every layer node under a model, depth first. */
async function layerNodes(model: ModelTreeNode): Promise<Extract<ModelTreeNode, { kind: 'layer' }>[]> {
  const out: Extract<ModelTreeNode, { kind: 'layer' }>[] = [];
  const walk = async (n: ModelTreeNode) => {
    if (n.kind === 'layer') out.push(n);
    for (const c of n.kind === 'model' || n.kind === 'group' ? await children(n) : []) await walk(c);
  };
  await walk(model);
  return out;
}

async function until<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('Prune Lens extension', function () {
  this.timeout(120_000);
  let vggTable: LayerTable;

  before(async () => {
    const ext = vscode.extensions.getExtension<PruneLensApi>('prune-lens.prune-lens');
    assert.ok(ext, 'prune-lens.prune-lens is not loaded');
    api = await ext.activate();
    vggTable = await analyzeFile(inWorkspace(VGG).fsPath);
  });

  it('parses no model at activation', () => {
    // Listing models is allowed; analysing one waits until the user expands, hovers or runs something.
    assert.equal(api.services.cache.analyses, 0);
  });

  describe('models view', () => {
    it('lists the workspace models', async () => {
      const names = (await children()).map((n) => path.basename(n.uri.fsPath));
      for (const m of fs.readdirSync(workspace()).filter((f) => f.endsWith('.onnx'))) assert.ok(names.includes(m), `${m} missing from ${names.join(', ')}`);
    });

    it('follows files added and removed on disk (file watcher)', async () => {
      const copy = path.join(workspace(), 'watched-copy.onnx');
      const names = async () => (await children()).map((n) => path.basename(n.uri.fsPath));
      fs.copyFileSync(inWorkspace('digits_mlp.onnx').fsPath, copy);
      await until(async () => ((await names()).includes('watched-copy.onnx') ? true : undefined), 'the new model in the view');
      fs.rmSync(copy);
      await until(async () => ((await names()).includes('watched-copy.onnx') ? undefined : true), 'the deleted model to leave the view');
    });

    it('honours files.exclude and skips node_modules', async () => {
      const names = async () => (await children()).map((n) => vscode.workspace.asRelativePath(n.uri));
      const hidden = path.join(workspace(), 'node_modules', 'some-package', 'model.onnx');
      fs.mkdirSync(path.dirname(hidden), { recursive: true });
      fs.copyFileSync(inWorkspace('digits_mlp.onnx').fsPath, hidden);
      const files = vscode.workspace.getConfiguration('files');
      await files.update('exclude', { '**/resnet18*': true }, vscode.ConfigurationTarget.Workspace);
      try {
        await until(async () => ((await names()).some((n) => n.startsWith('resnet18')) ? undefined : true), 'files.exclude to hide resnet18');
        const listed = await names();
        assert.ok(listed.includes(VGG), listed.join(', '));
        assert.ok(!listed.some((n) => n.includes('node_modules')), listed.join(', '));
      } finally {
        await files.update('exclude', undefined, vscode.ConfigurationTarget.Workspace);
        fs.rmSync(path.join(workspace(), 'node_modules'), { recursive: true, force: true });
      }
      await until(async () => ((await names()).some((n) => n.startsWith('resnet18')) ? true : undefined), 'resnet18 back after the exclude is removed');
    });

    it(`nests the layers of ${VGG} by module path, with their gamma counts`, async () => {
      const model = (await children()).find((n) => n.uri.fsPath.endsWith(VGG))!;
      const top = await children(model);
      assert.deepEqual(top.map((n) => (n.kind === 'group' || n.kind === 'layer' ? n.label : n.kind)), ['features', 'classifier']);
      const features = top[0] as Extract<ModelTreeNode, { kind: 'group' }>;
      assert.deepEqual(features.children.map((c) => (c.kind === 'layer' ? c.label : '?')), ['0.0', '1.0', '3.0', '4.0']);

      const layers = await layerNodes(model);
      assert.deepEqual(layers.map((l) => l.layer.displayName), vggTable.layers.map((l) => l.displayName));
      const withBn = vggTable.layers.filter((l) => l.batchNorm);
      // The four Conv-BN blocks of this VGG (README: 32, 32, 64, 64 channels).
      assert.deepEqual(withBn.map((l) => l.batchNorm!.gamma.length), [32, 32, 64, 64]);
      for (const node of layers) {
        const item = api.services.tree.getTreeItem(node);
        const expected = vggTable.layers.find((l) => l.name === node.layer.name)!;
        const description = String(item.description);
        assert.ok(description.startsWith(`${expected.op} ${expected.inChannels}→${expected.outChannels}`), description);
        const gamma = expected.batchNorm?.gamma;
        if (gamma) {
          const small = gamma.filter((g) => Math.abs(g) < GAMMA_THRESHOLD).length;
          assert.ok(description.includes(`(${small} of ${gamma.length} below 0.01)`), `${expected.displayName}: ${description}`);
          assert.ok(description.includes(`γ min ${threeDigits(sorted(gamma.map(Math.abs))[0])}`), description);
        } else {
          assert.ok(!description.includes('γ'), `${expected.displayName} has no BN but shows: ${description}`);
        }
        assert.ok(description.endsWith('0% zeros'), description);
      }
      // Network slimming drove most gammas to near zero (README: about 70% below 1e-2).
      const small = withBn.reduce((n, l) => n + l.batchNorm!.gamma.filter((g) => Math.abs(g) < GAMMA_THRESHOLD).length, 0);
      const total = withBn.reduce((n, l) => n + l.batchNorm!.gamma.length, 0);
      assert.ok(small / total > 0.6 && small / total < 0.8, `${small}/${total} small gammas`);
    });

    it('shows L1, L2 and gamma figures in a layer tooltip', async () => {
      const model = (await children()).find((n) => n.uri.fsPath.endsWith(VGG))!;
      const node = (await layerNodes(model)).find((n) => n.layer.displayName === 'features.1.0')!;
      const item = await api.services.tree.resolveTreeItem(api.services.tree.getTreeItem(node), node);
      const md = (item?.tooltip as vscode.MarkdownString).value;
      assertLayerHover(md, vggTable.layers.find((l) => l.displayName === 'features.1.0')!);
    });
    it('analyses a large model (resnet18, 47 MB) in the worker thread, with the same table', async () => {
      const model = (await children()).find((n) => n.uri.fsPath.endsWith('resnet18_seed0_bn.onnx'))!;
      const size = fs.statSync(model.uri.fsPath).size;
      assert.ok(size >= WORKER_THRESHOLD_BYTES, `${size} bytes is below the worker threshold`);
      const layers = await layerNodes(model);
      const expected = await analyzeFile(model.uri.fsPath);
      assert.deepEqual(layers.map((l) => l.layer), expected.layers);
      // layer1 › 0 › conv1: the module path nests.
      const top = await children(model);
      assert.ok(top.some((n) => n.kind === 'group' && n.label === 'layer1'), top.map((n) => (n.kind === 'group' || n.kind === 'layer' ? n.label : n.kind)).join(', '));
    });

    it('names the channel group a residual couples, from the structured engine', async () => {
      const model = (await children()).find((n) => n.uri.fsPath.endsWith(RESNET))!;
      const node = (await layerNodes(model)).find((n) => n.layer.displayName === 'layer2.conv2')!;
      const item = await api.services.tree.resolveTreeItem(api.services.tree.getTreeItem(node), node);
      const md = (item?.tooltip as vscode.MarkdownString).value;
      const group = buildDependencyGraph(await loadModel(node.uri.fsPath)).groups.find((g) => g.roots.includes('layer2.conv2'))!;
      const others = group.roots.filter((r) => r !== 'layer2.conv2');
      assert.ok(others.length > 0, 'the residual Add should couple layer2.conv2 with the downsample conv');
      assert.ok(md.includes(`Channel group #${group.id}, ${group.size} channels; cut together with ${others.map((r) => `\`${r}\``).join(', ')}`), md);
      // The settings' default: L1, 30%, local, structured, round_to 8; the engine keeps int(size * 0.7), rounded up to a multiple of 8.
      const removed = group.size - Math.min(group.size, Math.ceil(keptCount(group.size, 0.3) / 8) * 8);
      assert.ok(md.includes(`would remove **${removed} of ${group.size}** channels of group #${group.id}, from all its layers at once`), md);
    });
  });

  describe('plan files', () => {
    const planName = 'digits_vgg_slim_s1e-2.prune.json';
    let planUri: vscode.Uri;

    before(() => {
      planUri = inWorkspace(planName);
      const plan = {
        steps: [{ method: 'l1', scope: 'global', amount: 0.4, layers: ['features.*'], ignore: ['features.1.0'] }],
      };
      fs.writeFileSync(planUri.fsPath, JSON.stringify(plan, null, 2) + '\n');
    });

    it('hovers a layer name with the same figures as the tree', async () => {
      const doc = await vscode.workspace.openTextDocument(planUri);
      const offset = doc.getText().indexOf('"features.1.0"') + 3;
      const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', planUri, doc.positionAt(offset));
      const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
      assertLayerHover(text, vggTable.layers.find((l) => l.displayName === 'features.1.0')!);
    });

    it('completes layer names inside "layers"', async () => {
      const doc = await vscode.workspace.openTextDocument(planUri);
      const offset = doc.getText().indexOf('"features.*"') + 1;
      const list = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', planUri, doc.positionAt(offset));
      const labels = list.items.map((i) => (typeof i.label === 'string' ? i.label : i.label.label));
      for (const l of vggTable.layers) assert.ok(labels.includes(l.displayName), `${l.displayName} not offered (${labels.slice(0, 20).join(', ')})`);
    });

    it('reports unknown layers and invalid amounts', async () => {
      const bad = inWorkspace('digits_vgg_slim_s1e-2.bad.prune.json');
      fs.writeFileSync(bad.fsPath, JSON.stringify({ steps: [{ method: 'l1', amount: 1.5, layers: ['features.9.0'] }] }, null, 2));
      const doc = await vscode.workspace.openTextDocument(bad);
      const diagnostics = await until(() => {
        const d = vscode.languages.getDiagnostics(bad).filter((x) => x.source === 'Prune Lens');
        return d.length >= 2 ? d : undefined;
      }, 'plan diagnostics');
      const unknown = diagnostics.find((d) => d.code === 'unknown-layer');
      assert.ok(unknown, diagnostics.map((d) => d.message).join('\n'));
      assert.match(unknown.message, /features\.9\.0/);
      assert.equal(doc.getText(unknown.range), '"features.9.0"');
      const amount = diagnostics.find((d) => /amount/.test(d.message));
      assert.ok(amount, diagnostics.map((d) => d.message).join('\n'));
      assert.equal(doc.getText(amount.range), '1.5');
      // The good plan next to it has no problems.
      const good = await vscode.workspace.openTextDocument(planUri);
      assert.ok(good);
      await until(() => (vscode.languages.getDiagnostics(planUri).some((d) => d.source === 'Prune Lens') ? undefined : true), 'a clean plan');
    });

    it('offers "Apply plan" as a CodeLens', async () => {
      const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', planUri);
      assert.ok(lenses.some((l) => l.command?.command === 'pruneLens.applyPlan'), JSON.stringify(lenses.map((l) => l.command?.title)));
    });

    it('applies the plan: a file the core reads back, pruned as the plan says', async () => {
      const report = await vscode.commands.executeCommand<PruneReport>('pruneLens.applyPlan', planUri, { output: 'vgg.plan-test.onnx' });
      const out = inWorkspace('vgg.plan-test.onnx').fsPath;
      assert.equal(report.output, out);
      assert.ok(fs.existsSync(`${out}.report.json`), 'no report next to the pruned model');
      const after = await analyzeFile(out);
      // Global L1 over the weights of features.0.0, 3.0, 4.0 (features.1.0 ignored): 40% of them are zero.
      const pruned = ['features.0.0', 'features.3.0', 'features.4.0'];
      const weights = (l: LayerInfo) => l.weightShape.reduce((p, d) => p * d, 1);
      const layer = (t: LayerTable, n: string) => t.layers.find((l) => l.displayName === n)!;
      const zeros = pruned.reduce((s, n) => s + layer(after, n).zeros, 0);
      const total = pruned.reduce((s, n) => s + weights(layer(after, n)), 0);
      assert.equal(zeros, Math.round(0.4 * total));
      assert.equal(layer(after, 'features.1.0').zeros, 0);
      assert.equal(layer(after, 'classifier.1').zeros, 0);
      const model = await loadModel(out);
      assert.equal(model.graph.node.length, (await loadModel(inWorkspace(VGG).fsPath)).graph.node.length);
    });
  });

  describe('commands', () => {
    it('global prune writes a valid model that onnxruntime runs (validate command)', async () => {
      const source = inWorkspace(VGG);
      const report = await vscode.commands.executeCommand<PruneReport>('pruneLens.globalPrune', source, {
        method: 'l1', amount: 0.5, structured: false, output: 'vgg.global-test.onnx',
      });
      const out = inWorkspace('vgg.global-test.onnx');
      assert.equal(report.output, out.fsPath);
      const after = await analyzeFile(out.fsPath);
      const weightCount = after.layers.reduce((s, l) => s + l.weightShape.reduce((p, d) => p * d, 1), 0);
      assert.equal(after.totals.zeros, Math.round(0.5 * weightCount));

      const validation = await vscode.commands.executeCommand<ValidationReport>('pruneLens.validate', out, {
        data: inWorkspace('digits_val_x.npy').fsPath, labels: inWorkspace('digits_val_y.npy').fsPath, providers: ['cpu'],
      });
      assert.equal(validation.original.file, source.fsPath);
      assert.equal(validation.samples, 360);
      assert.ok(validation.original.accuracy! > 0.99, `original accuracy ${validation.original.accuracy}`);
      assert.ok(validation.pruned.accuracy !== undefined && validation.agreement > 0 && validation.agreement <= 1);
    });

    it('global structured BN-γ prune matches the Torch-Pruning reference and keeps its accuracy', async () => {
      const reference = JSON.parse(fs.readFileSync(path.join(modelsDir, 'digits_vgg_tp_bnscale_50_global_nonorm.json'), 'utf8')) as {
        groups: { root: string; pruned_idxs: number[] }[];
        acc_after_no_finetune: number;
      };
      const source = inWorkspace(VGG);
      const report = await vscode.commands.executeCommand<PruneReport>('pruneLens.globalPrune', source, {
        // The reference ran Torch-Pruning with normalizer=None and no rounding: say so (the defaults are mean and round_to 8).
        method: 'bn-gamma', amount: 0.5, structured: true, normalizer: 'none', roundTo: 1, output: 'vgg.slim-test.onnx',
      });
      assert.equal(report.structured, true);
      const after = await analyzeFile(report.output);
      for (const g of reference.groups) {
        const before = vggTable.layers.find((l) => l.displayName === g.root)!;
        const now = after.layers.find((l) => l.displayName === g.root)!;
        assert.equal(now.outChannels, before.outChannels - g.pruned_idxs.length, `${g.root} channels`);
        const change = report.layers.find((c) => c.layer === before.name)!;
        assert.deepEqual([...change.removed].sort((a, b) => a - b), [...g.pruned_idxs].sort((a, b) => a - b), `${g.root} removed channels`);
      }
      const validation = await vscode.commands.executeCommand<ValidationReport>('pruneLens.validate', vscode.Uri.file(report.output), {
        data: inWorkspace('digits_val_x.npy').fsPath, labels: inWorkspace('digits_val_y.npy').fsPath, providers: ['cpu'],
      });
      // Without fine-tuning, pruning the near-zero gammas keeps the accuracy (within one of 360 samples).
      assert.ok(Math.abs(validation.pruned.accuracy! - reference.acc_after_no_finetune) <= 1 / 360 + 1e-9, `accuracy ${validation.pruned.accuracy}`);
      assert.ok(validation.pruned.params < validation.original.params / 2, `params ${validation.original.params} → ${validation.pruned.params}`);
    });

    it('never overwrites silently, and never the source', async () => {
      const source = inWorkspace(VGG);
      await assert.rejects(
        async () => vscode.commands.executeCommand('pruneLens.globalPrune', source, { method: 'l1', amount: 0.5, structured: false, output: 'vgg.global-test.onnx' }),
        /already exists/,
      );
      await assert.rejects(
        async () => vscode.commands.executeCommand('pruneLens.pruneModel', source, { method: 'l1', amount: 0.5, structured: false, output: VGG, overwrite: true }),
        /replace the model being pruned|source/,
      );
    });

    it('generates a starter plan that checks clean', async () => {
      const source = inWorkspace('digits_resnet_slim_s1e-2.onnx');
      const uri = await vscode.commands.executeCommand<vscode.Uri>('pruneLens.generatePlan', source, { open: false });
      assert.equal(path.basename(uri.fsPath), 'digits_resnet_slim_s1e-2.prune.json');
      const plan = JSON.parse(fs.readFileSync(uri.fsPath, 'utf8'));
      const table = await analyzeFile(source.fsPath);
      assert.deepEqual(plan.steps[0].ignore, [table.layers[table.layers.length - 1].displayName]);
      await vscode.workspace.openTextDocument(uri);
      await until(() => (vscode.languages.getDiagnostics(uri).some((d) => d.source === 'Prune Lens') ? undefined : true), 'a clean generated plan');
    });

    it('opens a model in the read-only report editor (Open With…)', async () => {
      const source = inWorkspace('digits_lenet.onnx');
      await vscode.commands.executeCommand('vscode.openWith', source, 'pruneLens.report');
      await until(() => (api.services.reports.openCount(source) === 1 ? true : undefined), 'the report editor');
      const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
      assert.ok(tab?.input instanceof vscode.TabInputCustom && tab.input.viewType === 'pruneLens.report', `active tab: ${tab?.label}`);
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      await until(() => (api.services.reports.openCount(source) === 0 ? true : undefined), 'the report editor to close');
    });

    it('opens the layer report of a model', async () => {
      const source = inWorkspace(VGG);
      await vscode.commands.executeCommand('pruneLens.showLayerReport', source, { layer: 'features.1.0' });
      assert.equal(api.services.reports.openCount(source), 1);
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    });
  });
});

/** The hover shows L1/L2 min, median and max, the BN gammas and the small-gamma count of `layer`. */
function assertLayerHover(text: string, layer: LayerInfo): void {
  const row = (label: string, values: readonly number[]) => {
    const s = sorted(values);
    const mid = s.length >> 1;
    const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
    return `| ${label} | ${threeDigits(s[0])} | ${threeDigits(median)} | ${threeDigits(s[s.length - 1])} |`;
  };
  assert.ok(text.includes(row('L1', layer.out.l1)), `L1 row ${row('L1', layer.out.l1)} missing in:\n${text}`);
  assert.ok(text.includes(row('L2', layer.out.l2)), `L2 row missing in:\n${text}`);
  const gamma = layer.batchNorm!.gamma;
  assert.ok(text.includes(row('BN γ (abs)', gamma.map(Math.abs))), `gamma row missing in:\n${text}`);
  const small = gamma.filter((g) => Math.abs(g) < GAMMA_THRESHOLD).length;
  assert.ok(text.includes(`${gamma.length} gammas, **${small} below 0.01**`), text);
  const lowestL1 = layer.out.l1.map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v || a.i - b.i)[0];
  assert.ok(text.includes(`Lowest L1: #${lowestL1.i} ${threeDigits(lowestL1.v)}`), text);
}
