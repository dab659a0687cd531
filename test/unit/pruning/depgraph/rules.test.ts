// The per-op rules, one small graph each: which channels are tied, how
// positions map through the op, and what gets frozen and why.

import * as assert from 'node:assert/strict';
import { int64Tensor, newNode } from '../../../../src/onnx/build';
import { PruneLensError } from '../../../../src/onnx/errors';
import { loadModelSync } from '../../../../src/onnx/model';
import { OPS } from '../../../../src/onnx/ops';
import { buildDependencyGraph, RULES, type DepGraph, type Rule } from '../../../../src/pruning/depgraph';
import { NetBuilder, type Value } from '../../../fixtures/models/builders';
import { modelPath } from '../../../helpers/models';

const input: Value = { name: 'input', channels: 3 };
const IN = { name: 'input', dims: [1, 3, 8, 8] };

/** The group index of every position of a value (-1 for units outside any group, e.g. graph inputs). */
function positions(g: DepGraph, value: string): number[] {
  return Array.from(g.values.get(value)!.labels, (u) => g.unitGroup.get(g.units.find(u))?.index ?? -1);
}
function groupOf(g: DepGraph, value: string): number {
  return g.unitGroup.get(g.units.find(g.values.get(value)!.labels[0]))!.group;
}
function finish(b: NetBuilder, x: Value): DepGraph {
  b.gemm(b.unary('Flatten', b.unary('GlobalAveragePool', x)), 4, 'output');
  return buildDependencyGraph(b.model(IN, [{ name: 'output', dims: [1, 4] }]));
}

describe('dependency graph rules', () => {
  it('Conv → BN → Relu → Conv: one group with the BN parameters and the next conv\'s inputs', () => {
    const b = new NetBuilder();
    const c = b.cbr(input, 6);
    const g = finish(b, b.cbr(c, 4));
    const group = g.groups[groupOf(g, c.name)];
    assert.equal(group.size, 6);
    assert.equal(group.frozen, undefined);
    assert.deepEqual(group.members.map((m) => m.split(' ')[1]), ['out', 'bn-scale', 'bn-bias', 'bn-mean', 'bn-var', 'in']);
    assert.deepEqual(positions(g, 'input'), [-1, -1, -1], 'graph inputs belong to no group');
  });

  it('a residual Add ties the channels of both branches into one group, position by position', () => {
    const b = new NetBuilder();
    const a = b.cbr(input, 5);
    const c = b.cbr(a, 5);
    const sum = b.add(a, c);
    const g = finish(b, sum);
    assert.equal(groupOf(g, a.name), groupOf(g, c.name));
    assert.deepEqual(positions(g, sum.name), [0, 1, 2, 3, 4]);
    assert.equal(g.groups[groupOf(g, a.name)].roots.length, 2);
  });

  it('a per-channel constant is sliced with the channels; a broadcast one is not', () => {
    const b = new NetBuilder();
    const a = b.cbr(input, 4);
    b.init('scale', [4, 1, 1]);
    b.init('shift', [1, 1, 1]);
    const m = { name: b.node('Mul', [a.name, 'scale'])[0], channels: 4 };
    const s = { name: b.node('Add', [m.name, 'shift'])[0], channels: 4 };
    const g = finish(b, s);
    const operands = g.members.filter((x) => x.role === 'operand');
    assert.deepEqual(operands.map((x) => [x.node.input[x.input], x.axis]), [['scale', 0]]);
  });

  it('Concat offsets the second input; Split and Slice take ranges of positions', () => {
    const b = new NetBuilder();
    const a = b.cbr(input, 2);
    const c = b.cbr(input, 3);
    const cat = b.concat([a, c]);
    const [s0, s1] = b.split(cat, [1, 4]);
    const g = finish(b, b.concat([s1, s0]));
    assert.deepEqual(positions(g, cat.name), [0, 1, 0, 1, 2]);
    assert.notEqual(groupOf(g, a.name), groupOf(g, c.name));
    assert.deepEqual(positions(g, s0.name), [0]);
    assert.deepEqual(positions(g, s1.name), [1, 0, 1, 2]);
  });

  it('Flatten before Gemm maps channel i to its block of H·W positions', () => {
    const b = new NetBuilder();
    const a = b.cbr(input, 3, { stride: 4 });
    const f = b.unary('Flatten', a, { axis: 1 });
    b.gemm({ name: f.name, channels: 12 }, 4, 'output');
    const g = buildDependencyGraph(b.model(IN, [{ name: 'output', dims: [1, 4] }]));
    assert.deepEqual(positions(g, f.name), [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
  });

  it('a depthwise conv follows its input (in = out) and fixes its group; a grouped conv ties channel k of each group', () => {
    const b = new NetBuilder();
    const a = b.cbr(input, 6);
    const dw = b.conv(a, 6, { group: 6 });
    const grouped = b.conv(dw, 4, { group: 2 });
    const g = finish(b, b.relu(grouped));
    assert.equal(groupOf(g, dw.name), groupOf(g, a.name), 'no new group for a depthwise conv');
    assert.ok(g.groups[groupOf(g, a.name)].members.some((m) => m.endsWith('depthwise')));
    // The grouped conv's inputs: position k of each half is one channel.
    assert.deepEqual(positions(g, dw.name), [0, 1, 2, 0, 1, 2]);
    assert.deepEqual(positions(g, grouped.name), [0, 1, 0, 1]);
    assert.equal(g.groups[groupOf(g, grouped.name)].size, 2);
  });

  it('GroupNormalization ties channel k of every group and slices its per-channel scale and bias', () => {
    const b = new NetBuilder();
    const a = b.conv(input, 6, { name: 'a' });
    b.init('gn.scale', [6]);
    b.init('gn.bias', [6]);
    const gn = { name: b.node('GroupNormalization', [a.name, 'gn.scale', 'gn.bias'], { num_groups: 2 })[0], channels: 6 };
    b.gemm(b.unary('Flatten', b.unary('GlobalAveragePool', b.relu(gn))), 4, 'output');
    const g = buildDependencyGraph(b.model(IN, [{ name: 'output', dims: [1, 4] }], 21));
    assert.deepEqual(positions(g, gn.name), [0, 1, 2, 0, 1, 2]);
    assert.deepEqual(g.groups[groupOf(g, a.name)].members.filter((m) => m.includes('norm')).length, 2);
  });

  it('an op without a rule freezes the channels it reads, naming the op', () => {
    const b = new NetBuilder();
    const a = b.cbr(input, 4);
    const lrn = b.unary('LpNormalization', a, { axis: 1 });
    const g = finish(b, lrn);
    assert.match(g.groups[groupOf(g, a.name)].frozen!, /LpNormalization\) has no pruning rule/);
  });

  it('Softmax across the channels freezes them; across another axis it does not', () => {
    const b = new NetBuilder();
    const a = b.cbr(input, 4);
    const c = b.cbr(input, 4);
    const sa = b.unary('Softmax', a, { axis: 1 });
    const sc = b.unary('Softmax', c, { axis: 3 });
    const g = finish(b, b.add(b.cbr(sa, 4), b.cbr(sc, 4)));
    assert.match(g.groups[groupOf(g, a.name)].frozen!, /normalises across the channels/);
    assert.equal(g.groups[groupOf(g, c.name)].frozen, undefined);
  });

  it('a channel reaching a graph output is frozen; a Reshape that mixes channels with other dims freezes them', () => {
    const b = new NetBuilder();
    const a = b.cbr(input, 4);
    // [1, 4, 8, 8] → [1, 2, 128]: two channels each share a row with the spatial positions.
    b.initializers.push(int64Tensor('mixed', [3], [1, 2, 128]));
    b.nodes.push(newNode('Reshape', [a.name, 'mixed'], ['mixed_out']));
    const c = b.cbr(input, 4);
    const g = buildDependencyGraph(b.model(IN, [{ name: 'mixed_out', dims: [1, 2, 128] }, { name: c.name, dims: [1, 4, 8, 8] }]));
    assert.match(g.groups[groupOf(g, a.name)].frozen!, /reshapes the channel axis/);
    assert.match(g.groups[groupOf(g, c.name)].frozen!, /graph output/);
  });

  it('a channel shuffle (Reshape [g, C/g] → Transpose → Reshape) ties position j of every part and permutes the channels', () => {
    const b = new NetBuilder();
    const a = b.cbr(input, 3);
    const c = b.cbr(input, 3);
    const cat = b.concat([a, c]);
    b.initializers.push(int64Tensor('split6', [5], [1, 2, 3, 8, 8]), int64Tensor('merge6', [4], [1, -1, 8, 8]));
    b.nodes.push(newNode('Reshape', [cat.name, 'split6'], ['grouped']));
    b.nodes.push(newNode('Transpose', ['grouped'], ['swapped'], 'shuffle_t', { perm: [0, 2, 1, 3, 4] }));
    b.nodes.push(newNode('Reshape', ['swapped', 'merge6'], ['shuffled']));
    const g = finish(b, b.cbr({ name: 'shuffled', channels: 6 }, 4));
    assert.equal(groupOf(g, a.name), groupOf(g, c.name), 'both halves are one group');
    const group = g.groups[groupOf(g, a.name)];
    assert.equal(group.size, 3);
    assert.equal(group.frozen, undefined);
    // Output channel 2j + i is channel j of part i; both parts share unit j.
    assert.deepEqual(positions(g, 'shuffled'), [0, 0, 1, 1, 2, 2]);
    const { sizes, shrink } = g.values.get('grouped')!.split!;
    assert.deepEqual([sizes, shrink], [[2, 3], 1], 'only C/g shrinks; g stays');
    assert.deepEqual(g.values.get('swapped')!.split!.sizes, [3, 2]);
  });

  it('ignore takes module paths and globs, and a name that matches nothing is an error', () => {
    const build = (ignore: string[]) => {
      const b = new NetBuilder();
      const a = b.relu(b.conv(input, 4, { name: 'block.a' }));
      const c = b.relu(b.conv(a, 4, { name: 'block.b' }));
      b.gemm(b.unary('Flatten', b.unary('GlobalAveragePool', c)), 4, 'output');
      return buildDependencyGraph(b.model(IN, [{ name: 'output', dims: [1, 4] }]), { ignore });
    };
    const frozen = (g: DepGraph) => g.groups.filter((x) => /is ignored/.test(x.frozen ?? '')).flatMap((x) => x.roots);
    assert.deepEqual(frozen(build(['block.a'])), ['block.a']);
    assert.deepEqual(frozen(build(['block.b.weight'])), ['block.b']);
    assert.deepEqual(frozen(build(['block.*'])), ['block.a', 'block.b']);
    assert.throws(() => build(['layer9.conv']), /no layer matches "layer9.conv"; layers are named like block.a/);
  });

  it('shape inference and the channel rules read one op table: Shrink and Cast pass channels through', () => {
    for (const op of ['Shrink', 'Cast']) {
      assert.equal(OPS[op].channels, 'passThrough', op);
      assert.ok(RULES[op], `${op} has a channel rule`);
      assert.ok(OPS[op].shape, `${op} has a shape rule`);
    }
    const b = new NetBuilder();
    const a = b.cbr(input, 4);
    const s = b.unary('Cast', b.unary('Shrink', a), { to: 1 });
    const g = finish(b, b.cbr(s, 4));
    assert.equal(g.groups[groupOf(g, a.name)].frozen, undefined);
    assert.deepEqual(positions(g, s.name), [0, 1, 2, 3]);
  });

  it('BuildOptions.rules registers a rule for an op of another domain', () => {
    const build = (rules?: Record<string, Rule>) => {
      const b = new NetBuilder();
      const a = b.cbr(input, 4);
      const gelu = { name: b.node('FastGelu', [a.name])[0], channels: 4 };
      b.nodes[b.nodes.length - 1].domain = 'com.microsoft';
      b.gemm(b.unary('Flatten', b.unary('GlobalAveragePool', b.cbr(gelu, 4))), 4, 'output');
      return { g: buildDependencyGraph(b.model(IN, [{ name: 'output', dims: [1, 4] }]), { rules }), a, gelu };
    };
    const plain = build();
    assert.match(plain.g.groups[groupOf(plain.g, plain.a.name)].frozen!, /FastGelu\) has no pruning rule/);
    // The Relu rule, registered for com.microsoft's FastGelu: channels pass through.
    const { g, a, gelu } = build({ 'com.microsoft:FastGelu': RULES.Relu });
    assert.equal(g.groups[groupOf(g, a.name)].frozen, undefined);
    assert.deepEqual(positions(g, gelu.name), [0, 1, 2, 3]);
    // The key names the domain: the same op type in the default domain does not match it.
    const other = build({ FastGelu: RULES.Relu });
    assert.match(other.g.groups[groupOf(other.g, other.a.name)].frozen!, /has no pruning rule/);
  });

  it('ignoring a depthwise conv keeps the channels it shares with its producer', () => {
    const build = (ignore: string[]) => {
      const b = new NetBuilder();
      const a = b.relu(b.conv(input, 6, { name: 'pw' }));
      const dw = b.relu(b.conv(a, 6, { group: 6, name: 'dw' }));
      b.gemm(b.unary('Flatten', b.unary('GlobalAveragePool', dw)), 4, 'output');
      return { g: buildDependencyGraph(b.model(IN, [{ name: 'output', dims: [1, 4] }]), { ignore }), a };
    };
    const free = build([]);
    assert.equal(free.g.groups[groupOf(free.g, free.a.name)].frozen, undefined);
    const kept = build(['dw']);
    assert.match(kept.g.groups[groupOf(kept.g, kept.a.name)].frozen!, /layer dw is ignored/);
  });

  it('a Reshape whose target copies the channel count into the batch freezes those channels (fuzzer seed 101 case 33955)', () => {
    // x.reshape(x.shape[1], 4, 8, 8) on a batch of 4 (the shapes agree, so the Reshape rule passes it): the batch
    // would follow the cut. The same Reshape with the batch read from dim 0 is prunable.
    const build = (entry: number) => {
      const b = new NetBuilder();
      const a = b.cbr(input, 4);
      b.initializers.push(int64Tensor('at', [1], [entry]), int64Tensor('rest', [3], [4, 8, 8]));
      b.nodes.push(newNode('Shape', [a.name], ['sh']), newNode('Gather', ['sh', 'at'], ['n'], 'gather', { axis: 0 }),
        newNode('Concat', ['n', 'rest'], ['target'], 'concat', { axis: 0 }), newNode('Reshape', [a.name, 'target'], ['r'], 'reshape'));
      b.gemm(b.unary('Flatten', b.unary('GlobalAveragePool', b.cbr({ name: 'r', channels: 4 }, 4))), 4, 'output');
      const g = buildDependencyGraph(b.model({ name: 'input', dims: [4, 3, 8, 8] }, [{ name: 'output', dims: [4, 4] }]));
      return g.groups[groupOf(g, a.name)].frozen;
    };
    assert.match(build(1)!, /reshape copies the channel count of .* into dim 0 of its output/);
    assert.equal(build(0), undefined);
  });

  it('Slice and Squeeze never track channels on a guessed axis', () => {
    const sym = { name: 'input', dims: ['N', 3, 8, 8] };
    // Slice axes computed by an op that is not folded (Floor): they are 1 at run time, and may not be guessed as 0.
    const b = new NetBuilder();
    const a = b.cbr(input, 4);
    b.initializers.push(int64Tensor('s0', [1], [0]), int64Tensor('s1', [1], [2]));
    b.init('one_f', [1], [1]);
    b.nodes.push(newNode('Floor', ['one_f'], ['floored']), newNode('Cast', ['floored'], ['axes'], 'cast', { to: 7 }));
    b.nodes.push(newNode('Slice', [a.name, 's0', 's1', 'axes'], ['sliced']));
    const g = finish(b, b.cbr({ name: 'sliced', channels: 2 }, 4));
    assert.match(g.groups[groupOf(g, a.name)].frozen!, /the axes of .* are computed at run time/);
    // Squeeze without axes on a shape with a named dim: which dims are 1 depends on the input.
    const c = new NetBuilder();
    const x = c.cbr(input, 4);
    const sq = c.unary('Squeeze', c.unary('GlobalAveragePool', x));
    c.gemm(sq, 4, 'output');
    const h = buildDependencyGraph(c.model(sym, [{ name: 'output', dims: ['N', 4] }]));
    assert.match(h.groups[groupOf(h, x.name)].frozen!, /has no axes, and which dims are 1 depends on the input/);
  });

  it('Resize at opset 10 reads its scales from input 1', () => {
    const build = (scale: number) => {
      const b = new NetBuilder();
      const a = b.cbr(input, 4);
      b.init('sc', [4], [1, scale, 2, 2]);
      // The consumer takes what Resize gives (4 × scale channels), so the model is valid either way.
      const up = { name: b.node('Resize', [a.name, 'sc'], { mode: 'nearest' })[0], channels: 4 * scale };
      b.gemm(b.unary('Flatten', b.unary('GlobalAveragePool', b.cbr(up, 4))), 4, 'output');
      const g = buildDependencyGraph(b.model(IN, [{ name: 'output', dims: [1, 4] }], 10));
      return g.groups[groupOf(g, a.name)].frozen;
    };
    assert.equal(build(1), undefined);
    assert.match(build(2)!, /scales the channel axis/);
  });
});

describe('dependency graph: models it refuses before anything is cut', () => {
  // onnxruntime loads such a file (it warns and uses the last copy), but a cut would reshape one copy only,
  // and the pruned file would not load (fuzzer seed 17 cases 5692 and 13406).
  it('no opset for the default domain: an unsupported error, since which Split or Slice applies is unknown', () => {
    const m = loadModelSync(modelPath('digits_lenet.onnx'));
    m.proto.opset_import = [{ domain: 'com.example', version: 1 }];
    assert.throws(() => buildDependencyGraph(m), (e: any) => e instanceof PruneLensError && e.code === 'unsupported' &&
      /imports no opset for the default ONNX domain \(opset_import: com\.example 1\)/.test(e.message) && e.message.startsWith(modelPath('digits_lenet.onnx')));
  });

  it('two initializers of one name: a graph error naming the file and the tensor', () => {
    const m = loadModelSync(modelPath('digits_lenet.onnx'));
    const bias = m.graph.initializer.find((t) => t.name === 'fc1.bias')!;
    m.graph.initializer.push({ ...bias });
    assert.throws(() => buildDependencyGraph(m), (e: any) => e instanceof PruneLensError && e.code === 'graph' && e.location.tensor === 'fc1.bias' &&
      e.message.startsWith(`${modelPath('digits_lenet.onnx')}: initializer fc1.bias is defined 2 times`));
  });
});
