// The real models every real-model test uses are found through one helper,
// and their absence fails the run instead of generating zero cases.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DIGITS_MODELS, MODELS, modelPath, realModelNames, tempDir } from '../helpers/models';

describe('test fixtures: the real models', () => {
  it('are found beside the checkout, the digits models among them', () => {
    const names = realModelNames();
    for (const m of DIGITS_MODELS) assert.ok(names.includes(m), `${m} is not in ${MODELS}`);
    assert.equal(modelPath('digits_lenet.onnx'), path.join(MODELS, 'digits_lenet.onnx'));
    assert.ok(fs.existsSync(modelPath('digits_val_x.npy')));
  });

  it('a folder without models, or no folder, is an error, not an empty list', () => {
    const empty = tempDir('no-models');
    fs.writeFileSync(path.join(empty, 'README.md'), 'no models here');
    assert.throws(() => realModelNames(empty), /holds no \.onnx file/);
    assert.throws(() => realModelNames(path.join(empty, 'missing')), /cannot be read/);
  });
});
