// The models view's nesting, on the real models and on a model with thousands of layers.
import * as assert from 'node:assert/strict';
import { analyzeFile } from '../../../src/analysis';
import { countLayers, nestLayers, nestTable, type TreeNode } from '../../../src/extension/treeModel';
import { measureModelsView } from '../../../scripts/bench/modelsView';
import { modelPath } from '../../helpers/models';

const label = (n: TreeNode<string>) => (n.kind === 'model' || n.kind === 'message' ? n.kind : n.label);
type Group = Extract<TreeNode<string>, { kind: 'group' }>;
const child = (nodes: TreeNode<string>[], l: string) => nodes.find((n) => label(n) === l) as Group;

/** Every layer under `nodes`, with the dotted path of labels leading to it. */
function flatten(nodes: TreeNode<string>[], prefix = ''): { path: string; name: string }[] {
  return nodes.flatMap((n) => {
    const p = prefix ? `${prefix}.${label(n)}` : label(n);
    if (n.kind === 'layer') return [{ path: p, name: n.layer.displayName }];
    return n.kind === 'group' ? flatten(n.children, p) : [];
  });
}

describe('extension models view nesting', () => {
  it('nests digits_resnet_slim_s1e-2 as stem.0, layer1 › conv1 …, fc, and every label path spells the module path', async () => {
    const table = await analyzeFile(modelPath('digits_resnet_slim_s1e-2.onnx'));
    const top = nestLayers('m', table.layers);
    assert.deepEqual(top.map(label), ['stem.0', 'layer1', 'layer2', 'fc']);
    const layer2 = top[2] as Extract<TreeNode<string>, { kind: 'group' }>;
    assert.deepEqual(layer2.children.map(label), ['down.0', 'conv1', 'conv2']);
    const flat = flatten(top);
    assert.deepEqual(flat.map((f) => f.name), table.layers.map((l) => l.displayName));
    for (const f of flat) assert.equal(f.path, f.name);
  });

  it('keeps a 3000-layer model to its real depth, every layer once', async () => {
    const { table } = await measureModelsView(3000);
    assert.equal(table.layers.length, 3000);
    const top = nestLayers('m', table.layers);
    assert.equal(top.length, 30); // stage0 … stage29
    assert.equal(top.reduce((n, t) => n + countLayers(t), 0), 3000);
    const stage = top[0] as Extract<TreeNode<string>, { kind: 'group' }>;
    assert.equal(stage.children.length, 25);
    const flat = flatten(top);
    assert.equal(new Set(flat.map((f) => f.name)).size, 3000);
    for (const f of flat) assert.equal(f.path, f.name);
  });

  it('lm_llama_licenses: layers.0 › self_attn (8 heads, 2 kv, dim 16) › q_proj, with the norms and the embedding in graph order', async () => {
    const table = await analyzeFile(modelPath('lm_llama_licenses.onnx'));
    const top = nestTable('m', table);
    assert.deepEqual(top.map(label), ['embed_tokens', 'layers', 'norm', 'lm_head']);
    assert.deepEqual(top.map((n) => n.kind), ['embedding', 'group', 'norm', 'layer']);
    const block = child(child(top, 'layers').children, '0');
    assert.deepEqual(block.children.map(label), ['input_layernorm', 'self_attn (8 heads, 2 kv, dim 16)', 'post_attention_layernorm', 'gate_proj', 'up_proj', 'down_proj']);
    const attn = child(block.children, 'self_attn (8 heads, 2 kv, dim 16)');
    assert.equal(attn.attention?.name, 'layers.0.self_attn');
    assert.deepEqual(attn.children.map(label), ['q_proj', 'k_proj', 'v_proj', 'o_proj']);
    assert.equal(top.reduce((n, t) => n + countLayers(t), 0), 29);
  });

  it('digits_vit and lm_gpt_licenses: fused qkv under attn (4 heads, dim 16); the tied lm_head named next to wte', async () => {
    const vit = nestTable('m', await analyzeFile(modelPath('digits_vit.onnx')));
    assert.deepEqual(vit.map(label), ['patch_embed', 'blocks', 'norm', 'head']);
    const b0 = child(child(vit, 'blocks').children, '0');
    assert.deepEqual(b0.children.map(label), ['norm1', 'attn (4 heads, dim 16)', 'norm2', 'mlp']);
    assert.deepEqual(child(b0.children, 'attn (4 heads, dim 16)').children.map(label), ['qkv', 'proj']);
    assert.deepEqual(child(b0.children, 'mlp').children.map(label), ['0', '2']);

    const gpt = nestTable('m', await analyzeFile(modelPath('lm_gpt_licenses.onnx')));
    assert.deepEqual(gpt.map(label), ['wte', 'wpe', 'h', 'ln_f', 'lm_head']);
    const wte = gpt[0] as Extract<TreeNode<string>, { kind: 'embedding' }>;
    assert.deepEqual(wte.tied, ['lm_head']);
    assert.deepEqual(child(child(gpt, 'h').children, '3').children.map(label), ['ln_1', 'attn (4 heads, dim 32)', 'ln_2', 'c_fc', 'c_proj']);
  });
});
