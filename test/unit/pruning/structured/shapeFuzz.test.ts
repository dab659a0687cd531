// Fuzzing the shape computations of the dynamic-axis exports: one integer
// constant (a Reshape target, Slice bounds, Split sizes, a Gather index, a
// Div divisor, an Unsqueeze axis) gets a random, often absurd, value; then
// the model is pruned (L1-like random scores, 30%). Every failure must be a
// PruneLensError, and every pruned model whose mutated original still runs in
// onnxruntime must run too. Seeded and deterministic.

import { strict as assert } from 'node:assert';
import { PruneLensError } from '../../../../src/onnx/errors';
import { GraphIndex } from '../../../../src/onnx/graph';
import { loadModelSync, parseModel, type OnnxModel } from '../../../../src/onnx/model';
import type { TensorProto } from '../../../../src/onnx/schema';
import { DataType, tensorDims, tensorInts } from '../../../../src/onnx/tensor';
import { buildDependencyGraph } from '../../../../src/pruning/depgraph';
import { intTensor } from '../../../../src/pruning/depgraph/fixups';
import { applySelection, selectChannels } from '../../../../src/pruning/structured';
import { seededRandom } from '../../../helpers/models';
import * as ort from 'onnxruntime-node';
import { modelPath } from '../../../helpers/models';
import { bytesOf, randomFeed } from './helpers';

const SEEDS = [
  { name: 'shufflenet_dyn.onnx', dims: [1, 3, 64, 64] },
  { name: 'yolov8_dyn.onnx', dims: [1, 3, 64, 64] },
];
const CASES = 40;
const VALUES = [0, 1, -1, 2, 3, 7, 8, 24, 48, 2 ** 31 - 1, -(2 ** 31), 1e6];

/** The small integer constants of a model (initializers and Constant nodes). */
function intConstants(m: OnnxModel): TensorProto[] {
  const index = new GraphIndex(m.graph);
  const out: TensorProto[] = [];
  const ok = (t: TensorProto | undefined) => t && (t.data_type === DataType.INT64 || t.data_type === DataType.INT32)
    && tensorDims(t).reduce((a, b) => a * b, 1) <= 64;
  for (const t of m.graph.initializer) if (ok(t)) out.push(t);
  for (const n of index.nodes) {
    const t = n.op_type === 'Constant' ? n.attribute.find((a) => a.name === 'value')?.t : undefined;
    if (t && ok(t)) out.push(t);
  }
  return out;
}

/** Whether onnxruntime loads and runs the model (quietly: most mutated originals do not). */
async function runs(bytes: Uint8Array, dims: number[]): Promise<boolean> {
  let session: ort.InferenceSession | undefined;
  try {
    session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 4, intraOpNumThreads: 1 });
    const feed = randomFeed('images', dims, 3);
    await session.run({ images: new ort.Tensor('float32', feed.data, feed.dims) });
    return true;
  } catch {
    return false;
  } finally {
    await session?.release();
  }
}

describe('fuzzing shape computations, then pruning', function () {
  it(`${CASES} mutated dynamic-axis exports: only PruneLensErrors, and what prunes still runs`, async function () {
    this.timeout(300_000);
    const rand = seededRandom(4242);
    const originals = SEEDS.map((s) => ({ ...s, bytes: loadModelSync(modelPath(s.name)).bytes }));
    const stats = { pruned: 0, rejected: 0, brokenOriginal: 0, ranPruned: 0, codes: new Map<string, number>() };
    for (let i = 0; i < CASES; i++) {
      const seed = originals[i % originals.length];
      const m = parseModel(seed.bytes.slice());
      const consts = intConstants(m);
      const t = consts[Math.floor(rand() * consts.length)];
      const values = tensorInts(t);
      const at = Math.floor(rand() * values.length);
      values[at] = rand() < 0.5 ? VALUES[Math.floor(rand() * VALUES.length)] : values[at] + Math.floor(rand() * 5) - 2;
      Object.assign(t, intTensor(t.name ?? '', tensorDims(t), values, t.data_type), { name: t.name });
      const mutated = bytesOf(m);
      const label = `case ${i} (${seed.name}, ${t.name}[${at}] = ${values[at]})`;
      let pruned: Uint8Array | undefined;
      try {
        const fresh = parseModel(mutated.slice());
        const graph = buildDependencyGraph(fresh);
        let s = i + 1;
        const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
        const scores = new Map(graph.groups.filter((g) => !g.frozen).map((g) => [g.id, Float64Array.from({ length: g.size }, next)]));
        applySelection(fresh, graph, selectChannels(graph, scores, { ratio: 0.3 }));
        pruned = bytesOf(fresh);
        stats.pruned++;
      } catch (e) {
        assert.ok(e instanceof PruneLensError, `${label}: ${e instanceof Error ? e.stack : String(e)}`);
        stats.rejected++;
        stats.codes.set(e.code, (stats.codes.get(e.code) ?? 0) + 1);
      }
      if (!pruned) continue;
      if (!(await runs(mutated, seed.dims))) {
        stats.brokenOriginal++;
        continue;
      }
      assert.ok(await runs(pruned, seed.dims), `${label}: the mutated model runs, its pruned version does not`);
      stats.ranPruned++;
    }
    console.log(`      pruned ${stats.pruned} (ran ${stats.ranPruned}, original itself broken ${stats.brokenOriginal}), rejected ${stats.rejected} ${JSON.stringify(Object.fromEntries(stats.codes))}`);
    // Most mutations break the original itself; enough must survive to test the pruned side.
    assert.ok(stats.ranPruned >= CASES / 8, `only ${stats.ranPruned} pruned models ran`);
    assert.ok(stats.rejected >= 1, 'some mutations are rejected with a PruneLensError');
  });
});
