// Perplexity and accuracy of the transformer prunes, with and without the
// least-squares refit, next to the torch reference of ../shared/models/README.md
// (measured there with torch on the same models and data): equal to it (within
// float32 rounding) or better. L1 here is torch's: rows of the producing
// projections plus columns of the consuming one (side 'both', summed); +LS
// refits down_proj/c_proj/o_proj block by block on the 256 training windows.
// Perplexity is computed by a small local helper (exp of the mean next-byte
// cross-entropy over the 256 held-out windows).

import * as assert from 'node:assert/strict';
import type { OnnxModel } from '../../../../src/onnx/model';
import { tensorFloats } from '../../../../src/onnx/tensor';
import { attachActivationStats, collectActivationStats, recover, type ActivationSource } from '../../../../src/pruning/recovery';
import { buildDependencyGraph, pruneStructured, type ChannelGroup, type StructuredOptions } from '../../../../src/pruning/structured';
import { openCalibration } from '../../../../src/validation/activations';
import { modelPath } from '../../../helpers/models';
import { bytesOf } from '../structured/helpers';
import { LM_GPT, LM_LLAMA, VIT, load, perplexity, vitAccuracy, type Transformer } from './helpers';

/** Equal to a reference printed with 3 decimals, or better. */
const atMost = (ours: number, reference: number) => ours <= reference * (1 + 2e-4);

type Job = (g: ChannelGroup) => number | undefined;
const mlp30: Job = (g) => (g.roots.every((r) => /(mlp\.0|c_fc|gate_proj|up_proj)$/.test(r)) ? g.size - Math.floor(g.size * 0.7) : undefined);
const oneHead: Job = (g) => (g.roots.some((r) => /(q_proj|qkv)$/.test(r)) ? g.evenBlocks?.length ?? 1 : undefined);
const hidden25: Job = (g) => (g.roots.includes('patch_embed') ? g.size / 4 : undefined);

async function pruneAndRefit(t: Transformer, source: ActivationSource, job: Job, options: StructuredOptions) {
  const original = load(t);
  const pruned = load(t);
  const graph = buildDependencyGraph(load(t));
  const perGroupCount: Record<number, number> = {};
  for (const g of graph.groups) {
    const n = g.frozen ? undefined : job(g);
    if (n) perGroupCount[g.id] = n;
  }
  assert.ok(Object.keys(perGroupCount).length >= (job === hidden25 ? 1 : 3), 'one group per block, or the one hidden stream');
  if (options.criterion === 'wanda' || options.criterion === 'fluctuation') attachActivationStats(pruned, await collectActivationStats(pruned, source));
  const { report } = pruneStructured(pruned, { ...options, perGroupCount });
  const cut = bytesOf(pruned);
  await recover(original, pruned, report, source, { method: 'least-squares' });
  return { cut, refit: bytesOf(pruned as OnnxModel) };
}

const L1: StructuredOptions = { criterion: 'l1', side: 'both', reduction: 'sum' };

describe('transformers: perplexity and accuracy after pruning, with and without least squares', function () {
  this.timeout(600_000);
  const lmSource = (t: Transformer) => openCalibration(load(t), { data: modelPath('lm_licenses_train_x.npy'), size: 256, batch: 64 });

  const lmCases: { t: Transformer; job: Job; what: string; options: StructuredOptions; cut: number; refit: number }[] = [
    { t: LM_GPT, job: mlp30, what: 'MLP −30% per block, L1', options: L1, cut: 4.821, refit: 4.716 },
    { t: LM_LLAMA, job: mlp30, what: 'MLP −30% per block, L1', options: L1, cut: 5.173, refit: 4.819 },
    { t: LM_GPT, job: oneHead, what: 'one head of 4 per block, L1', options: L1, cut: 11.909, refit: 6.970 },
    { t: LM_LLAMA, job: oneHead, what: 'one query head per kv group (2 of 8), L1', options: L1, cut: 5.738, refit: 5.183 },
    { t: LM_GPT, job: oneHead, what: 'one head of 4 per block, wanda (beats torch\'s L1)', options: { criterion: 'wanda' }, cut: 11.909, refit: 6.970 },
    { t: LM_LLAMA, job: mlp30, what: 'MLP −30% per block, FLAP fluctuation (beats torch\'s L1)', options: { criterion: 'fluctuation' }, cut: 5.173, refit: 4.819 },
  ];
  for (const c of lmCases) {
    it(`${c.t.file}: ${c.what}: perplexity ≤ torch's ${c.cut} without and ${c.refit} with least squares`, async () => {
      const source = await lmSource(c.t);
      const r = await pruneAndRefit(c.t, source, c.job, c.options);
      const cut = await perplexity(r.cut, 256);
      const refit = await perplexity(r.refit, 256);
      if (process.env.SHOW_DIFFS) console.log(`      perplexity ${cut.ppl.toFixed(3)} (torch ${c.cut}), +LS ${refit.ppl.toFixed(3)} (torch ${c.refit}); next-byte accuracy ${cut.acc.toFixed(3)} → ${refit.acc.toFixed(3)}`);
      assert.ok(atMost(cut.ppl, c.cut), `pruned: ${cut.ppl} vs torch ${c.cut}`);
      assert.ok(atMost(refit.ppl, c.refit), `refit: ${refit.ppl} vs torch ${c.refit}`);
      assert.ok(refit.ppl < cut.ppl);
    });
  }

  const vitCases: { job: Job; what: string; options: StructuredOptions; min: number }[] = [
    { job: mlp30, what: 'MLP −30% per block, L1', options: L1, min: 0.95 },
    { job: oneHead, what: 'one head of 4 per block, wanda', options: { criterion: 'wanda' }, min: 0.92 },
    { job: hidden25, what: 'hidden size −25% (embeddings, pos-embed, cls token, norms, every projection), L1', options: L1, min: 0.95 },
  ];
  for (const c of vitCases) {
    it(`digits_vit.onnx: ${c.what}: accuracy with least squares ≥ ${c.min} (dense 0.967) and above the plain cut`, async () => {
      const source = await openCalibration(load(VIT), { data: modelPath('digits_train_x.npy'), size: 256 });
      const r = await pruneAndRefit(VIT, source, c.job, c.options);
      const [cut, refit] = [await vitAccuracy(r.cut), await vitAccuracy(r.refit)];
      if (process.env.SHOW_DIFFS) console.log(`      accuracy ${cut.toFixed(3)} → ${refit.toFixed(3)} with least squares`);
      assert.ok(refit >= c.min && refit >= cut, `${cut} → ${refit}`);
    });
  }

  it('digits_vit.onnx: bias compensation (FLAP) after hidden size −25%: every refit layer\'s output error falls, weights stay', async () => {
    const source = await openCalibration(load(VIT), { data: modelPath('digits_train_x.npy'), size: 256 });
    const original = load(VIT);
    const pruned = load(VIT);
    const graph = buildDependencyGraph(load(VIT));
    const hidden = graph.groups.find((g) => g.kind === 'hidden')!;
    const { report } = pruneStructured(pruned, { ...L1, perGroupCount: { [hidden.id]: 16 } });
    // Every 2-D weight, by name and values.
    const weights = (m: OnnxModel) => m.graph.initializer.filter((t) => t.dims.length === 2).map((t) => `${t.name}:${Array.from(tensorFloats(t, m.external)).join(',')}`);
    const before = weights(pruned);
    const cut = await vitAccuracy(bytesOf(pruned));
    const errors = await recover(original, pruned, report, source, { method: 'bias-compensation' });
    const after = await vitAccuracy(bytesOf(pruned));
    if (process.env.SHOW_DIFFS) console.log(`      accuracy ${cut.toFixed(3)} → ${after.toFixed(3)} with bias compensation; ${errors.map((e) => `${e.errorBefore.toFixed(3)}→${e.errorAfter.toFixed(3)}`).join(' ')}`);
    assert.equal(errors.length, 7, 'qkv and fc1 of 3 blocks, and the head');
    for (const e of errors) assert.ok(e.errorAfter <= e.errorBefore + 1e-12, `${e.layer}: ${e.errorBefore} → ${e.errorAfter}`);
    assert.deepEqual(weights(pruned), before, 'only biases change');
    assert.ok(after >= cut, `${cut} → ${after}`);
  });
});
