// The input size MACs are counted at in the extension: the
// pruneLens.assumedInputShape setting as users write it, the default (the
// model's sample data), and what the tree, hover and report say with it.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeFile } from '../../../src/analysis';
import { inputSizeNote, readInputShapeSetting } from '../../../src/analysis/inputShape';
import { chooseInputSize, sampleDataFor, SETTING_NAME } from '../../../src/extension/inputSize';
import { modelMacsDescription } from '../../../src/extension/layerStats';
import { modelPath, MODELS } from '../../helpers/models';

describe('extension: pruneLens.assumedInputShape', () => {
  it('reads the string forms, an array and shapes by input name', () => {
    assert.deepEqual(readInputShapeSetting('1x3x96x96'), [1, 3, 96, 96]);
    assert.deepEqual(readInputShapeSetting(' 1 × 3 × 64 × 48 '), [1, 3, 64, 48]);
    assert.deepEqual(readInputShapeSetting('images=1x3x96x96,mask=1x96x96'), { images: [1, 3, 96, 96], mask: [1, 96, 96] });
    assert.deepEqual(readInputShapeSetting([1, 3, 128, 96]), [1, 3, 128, 96]);
    assert.deepEqual(readInputShapeSetting({ images: [1, 3, 96, 96] }), { images: [1, 3, 96, 96] });
    assert.deepEqual(readInputShapeSetting({ images: '1x3x96x96' }), { images: [1, 3, 96, 96] });
    for (const unset of [undefined, null, '', {}]) assert.equal(readInputShapeSetting(unset), undefined);
  });

  it('rejects what is not a shape, saying what is wrong', () => {
    assert.throws(() => readInputShapeSetting('1x3x0x96'), /"1x3x0x96" is not a shape like 1x3x96x96/);
    assert.throws(() => readInputShapeSetting('images'), /not a shape/);
    assert.throws(() => readInputShapeSetting('images=1x3=2'), /is not NAME=SHAPE/);
    assert.throws(() => readInputShapeSetting({ images: [1, 3, 96.5] }), /input images: \[1,3,96.5\] is not a shape/);
    assert.throws(() => readInputShapeSetting({ images: [] }), /not a shape/);
    assert.throws(() => readInputShapeSetting(96), /96 is not an input shape/);
  });
});

describe('extension: the default input size', () => {
  const yolo = modelPath('yolov8_dyn.onnx');
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prune-lens-size-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('finds the sample data next to a model and its pruned versions, not another model\'s', () => {
    assert.equal(sampleDataFor(yolo), path.join(MODELS, 'yolov8_dyn_input.npy'));
    assert.equal(sampleDataFor(path.join(MODELS, 'yolov8_dyn.pruned.onnx')), path.join(MODELS, 'yolov8_dyn_input.npy'));
    assert.equal(sampleDataFor(modelPath('shufflenet_dyn.onnx')), path.join(MODELS, 'shufflenet_dyn_input.npy'));
    // digits_val_x.npy belongs to the digits family (a shorter prefix); digits_train_x.npy does not match the name.
    assert.equal(sampleDataFor(modelPath('digits_lenet.onnx')), path.join(MODELS, 'digits_val_x.npy'));
    assert.equal(sampleDataFor(modelPath('resnet18_seed0_bn.onnx')), undefined);
    // The model's own file beats the family's; `_input` beats `_val_x`.
    for (const f of ['net_val_x.npy', 'net_a_x.npy', 'net_a_input.npy']) fs.writeFileSync(path.join(tmp, f), '');
    assert.equal(sampleDataFor(path.join(tmp, 'net_a.onnx')), path.join(tmp, 'net_a_input.npy'));
    assert.equal(sampleDataFor(path.join(tmp, 'net_b.onnx')), path.join(tmp, 'net_val_x.npy'));
  });

  it('is the setting when it is set, else the sample data\'s size per sample, else the data settings\' file', () => {
    assert.deepEqual(chooseInputSize(yolo, '1x3x128x96'), { stated: { shapes: [1, 3, 128, 96], source: SETTING_NAME, ifFits: true } });
    const sample = fs.readFileSync(path.join(MODELS, 'yolov8_dyn_input.npy')).subarray(0, 128).toString('latin1');
    assert.match(sample, /'shape': \(2, 3, 96, 96\)/, 'the sample holds 2 samples of 3×96×96');
    assert.deepEqual(chooseInputSize(yolo, ''), {
      stated: { shapes: [1, 3, 96, 96], source: 'the size of yolov8_dyn_input.npy', ifFits: true, fromSample: true },
      problem: undefined,
    });
    const lone = path.join(tmp, 'lone.onnx');
    assert.deepEqual(chooseInputSize(lone, undefined), {});
    const data = path.join(MODELS, 'digits_val_x.npy');
    assert.deepEqual(chooseInputSize(lone, undefined, [path.join(tmp, 'missing.npy'), data]).stated?.shapes, [1, 1, 8, 8]);
  });

  it('a setting that cannot be read falls back to the sample data and says why', () => {
    const c = chooseInputSize(yolo, 'big');
    assert.equal(c.stated?.source, 'the size of yolov8_dyn_input.npy');
    assert.match(c.problem ?? '', /"big" is not a shape like 1x3x96x96/);
  });
});

describe('extension: MACs at the chosen input size', function () {
  this.timeout(60_000);
  const yolo = modelPath('yolov8_dyn.onnx');

  it('yolov8_dyn: at its sample size the count equals the CLI\'s at 1x3x96x96, and the tree and hover say which size', async () => {
    const chosen = await analyzeFile(yolo, { inputShape: chooseInputSize(yolo, '').stated });
    const stated = await analyzeFile(yolo, { inputShape: { shapes: [1, 3, 96, 96], source: '--input-shape' } });
    assert.equal(chosen.totals.macs, stated.totals.macs);
    assert.ok(chosen.totals.macs > 1e7, `MACs ${chosen.totals.macs} at 96×96 are in the tens of millions`);
    assert.deepEqual(chosen.layers.filter((l) => l.macsDependsOn), []);
    assert.equal(modelMacsDescription(chosen), `MACs ${(chosen.totals.macs / 1e6).toPrecision(3).replace(/\.?0+$/, '')}M at images 1×3×96×96`);
    assert.equal(inputSizeNote(chosen), 'MACs per sample at images 1×3×96×96, from the size of yolov8_dyn_input.npy.');
  });

  it('yolov8_dyn without a size: every Conv and the total are unknown, and say they depend on height and width', async () => {
    const t = await analyzeFile(yolo);
    const convs = t.layers.filter((l) => l.op === 'Conv');
    assert.ok(convs.length > 10);
    for (const l of convs) assert.deepEqual(l.macsDependsOn, ['height', 'width'], l.displayName);
    assert.equal(modelMacsDescription(t), 'MACs unknown (depend on height, width)');
    assert.match(inputSizeNote(t) ?? '', /^MACs unknown: they depend on height, width; set pruneLens\.assumedInputShape/);
  });

  it('a size that does not fit is not used, and the note says why', async () => {
    const t = await analyzeFile(yolo, { inputShape: { shapes: [1, 3, 96], source: SETTING_NAME, ifFits: true } });
    assert.equal(t.assumedInput, undefined);
    assert.match(t.inputShapeMisfit?.reason ?? '', /input images has 4 dims/);
    assert.match(inputSizeNote(t) ?? '', /depend on height, width.*\(pruneLens\.assumedInputShape not used: input images has 4 dims/);
    // Stated on the command line, the same misfit is an error.
    await assert.rejects(analyzeFile(yolo, { inputShape: { shapes: [1, 3, 96], source: '--input-shape' } }), /input images has 4 dims/);
  });

  it('a model whose count is exact says nothing about sizes, whatever is set', async () => {
    const t = await analyzeFile(modelPath('digits_lenet.onnx'), { inputShape: { shapes: [1, 1, 8, 8], source: 'x', ifFits: true } });
    assert.equal(modelMacsDescription(t), undefined);
    assert.equal(inputSizeNote(t), undefined);
  });

  it('a token model keeps counting per token at its sample data\'s size, and counts at a size the user states', async () => {
    const lm = modelPath('lm_gpt_licenses.onnx');
    const data = path.join(MODELS, 'lm_licenses_val_x.npy');
    const fromSample = await analyzeFile(lm, { inputShape: chooseInputSize(lm, '', [data]).stated });
    assert.ok(fromSample.layers.some((l) => l.tokenAxis), 'per token');
    assert.equal(fromSample.assumedInput, undefined);
    // Per token is said where the MACs are (the length has its own setting): nothing about an input size.
    assert.equal(modelMacsDescription(fromSample), undefined);
    assert.equal(inputSizeNote(fromSample), undefined);
    const stated = await analyzeFile(lm, { inputShape: chooseInputSize(lm, '1x64').stated });
    assert.ok(stated.layers.every((l) => !l.tokenAxis && !l.macsDependsOn));
    assert.ok(stated.totals.macs > fromSample.totals.macs);
    assert.equal(inputSizeNote(stated), 'MACs per sample at input_ids 1×64, from pruneLens.assumedInputShape.');
  });
});
