// Dynamic-axis exports (BN kept, shape computations left in the graph):
// channel groups behind Shape → Gather → Div → Slice (torch.chunk), Resize
// scales, Reshape targets built from Shape and a channel shuffle are pruned,
// and the pruned model still runs at every input size the original accepts.
// Zero some channels of every group, remove exactly those, and onnxruntime
// must give the same outputs at two batch sizes (and, for yolov8, at two
// spatial sizes) as the zeroed model.

import * as assert from 'node:assert/strict';
import { loadModelSync } from '../../../../src/onnx/model';
import { buildDependencyGraph } from '../../../../src/pruning/depgraph';
import { applySelection, selectChannels } from '../../../../src/pruning/structured';
import type { DepGraph } from '../../../../src/pruning/depgraph';
import { modelPath } from '../../../helpers/models';
import { bytesOf, maxAbsDiff, randomFeed, run } from './helpers';
import { zeroChannels } from './zero';
import { runModel, type Feeds } from '../../../helpers/ort';

/** Seeded random scores per unfrozen group, so the selection is arbitrary but repeatable. */
function randomScores(graph: DepGraph, seed: number): Map<number, Float64Array> {
  let s = seed >>> 0;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  return new Map(graph.groups.filter((g) => !g.frozen).map((g) => [g.id, Float64Array.from({ length: g.size }, next)]));
}

const CASES = [
  { name: 'yolov8_dyn.onnx', sizes: [[1, 3, 96, 96], [3, 3, 96, 96], [1, 3, 64, 64], [3, 3, 128, 96]] },
  { name: 'shufflenet_dyn.onnx', sizes: [[1, 3, 64, 64], [3, 3, 64, 64]] },
];

describe('structured pruning of dynamic-axis exports', function () {
  for (const c of CASES) {
    it(`${c.name}: only groups that reach a graph output stay frozen; zero-then-remove is exact at every input size`, async () => {
      const m = loadModelSync(modelPath(c.name));
      const graph = buildDependencyGraph(m);
      const frozen = graph.groups.filter((g) => g.frozen);
      for (const g of frozen) assert.match(g.frozen!, /reaches the graph output/, `${g.roots.join(',')}: ${g.frozen}`);
      // Random scores through the real selection (which keeps every value non-empty, e.g. a shuffle half).
      const { remove } = selectChannels(graph, randomScores(graph, 5), { ratio: 0.3 });
      assert.ok(remove.size >= 20, `${remove.size} groups cut`);
      zeroChannels(m, graph, remove);
      const zeroed = bytesOf(m);
      applySelection(m, graph, remove);
      const pruned = bytesOf(m);
      assert.ok(pruned.length < zeroed.length * 0.9, 'the pruned model is smaller');
      for (const dims of c.sizes) {
        const feed = randomFeed('images', dims, dims.reduce((a, b) => a + b, 0));
        const a = await run(zeroed, [feed]);
        const b = await run(pruned, [feed]);
        for (const k of Object.keys(a)) {
          const diff = maxAbsDiff(a[k], b[k]);
          assert.ok(diff < 1e-4, `${dims.join('x')}: ${k} moved by ${diff}`);
          if (process.env.SHOW_DIFFS) console.log(`      ${c.name} ${dims.join('x')}: max abs diff ${diff}, ${remove.size} groups cut`);
        }
      }
    });
  }

  // The transformers' heads and residual stream are tested in test/unit/pruning/transformers (the stream is not
  // exact: LayerNorm statistics change); here their MLP groups.
  for (const name of ['digits_vit.onnx', 'lm_gpt_licenses.onnx', 'lm_llama_licenses.onnx']) {
    it(`${name}: the MLP groups are pruned, exactly, at two batch sizes (and two sequence lengths)`, async () => {
      const m = loadModelSync(modelPath(name));
      const graph = buildDependencyGraph(m);
      const free = graph.groups.filter((g) => !g.frozen);
      for (const g of free) assert.ok(g.kind, `every prunable group of a transformer has a kind: ${g.roots.join(', ')}`);
      const open = free.filter((g) => g.kind === 'mlp');
      assert.ok(open.length >= 3, `${open.length} prunable groups`);
      for (const g of open) assert.match(g.roots.join(' '), /mlp|c_fc|gate_proj/, `only MLPs here: ${g.roots.join(', ')}`);
      const mlp = new Set(open.map((g) => g.id));
      const { remove: all } = selectChannels(graph, randomScores(graph, 3), { ratio: 0.3 });
      const remove = new Map([...all].filter(([gid]) => mlp.has(gid)));
      assert.equal(remove.size, open.length);
      zeroChannels(m, graph, remove);
      const zeroed = bytesOf(m);
      applySelection(m, graph, remove);
      const pruned = bytesOf(m);
      for (const [batch, length] of [[1, 7], [3, 12]]) {
        const feeds: Feeds = name.startsWith('lm_')
          ? { input_ids: { dims: [batch, length], data: BigInt64Array.from({ length: batch * length }, (_, i) => BigInt((i * 37) % 256)) } }
          : { input: { dims: [batch, 1, 8, 8], data: Float32Array.from({ length: batch * 64 }, (_, i) => Math.sin(i)) } };
        const a = await runModel(zeroed, feeds);
        const b = await runModel(pruned, feeds);
        for (const k of Object.keys(a)) {
          const diff = maxAbsDiff(a[k], b[k]);
          assert.ok(diff < 1e-4, `batch ${batch}, length ${length}: ${k} moved by ${diff}`);
        }
      }
    });
  }
});
