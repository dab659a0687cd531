import { strict as assert } from 'node:assert';
import { analyzeFile } from '../../../src/analysis';
import { layerRows, sortRows, type LayerRow } from '../../../webview/layerRows';
import { planCut } from '../../../webview/threshold';
import { modelPath } from '../../helpers/models';

function row(index: number, displayName: string, params: number, gammaMin?: number): LayerRow {
  return { index, name: `n${index}`, displayName, op: 'Conv', inChannels: 1, outChannels: 1, params, macs: 0, sparsity: 0, l1Mean: 1, l1Min: 1, gammaMin };
}

describe('webview layer rows', () => {
  const rows = [row(0, 'layer10.conv', 300, 0.5), row(1, 'layer2.conv', 100), row(2, 'layer1.conv', 300, 0.1), row(3, 'fc', 50, undefined)];

  it('sorts numbers both ways, ties in model order', () => {
    assert.deepEqual(sortRows(rows, 'params', 'asc').map((r) => r.index), [3, 1, 0, 2]);
    assert.deepEqual(sortRows(rows, 'params', 'desc').map((r) => r.index), [0, 2, 1, 3]);
  });

  it('sorts names naturally (layer2 before layer10)', () => {
    assert.deepEqual(sortRows(rows, 'displayName', 'asc').map((r) => r.displayName), ['fc', 'layer1.conv', 'layer2.conv', 'layer10.conv']);
  });

  it('puts rows without a value last in both directions', () => {
    assert.deepEqual(sortRows(rows, 'gammaMin', 'asc').map((r) => r.index), [2, 0, 1, 3]);
    assert.deepEqual(sortRows(rows, 'gammaMin', 'desc').map((r) => r.index), [0, 2, 1, 3]);
  });

  it('does not reorder its input', () => {
    sortRows(rows, 'params', 'desc');
    assert.deepEqual(rows.map((r) => r.index), [0, 1, 2, 3]);
  });

  it('derives rows from the real digits_vgg_slim_s1e-2 table', async () => {
    const table = await analyzeFile(modelPath('digits_vgg_slim_s1e-2.onnx'));
    const plan = planCut(table.layers, 'bn-gamma', 0.5, 'global');
    const derived = layerRows(table, plan);
    assert.equal(derived.length, table.layers.length);
    const conv = derived.find((r) => r.displayName === 'features.3.0')!;
    assert.equal(conv.removed, 37); // Torch-Pruning reference: 64 → 27
    assert.ok(conv.gammaMin! < 1e-2 && conv.gammaMin! >= 0);
    const layer = table.layers.find((l) => l.displayName === 'features.3.0')!;
    assert.ok(Math.abs(conv.l1Mean - layer.out.l1.reduce((a, b) => a + b) / 64) < 1e-9);
    const fc = derived.find((r) => r.op === 'Gemm')!;
    assert.equal(fc.gammaMin, undefined);
    assert.equal(fc.removed, undefined); // no BN: nothing to rank by gamma
    // Most MACs first: the two 3x3 convs at 8x8 resolution.
    assert.deepEqual(sortRows(derived, 'macs', 'desc').slice(0, 2).map((r) => r.displayName).sort(), ['features.1.0', 'features.4.0']);
  });

  it('lm_llama_licenses: per-head columns (the lowest head is the minimum of the sums of its rows) and MACs at 64 tokens', async () => {
    const table = await analyzeFile('../shared/models/lm_llama_licenses.onnx');
    const rows = layerRows(table, undefined, {}, 64);
    const q = rows.find((r) => r.displayName === 'layers.0.self_attn.q_proj')!;
    const k = rows.find((r) => r.displayName === 'layers.0.self_attn.k_proj')!;
    const down = rows.find((r) => r.displayName === 'layers.0.down_proj')!;
    assert.deepEqual([q.heads, k.heads, down.heads], ['8 × 16', '2 × 16', undefined]);
    const layer = table.layers.find((l) => l.displayName === 'layers.0.self_attn.q_proj')!;
    const sums = Array.from({ length: 8 }, (_, h) => layer.out.l1.slice(16 * h, 16 * h + 16).reduce((a, b) => a + b, 0));
    assert.ok(Math.abs(q.headMin! - Math.min(...sums)) < 1e-9 * q.headMin!);
    assert.match(q.headScores!, /^Output heads of layers\.0\.self_attn, each the sum over its 16 rows\nL1: #0 /);
    assert.equal(q.macs, 64 * 128 * 128);
    assert.equal(layerRows(table, undefined).find((r) => r.name === q.name)!.macs, 128 * 128);
    assert.deepEqual(sortRows(rows, 'headMin', 'asc').slice(-1)[0].heads, undefined);
  });

  it('yolov8_dyn: rows say what an unknown count depends on, and nothing once an input size binds it', async function () {
    this.timeout(60_000);
    const file = modelPath('yolov8_dyn.onnx');
    const open = layerRows(await analyzeFile(file), undefined).filter((r) => r.op === 'Conv');
    assert.ok(open.length > 10 && open.every((r) => r.macsDependsOn?.join(',') === 'height,width'));
    const bound = layerRows(await analyzeFile(file, { inputShape: { shapes: [1, 3, 96, 96], source: 'test' } }), undefined);
    assert.deepEqual(bound.filter((r) => r.macsDependsOn), []);
  });
});
