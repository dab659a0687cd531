// Messages that carry layer tables go to the report webview as UTF-8 JSON built
// a slice at a time: the bytes must be exactly JSON.stringify's, and the event
// loop must run between the slices.

import { strict as assert } from 'node:assert';
import { analyzeFile } from '../../../src/analysis';
import { carriesTable, encodeInSlices } from '../../../src/extension/report/encode';
import { decodeToWebview, type ToWebview } from '../../../src/protocol';
import { modelPath } from '../../helpers/models';

const bytesOf = (parts: (Uint8Array | ArrayBuffer)[]) => Buffer.concat(parts.map((p) => Buffer.from(p instanceof ArrayBuffer ? new Uint8Array(p) : p)));

describe('report messages encoded in slices', () => {
  it('gives JSON.stringify\'s bytes for a language model\'s table, in several slices, with the event loop running between them', async () => {
    const table = await analyzeFile(modelPath('lm_gpt_licenses.onnx'));
    const message: ToWebview = { type: 'model', table, sequenceLength: 64, frozen: { 'h.0.mlp': 'reaches the graph output' } };
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    let encoded;
    try {
      encoded = await encodeInSlices(message, 0);
    } finally {
      clearInterval(ticker);
    }
    assert.ok(encoded.parts.length > table.layers.length, `${encoded.parts.length} slices for ${table.layers.length} layers`);
    assert.ok(turns > 0, 'no timer ran while encoding');
    assert.ok(bytesOf(encoded.parts).equals(Buffer.from(JSON.stringify(message))));
    assert.deepEqual(decodeToWebview(encoded), JSON.parse(JSON.stringify(message)));
  });

  it('follows JSON.stringify for undefined, functions, NaN, nested arrays and text that needs escaping', async () => {
    const odd = {
      type: 'pruneReport',
      report: { a: undefined, f: () => 1, n: NaN, inf: -Infinity, s: 'quote " backslash \\ newline \n emoji 🍇 é', nested: [[1, 2], [], [{ x: undefined }]], list: [undefined, null, { y: 1 }] },
      after: { layers: [], empty: {}, date: new Date(0) },
    } as unknown as ToWebview;
    for (const sliceMs of [0, 8]) {
      const encoded = await encodeInSlices(odd, sliceMs);
      assert.equal(bytesOf(encoded.parts).toString('utf8'), JSON.stringify(odd));
    }
  });

  it('is used for the messages that carry tables', () => {
    assert.ok(carriesTable({ type: 'model', table: {} as never }));
    assert.ok(carriesTable({ type: 'pruneReport', report: {} as never, after: {} as never }));
    assert.ok(!carriesTable({ type: 'pruneReport', report: {} as never }));
    assert.ok(!carriesTable({ type: 'busy', label: 'x' }));
    // A message that is not encoded passes through the decoder as it is.
    const idle: ToWebview = { type: 'idle' };
    assert.equal(decodeToWebview(idle), idle);
  });
});
