// The memory options every onnxruntime session gets (validation/native.ts and
// the validation sessions of providers.ts): what is built for each provider,
// and that onnxruntime takes it. No GPU here: the CUDA options are checked as
// built, and a CPU session is run with them (onnxruntime accepts the GPU
// arena's name even where no GPU arena exists).

import { strict as assert } from 'node:assert';
import type * as Ort from 'onnxruntime-node';
import { runOptions, SESSION_MEMORY_OPTIONS } from '../../../src/validation/native';
import { KNOWN_PROVIDERS, sessionOptions } from '../../../src/validation/providers';
import { modelPath } from '../../helpers/models';

describe('onnxruntime memory options', () => {
  it('after each run the CPU arena is shrunk, and on CUDA the GPU arena (device 0) too', () => {
    const shrink = (p?: string) => runOptions(p).extra.memory.enable_memory_arena_shrinkage;
    assert.equal(shrink(), 'cpu:0');
    assert.equal(shrink('cuda'), 'cpu:0;gpu:0');
    for (const p of KNOWN_PROVIDERS.filter((x) => x !== 'cuda')) assert.equal(shrink(p), 'cpu:0', p);
  });

  it('every validation session keeps weights out of the arena, leaves the CPU arena on, and does not spin', () => {
    for (const provider of KNOWN_PROVIDERS) {
      const o = sessionOptions(provider);
      assert.deepEqual(o.executionProviders, [provider]);
      // Shrinkage works on an arena only: disabling the CPU arena would make the run options fail.
      assert.equal(o.enableCpuMemArena, undefined);
      const session = (o.extra as { session: Record<string, unknown> }).session;
      assert.equal(session.use_device_allocator_for_initializers, SESSION_MEMORY_OPTIONS.session.use_device_allocator_for_initializers);
      assert.equal(session.use_device_allocator_for_initializers, '1');
      assert.deepEqual([session.intra_op, session.inter_op], [{ allow_spinning: '0' }, { allow_spinning: '0' }]);
    }
  });

  it('onnxruntime takes them: digits_lenet opens with the CPU options and runs with either run options, same outputs', async () => {
    const ort = require('onnxruntime-node') as typeof Ort;
    const session = await ort.InferenceSession.create(modelPath('digits_lenet.onnx'), sessionOptions('cpu'));
    try {
      const meta = session.inputMetadata[0];
      assert.ok(meta.isTensor);
      const dims = meta.shape.map((d) => (typeof d === 'number' ? d : 4));
      const data = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i));
      const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, dims) };
      const outputs: number[][] = [];
      for (const provider of ['cpu', 'cuda']) {
        const result = await session.run(feeds, session.outputNames, runOptions(provider));
        outputs.push(Array.from(result[session.outputNames[0]].data as Float32Array));
      }
      assert.equal(outputs[0].length, 40);
      assert.deepEqual(outputs[1], outputs[0]);
    } finally {
      await session.release();
    }
  });
});
