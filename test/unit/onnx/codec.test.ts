// The codec beyond plain graphs: unknown fields kept in order at every level,
// subgraphs (If, Loop, Scan), model-local functions, metadata and
// training_info, all readable, lossless, and runnable after a full re-encode.

import { strict as assert } from 'node:assert';
import { floatTensor, int64Tensor, newGraph, newModel, newNode, newValueInfo } from '../../../src/onnx/build';
import { decodeMessage, encodeMessage } from '../../../src/onnx/codec';
import { parseModel, serializeModel } from '../../../src/onnx/model';
import type { AttributeProto, FunctionProto, GraphProto, ModelProto } from '../../../src/onnx/schema';
import { DataType, tensorFloats } from '../../../src/onnx/tensor';
import { concatChunks } from '../../../src/onnx/wire';
import { stripRaw, treeDiff } from '../../helpers/models';
import { runModel } from '../../helpers/ort';
import { cat, fInt, fLen, fStr, tag } from '../../helpers/protobuf';

function encode(model: ModelProto): Uint8Array {
  return concatChunks(encodeMessage('ModelProto', model));
}

/** Bytes → model; asserts the unchanged and the fully re-encoded model both survive. */
function roundTrip(bytes: Uint8Array) {
  const m = parseModel(bytes, 'crafted.onnx');
  assert.ok(Buffer.from(concatChunks(serializeModel(m))).equals(Buffer.from(bytes)), 'unchanged model not byte-identical');
  const copy = parseModel(bytes);
  stripRaw(copy.proto);
  const reencoded = concatChunks(serializeModel(copy));
  const back = parseModel(reencoded);
  assert.equal(treeDiff(m.proto, back.proto), undefined);
  return { model: m, reencoded };
}

function graphAttr(name: string, g: GraphProto): AttributeProto {
  return { name, type: 5, g, floats: [], ints: [], strings: [], tensors: [], graphs: [], sparse_tensors: [], type_protos: [] };
}

const F = DataType.FLOAT;

describe('onnx codec: unknown fields', () => {
  // Fields 17+ that ONNX does not define, of every wire type, at four levels.
  const modelVarint = fInt(99, 12345);
  const modelLen = fLen(100, new TextEncoder().encode('model-extra'));
  const graphLen = fLen(98, new TextEncoder().encode('graph-extra'));
  const nodeLen = fLen(99, new TextEncoder().encode('node-extra'));
  const nodeFixed32 = cat(tag(50, 5), Uint8Array.of(1, 2, 3, 4));
  const tensorVarint = fInt(99, 7);
  const tensorFixed64 = cat(tag(17, 1), Uint8Array.of(8, 7, 6, 5, 4, 3, 2, 1));
  const attrLen = fLen(77, Uint8Array.of(0xde, 0xad));
  const weights = new Uint8Array(new Float32Array([1, 2]).buffer);
  const tensorType = () => fLen(2, fLen(1, fInt(1, F), fLen(2, fLen(1, fInt(1, 2)))));
  const bytes = cat(
    fInt(1, 7), modelVarint, fLen(8, fStr(1, ''), fInt(2, 13)), fStr(2, 'crafted'),
    fLen(7,
      fLen(1, fStr(1, 'x'), fStr(1, 'w'), fStr(2, 'y'), fStr(3, 'add'), fStr(4, 'Add'), nodeLen,
        fLen(5, fStr(1, 'note'), fInt(20, 2), fInt(3, 1), attrLen), nodeFixed32),
      fStr(2, 'g'), graphLen,
      fLen(5, fInt(1, 2), fInt(2, F), fStr(8, 'w'), tensorVarint, fLen(9, weights), tensorFixed64),
      fLen(11, fStr(1, 'x'), tensorType()), fLen(12, fStr(1, 'y'), tensorType())),
    modelLen);

  it('decodes unknown fields into $unknown, in order, at every level', () => {
    const m = parseModel(bytes);
    const hex = (list?: Uint8Array[]) => (list ?? []).map((b) => Buffer.from(b).toString('hex'));
    assert.deepEqual(hex(m.proto.$unknown), hex([modelVarint, modelLen]));
    assert.deepEqual(hex(m.graph.$unknown), hex([graphLen]));
    assert.deepEqual(hex(m.graph.node[0].$unknown), hex([nodeLen, nodeFixed32]));
    assert.deepEqual(hex(m.graph.node[0].attribute[0].$unknown), hex([attrLen]));
    assert.deepEqual(hex(m.graph.initializer[0].$unknown), hex([tensorVarint, tensorFixed64]));
    assert.deepEqual(Array.from(tensorFloats(m.graph.initializer[0])), [1, 2]);
  });

  it('keeps them, in order, when a sibling field is edited at every level', () => {
    const m = parseModel(bytes);
    m.proto.producer_name = 'edited';
    m.graph.name = 'g2';
    m.graph.node[0].name = 'add2';
    m.graph.node[0].attribute[0].i = 5;
    m.graph.initializer[0].name = 'w2';
    m.graph.node[0].input[1] = 'w2';
    const out = concatChunks(serializeModel(m));
    const back = parseModel(out);
    assert.equal(back.proto.producer_name, 'edited');
    assert.equal(back.graph.name, 'g2');
    assert.equal(back.graph.node[0].name, 'add2');
    assert.equal(back.graph.node[0].attribute[0].i, 5);
    assert.equal(back.graph.initializer[0].name, 'w2');
    assert.equal(treeDiff(m.proto.$unknown, back.proto.$unknown), undefined);
    assert.equal(treeDiff(m.graph.$unknown, back.graph.$unknown), undefined);
    assert.equal(treeDiff(m.graph.node[0].$unknown, back.graph.node[0].$unknown), undefined);
    assert.equal(treeDiff(m.graph.node[0].attribute[0].$unknown, back.graph.node[0].attribute[0].$unknown), undefined);
    assert.equal(treeDiff(m.graph.initializer[0].$unknown, back.graph.initializer[0].$unknown), undefined);
    // Each survives exactly once: none dropped, none duplicated by the edit.
    for (const u of [modelVarint, modelLen, graphLen, nodeLen, nodeFixed32, attrLen, tensorVarint, tensorFixed64]) {
      const buf = Buffer.from(out);
      const first = buf.indexOf(Buffer.from(u));
      assert.ok(first >= 0, `unknown field ${Buffer.from(u).toString('hex')} lost`);
      assert.equal(buf.indexOf(Buffer.from(u), first + 1), -1, `unknown field ${Buffer.from(u).toString('hex')} duplicated`);
    }
  });

  it('keeps them through a full re-encode', () => {
    roundTrip(bytes);
  });
});

describe('onnx codec: subgraphs, functions, metadata, training_info', () => {
  const x = newValueInfo('x', F, [2]);

  function ifModel(): ModelProto {
    const thenG = newGraph('then', [newNode('Add', ['x', 'one'], ['then_out'])], [], [newValueInfo('then_out', F, [2])],
      [floatTensor('one', [2], [1, 1])]);
    const elseG = newGraph('else', [newNode('Sub', ['x', 'one_else'], ['else_out'])], [], [newValueInfo('else_out', F, [2])],
      [floatTensor('one_else', [2], [1, 1])]);
    const node = newNode('If', ['cond'], ['y'], 'if');
    node.attribute.push(graphAttr('then_branch', thenG), graphAttr('else_branch', elseG));
    return newModel(newGraph('main', [node], [newValueInfo('cond', DataType.BOOL, []), x], [newValueInfo('y', F, [2])]));
  }

  function loopModel(): ModelProto {
    const body = newGraph('body', [
      newNode('Constant', [], ['step'], 'step', { value: floatTensor('step', [2], [0.5, 2]) }),
      newNode('Add', ['v_in', 'step'], ['v_out']),
      newNode('Identity', ['cond_in'], ['cond_out']),
    ], [newValueInfo('i', DataType.INT64, []), newValueInfo('cond_in', DataType.BOOL, []), newValueInfo('v_in', F, [2])],
    [newValueInfo('cond_out', DataType.BOOL, []), newValueInfo('v_out', F, [2])]);
    const node = newNode('Loop', ['trips', '', 'x'], ['v_final'], 'loop');
    node.attribute.push(graphAttr('body', body));
    return newModel(newGraph('main', [node], [x], [newValueInfo('v_final', F, [2])], [int64Tensor('trips', [], [3])]));
  }

  function scanModel(): ModelProto {
    const body = newGraph('body', [
      newNode('Add', ['sum_in', 'row'], ['sum_out']),
      newNode('Identity', ['sum_out'], ['scan_out']),
    ], [newValueInfo('sum_in', F, [2]), newValueInfo('row', F, [2])],
    [newValueInfo('sum_out', F, [2]), newValueInfo('scan_out', F, [2])]);
    const node = newNode('Scan', ['x', 'rows'], ['total', 'partial'], 'scan', { num_scan_inputs: 1 });
    node.attribute.push(graphAttr('body', body));
    return newModel(newGraph('main', [node], [x, newValueInfo('rows', F, [3, 2])],
      [newValueInfo('total', F, [2]), newValueInfo('partial', F, [3, 2])]));
  }

  function functionModel(): ModelProto {
    const fn: FunctionProto = {
      name: 'AddTwice', domain: 'custom', input: ['a', 'b'], output: ['c'], attribute: [], attribute_proto: [],
      node: [newNode('Add', ['a', 'b'], ['t']), newNode('Add', ['t', 'b'], ['c'])],
      opset_import: [{ domain: '', version: 13 }], value_info: [], metadata_props: [{ key: 'fn', value: 'meta' }],
      doc_string: 'a + 2b',
    };
    const node = newNode('AddTwice', ['x', 'x'], ['y'], 'call');
    node.domain = 'custom';
    const model = newModel(newGraph('main', [node], [x], [newValueInfo('y', F, [2])]), 13, 8);
    model.opset_import.push({ domain: 'custom', version: 1 });
    model.functions.push(fn);
    model.metadata_props.push({ key: 'author', value: 'prune-lens tests' }, { key: 'license', value: 'MIT' });
    return model;
  }

  const xFeed = { x: { dims: [2], data: new Float32Array([3, -4]) } };

  it('If: both branches are readable, lossless, and still run', async () => {
    const { model, reencoded } = roundTrip(encode(ifModel()));
    const branches = model.graph.node[0].attribute.map((a) => [a.name, a.g?.node[0].op_type, a.g?.initializer[0].name]);
    assert.deepEqual(branches, [['then_branch', 'Add', 'one'], ['else_branch', 'Sub', 'one_else']]);
    // cond is a bool tensor, which the float-only helper does not feed.
    const ort = await import('onnxruntime-node');
    for (const [flag, expected] of [[true, [4, -3]], [false, [2, -5]]] as const) {
      const s = await ort.InferenceSession.create(reencoded);
      const r = await s.run({ cond: new ort.Tensor('bool', [flag], []), x: new ort.Tensor('float32', xFeed.x.data, [2]) });
      assert.deepEqual(Array.from(r.y.data as Float32Array), expected);
      await s.release();
    }
  });

  it('Loop: the body with its Constant node is readable, lossless, and still runs', async () => {
    const { model, reencoded } = roundTrip(encode(loopModel()));
    const body = model.graph.node[0].attribute.find((a) => a.name === 'body')!.g!;
    assert.deepEqual(body.node.map((n) => n.op_type), ['Constant', 'Add', 'Identity']);
    assert.deepEqual(Array.from(tensorFloats(body.node[0].attribute[0].t!)), [0.5, 2]);
    const out = await runModel(reencoded, xFeed);
    assert.deepEqual(Array.from(out.v_final), [3 + 1.5, -4 + 6]);
  });

  it('Scan: the body is readable, lossless, and still runs', async () => {
    const { model, reencoded } = roundTrip(encode(scanModel()));
    assert.equal(model.graph.node[0].attribute.find((a) => a.name === 'body')!.g!.node.length, 2);
    const out = await runModel(reencoded, { ...xFeed, rows: { dims: [3, 2], data: new Float32Array([1, 1, 2, 2, 3, 3]) } });
    assert.deepEqual(Array.from(out.total), [9, 2]);
    assert.deepEqual(Array.from(out.partial), [4, -3, 6, -1, 9, 2]);
  });

  it('functions and metadata_props: readable, lossless, and the function still runs', async () => {
    const { model, reencoded } = roundTrip(encode(functionModel()));
    const fn = model.proto.functions[0];
    assert.equal(fn.name, 'AddTwice');
    assert.equal(fn.domain, 'custom');
    assert.deepEqual(fn.node.map((n) => n.output[0]), ['t', 'c']);
    assert.deepEqual(fn.metadata_props.map((p) => [p.key, p.value]), [['fn', 'meta']]);
    assert.deepEqual(model.proto.metadata_props.map((p) => [p.key, p.value]), [['author', 'prune-lens tests'], ['license', 'MIT']]);
    const out = await runModel(reencoded, xFeed);
    assert.deepEqual(Array.from(out.y), [9, -12]);
  });

  it('training_info: graphs and bindings are readable and lossless', () => {
    const model = ifModel();
    model.training_info.push({
      initialization: newGraph('init', [newNode('Constant', [], ['w0'], 'w0', { value: floatTensor('w0', [1], [0]) })], [], []),
      algorithm: newGraph('step', [newNode('Add', ['x', 'x'], ['x2'])], [x], [newValueInfo('x2', F, [2])]),
      initialization_binding: [{ key: 'w', value: 'w0' }],
      update_binding: [{ key: 'w', value: 'x2' }],
    });
    const { model: m } = roundTrip(encode(model));
    const ti = m.proto.training_info[0];
    assert.equal(ti.initialization!.node[0].op_type, 'Constant');
    assert.equal(ti.algorithm!.node[0].op_type, 'Add');
    assert.deepEqual(ti.update_binding.map((b) => [b.key, b.value]), [['w', 'x2']]);
  });

  it('editing inside a subgraph re-encodes the edit and keeps the other branch by reference', () => {
    const bytes = encode(ifModel());
    const m = parseModel(bytes);
    const [thenA, elseA] = m.graph.node[0].attribute;
    thenA.g!.node[0].op_type = 'Mul';
    const chunks = serializeModel(m);
    const back = parseModel(concatChunks(chunks));
    assert.equal(back.graph.node[0].attribute[0].g!.node[0].op_type, 'Mul');
    assert.equal(treeDiff(elseA, back.graph.node[0].attribute[1], 'else_branch'), undefined);
    const g = decodeMessage<GraphProto>('GraphProto', thenA.g!.$raw!);
    assert.equal(g.node[0].op_type, 'Add', 'the original bytes are untouched by the edit');
  });
});
