// The data that belongs to a model: sibling input files ranked for it, whether
// they fit its inputs, and the symbolic dimensions generated inputs need sizes for.

import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { analyzeFile } from '../../../src/analysis';
import { MODELS } from '../../helpers/models';
import { dynamicDims, modelStem, siblingData } from '../../../src/validation/modelData';


describe('validation: data that belongs to a model', () => {
  it('offers the model\'s own sample input first; data of another shape is marked, not offered first', async () => {
    const model = path.join(MODELS, 'yolov8_dyn.onnx');
    const { inputs } = await analyzeFile(model);
    const list = siblingData(path.join(MODELS, 'yolov8_dyn.pruned.onnx'), inputs);
    assert.equal(path.basename(list[0].file), 'yolov8_dyn_input.npy');
    assert.deepEqual(list[0].shape, [2, 3, 96, 96]);
    assert.equal(list[0].misfit, undefined);
    const digits = list.find((c) => path.basename(c.file) === 'digits_val_x.npy');
    assert.ok(digits?.misfit, 'the digits data [360,1,8,8] cannot feed images [batch,3,height,width]');
    assert.match(digits!.misfit!, /expects \[batch, 3, height, width\]; the data has \[360, 1, 8, 8\]/);
    // Fitting files come before the rest.
    const firstMisfit = list.findIndex((c) => c.misfit);
    assert.ok(list.slice(firstMisfit).every((c) => c.misfit));
  });

  it('for a digits model: held-out data before training data, with its labels; other models\' data does not fit', async () => {
    const model = path.join(MODELS, 'digits_vgg_slim_s1e-2.onnx');
    const { inputs } = await analyzeFile(model);
    const list = siblingData(model, inputs);
    assert.deepEqual(list.slice(0, 2).map((c) => path.basename(c.file)), ['digits_val_x.npy', 'digits_train_x.npy']);
    assert.equal(path.basename(list[0].labels!), 'digits_val_y.npy');
    assert.ok(list.find((c) => path.basename(c.file) === 'shufflenet_dyn_input.npy')?.misfit);
  });

  it('names the symbolic dimensions generated inputs need, with the sample data\'s sizes', async () => {
    const { inputs } = await analyzeFile(path.join(MODELS, 'yolov8_dyn.onnx'));
    assert.deepEqual(dynamicDims(inputs, [2, 3, 96, 96]), [
      { name: 'height', input: 'images', axis: 2, suggested: 96 },
      { name: 'width', input: 'images', axis: 3, suggested: 96 },
    ]);
    assert.deepEqual(dynamicDims(inputs).map((d) => d.suggested), [undefined, undefined]);
    const digits = await analyzeFile(path.join(MODELS, 'digits_vgg_slim_s1e-2.onnx'));
    assert.deepEqual(dynamicDims(digits.inputs), [], 'only the batch axis is symbolic');
  });

  it('a pruned model shares its original\'s name', () => {
    assert.equal(modelStem('/m/yolov8_dyn.pruned.onnx'), 'yolov8_dyn');
    assert.equal(modelStem('/m/digits_vgg_slim_s1e-2.l1-30.onnx'), 'digits_vgg_slim_s1e-2');
  });
});
