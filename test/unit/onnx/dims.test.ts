// Symbolic dims: canonical strings, so equal sizes compare equal, and
// expressions that are constant come back as numbers.

import * as assert from 'node:assert/strict';
import {
  addDims, ceilDiv, dimSymbols, evalDim, exactDiv, floorDiv, mulDims, prodDims, scaleDim, subDims, UNKNOWN,
} from '../../../src/onnx/dims';

describe('symbolic dims', () => {
  it('numbers stay numbers', () => {
    assert.equal(addDims(2, 3), 5);
    assert.equal(mulDims(4, 6), 24);
    assert.equal(exactDiv(48, 2), 24);
    assert.equal(floorDiv(7, 2), 3);
    assert.equal(ceilDiv(7, 2), 4);
  });

  it('products and sums are canonical, whatever the order they were built in', () => {
    const a = mulDims(mulDims('batch', 'height'), 2);
    const b = mulDims(2, mulDims('height', 'batch'));
    assert.equal(a, b);
    assert.equal(a, '2*batch*height');
    assert.equal(addDims('height', addDims('width', 1)), addDims(addDims(1, 'width'), 'height'));
    assert.equal(prodDims(['batch', 3, 'height', 'width']), '3*batch*height*width');
  });

  it('terms that cancel leave a number', () => {
    assert.equal(subDims(addDims('height', 5), 'height'), 5);
    assert.equal(subDims('batch', 'batch'), 0);
    assert.equal(mulDims('batch', 0), 0);
  });

  it('exact quotients simplify, including to a rational coefficient', () => {
    assert.equal(exactDiv(prodDims(['batch', 48, 'h', 'w']), prodDims(['batch', 'h', 'w'])), 48);
    assert.equal(exactDiv('height', 32), 'height/32');
    assert.equal(mulDims(exactDiv('height', 32), 32), 'height');
    assert.equal(exactDiv(mulDims('seq', 'heads'), 'heads'), 'seq');
    assert.equal(exactDiv('seq', 'heads'), UNKNOWN, 'heads does not divide seq');
  });

  it('floor division pulls out the part that divides', () => {
    assert.equal(floorDiv(addDims(mulDims(2, 'h'), 1), 2), 'h');
    assert.equal(floorDiv(mulDims(4, 'h'), 2), '2*h');
    // The remainder is normalised to [0, k): floor((h-1)/2) = floor((h+1)/2) - 1.
    assert.equal(floorDiv(subDims('h', 1), 2), 'floor((h+1)/2)-1');
    // A stride-2 conv with pad 1 and a 3x3 kernel: floor((h + 2 - 3) / 2) + 1.
    const conv = addDims(floorDiv(subDims('h', 1), 2), 1);
    assert.equal(conv, 'floor((h+1)/2)');
    assert.equal(evalDim(conv, { h: 96 }), 48);
    assert.equal(evalDim(conv, { h: 97 }), 49);
    assert.equal(evalDim(ceilDiv('h', 2), { h: 97 }), 49);
    assert.deepEqual(dimSymbols(mulDims(conv, 'batch')), ['batch', 'h']);
    // Two stride-2 convs in a row: floor((floor((h+1)/2) + 1) / 2) = floor((h+3)/4).
    const twice = floorDiv(addDims(conv, 1), 2);
    assert.equal(twice, 'floor((h+3)/4)');
    for (const h of [61, 62, 63, 64, 96, 97]) assert.equal(evalDim(twice, { h }), Math.floor((Math.floor((h + 1) / 2) + 1) / 2));
  });

  it('float scales: whole ratios are exact, others unknown', () => {
    assert.equal(scaleDim('h', 2), '2*h');
    assert.equal(scaleDim(mulDims(2, 'h'), 0.5), 'h');
    assert.equal(evalDim(scaleDim('h', 1.5), { h: 5 }), 7);
    assert.equal(scaleDim('h', Math.PI), UNKNOWN);
  });

  it('unknown is contagious; evaluation needs every name', () => {
    assert.equal(addDims(UNKNOWN, 1), UNKNOWN);
    assert.equal(mulDims('batch', UNKNOWN), UNKNOWN);
    assert.equal(evalDim(mulDims('batch', 'h'), { batch: 2 }), undefined);
    assert.equal(evalDim(mulDims('batch', exactDiv('h', 4)), { batch: 2, h: 64 }), 32);
  });
});
