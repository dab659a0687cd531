// MLP neurons of the shared transformers (GPT-2 c_fc/c_proj, Llama's SwiGLU
// gate/up/down, the ViT's fc1/fc2): 30% of every block's neurons, valid in
// onnxruntime at two batch sizes × two sequence lengths, smaller, fewer MACs
// per token, and exact: zeroed neurons removed leave the outputs within 1e-4.

import * as assert from 'node:assert/strict';
import { buildDependencyGraph } from '../../../../src/pruning/depgraph';
import { keptCount, pruneStructured } from '../../../../src/pruning/structured';
import { runModel } from '../../../helpers/ort';
import { bytesOf } from '../structured/helpers';
import { pickChannels } from '../structured/zero';
import { LM_GPT, LM_LLAMA, VIT, linearMacsPerToken, load, zeroThenRemove, type Transformer } from './helpers';

const MLP_ROOT = /(^|\.)(mlp|c_fc|gate_proj|up_proj)(\.|$)/;

const cases: { t: Transformer; groups: number; roots: string }[] = [
  { t: LM_GPT, groups: 4, roots: 'h.0.c_fc' },
  { t: LM_LLAMA, groups: 4, roots: 'layers.0.gate_proj,layers.0.up_proj' },
  { t: VIT, groups: 3, roots: 'blocks.0.mlp.0' },
];

describe('transformers: MLP neurons', function () {
  this.timeout(120_000);

  for (const c of cases) {
    it(`${c.t.file}: one group per block's MLP (${c.roots}, …), zero-then-remove within 1e-4 at every size`, async () => {
      const mlp = (g: ReturnType<typeof buildDependencyGraph>) => g.groups.filter((x) => !x.frozen && x.roots.every((r) => MLP_ROOT.test(r)));
      const r = await zeroThenRemove(c.t, (m) => buildDependencyGraph(m), (g) => {
        const picked = pickChannels(g, 0.3, 5);
        const ids = new Set(mlp(g).map((x) => x.id));
        return new Map([...picked].filter(([gid]) => ids.has(gid)));
      });
      const groups = mlp(r.graph);
      assert.equal(groups.length, c.groups, groups.map((g) => g.roots.join(',')).join('; '));
      assert.equal(groups[0].roots.join(','), c.roots);
      assert.ok(r.diff < 1e-4, `outputs moved by ${r.diff}`);
      assert.ok(r.pruned.length < r.zeroed.length * 0.9, `${r.pruned.length} vs ${r.zeroed.length} bytes`);
      if (process.env.SHOW_DIFFS) console.log(`      ${c.t.file}: max abs diff ${r.diff.toExponential(2)}`);
    });

    it(`${c.t.file}: 30% of the MLP neurons by L1 runs at every size, with the expected shapes and fewer MACs per token`, async () => {
      const m = load(c.t);
      const dense = bytesOf(m);
      const macsBefore = linearMacsPerToken(m);
      const graph = buildDependencyGraph(load(c.t));
      const mlpLayers = graph.groups.filter((g) => !g.frozen && g.roots.every((r) => MLP_ROOT.test(r))).flatMap((g) => g.roots);
      const perLayer = Object.fromEntries(mlpLayers.map((n) => [n, 0.3]));
      const { selection } = pruneStructured(m, { criterion: 'l1', perLayer, ratio: 0 });
      const sizes = [...selection.remove.entries()].map(([gid, list]) => [graph.groups[gid].size, list.length]);
      assert.equal(sizes.length, cases.find((x) => x.t === c.t)!.groups);
      for (const [size, n] of sizes) assert.equal(size - n, keptCount(size, 0.3));
      const pruned = bytesOf(m);
      assert.ok(pruned.length < dense.length, 'smaller');
      const macsAfter = linearMacsPerToken(m);
      assert.ok(macsAfter < macsBefore, `${macsAfter} vs ${macsBefore} MACs per token`);
      for (const size of c.t.sizes) {
        const feeds = c.t.feed(size, 9);
        const [a, b] = [await runModel(dense, feeds), await runModel(pruned, feeds)];
        assert.equal(a.logits.length, b.logits.length);
        assert.ok(b.logits.every(Number.isFinite));
      }
      if (process.env.SHOW_COUNTS) console.log(`      ${c.t.file}: ${dense.length} → ${pruned.length} bytes, linear MACs/token ${macsBefore} → ${macsAfter}`);
    });
  }
});
