// Bad input gets a PruneLensError with a code, the file's name, and where in
// the file (field path, byte offset) the problem is. Never a crash, a hang or
// an absurd allocation.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeModel } from '../../../src/analysis';
import { floatTensor, int64Tensor, newGraph, newModel, newNode, newValueInfo } from '../../../src/onnx/build';
import { encodeMessage } from '../../../src/onnx/codec';
import { PruneLensError, type ErrorCode } from '../../../src/onnx/errors';
import { loadModel, loadModelSync, parseModel } from '../../../src/onnx/model';
import { DataType, tensorFloats } from '../../../src/onnx/tensor';
import { concatChunks } from '../../../src/onnx/wire';
import { modelPath, tempDir } from '../../helpers/models';
import { cat, fInt, fLen, fStr, modelBytes, tag, varint } from '../../helpers/protobuf';

const dir = tempDir('errors');

/** Writes bytes to a file in the temp folder and loads it; returns the error it must raise. */
function loadError(name: string, bytes: Uint8Array, analyze = false): PruneLensError {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  try {
    const m = loadModelSync(file);
    if (analyze) analyzeModel(m);
  } catch (e) {
    assert.ok(e instanceof PruneLensError, `${name}: not a PruneLensError: ${(e as Error)?.stack}`);
    assert.ok(e.message.startsWith(file + ': '), `${name}: the message does not name the file: ${e.message}`);
    assert.equal(e.file, file);
    return e;
  }
  assert.fail(`${name}: loaded without an error`);
}

function expectCode(e: PruneLensError, ...codes: ErrorCode[]) {
  assert.ok(codes.includes(e.code), `code ${e.code} (${e.message}), expected ${codes.join(' or ')}`);
}

/** Offsets where the top-level fields of a ModelProto end (a cut there leaves a valid prefix). */
function topLevelBoundaries(bytes: Uint8Array): Set<number> {
  const ends = new Set<number>([0]);
  let p = 0;
  const readVarint = () => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = bytes[p++];
      v += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return v;
    }
  };
  while (p < bytes.length) {
    const t = readVarint();
    const wt = t & 7;
    if (wt === 0) readVarint();
    else if (wt === 2) {
      const len = readVarint();
      p += len;
    }
    else if (wt === 1) p += 8;
    else if (wt === 5) p += 4;
    ends.add(p);
  }
  return ends;
}

describe('onnx bad input', () => {
  it('a model truncated at any of hundreds of cut points is a truncated-file error with an offset', () => {
    const bytes = fs.readFileSync(modelPath('digits_lenet.onnx'));
    const boundaries = topLevelBoundaries(bytes);
    // Every cut in the header and the first node, then every 97th byte to the end.
    const cuts: number[] = [];
    for (let c = 1; c < 400; c++) cuts.push(c);
    for (let c = 400; c < bytes.length; c += 97) cuts.push(c);
    let truncated = 0;
    for (const cut of cuts) {
      const prefix = bytes.subarray(0, cut);
      if (boundaries.has(cut)) {
        // A cut between top-level fields is valid protobuf: it parses, or lacks the graph.
        try {
          parseModel(prefix, 'cut.onnx');
        } catch (e) {
          assert.ok(e instanceof PruneLensError && e.code === 'not-onnx', `cut ${cut}: ${e}`);
        }
        continue;
      }
      try {
        parseModel(prefix, 'cut.onnx');
        assert.fail(`cut at ${cut} of ${bytes.length} parsed`);
      } catch (e) {
        assert.ok(e instanceof PruneLensError, `cut ${cut}: ${(e as Error).stack}`);
        assert.equal(e.code, 'truncated', `cut ${cut}: ${e.message}`);
        assert.ok(e.message.startsWith('cut.onnx: a truncated or damaged ONNX file'), e.message);
        assert.ok(e.location.offset !== undefined && e.location.offset <= cut, `cut ${cut}: offset ${e.location.offset}`);
        truncated++;
      }
    }
    assert.ok(truncated > cuts.length - 10, `${truncated} of ${cuts.length}`);
  });

  it('a truncated file on disk names the file', () => {
    const bytes = fs.readFileSync(modelPath('digits_mlp.onnx'));
    const e = loadError('half.onnx', bytes.subarray(0, bytes.length >> 1));
    expectCode(e, 'truncated');
    assert.match(e.message, /field graph/);
  });

  it('non-ONNX bytes: text, a PNG header, zeros, an empty file', () => {
    const text = loadError('notes.onnx', new TextEncoder().encode('this is a text file, not a model\n'));
    expectCode(text, 'malformed', 'truncated', 'not-onnx');
    const png = loadError('image.onnx', Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52));
    expectCode(png, 'malformed', 'truncated', 'not-onnx');
    const zeros = loadError('zeros.onnx', new Uint8Array(4096));
    expectCode(zeros, 'malformed');
    assert.match(zeros.message, /field number 0 is invalid/);
    assert.equal(zeros.location.offset, 0);
    const empty = loadError('empty.onnx', new Uint8Array(0));
    expectCode(empty, 'not-onnx');
    // Valid protobuf that is not a model: no ir_version, or no graph.
    expectCode(loadError('noir.onnx', fLen(7, fStr(2, 'g'))), 'not-onnx');
    const nograph = loadError('nograph.onnx', fInt(1, 7));
    expectCode(nograph, 'not-onnx');
    assert.match(nograph.message, /no graph/);
  });

  it('a missing file is an io error naming it', async () => {
    const file = path.join(dir, 'absent.onnx');
    assert.throws(() => loadModelSync(file), (e: any) => e.code === 'io' && e.message === `${file}: file not found`);
    await assert.rejects(loadModel(file), (e: any) => e.code === 'io' && e.message.startsWith(file));
  });

  it('wrong wire types name the field path and byte offset', () => {
    // graph (field 7) sent as a varint.
    const graphVarint = cat(fInt(1, 7), fInt(7, 3));
    const e1 = loadError('graph-varint.onnx', graphVarint);
    expectCode(e1, 'malformed');
    assert.equal(e1.location.field, 'graph');
    assert.equal(e1.location.offset, 2);
    assert.match(e1.message, /wrong wire type 0 \(expected 2\)/);
    // ir_version (varint) sent as length-delimited.
    const e2 = loadError('ir-len.onnx', fLen(1, Uint8Array.of(7)));
    assert.equal(e2.location.field, 'ir_version');
    // Deep inside: graph.node[1].name as a fixed32.
    const node0 = fLen(1, fStr(4, 'Relu'));
    const graph = cat(node0, fLen(1, cat(tag(3, 5), Uint8Array.of(1, 2, 3, 4))));
    const bytes = modelBytes(graph);
    const e3 = loadError('name-fixed32.onnx', bytes);
    assert.equal(e3.location.field, 'graph.node[1].name');
    // The offset points at the bad field's tag inside the file.
    assert.equal(bytes[e3.location.offset!], 3 * 8 + 5);
    // Groups (wire types 3 and 4) do not exist in ONNX.
    expectCode(loadError('group.onnx', cat(fInt(1, 7), tag(40, 3))), 'malformed');
    expectCode(loadError('wt7.onnx', cat(fInt(1, 7), varint(40 * 8 + 7))), 'malformed');
  });

  it('absurd lengths are refused before any allocation', () => {
    const before = process.memoryUsage().rss;
    const e1 = loadError('len-2-40.onnx', cat(fInt(1, 7), tag(7, 2), varint(2 ** 40), new Uint8Array(16)));
    expectCode(e1, 'truncated');
    assert.match(e1.message, /length 1099511627776 exceeds the 16 bytes left/);
    assert.equal(e1.location.field, 'graph');
    const e2 = loadError('len-2-62.onnx', cat(fInt(1, 7), tag(7, 2), varint(2n ** 62n)));
    expectCode(e2, 'limit');
    const e3 = loadError('varint-11.onnx', cat(fInt(1, 7), tag(7, 2), new Uint8Array(10).fill(0xff), Uint8Array.of(1)));
    expectCode(e3, 'malformed');
    assert.match(e3.message, /varint longer than 10 bytes/);
    assert.ok(process.memoryUsage().rss - before < 64 * 2 ** 20);
  });

  it('absurd dims (1e12 x 1e12) are refused without allocating', () => {
    const huge = floatTensor('w', [1], [1]);
    huge.dims = [1e12, 1e12];
    const conv = newNode('Conv', ['x', 'w'], ['y'], 'conv');
    const model = newModel(newGraph('g', [conv], [newValueInfo('x', DataType.FLOAT, [1, 1, 4, 4])], [newValueInfo('y', DataType.FLOAT, [])], [huge]));
    const bytes = concatChunks(encodeMessage('ModelProto', model));
    const before = process.memoryUsage().rss;
    const e = loadError('huge-dims.onnx', bytes, true);
    expectCode(e, 'limit');
    assert.match(e.message, /tensor w/);
    assert.throws(() => tensorFloats(parseModel(bytes).graph.initializer[0]), (err: any) => err.code === 'limit');
    // Negative and over-2^53 dims too.
    for (const dims of [[-3, 2], [2 ** 31, 2], [2 ** 60]]) {
      const t = floatTensor('w', [1], [1]);
      t.dims = dims;
      assert.throws(() => tensorFloats(t), (err: any) => err instanceof PruneLensError && err.code === 'limit', `dims ${dims}`);
    }
    assert.ok(process.memoryUsage().rss - before < 64 * 2 ** 20);
  });

  it('nesting deeper than any real model is refused, with the path', () => {
    // graph > node > attribute(g) > graph > ... 40 times: 120 message levels.
    let graph = fLen(1, fStr(4, 'Relu'));
    for (let i = 0; i < 40; i++) graph = fLen(1, fStr(4, 'If'), fLen(5, fStr(1, 'then_branch'), fLen(6, graph)));
    const e = loadError('deep.onnx', modelBytes(graph));
    expectCode(e, 'limit');
    assert.match(e.message, /nested more than 64 deep/);
    assert.match(e.location.field!, /^graph\.node\[0\]\.attribute\[0\]\.g\.node\[0\]/);
    // TypeProto → sequence_type → elem_type → ... (a different recursion).
    let type = fLen(1, fInt(1, 1));
    for (let i = 0; i < 100; i++) type = fLen(4, fLen(1, type));
    const e2 = loadError('deep-type.onnx', modelBytes(fLen(11, fStr(1, 'x'), fLen(2, type))));
    expectCode(e2, 'limit');
  });

  it('a cyclic graph is a graph error naming a node on the cycle', () => {
    const a = newNode('Relu', ['b_out'], ['a_out'], 'A');
    const b = newNode('Relu', ['a_out'], ['b_out'], 'B');
    const model = newModel(newGraph('g', [a, b], [newValueInfo('x', DataType.FLOAT, [1])], [newValueInfo('a_out', DataType.FLOAT, [1])]));
    const e = loadError('cycle.onnx', concatChunks(encodeMessage('ModelProto', model)), true);
    expectCode(e, 'graph');
    assert.match(e.message, /cycle through node (A|B)/);
    assert.ok(e.location.node === 'A' || e.location.node === 'B');
    // A node feeding itself.
    const self = newModel(newGraph('g', [newNode('Add', ['x', 's'], ['s'], 'S')], [newValueInfo('x', DataType.FLOAT, [1])], []));
    expectCode(loadError('self.onnx', concatChunks(encodeMessage('ModelProto', self)), true), 'graph');
  });

  it('regression (fuzz seed 7, case 13812): a Slice axis of 11730945 is a shape error, not a 5 s hang on a huge sparse array', () => {
    const model = newModel(newGraph('g', [newNode('Slice', ['x', 'starts', 'ends', 'axes'], ['y'], 'slice')],
      [newValueInfo('x', DataType.FLOAT, [2, 2, 4, 4])], [newValueInfo('y', DataType.FLOAT, [])],
      [int64Tensor('starts', [1], [0]), int64Tensor('ends', [1], [1]), int64Tensor('axes', [1], [11730945])]));
    const t0 = performance.now();
    const e = loadError('slice-axis.onnx', concatChunks(encodeMessage('ModelProto', model)), true);
    expectCode(e, 'shape');
    assert.match(e.message, /axis 11730945 is out of range for rank 4 \(node slice\)/);
    assert.ok(performance.now() - t0 < 500);
  });
});
