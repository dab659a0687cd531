// Language-model validation: perplexity and next-token accuracy from logits
// [N, T, V] and targets [N, T], end to end through the CLI and the worker, on
// the shared models (dense results in ../shared/models/README.md).

import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { validateCommand } from '../../../src/cli/validate';
import type { ValidationReport } from '../../../src/validation';
import { ComparisonAccumulator, crossEntropySum } from '../../../src/validation/metrics';
import { writeNpy } from '../../../src/validation/npy';
import { buildWorker } from '../../helpers/worker';
import { modelPath as model, tempDir } from '../../helpers/models';

describe('language-model validation', () => {
  it('cross-entropy is -log softmax at the target, stable for large logits', () => {
    // Row 1: uniform over 4 → log 4. Row 2: logits 1000 and 0 → ~0 for the target 0, and ~1000 if it were 1.
    const ce = crossEntropySum([0, 0, 0, 0, 1000, 0, 0, 0], 2, [2, 0]);
    assert.ok(Math.abs(ce - Math.log(4)) < 1e-12, `got ${ce}`);
    assert.ok(Math.abs(crossEntropySum([1000, 0], 1, [1]) - 1000) < 1e-9);
  });

  it('the accumulator counts tokens for perplexity, accuracy and agreement, sequences as samples', () => {
    const acc = new ComparisonAccumulator();
    // One sequence of 2 tokens, vocabulary 2. Original predicts [0, 1], pruned [0, 0]; targets [0, 1].
    acc.add([2, 0, 0, 2], [2, 0, 1, 0], 2, [0, 1], 1);
    const r = acc.result();
    assert.equal(r.samples, 1);
    assert.equal(r.tokens, 2);
    assert.equal(r.originalAccuracy, 1);
    assert.equal(r.prunedAccuracy, 0.5);
    assert.equal(r.agreement, 0.5);
    const lse = (a: number, b: number) => Math.log(Math.exp(a) + Math.exp(b));
    const expectedPruned = Math.exp(((lse(2, 0) - 2) + (lse(1, 0) - 0)) / 2);
    assert.ok(Math.abs(r.prunedPerplexity! - expectedPruned) < 1e-12);
    assert.ok(Math.abs(r.originalPerplexity! - Math.exp(lse(2, 0) - 2)) < 1e-12);
  });

  describe('prune-lens validate on the shared language models', () => {
    let workerPath: string;
    before(async () => { workerPath = await buildWorker(); });
    const run = async (argv: string[]) => {
      const lines: string[] = [];
      const code = await validateCommand(argv, (s) => lines.push(s), { workerPath });
      return { code, text: lines.join('\n') };
    };
    const data = ['--data', model('lm_licenses_val_x.npy'), '--labels', model('lm_licenses_val_y.npy'), '--ep', 'cpu', '--warmup', '0'];

    for (const [file, perplexity, accuracy] of [['lm_gpt_licenses.onnx', '4.664', '0.608'], ['lm_llama_licenses.onnx', '4.572', '0.636']]) {
      it(`${file}: dense perplexity ${perplexity}, next-token accuracy ${accuracy}`, async () => {
        const { code, text } = await run([model(file), model(file), ...data, '--json']);
        assert.equal(code, 0);
        const r = JSON.parse(text) as ValidationReport;
        assert.equal(r.samples, 256);
        assert.equal(r.tokens, 256 * 64);
        assert.equal(r.original.perplexity!.toFixed(3), perplexity);
        assert.equal(r.pruned.perplexity!.toFixed(3), perplexity);
        assert.equal(r.original.accuracy!.toFixed(3), accuracy);
        assert.equal(r.agreement, 1);
      });
    }

    it('prints perplexity and next-token accuracy rows', async () => {
      const { code, text } = await run([model('lm_gpt_licenses.onnx'), model('lm_llama_licenses.onnx'), ...data, '--samples', '64']);
      assert.equal(code, 0);
      assert.match(text, /: 64 samples \(4096 tokens\) in batches of 32, with labels$/m);
      assert.match(text, /^perplexity +\d\.\d{3} +\d\.\d{3} +[+-]\d+\.\d%$/m);
      assert.match(text, /^next-token accuracy +\d+\.\d% +\d+\.\d%/m);
      assert.match(text, /^top-1 agreement per token \d+\.\d%/m);
    });

    it('targets per position need logits [N, T, V]', async () => {
      const labels = path.join(tempDir('lm-labels'), 'targets.npy');
      writeNpy(labels, 'int64', [360, 3], new BigInt64Array(360 * 3));
      await assert.rejects(run([model('digits_mlp.onnx'), model('digits_mlp.onnx'), '--data', model('digits_val_x.npy'),
        '--labels', labels, '--ep', 'cpu']), /the labels hold 3 targets per sample \(\[N, T\]\), which needs logits of shape \[N, 3, V\]; output 'logits' has shape \[32, 10\]/);
    });
  });
});
