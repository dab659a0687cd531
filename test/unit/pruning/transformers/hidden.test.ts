// Hidden size (the residual stream): patch/token embeddings, position
// embeddings, the cls token, every norm's gamma and beta, every projection's
// inputs or outputs, and a tied lm_head (the Gather table and the head's
// transposed copy, cut alike). LayerNorm statistics then cover the kept
// channels only, so zeroing channels and removing them differ: measured here.
// RMSNorm, decomposed into Pow → ReduceMean, reduces over the stream and is
// refused with that reason.

import * as assert from 'node:assert/strict';
import { GraphIndex } from '../../../../src/onnx/graph';
import { tensorDims, tensorFloats } from '../../../../src/onnx/tensor';
import { buildDependencyGraph, pruneStructured, type DepGraph } from '../../../../src/pruning/structured';
import { runModel } from '../../../helpers/ort';
import { bytesOf } from '../structured/helpers';
import { LM_GPT, LM_LLAMA, VIT, linearMacsPerToken, load, vitAccuracy, zeroThenRemove, type Transformer } from './helpers';

const hiddenGroup = (g: DepGraph, root: string) => g.groups.find((x) => x.roots.includes(root))!;

describe('transformers: hidden size', function () {
  this.timeout(120_000);

  const cases: { t: Transformer; root: string; members: RegExp[] }[] = [
    { t: VIT, root: 'patch_embed', members: [/^\/Expand operand$/ /* cls token */, /^\/Add operand$/ /* pos_embed */, /^blocks\.0\.norm1 norm-scale$/, /^norm norm-bias$/, /^head in$/] },
    { t: LM_GPT, root: 'h.0.attn.o_proj', members: [/^wte operand/, /^wpe operand/, /^ln_f norm-scale/, /^\/MatMul in/] },
  ];
  for (const c of cases) {
    it(`${c.t.file}: 25% of the hidden size runs at every size, smaller, with fewer MACs per token`, async () => {
      const m = load(c.t);
      const dense = bytesOf(m);
      const macsBefore = linearMacsPerToken(m);
      const graph = buildDependencyGraph(load(c.t));
      const g = hiddenGroup(graph, c.root);
      assert.equal(g.frozen, undefined);
      for (const re of c.members) assert.ok(g.members.some((s) => re.test(s)), `${re} in ${g.members.join('; ')}`);
      pruneStructured(m, { criterion: 'l1', perGroupCount: { [g.id]: g.size / 4 } });
      const pruned = bytesOf(m);
      const macsAfter = linearMacsPerToken(m);
      assert.ok(pruned.length < dense.length * 0.8 && macsAfter < macsBefore * 0.85, `${pruned.length} bytes, ${macsAfter} vs ${macsBefore} MACs per token`);
      for (const size of c.t.sizes) {
        const feeds = c.t.feed(size, 4);
        const [a, b] = [await runModel(dense, feeds), await runModel(pruned, feeds)];
        assert.equal(a.logits.length, b.logits.length);
        assert.ok(b.logits.every(Number.isFinite));
      }
      if (process.env.SHOW_COUNTS) console.log(`      ${c.t.file}: ${dense.length} → ${pruned.length} bytes, linear MACs/token ${macsBefore} → ${macsAfter}`);
    });
  }

  it('lm_gpt_licenses.onnx: the tied lm_head keeps the embedding\'s columns: its transposed copy equals the pruned table', () => {
    const m = load(LM_GPT);
    const graph = buildDependencyGraph(load(LM_GPT));
    const g = hiddenGroup(graph, 'h.0.attn.o_proj');
    pruneStructured(m, { criterion: 'l1', perGroupCount: { [g.id]: 32 } });
    const index = new GraphIndex(m.graph);
    const table = index.constant(index.nodes.find((n) => n.op_type === 'Gather' && index.constant(n.input[0]) && tensorDims(index.constant(n.input[0])!.tensor)[0] === 256)!.input[0])!.tensor;
    const head = index.constant(index.nodes.filter((n) => n.op_type === 'MatMul').pop()!.input[1])!.tensor;
    assert.deepEqual(tensorDims(table), [256, 96]);
    assert.deepEqual(tensorDims(head), [96, 256]);
    const [t, h] = [tensorFloats(table, m.external), tensorFloats(head, m.external)];
    for (let v = 0; v < 256; v++) for (let c = 0; c < 96; c++) assert.equal(h[c * 256 + v], t[v * 96 + c]);
  });

  it('digits_vit.onnx: LayerNorm statistics over fewer channels: zeroed and removed differ, and the accuracy of each is measured', async () => {
    const r = await zeroThenRemove(VIT, (m) => buildDependencyGraph(m), (g) => {
      const h = hiddenGroup(g, 'patch_embed');
      return new Map([[h.id, Array.from({ length: 16 }, (_, i) => i * 4)]]);
    });
    const [zeroed, removed] = [await vitAccuracy(r.zeroed), await vitAccuracy(r.pruned)];
    if (process.env.SHOW_DIFFS) console.log(`      16 of 64 hidden channels: zeroed vs removed max abs logit diff ${r.diff.toFixed(3)}, accuracy zeroed ${zeroed.toFixed(3)}, removed ${removed.toFixed(3)}`);
    assert.ok(r.diff > 1e-3, 'the statistics cover the kept channels only');
    assert.ok(removed > 0.5 && zeroed > 0.5);
  });

  it('lm_llama_licenses.onnx: RMSNorm decomposed into ReduceMean over the stream keeps the hidden size whole, and says so', () => {
    const g = hiddenGroup(buildDependencyGraph(load(LM_LLAMA)), 'layers.0.self_attn.o_proj');
    assert.match(g.frozen ?? '', /input_layernorm\/ReduceMean reduces over the channel axis/);
  });
});
