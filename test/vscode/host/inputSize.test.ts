// MACs of a model with dynamic height and width in the real extension host:
// the models view and the hover show the count at the size of the model's
// sample data (yolov8_dyn_input.npy, 96×96), a changed count once
// pruneLens.assumedInputShape is set, and "unknown" with the dims it depends
// on when the size does not fit. Expected counts come from the core's analysis
// at the same sizes (test/unit/analysis/macs.test.ts checks those against onnxruntime).
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { analyzeFile } from '../../../src/analysis';
import type { PruneLensApi } from '../../../src/extension/services';
import type { ModelTreeNode } from '../../../src/extension/tree';

let api: PruneLensApi;

async function children(node?: ModelTreeNode): Promise<ModelTreeNode[]> {
  return (await api.services.tree.getChildren(node)) ?? [];
}

/** The model's row as the view shows it, after its analysis (expanding it). */
async function modelRow(name: string): Promise<{ node: ModelTreeNode; description: string; layers: ModelTreeNode[] }> {
  const node = (await children()).find((n) => n.uri.fsPath.endsWith(`/${name}`));
  assert.ok(node, `${name} is not in the models view`);
  const layers = await children(node);
  return { node, description: String(api.services.tree.getTreeItem(node).description ?? ''), layers };
}

/** The first layer under the nodes, depth first. */
function firstLayer(nodes: ModelTreeNode[]): ModelTreeNode {
  for (const n of nodes) {
    if (n.kind === 'layer') return n;
    if (n.kind === 'group') return firstLayer(n.children);
  }
  assert.fail('no layer');
}

/** The hover's text, Markdown escapes taken out. */
async function hover(node: ModelTreeNode): Promise<string> {
  const item = await api.services.tree.resolveTreeItem(api.services.tree.getTreeItem(node), node);
  const t = item?.tooltip;
  return (typeof t === 'string' ? t : (t as vscode.MarkdownString).value).replace(/\\(.)/g, '$1');
}

/** 3 significant digits with k/M/G, as the view prints counts. */
function compactLike(n: number): string {
  const three = (v: number) => Number(v.toPrecision(3)).toString();
  return n >= 1e9 ? `${three(n / 1e9)}G` : n >= 1e6 ? `${three(n / 1e6)}M` : n >= 1e4 ? `${three(n / 1e3)}k` : String(n);
}

describe('Prune Lens: MACs at an input size', function () {
  this.timeout(120_000);
  const settings = () => vscode.workspace.getConfiguration('pruneLens');

  before(async () => {
    const ext = vscode.extensions.getExtension<PruneLensApi>('prune-lens.prune-lens');
    assert.ok(ext, 'prune-lens.prune-lens is not loaded');
    api = await ext.activate();
  });

  after(async () => {
    await settings().update('assumedInputShape', undefined, vscode.ConfigurationTarget.Workspace);
  });

  it('yolov8_dyn: counted at its sample data\'s 96×96, then at the setting\'s 128×96, else unknown with what it depends on', async () => {
    const file = (await modelRow('yolov8_dyn.onnx')).node.uri.fsPath;
    const at96 = await analyzeFile(file, { inputShape: { shapes: [1, 3, 96, 96], source: 'test' } });
    const at128 = await analyzeFile(file, { inputShape: { shapes: [1, 3, 128, 96], source: 'test' } });
    assert.ok(at128.totals.macs > at96.totals.macs);
    console.log(`      yolov8_dyn MACs: ${at96.totals.macs} at 96×96, ${at128.totals.macs} at 128×96`);

    let row = await modelRow('yolov8_dyn.onnx');
    assert.ok(row.description.includes(`MACs ${compactLike(at96.totals.macs)} at images 1×3×96×96`), row.description);
    assert.ok(String(api.services.tree.getTreeItem(row.node).tooltip).endsWith('\nMACs per sample at images 1×3×96×96, from the size of yolov8_dyn_input.npy.'));
    let layer = firstLayer(row.layers);
    let md = await hover(layer);
    assert.ok(md.includes('MACs per sample at images 1×3×96×96, from the size of yolov8_dyn_input.npy.'), md);
    const l96 = at96.layers.find((l) => layer.kind === 'layer' && l.name === layer.layer.name)!;
    assert.ok(md.includes(`MACs ${compactLike(l96.macs)} ·`), md);

    await settings().update('assumedInputShape', { images: [1, 3, 128, 96] }, vscode.ConfigurationTarget.Workspace);
    row = await modelRow('yolov8_dyn.onnx');
    assert.ok(row.description.includes(`MACs ${compactLike(at128.totals.macs)} at images 1×3×128×96`), row.description);
    layer = firstLayer(row.layers);
    md = await hover(layer);
    assert.ok(md.includes('MACs per sample at images 1×3×128×96, from pruneLens.assumedInputShape.'), md);

    // A shape that does not fit the model's input is not used; the count is unknown and says why.
    await settings().update('assumedInputShape', '1x3x96', vscode.ConfigurationTarget.Workspace);
    row = await modelRow('yolov8_dyn.onnx');
    assert.ok(row.description.includes('MACs unknown (depend on height, width)'), row.description);
    md = await hover(firstLayer(row.layers));
    assert.ok(md.includes('MACs unknown (depend on height, width)'), md);
    assert.match(md, /set pruneLens\.assumedInputShape to count them \(pruneLens\.assumedInputShape not used: input images has 4 dims/);
  });
});
