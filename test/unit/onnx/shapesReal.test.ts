// Shape inference against onnxruntime, on every real model and every test
// fixture. Every node output is made a graph output and the model is run at
// two input sizes (the named dims bound to different values). Then for every
// tensor: its rank is known; every dim we know, evaluated with the named dims
// of that run, is the size onnxruntime produced; and every dim that is the
// same in both runs (the export's own static sizes: channels, heads, hidden
// size) is known, not '?'. EXCEPTIONS lists what may stay unknown, and why.

import { strict as assert } from 'node:assert';
import { newValueInfo } from '../../../src/onnx/build';
import { evalDim, type Dim } from '../../../src/onnx/dims';
import { GraphIndex } from '../../../src/onnx/graph';
import { loadModelSync, parseModel, serializeModel, type OnnxModel } from '../../../src/onnx/model';
import { inferShapes, valueInfoShape } from '../../../src/onnx/shapes';
import { DataType } from '../../../src/onnx/tensor';
import { concatChunks } from '../../../src/onnx/wire';
import { FIXTURES } from '../../fixtures/models/builders';
import { modelPath, realModelNames, seededRandom } from '../../helpers/models';
import { runShapes, type Feeds } from '../../helpers/ort';

/** Values of each named dim in the two runs. */
const BINDINGS: Record<string, [number, number]> = {
  N: [1, 3], batch: [1, 3], height: [96, 64], width: [96, 128], sequence: [7, 12],
};

/**
 * Tensors allowed an unknown rank or static dim, by model and a pattern on the
 * value name, each with its reason. None at present: every tensor of every
 * model here passes. Add one only with the reason it cannot be known.
 */
const EXCEPTIONS: { model: RegExp; value: RegExp; reason: string }[] = [];

interface Run {
  env: Record<string, number>;
  dims: Record<string, number[]>;
}

function feedsFor(m: OnnxModel, run: 0 | 1): { feeds: Feeds; env: Record<string, number> } {
  const index = new GraphIndex(m.graph);
  const env: Record<string, number> = {};
  const feeds: Feeds = {};
  const rand = seededRandom(11 + run);
  for (const v of m.graph.input) {
    if (!v.name || index.initializer(v.name)) continue;
    const s = valueInfoShape(v)!;
    const dims = s.dims!.map((d) => {
      if (typeof d === 'number') return d;
      env[d] ??= (BINDINGS[d] ?? [2, 5])[run];
      return env[d];
    });
    const n = dims.reduce((a, b) => a * b, 1);
    feeds[v.name] = s.elemType === DataType.INT64
      ? { dims, data: BigInt64Array.from({ length: n }, () => BigInt(Math.floor(rand() * 256))) }
      : { dims, data: Float32Array.from({ length: n }, () => rand() * 2 - 1) };
  }
  return { feeds, env };
}

/** The model with every node output also a graph output, so onnxruntime reports its shape. */
function exposeAll(m: OnnxModel): Uint8Array {
  const info = inferShapes(m);
  const copy = parseModel(concatChunks(serializeModel(m)));
  const have = new Set(copy.graph.output.map((o) => o.name));
  for (const n of copy.graph.node) {
    for (const o of n.output) {
      const t = info.shapes.get(o)?.elemType;
      if (o && !have.has(o) && t) copy.graph.output.push(newValueInfo(o, t, []));
      have.add(o);
    }
  }
  for (const o of copy.graph.output) if (o.type?.tensor_type) o.type.tensor_type.shape = undefined;
  return concatChunks(serializeModel(copy));
}

async function checkModel(label: string, m: OnnxModel): Promise<{ tensors: number; dims: number; problems: string[] }> {
  const bytes = exposeAll(m);
  const runs: Run[] = [];
  for (const r of [0, 1] as const) {
    const { feeds, env } = feedsFor(m, r);
    runs.push({ env, dims: await runShapes(bytes, feeds) });
  }
  const ours = inferShapes(m).shapes;
  const problems: string[] = [];
  let tensors = 0;
  let dims = 0;
  for (const [name, actual] of Object.entries(runs[0].dims)) {
    const other = runs[1].dims[name];
    const excused = EXCEPTIONS.find((e) => e.model.test(label) && e.value.test(name));
    tensors++;
    const mine: Dim[] | undefined = ours.get(name)?.dims;
    if (!mine || mine.length !== actual.length) {
      if (!excused) problems.push(`${name}: rank ${mine?.length ?? 'unknown'}, onnxruntime ${actual.length}`);
      continue;
    }
    mine.forEach((d, a) => {
      dims++;
      for (const run of runs) {
        const v = evalDim(d, run.env);
        if (v !== undefined && v !== run.dims[name][a]) problems.push(`${name}[${a}] = ${d} is ${v} at ${JSON.stringify(run.env)}, onnxruntime ${run.dims[name][a]}`);
      }
      const isStatic = actual[a] === other[a];
      if (isStatic && typeof d !== 'number' && !excused) problems.push(`${name}[${a}] is static (${actual[a]}) but inferred as ${d}`);
    });
  }
  return { tensors, dims, problems };
}

describe('shape inference agrees with onnxruntime on every tensor', function () {
  const names = realModelNames();
  it('finds the real models', () => assert.ok(names.length >= 10, `only ${names.length} models`));
  for (const name of names) {
    it(name, async () => {
      const r = await checkModel(name, loadModelSync(modelPath(name)));
      assert.ok(r.tensors >= 5, `${r.tensors} tensors checked`);
      assert.deepEqual(r.problems, []);
      if (process.env.SHOW_COUNTS) console.log(`      ${name}: ${r.tensors} tensors, ${r.dims} dims`);
    });
  }
  for (const f of FIXTURES) {
    it(`fixture ${f.name}`, async () => {
      const r = await checkModel(f.name, f.build());
      assert.ok(r.tensors > 3, `${r.tensors} tensors checked`);
      assert.deepEqual(r.problems, []);
    });
  }
});
