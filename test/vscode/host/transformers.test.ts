// The shared transformers in the real extension host: the models view nests
// them by module path with the attention blocks labelled by their heads,
// shows norms and embeddings, and hovers show per-head scores and MACs at the
// sample data's length. Expected figures come from the core's analysis of the
// same file and from sums computed here.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { analyzeFile } from '../../../src/analysis';
import type { PruneLensApi } from '../../../src/extension/services';
import type { ModelTreeNode } from '../../../src/extension/tree';

type Group = Extract<ModelTreeNode, { kind: 'group' }>;

let api: PruneLensApi;

/** 3 significant digits, as the hovers print them. */
function threeDigits(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e6) return v.toExponential(1);
  return Number(v.toPrecision(3)).toString();
}

async function children(node?: ModelTreeNode): Promise<ModelTreeNode[]> {
  return (await api.services.tree.getChildren(node)) ?? [];
}

const labelOf = (n: ModelTreeNode) => (n.kind === 'model' || n.kind === 'message' ? n.kind : n.label);

async function model(name: string): Promise<ModelTreeNode> {
  return (await children()).find((n) => n.uri.fsPath.endsWith(name))!;
}

/** The node at a path of labels under `from`. */
async function at(from: ModelTreeNode, ...labels: string[]): Promise<ModelTreeNode> {
  let node = from;
  for (const l of labels) {
    const kids = node.kind === 'group' ? node.children : await children(node);
    const next = kids.find((k) => labelOf(k) === l);
    assert.ok(next, `${l} not among ${kids.map(labelOf).join(', ')}`);
    node = next;
  }
  return node;
}

async function tooltip(node: ModelTreeNode): Promise<string> {
  const item = await api.services.tree.resolveTreeItem(api.services.tree.getTreeItem(node), node);
  const t = item?.tooltip;
  return typeof t === 'string' ? t : (t as vscode.MarkdownString).value;
}

describe('Prune Lens on transformers', function () {
  this.timeout(120_000);

  before(async () => {
    const ext = vscode.extensions.getExtension<PruneLensApi>('prune-lens.prune-lens');
    assert.ok(ext, 'prune-lens.prune-lens is not loaded');
    api = await ext.activate();
  });

  it('lm_llama_licenses: layers.0 › self_attn (8 heads, 2 kv, dim 16) › q_proj, with norms, the embedding and the lm_head', async () => {
    const llama = await model('lm_llama_licenses.onnx');
    assert.deepEqual((await children(llama)).map(labelOf), ['embed_tokens', 'layers', 'norm', 'lm_head']);
    const block = (await at(llama, 'layers', '0')) as Group;
    assert.deepEqual(block.children.map(labelOf), ['input_layernorm', 'self_attn (8 heads, 2 kv, dim 16)', 'post_attention_layernorm', 'gate_proj', 'up_proj', 'down_proj']);
    const attn = (await at(block, 'self_attn (8 heads, 2 kv, dim 16)')) as Group;
    assert.deepEqual(attn.children.map(labelOf), ['q_proj', 'k_proj', 'v_proj', 'o_proj']);
    const table = await analyzeFile(llama.uri.fsPath);
    // Every Linear of the README: 4 blocks × 7 + lm_head.
    let layers = 0;
    const count = async (n: ModelTreeNode): Promise<void> => {
      if (n.kind === 'layer') layers++;
      for (const c of n.kind === 'group' ? n.children : n.kind === 'model' ? await children(n) : []) await count(c);
    };
    await count(llama);
    assert.equal(layers, 29);

    // The norm shows its gammas inline, as a BN's are.
    const norm = await at(block, 'input_layernorm');
    assert.equal(norm.kind, 'norm');
    const gamma = table.norms[0].gamma.map(Math.abs).sort((a, b) => a - b);
    assert.ok(String(api.services.tree.getTreeItem(norm).description).startsWith(`RMSNorm 128 (decomposed) · γ min ${threeDigits(gamma[0])}`));
    assert.match(await tooltip(norm), /RMSNorm over 128 channels, written out as separate ops/);

    // The attention block's hover says what GQA ties together.
    const attnHover = await tooltip(attn);
    assert.match(attnHover, /8 heads, 2 kv, dim 16 \(grouped-query: each kv head serves 4 query heads\)/);
    assert.match(attnHover, /rotary position embedding \(dim i is paired with i \+ 8\)/);
  });

  it('hovers q_proj and k_proj with per-head scores (sums of their rows) and MACs at the sample data length', async () => {
    const llama = await model('lm_llama_licenses.onnx');
    const table = await analyzeFile(llama.uri.fsPath);
    const settings = vscode.workspace.getConfiguration('pruneLens');
    await settings.update('validation.data', 'lm_licenses_val_x.npy', vscode.ConfigurationTarget.Workspace);
    try {
      for (const [proj, heads] of [['q_proj', 8], ['k_proj', 2]] as const) {
        const node = await at(llama, 'layers', '0', 'self_attn (8 heads, 2 kv, dim 16)', proj);
        const layer = table.layers.find((l) => l.displayName === `layers.0.self_attn.${proj}`)!;
        const md = await tooltip(node);
        assert.ok(md.includes(`Per head (${heads} ${proj === 'q_proj' ? 'heads' : 'kv heads'} of 16; a head's score is the sum over its 16 rows)`), md);
        const sum = (v: number[], h: number) => v.slice(h * 16, (h + 1) * 16).reduce((a, b) => a + b, 0);
        const l1 = Array.from({ length: heads }, (_, h) => sum(layer.out.l1, h));
        const l2 = Array.from({ length: heads }, (_, h) => sum(layer.out.l2, h));
        const lowest = l1.indexOf(Math.min(...l1));
        const header = `| head | ${l1.map((_, h) => (h === lowest ? `**#${h}**` : `#${h}`)).join(' | ')} |`;
        for (const line of [header, `| L1 | ${l1.map(threeDigits).join(' | ')} |`, `| L2 | ${l2.map(threeDigits).join(' | ')} |`]) {
          assert.ok(md.includes(line), `${line} of ${proj} not in:\n${md}`);
        }
        // lm_licenses windows are [256, 64]: 64 tokens per sample.
        const perToken = layer.inChannels * layer.outChannels;
        assert.ok(md.includes(`MACs ${compactLike(perToken)} per token · ${compactLike(64 * perToken)} at 64 tokens`), md);
      }
      await settings.update('sequenceLength', 16, vscode.ConfigurationTarget.Workspace);
      const q = await at(llama, 'layers', '0', 'self_attn (8 heads, 2 kv, dim 16)', 'q_proj');
      assert.ok((await tooltip(q)).includes(`at 16 tokens`));
    } finally {
      await settings.update('validation.data', undefined, vscode.ConfigurationTarget.Workspace);
      await settings.update('sequenceLength', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  it('lm_gpt_licenses and digits_vit: heads of 32 and a tied wte/lm_head; a fused qkv of 4 heads of 16', async () => {
    const gpt = await model('lm_gpt_licenses.onnx');
    assert.deepEqual((await children(gpt)).map(labelOf), ['wte', 'wpe', 'h', 'ln_f', 'lm_head']);
    const wte = await at(gpt, 'wte');
    assert.equal(String(api.services.tree.getTreeItem(wte).description), 'Embedding 256×128 · tied to lm_head');
    const head = await at(gpt, 'lm_head');
    assert.match(await tooltip(head), /Tied: its weight is the embedding `wte\.weight` \(the export keeps a transposed copy, `onnx::MatMul_\d+`\)/);
    for (let b = 0; b < 4; b++) {
      const attn = (await at(gpt, 'h', String(b), 'attn (4 heads, dim 32)')) as Group;
      assert.deepEqual(attn.children.map(labelOf), ['q_proj', 'k_proj', 'v_proj', 'o_proj']);
    }
    const vit = await model('digits_vit.onnx');
    const qkv = await at(vit, 'blocks', '2', 'attn (4 heads, dim 16)', 'qkv');
    assert.match(await tooltip(qkv), /Per head \(4 heads of 16; a head's score is the sum over its 16 rows in each of q, k and v\)/);
    assert.equal((await at(vit, 'blocks', '0', 'norm1')).kind, 'norm');
  });
});

/** The hovers' compact numbers (1234 → "1234", 16384 → "16.4k", 1048576 → "1.05M"). */
function compactLike(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${threeDigits(n / 1e9)}G`;
  if (a >= 1e6) return `${threeDigits(n / 1e6)}M`;
  if (a >= 1e4) return `${threeDigits(n / 1e3)}k`;
  return String(n);
}
