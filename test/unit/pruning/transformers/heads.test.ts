// Attention heads of the shared transformers: GPT-2 (q/k/v/o, 4 heads), the
// ViT (fused qkv split by its three row blocks) and Llama (GQA, 8 query heads
// over 2 kv heads, RoPE). Heads are whole channel units; the head counts in
// Reshape targets (and GQA's Expand factor) are rewritten. Checked as MLP
// neurons are: zero-then-remove within 1e-4 at 2 batch × 2 sequence sizes,
// valid, smaller, fewer MACs per token.

import * as assert from 'node:assert/strict';
import { buildDependencyGraph, type BuildOptions, type ChannelGroup, type DepGraph } from '../../../../src/pruning/depgraph';
import { pruneStructured } from '../../../../src/pruning/structured';
import { runModel } from '../../../helpers/ort';
import { bytesOf } from '../structured/helpers';
import { LM_GPT, LM_LLAMA, VIT, linearMacsPerToken, load, zeroThenRemove, type Transformer } from './helpers';

const ATTN = /(attn|self_attn)\.(q_proj|qkv)$/;
const attentionGroups = (g: DepGraph) => g.groups.filter((x) => !x.frozen && x.roots.some((r) => ATTN.test(r)));

interface Case { t: Transformer; opts: BuildOptions; label: string; heads: number; perBlock: number; roots: string }

const cases: Case[] = [
  { t: LM_GPT, opts: {}, label: 'one head of 4 per block', heads: 4, perBlock: 4, roots: 'h.0.attn.q_proj,h.0.attn.k_proj,h.0.attn.v_proj' },
  { t: VIT, opts: {}, label: 'one head of 4 per block (fused qkv)', heads: 4, perBlock: 3, roots: 'blocks.0.attn.qkv' },
  { t: LM_LLAMA, opts: { gqa: 'even' }, label: 'one query head per kv group (2 of 8)', heads: 8, perBlock: 4, roots: 'layers.0.self_attn.q_proj' },
  { t: LM_LLAMA, opts: { gqa: 'groups' }, label: 'one kv group with its 4 query heads', heads: 2, perBlock: 4, roots: 'layers.0.self_attn.q_proj,layers.0.self_attn.k_proj,layers.0.self_attn.v_proj' },
];

describe('transformers: attention heads', function () {
  this.timeout(120_000);

  for (const c of cases) {
    it(`${c.t.file} (gqa ${c.opts.gqa ?? 'default'}): ${c.label}, zero-then-remove within 1e-4 at every size`, async () => {
      // One head per block; with GQA 'even', one query head from each kv group (a different one in each).
      const pick = (x: ChannelGroup, i: number) => x.evenBlocks?.map((b, k) => b[(i + k) % b.length]) ?? [i % x.size];
      const r = await zeroThenRemove(c.t, (m) => buildDependencyGraph(m, c.opts), (g) => new Map(attentionGroups(g).map((x, i) => [x.id, pick(x, i)])));
      const groups = attentionGroups(r.graph);
      assert.equal(groups.length, c.perBlock, groups.map((g) => g.roots.join(',')).join('; '));
      assert.equal(groups[0].roots.join(','), c.roots);
      assert.ok(groups.every((g) => g.size === c.heads), groups.map((g) => g.size).join(','));
      assert.ok(r.diff < 1e-4, `outputs moved by ${r.diff}`);
      assert.ok(r.pruned.length < r.zeroed.length, `${r.pruned.length} vs ${r.zeroed.length} bytes`);
      if (process.env.SHOW_DIFFS) console.log(`      ${c.t.file} ${c.opts.gqa ?? ''}: max abs diff ${r.diff.toExponential(2)}`);
    });

    it(`${c.t.file} (gqa ${c.opts.gqa ?? 'default'}): ${c.label} by L1 runs at every size, with fewer MACs per token`, async () => {
      const m = load(c.t);
      const dense = bytesOf(m);
      const macsBefore = linearMacsPerToken(m);
      const graph = buildDependencyGraph(load(c.t), c.opts);
      const perGroupCount = Object.fromEntries(attentionGroups(graph).map((g) => [g.id, g.evenBlocks?.length ?? 1]));
      const { selection } = pruneStructured(m, { ...c.opts, criterion: 'l1', perGroupCount });
      assert.equal(selection.remove.size, c.perBlock);
      for (const [gid, list] of selection.remove) {
        const blocks = graph.groups[gid].evenBlocks;
        assert.equal(list.length, blocks?.length ?? 1);
        // Each kv group loses exactly one of its own query heads.
        if (blocks) for (const b of blocks) assert.equal(list.filter((i) => b.includes(i)).length, 1, `${list} in ${JSON.stringify(blocks)}`);
      }
      const pruned = bytesOf(m);
      const macsAfter = linearMacsPerToken(m);
      assert.ok(pruned.length < dense.length && macsAfter < macsBefore, `${macsAfter} vs ${macsBefore} MACs per token`);
      for (const size of c.t.sizes) {
        const feeds = c.t.feed(size, 9);
        const [a, b] = [await runModel(dense, feeds), await runModel(pruned, feeds)];
        assert.equal(a.logits.length, b.logits.length);
        assert.ok(b.logits.every(Number.isFinite));
      }
      if (process.env.SHOW_COUNTS) console.log(`      ${c.t.file} ${c.opts.gqa ?? ''}: ${dense.length} → ${pruned.length} bytes, linear MACs/token ${macsBefore} → ${macsAfter}`);
    });
  }

  it('ignore lists on module paths: layers.*.self_attn keeps every head, lm_head names the head, the MLPs stay prunable', () => {
    const graph = buildDependencyGraph(load(LM_LLAMA), { ignore: ['layers.*.self_attn', 'lm_head'] });
    const heads = graph.groups.filter((g) => g.kind === 'attention');
    assert.equal(heads.length, 12, 'q (and the kv heads) of 4 blocks');
    for (const g of heads) assert.match(g.frozen ?? '', /is ignored|kv heads are kept whole/);
    assert.ok(heads.some((g) => /layers\.0\.self_attn\.q_proj is ignored/.test(g.frozen ?? '')));
    assert.equal(graph.groups.filter((g) => g.kind === 'mlp' && !g.frozen).length, 4);
    assert.throws(() => buildDependencyGraph(load(LM_LLAMA), { ignore: ['layers.*.cross_attn'] }), /no layer matches "layers\.\*\.cross_attn"/);
  });
});
