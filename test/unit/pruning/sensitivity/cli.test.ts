import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sensitivityCommand } from '../../../../src/cli/sensitivity';
import { parsePlanText } from '../../../../src/pruning/plan/validate';
import { modelPath } from '../../../helpers/models';

describe('prune-lens sensitivity', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prune-lens-sens-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('prints the curves as JSON and writes a suggested plan that parses as a plan', async () => {
    const lines: string[] = [];
    const plan = path.join(dir, 'mlp.prune.json');
    const code = await sensitivityCommand([modelPath('digits_mlp.onnx'), '--data', modelPath('digits_val_x.npy'), '--labels', modelPath('digits_val_y.npy'),
      '--ratios', '0.25,0.5,0.75', '--suggest', '0.3', '-o', plan, '--json'], (s) => lines.push(s));
    assert.equal(code, 0);
    const report = JSON.parse(lines.join('\n'));
    assert.equal(report.metricName, 'accuracy');
    assert.equal(report.curves.length, 2);
    assert.deepEqual(report.curves[0].ratios, [0.25, 0.5, 0.75]);
    assert.ok(report.suggestion.macsReduction >= 0.3);
    const parsed = parsePlanText(fs.readFileSync(plan, 'utf8'), plan);
    assert.ok(parsed.steps.every((s) => s.structured && s.method === 'l1'));
    // The plan file is never overwritten.
    await assert.rejects(sensitivityCommand([modelPath('digits_mlp.onnx'), '--data', modelPath('digits_val_x.npy'), '--ratios', '0.5', '--suggest', '0.3', '-o', plan], () => undefined),
      /the plan file already exists/);
  });

  it('explains what is missing', async () => {
    await assert.rejects(sensitivityCommand([modelPath('digits_mlp.onnx')]), /--data is required/);
    await assert.rejects(sensitivityCommand([modelPath('digits_mlp.onnx'), '--data', 'x.npy', '--ratios', '0.5,1.5']), /--ratios takes fractions between 0 and 1, not '1.5'/);
    await assert.rejects(sensitivityCommand([modelPath('digits_mlp.onnx'), '--data', 'x.npy', '--criterion', 'nm']),
      /--criterion nm is not a method that ranks channels \(one of l1, l2, random, bn-gamma, wanda, activation-norm, fluctuation\)/);
  });
});
