// The layer table of the shared transformers, against what their README says
// they are: every Linear layer (named by its module path), every norm with its
// gammas, every attention block with its head counts. Scores are checked
// against sums computed here from the weight values; gammas against the
// initializers. Then synthetic graphs for the forms the shared (folded)
// exports do not contain: Transpose(W) → MatMul, a decomposed LayerNorm, a
// tied head that reads the embedding itself.

import { strict as assert } from 'node:assert';
import { analyzeModel, attentionMacs, findPrunableLayers, headsLabel, layerParts, macsAt, modelMacs, transformerBlocks, type LayerInfo, type LayerTable } from '../../../src/analysis';
import { floatTensor, int64Tensor, newGraph, newModel, newNode, newValueInfo } from '../../../src/onnx/build';
import { GraphIndex } from '../../../src/onnx/graph';
import { loadModelSync, OnnxModel } from '../../../src/onnx/model';
import { DataType, tensorDims, tensorFloats } from '../../../src/onnx/tensor';
import { modelPath, seededRandom } from '../../helpers/models';

const F = DataType.FLOAT;

function load(name: string): { model: OnnxModel; table: LayerTable } {
  const model = loadModelSync(modelPath(name));
  return { model, table: analyzeModel(model) };
}

/** Per output channel L1 and L2 of a MatMul weight W[in, out] or Gemm/Transposed W[out, in], from the raw values. */
function channelNorms(model: OnnxModel, l: LayerInfo, side: 'out' | 'in') {
  const t = model.graph.initializer.find((x) => x.name === l.weightName)!;
  const [d0, d1] = tensorDims(t);
  const v = tensorFloats(t);
  const outIsAxis0 = l.op === 'Gemm' || l.transposedWeight === true;
  const n = (side === 'out') === outIsAxis0 ? d0 : d1;
  const l1 = new Array<number>(n).fill(0);
  const l2 = new Array<number>(n).fill(0);
  for (let i = 0; i < d0; i++) {
    for (let j = 0; j < d1; j++) {
      const c = (side === 'out') === outIsAxis0 ? i : j;
      l1[c] += Math.abs(v[i * d1 + j]);
      l2[c] += v[i * d1 + j] ** 2;
    }
  }
  return { l1, l2: l2.map(Math.sqrt) };
}

function close(a: number, b: number, what: string) {
  assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b)), `${what}: ${a} vs ${b}`);
}

/** Per-head scores are the sums of the per-row scores of the head's rows (columns of o_proj). */
function assertHeadSums(model: OnnxModel, table: LayerTable) {
  let checked = 0;
  for (const l of table.layers) {
    if (!l.heads) continue;
    const side = l.heads.role === 'o' ? 'in' : 'out';
    const rows = channelNorms(model, l, side);
    const { count, dim } = l.heads;
    for (const norm of ['l1', 'l2'] as const) {
      const expected = new Array<number>(count).fill(0);
      // Fused qkv: [q | k | v] blocks of count × dim rows each; a head takes its rows from all three.
      rows[norm].forEach((x, c) => (expected[Math.floor(c / dim) % count] += x));
      l.heads[norm].forEach((x, h) => close(x, expected[h], `${l.displayName} head ${h} ${norm}`));
    }
    checked++;
  }
  return checked;
}

function assertGammas(model: OnnxModel, table: LayerTable) {
  for (const n of table.norms) {
    const g = model.graph.initializer.find((t) => t.name === n.scaleName)!;
    assert.deepEqual(n.gamma, Array.from(tensorFloats(g)), n.displayName);
    if (n.biasName) assert.deepEqual(n.beta, Array.from(tensorFloats(model.graph.initializer.find((t) => t.name === n.biasName)!)), n.displayName);
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('analysis: the shared transformers', () => {
  it('digits_vit: 3 blocks of fused qkv, proj, mlp.0, mlp.2 and the head; 7 LayerNorms; 4 heads of 16 per block', () => {
    const { model, table } = load('digits_vit.onnx');
    const linear = table.layers.filter((l) => l.op !== 'Conv').map((l) => l.displayName);
    assert.deepEqual(linear, [...range(3).flatMap((b) => ['attn.qkv', 'attn.proj', 'mlp.0', 'mlp.2'].map((p) => `blocks.${b}.${p}`)), 'head']);
    assert.deepEqual(table.layers.filter((l) => l.op === 'Conv').map((l) => l.displayName), ['patch_embed']);
    assert.deepEqual(table.norms.map((n) => [n.displayName, n.kind, n.decomposed, n.gamma.length, n.beta?.length]),
      [...range(3).flatMap((b) => ['norm1', 'norm2'].map((p) => [`blocks.${b}.${p}`, 'LayerNorm', false, 64, 64])), ['norm', 'LayerNorm', false, 64, 64]]);
    assertGammas(model, table);
    assert.deepEqual(table.attention.map((a) => [a.name, a.heads, a.kvHeads, a.headDim, a.qkv, a.o, a.rotary]),
      range(3).map((b) => [`blocks.${b}.attn`, 4, 4, 16, `/blocks/blocks.${b}/attn/qkv/MatMul`, `/blocks/blocks.${b}/attn/proj/MatMul`, false]));
    assert.equal(headsLabel(table.attention[0]), '4 heads, dim 16');
    assert.equal(assertHeadSums(model, table), 6);
    // The batch is the only symbolic dim: no sequence length to state.
    assert.equal(table.sequenceDim, undefined);
    assert.ok(table.layers.every((l) => l.tokenAxis === undefined));
  });

  it('lm_gpt_licenses: 4 blocks of q, k, v, o, c_fc, c_proj and a lm_head tied to wte; 9 LayerNorms; 4 heads of 32', () => {
    const { model, table } = load('lm_gpt_licenses.onnx');
    assert.deepEqual(table.layers.map((l) => l.displayName),
      [...range(4).flatMap((b) => ['attn.q_proj', 'attn.k_proj', 'attn.v_proj', 'attn.o_proj', 'c_fc', 'c_proj'].map((p) => `h.${b}.${p}`)), 'lm_head']);
    assert.deepEqual(table.norms.map((n) => [n.displayName, n.kind, n.gamma.length, n.beta?.length]),
      [...range(4).flatMap((b) => ['ln_1', 'ln_2'].map((p) => [`h.${b}.${p}`, 'LayerNorm', 128, 128])), ['ln_f', 'LayerNorm', 128, 128]]);
    assertGammas(model, table);
    assert.deepEqual(table.attention.map((a) => [a.name, a.heads, a.kvHeads, a.headDim, a.rotary]), range(4).map((b) => [`h.${b}.attn`, 4, 4, 32, false]));
    assert.equal(assertHeadSums(model, table), 16);
    // The head is a transposed copy of wte (a separate initializer), found by value.
    const head = table.layers.at(-1)!;
    assert.notEqual(head.weightName, 'wte.weight');
    assert.equal(head.tiedTo, 'wte.weight');
    assert.deepEqual(table.embeddings.map((e) => [e.displayName, e.rows, e.dim, e.tiedLayers]), [['wte', 256, 128, [head.name]], ['wpe', 64, 128, []]]);
  });

  it('lm_llama_licenses: 4 blocks of q, k, v, o, gate, up, down (28) and an untied lm_head; 9 RMSNorms; 8 heads, 2 kv, dim 16 with RoPE', () => {
    const { model, table } = load('lm_llama_licenses.onnx');
    const names = [...range(4).flatMap((b) => [
      ...['q_proj', 'k_proj', 'v_proj', 'o_proj'].map((p) => `layers.${b}.self_attn.${p}`),
      ...['gate_proj', 'up_proj', 'down_proj'].map((p) => `layers.${b}.${p}`),
    ]), 'lm_head'];
    assert.deepEqual(table.layers.map((l) => l.displayName), names);
    assert.deepEqual(table.layers.map((l) => `${l.inChannels}→${l.outChannels}`).slice(0, 7), ['128→128', '128→32', '128→32', '128→128', '128→352', '128→352', '352→128']);
    assert.deepEqual(table.norms.map((n) => [n.displayName, n.kind, n.decomposed, n.gamma.length, n.beta]),
      [...range(4).flatMap((b) => ['input_layernorm', 'post_attention_layernorm'].map((p) => [`layers.${b}.${p}`, 'RMSNorm', true, 128, undefined])), ['norm', 'RMSNorm', true, 128, undefined]]);
    assertGammas(model, table);
    assert.deepEqual(table.attention.map((a) => [a.name, a.heads, a.kvHeads, a.headDim, a.rotary]), range(4).map((b) => [`layers.${b}.self_attn`, 8, 2, 16, true]));
    assert.equal(headsLabel(table.attention[0]), '8 heads, 2 kv, dim 16');
    assert.equal(assertHeadSums(model, table), 16);
    const k = table.layers[1];
    assert.deepEqual([k.heads?.role, k.heads?.count, k.heads?.dim], ['k', 2, 16]);
    assert.deepEqual(table.embeddings.map((e) => [e.displayName, e.tiedLayers]), [['embed_tokens', []]]);
    assert.equal(table.layers.at(-1)!.tiedTo, undefined);

    // Per token, and at the data's 64 tokens (lm_licenses windows are [256, 64]).
    assert.equal(table.sequenceDim, 'sequence');
    assert.ok(table.layers.every((l) => l.tokenAxis === 'sequence'));
    assert.equal(macsAt(k, 64), 64 * 128 * 32);
    const perToken = table.layers.reduce((s, l) => s + l.weightShape[0] * l.weightShape[1], 0);
    assert.deepEqual(modelMacs(table, 64), { atLength: 64 * perToken, perToken });
    assert.equal(attentionMacs(table.attention[0], 64), 2 * 8 * 64 * 64 * 16);
  });

  it('blocks and kinds, for sensitivity per block and per kind: attention projections vs MLP, the rest outside', () => {
    const names = (t: LayerTable, list: string[]) => list.map((n) => t.layers.find((l) => l.name === n)!.displayName);
    const llama = load('lm_llama_licenses.onnx').table;
    const blocks = transformerBlocks(llama);
    assert.deepEqual(blocks.map((b) => [b.name, b.attention]), range(4).map((b) => [`layers.${b}`, `layers.${b}.self_attn`]));
    assert.deepEqual(names(llama, blocks[1].attentionLayers), ['q_proj', 'k_proj', 'v_proj', 'o_proj'].map((p) => `layers.1.self_attn.${p}`));
    assert.deepEqual(names(llama, blocks[1].mlpLayers), ['gate_proj', 'up_proj', 'down_proj'].map((p) => `layers.1.${p}`));
    const vit = load('digits_vit.onnx').table;
    const vb = transformerBlocks(vit);
    assert.deepEqual(vb.map((b) => [b.name, names(vit, b.attentionLayers), names(vit, b.mlpLayers)]),
      range(3).map((b) => [`blocks.${b}`, [`blocks.${b}.attn.qkv`, `blocks.${b}.attn.proj`], [`blocks.${b}.mlp.0`, `blocks.${b}.mlp.2`]]));
    const gpt = load('lm_gpt_licenses.onnx').table;
    const parts = layerParts(gpt);
    const kinds = gpt.layers.map((l) => parts.get(l.name)!.kind);
    assert.deepEqual(kinds, [...range(4).flatMap(() => ['attention', 'attention', 'attention', 'attention', 'mlp', 'mlp']), 'other']);
    assert.equal(parts.get(gpt.layers[5].name)!.block, 'h.0');
  });

  it('the CNNs keep their layers, and have no norms, embeddings or attention', () => {
    for (const [name, layers] of [['digits_resnet_slim_s1e-2.onnx', 7], ['resnet18_seed0_bn.onnx', 21]] as const) {
      const { table } = load(name);
      assert.equal(table.layers.length, layers, name);
      assert.deepEqual([table.norms.length, table.embeddings.length, table.attention.length, table.sequenceDim], [0, 0, 0, undefined], name);
    }
  });
});

describe('analysis: transformer forms built here', () => {
  const rand = seededRandom(15);
  const values = (n: number) => Array.from({ length: n }, () => Math.round((rand() * 2 - 1) * 100) / 100);

  /**
   * An unfolded export: tokens → Gather(E) → decomposed LayerNorm → Transpose(W) → MatMul (+bias),
   * split into 2 heads of 4 by a Reshape to [B, T, 2, 4], attention, merge, o_proj, and a head that
   * reads Transpose(E) itself (tied).
   */
  function unfolded() {
    const V = 10;
    const H = 8;
    const E = values(V * H);
    const inits = [
      floatTensor('embed.weight', [V, H], E),
      floatTensor('ln.weight', [H], values(H)), floatTensor('ln.bias', [H], values(H)),
      floatTensor('two', [], [2]), floatTensor('eps', [], [1e-5]),
      ...['q', 'k', 'v', 'o'].flatMap((p) => [floatTensor(`attn.${p}_proj.weight`, [H, H], values(H * H)), floatTensor(`attn.${p}_proj.bias`, [H], values(H))]),
      int64Tensor('heads_shape', [4], [0, 0, 2, 4]), int64Tensor('merge_shape', [3], [0, 0, 8]),
      floatTensor('scale', [], [0.5]),
    ];
    const ln = '/ln';
    const nodes = [
      newNode('Gather', ['embed.weight', 'ids'], ['x'], '/embed/Gather'),
      newNode('ReduceMean', ['x'], ['mu'], `${ln}/ReduceMean`, { axes: [-1] }),
      newNode('Sub', ['x', 'mu'], ['d'], `${ln}/Sub`),
      newNode('Pow', ['d', 'two'], ['d2'], `${ln}/Pow`),
      newNode('ReduceMean', ['d2'], ['var'], `${ln}/ReduceMean_1`, { axes: [-1] }),
      newNode('Add', ['var', 'eps'], ['ve'], `${ln}/Add`),
      newNode('Sqrt', ['ve'], ['sd'], `${ln}/Sqrt`),
      newNode('Div', ['d', 'sd'], ['n'], `${ln}/Div`),
      newNode('Mul', ['n', 'ln.weight'], ['ng'], `${ln}/Mul`),
      newNode('Add', ['ng', 'ln.bias'], ['h'], `${ln}/Add_1`),
    ];
    for (const p of ['q', 'k', 'v']) {
      nodes.push(
        newNode('Transpose', [`attn.${p}_proj.weight`], [`${p}_wt`], `/attn/${p}_proj/Transpose`, { perm: [1, 0] }),
        newNode('MatMul', ['h', `${p}_wt`], [`${p}_mm`], `/attn/${p}_proj/MatMul`),
        newNode('Add', [`${p}_mm`, `attn.${p}_proj.bias`], [`${p}_b`], `/attn/${p}_proj/Add`),
        newNode('Reshape', [`${p}_b`, 'heads_shape'], [`${p}_r`], `/attn/Reshape_${p}`),
        newNode('Transpose', [`${p}_r`], [`${p}_t`], `/attn/Transpose_${p}`, { perm: p === 'k' ? [0, 2, 3, 1] : [0, 2, 1, 3] }),
      );
    }
    nodes.push(
      newNode('MatMul', ['q_t', 'k_t'], ['s'], '/attn/MatMul'),
      newNode('Mul', ['s', 'scale'], ['ss'], '/attn/Mul'),
      newNode('Softmax', ['ss'], ['p'], '/attn/Softmax', { axis: -1 }),
      newNode('MatMul', ['p', 'v_t'], ['av'], '/attn/MatMul_1'),
      newNode('Transpose', ['av'], ['avt'], '/attn/Transpose_o', { perm: [0, 2, 1, 3] }),
      newNode('Reshape', ['avt', 'merge_shape'], ['m'], '/attn/Reshape_o'),
      newNode('Transpose', ['attn.o_proj.weight'], ['o_wt'], '/attn/o_proj/Transpose', { perm: [1, 0] }),
      newNode('MatMul', ['m', 'o_wt'], ['o_mm'], '/attn/o_proj/MatMul'),
      newNode('Add', ['o_mm', 'attn.o_proj.bias'], ['o'], '/attn/o_proj/Add'),
      newNode('Transpose', ['embed.weight'], ['et'], '/Transpose', { perm: [1, 0] }),
      newNode('MatMul', ['o', 'et'], ['logits'], '/MatMul'),
    );
    const model = new OnnxModel(newModel(newGraph('g', nodes, [newValueInfo('ids', DataType.INT64, ['batch', 'sequence'])],
      [newValueInfo('logits', F, ['batch', 'sequence', V])], inits), 13), new Uint8Array(100));
    return { model, E };
  }

  it('Transpose(W) → MatMul is a Linear read as W[out, in]; the engine is not offered it until it can rewrite the Transpose', () => {
    const { model } = unfolded();
    const t = analyzeModel(model);
    assert.deepEqual(t.layers.map((l) => [l.displayName, l.inChannels, l.outChannels, l.transposedWeight]),
      [['attn.q_proj', 8, 8, true], ['attn.k_proj', 8, 8, true], ['attn.v_proj', 8, 8, true], ['attn.o_proj', 8, 8, true], ['lm_head', 8, 10, true]]);
    for (const l of t.layers.slice(0, 4)) {
      const n = channelNorms(model, l, 'out');
      l.out.l1.forEach((x, i) => close(x, n.l1[i], `${l.displayName} out l1 ${i}`));
    }
    assert.deepEqual(findPrunableLayers(new GraphIndex(model.graph)).map((l) => l.name), []);
  });

  it('a decomposed LayerNorm with gamma and beta, heads from a constant Reshape target, a head tied by sharing the table', () => {
    const { model } = unfolded();
    const t = analyzeModel(model);
    assert.deepEqual(t.norms.map((n) => [n.displayName, n.kind, n.decomposed, n.scaleName, n.biasName]), [['ln', 'LayerNorm', true, 'ln.weight', 'ln.bias']]);
    assert.deepEqual(t.attention.map((a) => [a.name, a.heads, a.kvHeads, a.headDim, a.rotary]), [['attn', 2, 2, 4, false]]);
    assert.equal(assertHeadSums(model, t), 4);
    assert.deepEqual(t.embeddings.map((e) => [e.displayName, e.tiedLayers]), [['embed', ['/MatMul']]]);
    assert.equal(t.layers.at(-1)!.tiedTo, 'embed.weight');
    assert.equal(t.sequenceDim, 'sequence');
  });

  it('an RMSNorm written with Reciprocal, and a Gemm (transB) head that reads the embedding table itself', () => {
    const V = 6;
    const H = 4;
    const inits = [
      floatTensor('tok.weight', [V, H], values(V * H)), floatTensor('rms.weight', [H], values(H)),
      floatTensor('two', [], [2]), floatTensor('eps', [], [1e-6]),
    ];
    const nodes = [
      newNode('Gather', ['tok.weight', 'ids'], ['x'], '/tok/Gather'),
      newNode('Pow', ['x', 'two'], ['x2'], '/rms/Pow'),
      newNode('ReduceMean', ['x2'], ['ms'], '/rms/ReduceMean', { axes: [-1] }),
      newNode('Add', ['ms', 'eps'], ['mse'], '/rms/Add'),
      newNode('Sqrt', ['mse'], ['rt'], '/rms/Sqrt'),
      newNode('Reciprocal', ['rt'], ['inv'], '/rms/Reciprocal'),
      newNode('Mul', ['x', 'inv'], ['xn'], '/rms/Mul'),
      newNode('Mul', ['rms.weight', 'xn'], ['h'], '/rms/Mul_1'),
      newNode('Gemm', ['h', 'tok.weight'], ['logits'], '/out/Gemm', { transB: 1 }),
    ];
    const model = new OnnxModel(newModel(newGraph('g', nodes, [newValueInfo('ids', DataType.INT64, ['batch'])],
      [newValueInfo('logits', F, ['batch', V])], inits), 13), new Uint8Array(10));
    const t = analyzeModel(model);
    assert.deepEqual(t.norms.map((n) => [n.displayName, n.kind, n.decomposed, n.scaleName, n.beta]), [['rms', 'RMSNorm', true, 'rms.weight', undefined]]);
    assert.deepEqual(t.layers.map((l) => [l.displayName, l.op, l.inChannels, l.outChannels, l.tiedTo]), [['out', 'Gemm', H, V, 'tok.weight']]);
    assert.deepEqual(t.embeddings.map((e) => [e.displayName, e.rows, e.dim, e.tiedLayers]), [['tok', V, H, ['/out/Gemm']]]);
    assert.equal(t.sequenceDim, undefined);
  });
});
